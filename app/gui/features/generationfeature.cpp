#include "app/gui/features/generationfeature.h"

#include "app/io/tokenizer.h"
#include "engine/core/errors.h"
#include "engine/language/lm.h"
#include "widgets/generation/generationpanel.h"

namespace pellucid {

namespace {

struct LmCheck : JobOutput {
    bool lm = false;
    std::string reason;
};

}   // namespace

GenerationFeature::GenerationFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mPanel = new GenerationPanel;
    mDock = addDock(tr("Generation"), "GenerationDock", mPanel);
    connect(mWorkspace, &Workspace::modelChanged, this, [this](std::shared_ptr<const ModelSummary> s) {
        mTokenizer.reset();
        mLast.reset();
        mExplained.reset();
        mPanel->setAvailable(false, tr("Checking whether %1 is a language model…").arg(QString::fromStdString(s->fileName)));
        mBridge->run<LmCheck>(
            &mCheckSlot, this,
            [](JobContext &ctx) {
                auto out = std::make_shared<LmCheck>();
                try {
                    out->lm = isLanguageModel(ctx.model());
                    if (out->lm) languageModelParts(ctx.model());
                } catch (const std::exception &e) {
                    out->lm = false;
                    out->reason = e.what();
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
                    mPanel->setAvailable(true, tr("%1: a language model — type a prompt").arg(QString::fromStdString(s->fileName)));
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
    TaskHooks<GenerationExplanation> hooks;
    hooks.failed = [this](const QString &m) { mPanel->showMessage(m); };
    return mBridge->run<GenerationExplanation>(
        &mExplainSlot, this,
        [ids, P, o](JobContext &ctx) mutable {
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
            out->blocks = lens.blocks;
            return out;
        },
        [this](std::shared_ptr<const GenerationExplanation> r) {
            mExplained = r;
            const bool signedScores = r->method == "inputxgrad" || r->method == "ig" || r->method == "ablation";
            mPanel->showAttribution(r->scores, QString::fromStdString(r->method), signedScores);
            QStringList blocks;
            for (const auto &b : r->blocks) blocks << QString::fromStdString(b);
            mPanel->showLens(r->lensTop, tokensOf(r->lensTopIds), blocks);
            emit explanationShown();
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
