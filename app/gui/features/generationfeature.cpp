#include "app/gui/features/generationfeature.h"

#include "engine/core/json.h"

#include <QShortcut>

#include "app/io/tokenizer.h"
#include "engine/core/errors.h"
#include "engine/language/lm.h"
#include "engine/core/files.h"
#include "widgets/generation/generationpanel.h"

#include <QFileDialog>

#include <filesystem>

namespace pellucid {

namespace {

struct LmCheck : JobOutput {
    bool lm = false;
    std::string reason;
    std::shared_ptr<const TunedLens> tuned;   // MODEL.pt.tuned-lens.npy, when present and fitting
    int64_t context = 0;                      // the longest sequence the model reads (0: unknown)
};

QString tunedLensPath(const QString &model) { return model + ".tuned-lens.npy"; }

}   // namespace

GenerationFeature::GenerationFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mPanel = new GenerationPanel;
    mDock = addDock(tr("Generation"), "GenerationDock", mPanel);
    // Keys 1–5 rate the generated text on show (the Feedback dock stores it).
    for (int k = 1; k <= 5; ++k) {
        auto *key = new QShortcut(QKeySequence(Qt::Key_0 + k), mDock);
        key->setContext(Qt::WidgetWithChildrenShortcut);
        connect(key, &QShortcut::activated, this, [this, k] {
            const QStringList tokens = mPanel->textStrip()->tokens();
            if (tokens.isEmpty()) return;
            const GenerationControls c = mPanel->controls();
            Json sample = Json::object();
            sample["prompt"] = Json(c.prompt.toStdString());
            sample["text"] = Json(tokens.join(QString()).toStdString());
            sample["temperature"] = Json(c.temperature);
            sample["top_k"] = Json(c.topK);
            sample["top_p"] = Json(c.topP);
            sample["seed"] = Json(c.seed);
            mWorkspace->rateSample("generation", k, QString::fromStdString(sample.dump()));
        });
    }
    connect(mWorkspace, &Workspace::modelChanged, this, [this](std::shared_ptr<const ModelSummary> s) {
        mTokenizer.reset();
        mLast.reset();
        mExplained.reset();
        mTuned.reset();
        mModelPath = QString::fromStdString(s->path);
        const std::string lensPath = tunedLensPath(mModelPath).toStdString();
        mPanel->setAvailable(false, tr("Checking whether %1 is a language model…").arg(QString::fromStdString(s->fileName)));
        mBridge->run<LmCheck>(
            &mCheckSlot, this,
            [lensPath](JobContext &ctx) {
                auto out = std::make_shared<LmCheck>();
                try {
                    out->lm = isLanguageModel(ctx.model());
                    if (out->lm) out->context = languageModelParts(ctx.model()).context;
                } catch (const std::exception &e) {
                    out->lm = false;
                    out->reason = e.what();
                }
                if (out->lm && std::filesystem::exists(lensPath)) {
                    try {
                        out->tuned = std::make_shared<TunedLens>(loadTunedLens(ctx.model(), lensPath));
                    } catch (const std::exception &e) {
                        out->reason = std::string("The tuned lens beside the model was not loaded: ") + e.what();
                    }
                }
                return out;
            },
            [this, s](std::shared_ptr<const LmCheck> r) {
                if (!r->lm) {
                    mPanel->setAvailable(
                        false,
                        r->reason.empty()
                            ? tr("%1 is not a causal language model (forward(ids) → logits [B, L, V])").arg(QString::fromStdString(s->fileName))
                            : QString::fromStdString(r->reason));
                    return;
                }
                try {
                    mTokenizer = tokenizerForModel(*s, true, false);
                    mTuned = r->tuned;
                    mContext = r->context;
                    mPanel->setAvailable(true,
                                         !r->reason.empty() ? QString::fromStdString(r->reason)
                                                            : tr("%1: a language model — type a prompt").arg(QString::fromStdString(s->fileName)));
                    mPanel->showTunedLens({}, {}, {},
                                          mTuned ? tr("Tuned lens loaded from %1").arg(tunedLensPath(mModelPath))
                                                 : tr("No tuned lens: train one to see it beside the logit lens"));
                } catch (const std::exception &e) {
                    mPanel->setAvailable(false, QString::fromStdString(e.what()));
                }
            });
    });
    connect(mPanel, &GenerationPanel::generateRequested, this, [this] { generate(); });
    connect(mPanel, &GenerationPanel::stopRequested, this, [this] {
        if (mRunning) mBridge->cancel(mRunning);
    });
    connect(mPanel, &GenerationPanel::methodChanged, this, [this] {
        if (mLast) explain();
    });
    connect(mPanel, &GenerationPanel::patchRequested, this, [this] { patch(); });
    connect(mPanel, &GenerationPanel::tunedLensRequested, this, [this] {
        const QString path =
            QFileDialog::getOpenFileName(mWindow, tr("Corpus for the tuned lens (one text per line)"), QString(), tr("Text (*.txt);;All files (*)"));
        if (!path.isEmpty()) trainTunedLens(path);
    });
}

