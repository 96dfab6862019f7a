#include "app/gui/features/diffusionfeature.h"

#include "app/io/imageinput.h"
#include "widgets/diffusion/diffusionpanel.h"
#include "widgets/latent/latentpanel.h"

#include <QFileDialog>
#include <QFileInfo>

#include <algorithm>
#include <cmath>

namespace pellucid {

namespace {

struct DenoiserCheck : JobOutput {
    bool denoiser = false;
    std::string reason;
    DiffusionConfig config;
    int crossSites = 0, selfSites = 0;
    std::string classifier;
    std::vector<std::string> labels;
};

struct DiffusionStepOutput : JobOutput {
    int step = 0, total = 0;
    TensorValue xt, x0;   // [1, C, H, W] in [0, 1]
};

struct MapsOutput : JobOutput {
    TensorValue maps;
};

struct ReweightOutput : JobOutput {
    TensorValue original, edited;   // [1, C, H, W] in [0, 1]
    double maxAbs = 0, meanAbs = 0;
    int word = 0;
    double factor = 1;
};

struct GradientOutput : JobOutput {
    WordGradient g;
    std::string scoreName;
};

struct GalleryOutput : JobOutput {
    TensorValue images;
    int firstSeed = 0;
};

HeatMapFilter filterOf(const DiffusionPanel::MapFilter &f)
{
    HeatMapFilter h;
    h.stepFrom = f.stepFrom;
    h.stepTo = f.stepTo;
    h.site = f.site;
    h.head = f.head;
    return h;
}

}   // namespace

DiffusionFeature::DiffusionFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mPanel = new DiffusionPanel;
    mDock = addDock(tr("Diffusion"), "DiffusionDock", mPanel);
    connect(mWorkspace, &Workspace::modelChanged, this, [this](std::shared_ptr<const ModelSummary> s) {
        if (mRunning) mBridge->cancel(mRunning);   // a run of the previous model is not this one's
        ++mRunToken;
        mRunning = 0;
        mPanel->setRunning(false);
        mRun.reset();
        mAvailable = false;
        mPanel->setAvailable(false, tr("Checking whether %1 is a diffusion denoiser…").arg(QString::fromStdString(s->fileName)));
        mBridge->run<DenoiserCheck>(
            &mCheckSlot, this,
            [](JobContext &ctx) {
                auto out = std::make_shared<DenoiserCheck>();
                Model &m = ctx.model();
                if (!isDenoiser(m)) return out;
                try {
                    out->config = diffusionConfig(m);
                    for (const DenoiserSite &site : denoiserSites(m)) (site.cross ? out->crossSites : out->selfSites)++;
                    out->denoiser = true;
                    out->classifier = companionClassifierPath(m);
                    if (!out->classifier.empty()) {
                        try {
                            out->labels = ctx.companion(out->classifier).summary().metadata.labels;
                        } catch (const std::exception &e) {
                            out->reason = std::string("The companion classifier was not loaded: ") + e.what();
                            out->classifier.clear();
                        }
                    }
                } catch (const std::exception &e) {
                    out->denoiser = false;
                    out->reason = e.what();
                }
                return out;
            },
            [this, s](std::shared_ptr<const DenoiserCheck> r) {
                const QString name = QString::fromStdString(s->fileName);
                if (!r->denoiser) {
                    mPanel->setAvailable(false,
                                         r->reason.empty()
                                             ? tr("%1 is not a diffusion denoiser (metadata role \"denoiser\" and a \"diffusion\" block)").arg(name)
                                             : QString::fromStdString(r->reason));
                    emit availabilityChanged(false);
                    return;
                }
                mConfig = r->config;
                mCrossSites = r->crossSites;
                mClassifier = r->classifier;
                mClassLabels.clear();
                for (const auto &l : r->labels) mClassLabels << QString::fromStdString(l);
                QStringList vocab, regions;
                for (size_t i = 0; i < mConfig.vocab.size(); ++i)
                    if (!mConfig.vocab[i].empty() && int64_t(i) != mConfig.nullId) vocab << QString::fromStdString(mConfig.vocab[i]);
                for (const auto &reg : mConfig.regions) regions << QString::fromStdString(reg.name);
                mPanel->setModel(vocab, regions, int(mConfig.promptLength));
                mAvailable = true;
                QString msg = tr("%1: a denoiser %2 (%3 cross-attention, %4 self-attention sites), %5 training steps")
                                  .arg(name, QString::fromStdString(shapeToString(mConfig.sampleShape)))
                                  .arg(r->crossSites)
                                  .arg(r->selfSites)
                                  .arg(mConfig.trainSteps);
                msg += mClassifier.empty() ? tr("; no companion classifier (no trajectory lens)")
                                           : tr("; lens through %1").arg(QFileInfo(QString::fromStdString(mClassifier)).fileName());
                if (!r->reason.empty()) msg += " — " + QString::fromStdString(r->reason);
                mPanel->setAvailable(true, msg);
                emit availabilityChanged(true);
                if (mPendingRestore) {
                    mPendingRestore = false;
                    if (mPending.generated) generate();
                }
            });
    });
    connect(mPanel, &DiffusionPanel::generateRequested, this, [this] { generate(); });
    connect(mPanel, &DiffusionPanel::stopRequested, this, [this] {
        if (mRunning) mBridge->cancel(mRunning);
    });
    connect(mPanel, &DiffusionPanel::mapsRequested, this, [this] { updateMaps(); });
    connect(mPanel, &DiffusionPanel::reweightRequested, this, [this] { reweight(); });
    connect(mPanel, &DiffusionPanel::gradientRequested, this, [this] { gradient(); });
    connect(mPanel, &DiffusionPanel::galleryRequested, this, [this] { gallery(); });
    connect(mPanel, &DiffusionPanel::animationExportRequested, this, [this] {
        if (!mRun) return;
        const QString path = QFileDialog::getSaveFileName(mWindow, tr("Export the trajectory"), "trajectory.gif", tr("GIF (*.gif);;MP4 (*.mp4)"));
        if (path.isEmpty()) return;
        try {
            exportTrajectory(path);
            mPanel->showMessage(tr("Trajectory written to %1").arg(path));
        } catch (const std::exception &e) {
            mPanel->showMessage(QString::fromStdString(e.what()));
        }
    });
}

DiffusionFeature::~DiffusionFeature() = default;

void DiffusionFeature::placeDocks(DockLayout &layout) { layout.tab(mDock); }

QList<QPair<QString, const FigureSource *>> DiffusionFeature::figures() const
{
    return {{"diffusion-image", mPanel->imageView()},
            {"diffusion-lens", mPanel->lensChart()},
            {"diffusion-reweight", mPanel->reweightGrid()},
            {"diffusion-seeds", mPanel->galleryGrid()}};
}

DiffusionRequest DiffusionFeature::request(bool *ok)
{
    *ok = false;
    DiffusionRequest r;
    const DiffusionControls c = mPanel->controls();
    try {
        r.cond = promptToIds(mConfig, c.prompt.toStdString());
        checkCondIds(mConfig, r.cond);
    } catch (const std::exception &e) {
        mPanel->showMessage(QString::fromStdString(e.what()));
        return r;
    }
    if (c.steps > mConfig.trainSteps) {
        mPanel->showMessage(tr("%1 steps is more than the model's %2 training steps").arg(c.steps).arg(mConfig.trainSteps));
        return r;
    }
    r.steps = c.steps;
    r.seed = uint64_t(c.seed);
    parseSampler(c.sampler.toStdString(), r.sampler);
    r.guidance = c.guidance;
    *ok = true;
    return r;
}