GenerationFeature::~GenerationFeature() = default;

void GenerationFeature::placeDocks(DockLayout &layout) { layout.tab(mDock); }

QList<QPair<QString, const FigureSource *>> GenerationFeature::figures() const
{
    return {{"generation-text", mPanel->textStrip()},
            {"generation-token", mPanel->attributionStrip()},
            {"generation-matrix", mPanel->matrixView()},
            {"logit-lens", mPanel->lensView()}};
}

QStringList GenerationFeature::tokensOf(const std::vector<int64_t> &ids) const
{
    QStringList out;
    for (int64_t id : ids) out << (mTokenizer ? QString::fromStdString(mTokenizer->piece(id)) : QString::number(id));
    return out;
}

quint64 GenerationFeature::generate()
{
    if (!mTokenizer) return 0;
    const GenerationControls c = mPanel->controls();
    std::vector<int64_t> prompt;
    try {
        prompt = mTokenizer->encode(c.prompt.toStdString()).ids;
    } catch (const std::exception &e) {
        mPanel->showMessage(QString::fromStdString(e.what()));
        return 0;
    }
    GenerationOptions o;
    o.maxNew = c.maxNew;
    o.temperature = c.temperature;
    o.topK = c.topK;
    o.topP = c.topP;
    o.seed = uint64_t(c.seed);
    mPartial.reset();
    mPanel->showSequence(tokensOf(prompt), int(prompt.size()), {}, true);
    TaskHooks<GenerationProgress> hooks;
    hooks.partial = [this](std::shared_ptr<const GenerationProgress> p) {
        mPartial = p;
        mPanel->showSequence(tokensOf(p->ids), int(p->promptLength), p->probabilities, true);
    };
    hooks.failed = [this](const QString &m) {
        mRunning = 0;
        mPanel->showSequence(mLast ? tokensOf(mLast->ids) : QStringList(), mLast ? int(mLast->promptLength) : 0,
                             mLast ? mLast->probabilities : std::vector<double>(), false);
        mPanel->showMessage(m);
    };
    hooks.cancelled = [this] {
        mRunning = 0;
        if (mPartial) mPanel->showSequence(tokensOf(mPartial->ids), int(mPartial->promptLength), mPartial->probabilities, false);
        mPanel->showMessage(tr("Generation stopped after %1 tokens").arg(mPartial ? int(mPartial->probabilities.size()) : 0));
    };
    mRunning = mBridge->run<GenerationProgress, GenerationProgress>(
        &mGenerateSlot, this,
        [prompt, o](JobContext &ctx) mutable {
            o.cancelled = [&ctx] { return ctx.cancelled(); };
            auto sofar = std::make_shared<GenerationProgress>();
            sofar->ids = prompt;
            sofar->promptLength = int64_t(prompt.size());
            const Generation g = pellucid::generate(ctx.model(), prompt, o, [&](const GenerationStep &s) {
                sofar->ids.push_back(s.id);
                sofar->probabilities.push_back(s.probability);
                ctx.partial(std::make_shared<GenerationProgress>(*sofar));   // tokens stream as they are chosen
            });
            auto out = std::make_shared<GenerationProgress>(*sofar);
            out->stop = g.stopReason;
            return out;
        },
        [this](std::shared_ptr<const GenerationProgress> r) {
            mRunning = 0;
            mLast = r;
            mPanel->showSequence(tokensOf(r->ids), int(r->promptLength), r->probabilities, false);
            emit generationFinished();
            explain();
        },
        hooks);
    return mRunning;
}

quint64 GenerationFeature::explain()
{
    if (!mLast || mLast->ids.size() <= size_t(mLast->promptLength)) return 0;
    GenerationAttributionOptions o;
    const QString method = mPanel->controls().method;
    if (!parseGenerationMethod(method.toStdString(), o.method)) return 0;
    const std::vector<int64_t> ids = mLast->ids;
    const int64_t P = mLast->promptLength;
    const std::shared_ptr<const TunedLens> tuned = mTuned;
    TaskHooks<GenerationExplanation> hooks;
    hooks.failed = [this](const QString &m) { mPanel->showMessage(m); };
    return mBridge->run<GenerationExplanation>(
        &mExplainSlot, this,
        [ids, P, o, tuned](JobContext &ctx) mutable {
            o.cancelled = [&ctx] { return ctx.cancelled(); };
            auto out = std::make_shared<GenerationExplanation>();
            out->ids = ids;
            out->method = generationMethodName(o.method);
            out->scores = attributeGeneration(ctx.model(), ids, P, o).scores;
            const LogitLens lens = logitLens(ctx.model(), ids, 1);
            const int64_t B = lens.probabilities.dim(0), L = lens.probabilities.dim(1), V = lens.probabilities.dim(2);
            std::vector<float> top(size_t(B * L));
            for (int64_t c = 0; c < B * L; ++c) {
                out->lensTopIds.push_back(lens.topIds[size_t(c)][0]);
                top[size_t(c)] = lens.probabilities.at(c * V + lens.topIds[size_t(c)][0]);
            }
            out->lensTop = TensorValue({B, L}, std::move(top));
            out->lensKl = lens.klToFinal;
            out->blocks = lens.blocks;
            auto meanKl = [B, L](const LogitLens &l) {
                double s = 0;
                for (int64_t c = 0; c < (B - 1) * L; ++c) s += l.klToFinal.at(c);
                return B > 1 ? s / double((B - 1) * L) : 0.0;
            };
            out->klLogit = meanKl(lens);
            if (tuned) {
                const LogitLens t = logitLens(ctx.model(), ids, 1, tuned.get());
                std::vector<float> tt(size_t(B * L));
                for (int64_t c = 0; c < B * L; ++c) {
                    out->tunedTopIds.push_back(t.topIds[size_t(c)][0]);
                    tt[size_t(c)] = t.probabilities.at(c * V + t.topIds[size_t(c)][0]);
                }
                out->tunedTop = TensorValue({B, L}, std::move(tt));
                out->klTuned = meanKl(t);
            }
            return out;
        },
        [this](std::shared_ptr<const GenerationExplanation> r) {
            mExplained = r;
            const bool signedScores = r->method == "inputxgrad" || r->method == "ig" || r->method == "ablation";
            mPanel->showAttribution(r->scores, QString::fromStdString(r->method), signedScores);
            QStringList blocks;
            for (const auto &b : r->blocks) blocks << QString::fromStdString(b);
            mPanel->showLens(r->lensTop, r->lensKl, tokensOf(r->lensTopIds), blocks);
            if (r->tunedTop.numel() > 0)
                mPanel->showTunedLens(r->tunedTop, tokensOf(r->tunedTopIds), blocks,
                                      tr("Mean KL to the final layer (blocks before the last): logit lens %1, tuned lens %2 nats")
                                          .arg(r->klLogit, 0, 'f', 3)
                                          .arg(r->klTuned, 0, 'f', 3));
            emit explanationShown();
        },
        hooks);
}