quint64 DiffusionFeature::generate()
{
    if (!mAvailable) return 0;
    bool ok = false;
    DiffusionRequest r = request(&ok);
    if (!ok) return 0;
    r.captureAttention = mCrossSites > 0;   // a denoiser without cross-attention samples, without maps
    const DiffusionConfig cfg = mConfig;
    const std::string classifier = mClassifier;
    const HeatMapFilter filter = filterOf(mPanel->mapFilter());
    mStreamed = 0;
    mPanel->setRunning(true);
    // A run replaced by a newer one (its slot supersedes it) still reports its cancellation: only the newest
    // run's hooks touch the dock.
    const quint64 token = ++mRunToken;
    TaskHooks<DiffusionStepOutput> hooks;
    hooks.partial = [this, token](std::shared_ptr<const DiffusionStepOutput> p) {
        if (token != mRunToken) return;
        mStreamed = p->step + 1;
        mPanel->showStep(p->step, p->total, p->xt, p->x0);
    };
    hooks.failed = [this, token](const QString &m) {
        if (token != mRunToken) return;
        mRunning = 0;
        mPanel->setRunning(false);
        mPanel->showMessage(m);
    };
    hooks.cancelled = [this, token] {
        if (token != mRunToken) return;
        mRunning = 0;
        mPanel->setRunning(false);
        mPanel->showMessage(tr("Sampling stopped after %1 steps").arg(mStreamed));
    };
    mRunning = mBridge->run<DiffusionRun, DiffusionStepOutput>(
        &mRunSlot, this,
        [r, cfg, classifier, filter](JobContext &ctx) mutable {
            const int total = r.steps;
            r.cancelled = [&ctx] { return ctx.cancelled(); };
            r.onStep = [&ctx, &cfg, total](int step, int64_t, const TensorValue &xt, const TensorValue &x0) {
                auto p = std::make_shared<DiffusionStepOutput>();
                p->step = step;
                p->total = total;
                p->xt = toUnitRange(cfg, xt);
                p->x0 = toUnitRange(cfg, x0);
                ctx.partial(p);
                return !ctx.cancelled();
            };
            auto out = std::make_shared<DiffusionRun>();
            out->result = sampleDiffusion(ctx.model(), r);
            out->request = r;
            out->request.onStep = nullptr;
            out->request.cancelled = nullptr;
            out->trajectory01 = toUnitRange(cfg, out->result.trajectory);
            out->states01 = toUnitRange(cfg, out->result.states);
            out->words = idsToWords(cfg, r.cond);
            if (!out->result.crossAttention.empty()) {
                out->heads = int(out->result.crossAttention.front().dim(1));
                HeatMapFilter f = filter;
                const int n = int(out->result.timesteps.size());
                if (f.stepFrom >= n) f.stepFrom = 0;
                if (f.stepTo >= n) f.stepTo = -1;
                if (f.site >= int(out->result.crossSites.size())) f.site = -1;
                if (f.head >= out->heads) f.head = -1;
                try {
                    out->maps = wordHeatMaps(out->result, f);
                } catch (const std::exception &e) {   // a filter this run cannot take: its maps unfiltered, and why
                    out->mapsError = e.what();
                    out->maps = wordHeatMaps(out->result);
                }
            }
            if (!classifier.empty()) {
                try {
                    out->lens = trajectoryLens(ctx.companion(classifier), cfg, out->result.trajectory);
                } catch (const std::exception &e) {
                    out->lensError = e.what();
                }
            }
            return out;
        },
        [this, r, token](std::shared_ptr<const DiffusionRun> run) {
            if (token != mRunToken) return;
            mRunning = 0;
            mRun = run;
            mPanel->setRunning(false);
            QStringList words;
            for (const auto &w : run->words) words << QString::fromStdString(w);
            mPanel->showRun(run->trajectory01, run->states01, words, int(run->result.crossSites.size()), run->heads);
            mPanel->showMaps(run->maps);
            if (mApplyView) {
                // A restored session: the word, the step and the maps' filter it was saved with.
                mApplyView = false;
                DiffusionPanel::MapFilter f;
                f.stepFrom = mPending.stepFrom;
                f.stepTo = mPending.stepTo;
                f.site = mPending.site;
                f.head = mPending.head;
                mPanel->setReweight(mPending.reweightWord, mPending.reweightFactor);
                mPanel->selectWord(mPending.word);
                if (mPending.step >= 0) mPanel->showStepAt(mPending.step);
                if (f.stepFrom != 0 || f.stepTo != -1 || f.site != -1 || f.head != -1) {
                    mPanel->setMapFilter(f);   // emits mapsRequested: the filtered maps follow
                }
            }
            if (run->lens.probabilities.numel()) {
                QStringList regions, labels;
                for (const auto &x : run->lens.regions) regions << QString::fromStdString(x);
                for (const auto &x : run->lens.labels) labels << QString::fromStdString(x);
                mPanel->showLens(regions, labels, run->lens.probabilities);
            } else {
                mPanel->showLens({}, {}, {});
                if (!run->lensError.empty()) mPanel->showTabMessage("lens", QString::fromStdString(run->lensError));
            }
            mPanel->showMessage(tr("%1 steps (%2, guidance %3, seed %4) in %5 s — %6 denoiser passes; click a word for its map")
                                    .arg(run->result.timesteps.size())
                                    .arg(samplerName(r.sampler))
                                    .arg(r.guidance)
                                    .arg(r.seed)
                                    .arg(run->result.seconds, 0, 'f', 2)
                                    .arg(run->result.denoiserCalls));
            if (!run->mapsError.empty()) mPanel->showMessage(tr("Maps of every step, site and head: %1").arg(QString::fromStdString(run->mapsError)));
            emit runFinished();
            emit mapsShown();
        },
        hooks);
    return mRunning;
}