quint64 GenerationFeature::patch()
{
    if (!mTokenizer) return 0;
    std::vector<int64_t> clean, corrupt;
    try {
        clean = mTokenizer->encode(mPanel->cleanPrompt().toStdString()).ids;
        corrupt = mTokenizer->encode(mPanel->corruptPrompt().toStdString()).ids;
    } catch (const std::exception &e) {
        mPanel->showMessage(QString::fromStdString(e.what()));
        return 0;
    }
    PatchSite site = PatchSite::Block;
    parsePatchSite(mPanel->patchSite().toStdString(), site);
    TaskHooks<PatchingOutput> hooks;
    hooks.failed = [this](const QString &m) { mPanel->showPatching({}, {}, {}, {}, m); };
    return mBridge->run<PatchingOutput>(
        &mPatchSlot, this,
        [clean, corrupt, site](JobContext &ctx) {
            auto out = std::make_shared<PatchingOutput>();
            out->result = activationPatching(ctx.model(), clean, corrupt, -1, site);
            out->clean = clean;
            return out;
        },
        [this](std::shared_ptr<const PatchingOutput> r) {
            mPatching = r;
            QStringList sites;
            for (const auto &s : r->result.sites) sites << QString::fromStdString(s);
            const QString target = mTokenizer ? QString::fromStdString(mTokenizer->piece(r->result.target)) : QString::number(r->result.target);
            auto effect = [&](const TensorValue &t) {
                std::vector<float> v(t.data(), t.data() + t.numel());
                for (float &x : v) x = float(x - r->result.pCorrupt);
                return TensorValue(t.shape(), std::move(v));
            };
            mPanel->showPatching(effect(r->result.probability), effect(r->result.estimate), sites, tokensOf(r->clean),
                                 tr("Target “%1”: p = %2 clean, %3 corrupted; attribution patching agrees with patching at r = %4")
                                     .arg(target)
                                     .arg(r->result.pClean, 0, 'f', 3)
                                     .arg(r->result.pCorrupt, 0, 'f', 3)
                                     .arg(r->result.agreement, 0, 'f', 2));
            emit patchingShown();
        },
        hooks);
}

quint64 GenerationFeature::trainTunedLens(const QString &corpus)
{
    if (!mTokenizer) return 0;
    std::vector<std::vector<int64_t>> sequences;
    std::string text;
    if (!readTextFile(corpus.toStdString(), text)) {
        mPanel->showTunedLens({}, {}, {}, tr("Cannot read %1").arg(corpus));
        return 0;
    }
    int64_t total = 0;
    try {
        sequences = tunedLensCorpus(*mTokenizer, text, mContext, kTunedLensCorpusTokens, &total);
    } catch (const std::exception &e) {
        mPanel->showTunedLens({}, {}, {}, QString::fromStdString(e.what()));
        return 0;
    }
    const std::string out = tunedLensPath(mModelPath).toStdString();
    mPanel->showTunedLens({}, {}, {}, tr("Training the tuned lens on %1 tokens of %2…").arg(total).arg(corpus));
    TaskHooks<JobOutput> hooks;
    hooks.failed = [this](const QString &m) { mPanel->showTunedLens({}, {}, {}, m); };
    struct LensOutput : JobOutput {
        std::shared_ptr<const TunedLens> lens;
    };
    return mBridge->run<LensOutput, JobOutput>(
        &mLensSlot, this,
        [sequences, out](JobContext &ctx) {
            TunedLensOptions o;
            o.cancelled = [&ctx] { return ctx.cancelled(); };
            auto r = std::make_shared<LensOutput>();
            auto lens = std::make_shared<TunedLens>(pellucid::trainTunedLens(ctx.model(), sequences, o));
            saveTunedLens(*lens, out);
            r->lens = lens;
            return r;
        },
        [this](std::shared_ptr<const LensOutput> r) {
            mTuned = r->lens;
            mPanel->showTunedLens({}, {}, {}, tr("Tuned lens trained and saved as %1").arg(tunedLensPath(mModelPath)));
            emit tunedLensReady();
            if (mLast) explain();
        },
        hooks);
}

void GenerationFeature::saveSession(Session &s) const
{
    const GenerationControls c = mPanel->controls();
    s.generationPrompt = c.prompt;
    s.generationMethod = c.method;
    s.generationMaxNew = c.maxNew;
    s.generationTemperature = c.temperature;
    s.generationSeed = c.seed;
}

void GenerationFeature::restoreSession(const Session &s)
{
    if (s.generationPrompt.isEmpty()) return;
    GenerationControls c = mPanel->controls();
    c.prompt = s.generationPrompt;
    if (!s.generationMethod.isEmpty()) c.method = s.generationMethod;
    c.maxNew = s.generationMaxNew;
    c.temperature = s.generationTemperature;
    c.seed = s.generationSeed;
    mPanel->setControls(c);
}

}   // namespace pellucid