quint64 DiffusionFeature::updateMaps()
{
    if (!mRun || mRun->result.crossAttention.empty()) return 0;
    const auto run = mRun;
    const HeatMapFilter f = filterOf(mPanel->mapFilter());
    TaskHooks<MapsOutput> hooks;
    hooks.failed = [this](const QString &m) { mPanel->showMessage(m); };
    return mBridge->run<MapsOutput>(
        &mMapsSlot, this,
        [run, f](JobContext &) {
            auto out = std::make_shared<MapsOutput>();
            out->maps = wordHeatMaps(run->result, f);
            return out;
        },
        [this](std::shared_ptr<const MapsOutput> r) {
            mPanel->showMaps(r->maps);
            emit mapsShown();
        },
        hooks);
}

quint64 DiffusionFeature::reweight()
{
    if (!mAvailable) return 0;
    bool ok = false;
    DiffusionRequest r = request(&ok);
    if (!ok) return 0;
    const int word = mPanel->reweightWord();
    if (word < 0 || size_t(word) >= r.cond.size()) {
        mPanel->showTabMessage("reweight", tr("Generate first, then choose the word to re-weight"));
        return 0;
    }
    r.reweightToken = word;
    r.reweightFactor = mPanel->reweightFactor();
    const DiffusionConfig cfg = mConfig;
    mPanel->showTabMessage(
        "reweight",
        tr("Regenerating with “%1” ×%2…").arg(QString::fromStdString(idsToWords(cfg, {r.cond[size_t(word)]}).front())).arg(r.reweightFactor));
    // The unedited sample of the same request: the last run's when it is that one, else sampled again.
    TensorValue known;
    if (mRun) {
        const DiffusionRequest &q = mRun->request;
        if (q.cond == r.cond && q.steps == r.steps && q.seed == r.seed && q.sampler == r.sampler && q.guidance == r.guidance && q.clipX0 == r.clipX0)
            known = mRun->result.sample;
    }
    TaskHooks<ReweightOutput> hooks;
    hooks.failed = [this](const QString &m) { mPanel->showTabMessage("reweight", m); };
    return mBridge->run<ReweightOutput>(
        &mReweightSlot, this,
        [r, cfg, known](JobContext &ctx) {
            DiffusionRequest edit = r, plain = r;
            edit.cancelled = plain.cancelled = [&ctx] { return ctx.cancelled(); };
            plain.reweightToken = -1;
            plain.reweightFactor = 1;
            const TensorValue a = known.numel() ? known : sampleDiffusion(ctx.model(), plain).sample;
            const TensorValue b = sampleDiffusion(ctx.model(), edit).sample;
            auto out = std::make_shared<ReweightOutput>();
            for (int64_t i = 0; i < a.numel(); ++i) {
                const double d = std::fabs(double(a.at(i)) - double(b.at(i)));
                out->maxAbs = std::max(out->maxAbs, d);
                out->meanAbs += d / double(a.numel());
            }
            out->original = toUnitRange(cfg, a);
            out->edited = toUnitRange(cfg, b);
            out->word = r.reweightToken;
            out->factor = r.reweightFactor;
            return out;
        },
        [this, cfg, r](std::shared_ptr<const ReweightOutput> o) {
            mPanel->showReweight(o->original, o->edited,
                                 tr("“%1” ×%2, seed %3: largest change %4, mean %5 (in the image range)")
                                     .arg(QString::fromStdString(idsToWords(cfg, {r.cond[size_t(o->word)]}).front()))
                                     .arg(o->factor)
                                     .arg(r.seed)
                                     .arg(o->maxAbs, 0, 'f', 3)
                                     .arg(o->meanAbs, 0, 'f', 3));
            emit reweightShown();
        },
        hooks);
}

quint64 DiffusionFeature::gradient()
{
    if (!mAvailable) return 0;
    bool ok = false;
    DiffusionRequest r = request(&ok);
    if (!ok) return 0;
    const int regionIndex = mPanel->gradientRegion();
    DiffusionRegion region;
    if (regionIndex >= 0 && size_t(regionIndex) < mConfig.regions.size()) region = mConfig.regions[size_t(regionIndex)];
    const int last = std::min(mPanel->gradientSteps(), r.steps);
    const DiffusionConfig cfg = mConfig;
    const std::string classifier = mClassifier;
    // The class scored: what the lens says the region ends as (the last run of this prompt), else the mean pixel
    // (also for the whole image of a model with regions: the lens classifies only its regions).
    int cls = -1;
    const bool lensHasIt = regionIndex >= 0 || mConfig.regions.empty();
    if (lensHasIt && mRun && mRun->lens.probabilities.numel() && mRun->result.cond == r.cond) {
        const auto decided = mPanel->lensChart()->decided();   // the lens of mRun, as the chart shows it
        cls = decided[size_t(regionIndex >= 0 && size_t(regionIndex) < decided.size() ? regionIndex : 0)].cls;
    }
    const QString scoreName = cls >= 0
        ? tr("p(%1) of %2")
              .arg(mClassLabels.value(cls, QString::number(cls)), regionIndex >= 0 ? QString::fromStdString(region.name) : tr("the image"))
        : tr("the mean pixel of %1").arg(regionIndex >= 0 ? QString::fromStdString(region.name) : tr("the image"));
    mPanel->showTabMessage("gradient", tr("Differentiating %1 through the last %2 steps…").arg(scoreName).arg(last));
    TaskHooks<GradientOutput> hooks;
    hooks.failed = [this](const QString &m) { mPanel->showTabMessage("gradient", m); };
    return mBridge->run<GradientOutput>(
        &mGradientSlot, this,
        [r, region, last, classifier, cls](JobContext &ctx) {
            auto out = std::make_shared<GradientOutput>();
            Model *c = cls >= 0 && !classifier.empty() ? &ctx.companion(classifier) : nullptr;
            out->g = wordGradients(ctx.model(), r, last, region, c, c ? cls : -1);
            return out;
        },
        [this, scoreName, last](std::shared_ptr<const GradientOutput> o) {
            QStringList words;
            for (const auto &w : o->g.words) words << QString::fromStdString(w);
            mPanel->showGradient(words, o->g.norm, o->g.gradTimesInput,
                                 tr("∂ %1 (= %2) / ∂ each word's embedding (%3) through the last %4 steps")
                                     .arg(scoreName)
                                     .arg(o->g.score, 0, 'g', 4)
                                     .arg(QString::fromStdString(o->g.layer))
                                     .arg(last));
            emit gradientShown();
        },
        hooks);
}

quint64 DiffusionFeature::gallery()
{
    if (!mAvailable) return 0;
    bool ok = false;
    DiffusionRequest r = request(&ok);
    if (!ok) return 0;
    const int count = mPanel->galleryCount(), first = mPanel->controls().seed;
    const DiffusionConfig cfg = mConfig;
    TaskHooks<GalleryOutput> hooks;
    hooks.failed = [this](const QString &m) { mPanel->showMessage(m); };
    return mBridge->run<GalleryOutput>(
        &mGallerySlot, this,
        [r, cfg, count, first](JobContext &ctx) {
            std::vector<TensorValue> parts;
            for (int i = 0; i < count; ++i) {
                DiffusionRequest one = r;
                one.seed = uint64_t(first + i);
                one.cancelled = [&ctx] { return ctx.cancelled(); };
                parts.push_back(toUnitRange(cfg, sampleDiffusion(ctx.model(), one).sample));
                ctx.progress(i + 1, count, "seeds");
            }
            auto out = std::make_shared<GalleryOutput>();
            out->images = concatRows(parts);
            out->firstSeed = first;
            return out;
        },
        [this](std::shared_ptr<const GalleryOutput> o) {
            mPanel->showGallery(o->images, o->firstSeed);
            emit galleryShown();
        },
        hooks);
}

void DiffusionFeature::exportTrajectory(const QString &path) const
{
    if (!mRun) throw std::runtime_error("Nothing generated yet");
    writeAnimation(path.toStdString(), mRun->trajectory01);
}

void DiffusionFeature::saveSession(Session &s) const
{
    const DiffusionControls c = mPanel->controls();
    if (c.prompt.isEmpty()) return;
    Session::Diffusion &d = s.diffusion;
    d.prompt = c.prompt;
    d.sampler = c.sampler;
    d.seed = c.seed;
    d.steps = c.steps;
    d.guidance = c.guidance;
    d.word = mPanel->selectedWord();
    const DiffusionPanel::MapFilter f = mPanel->mapFilter();
    d.stepFrom = f.stepFrom;
    d.stepTo = f.stepTo;
    d.site = f.site;
    d.head = f.head;
    d.step = mRun ? mPanel->shownStep() : -1;
    d.reweightWord = std::max(0, mPanel->reweightWord());
    d.reweightFactor = mPanel->reweightFactor();
    d.generated = mRun != nullptr;
}

void DiffusionFeature::restoreSession(const Session &s)
{
    if (s.diffusion.prompt.isEmpty()) return;
    const Session::Diffusion &d = s.diffusion;
    DiffusionControls c;
    c.prompt = d.prompt;
    c.sampler = d.sampler;
    c.seed = d.seed;
    c.steps = d.steps;
    c.guidance = d.guidance;
    mPanel->setControls(c);
    mPending = d;
    mPendingRestore = true;
    mApplyView = d.generated;
    if (mAvailable) {
        mPendingRestore = false;
        if (d.generated) generate();
    }
}

}   // namespace pellucid
