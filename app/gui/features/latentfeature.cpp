#include "app/gui/features/latentfeature.h"

#include "engine/core/json.h"

#include <QCursor>
#include <QShortcut>

#include "app/io/dataset.h"
#include "app/io/imageinput.h"
#include "app/workflows/workflows.h"
#include "engine/core/errors.h"
#include "engine/generative/dissection.h"
#include "engine/generative/generative.h"
#include "engine/generative/genmetrics.h"
#include "widgets/latent/latentpanel.h"
#include "widgets/common/dissectionview.h"
#include "widgets/latent/unitspanel.h"

#include <QFileDialog>
#include <QFileInfo>

namespace pellucid {

namespace {

struct LatentImagesOutput : JobOutput {
    TensorValue images;
    int dims = 0, steps = 0;
};
struct CompanionsOutput : JobOutput {
    Companions companions;
    std::vector<std::string> unitLayers;   // executed layers with an output [N, U, h, w]
    std::string preferredUnitLayer;
};
struct UnitsOutput : JobOutput {
    UnitMaps maps;
    Dissection dissection;
};
struct UnitEditOutput : JobOutput {
    TensorValue pair;   // [2, C, H, W]: the original and the edited image
    std::string verdict;
};
struct DirectionsOutput : JobOutput {
    DirectionSet set;
    std::string source;
    TensorValue images;
    int steps = 0;
};
struct GalleryOutput : JobOutput {
    TensorValue codes, images;
};
struct CounterfactualOutput : JobOutput {
    CounterfactualResult result;
    TensorValue frames;
    std::string summary;
};
struct VaeOutput : JobOutput {
    TensorValue pairs;
    std::vector<double> kl;
    std::string summary;
};
struct EncodedOutput : JobOutput {
    std::vector<float> code;
};
struct MetricsOutput : JobOutput {
    GenerativeReport report;
    std::string classifier;
};

}   // namespace

LatentFeature::LatentFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mPanel = new LatentPanel;
    mDock = addDock(tr("Latent"), "LatentDock", mPanel);
    // Keys 1–5 rate the sample on show (the Feedback dock stores it): the gallery image under the mouse on
    // the gallery tab, else the decoded code.
    for (int k = 1; k <= 5; ++k) {
        auto *key = new QShortcut(QKeySequence(Qt::Key_0 + k), mDock);
        key->setContext(Qt::WidgetWithChildrenShortcut);
        connect(key, &QShortcut::activated, this, [this, k] {
            Json sample = Json::object();
            auto codeJson = [](const float *z, int64_t n) {
                Json a = Json::array();
                for (int64_t i = 0; i < n; ++i) a.push(Json(double(z[i])));
                return a;
            };
            ImageGrid *gallery = mPanel->galleryGrid();
            const int index = gallery->isVisible() ? gallery->indexAt(gallery->mapFromGlobal(QCursor::pos())) : -1;
            const TensorValue &codes = mPanel->galleryCodes();
            if (index >= 0 && codes.shape().size() == 2 && index < codes.dim(0)) {
                sample["view"] = Json("gallery");
                sample["index"] = Json(index);
                sample["code"] = codeJson(codes.data() + int64_t(index) * codes.dim(1), codes.dim(1));
            } else {
                const std::vector<float> z = mPanel->code();
                if (z.empty()) return;
                sample["view"] = Json("decoded");
                sample["code"] = codeJson(z.data(), int64_t(z.size()));
            }
            if (mPanel->classIndex() >= 0) sample["class"] = Json(mPanel->classIndex());
            mWorkspace->rateSample("latent", k, QString::fromStdString(sample.dump()));
        });
    }
    connect(mWorkspace, &Workspace::modelChanged, this, &LatentFeature::onModel);
    connect(mPanel, &LatentPanel::codeChanged, this, [this] {
        const std::vector<float> z = mPanel->code();
        const int cls = mPanel->classIndex();
        if (z.empty()) return;
        mBridge->run<LatentImagesOutput>(
            &mDecodeSlot, this,
            [z, cls](JobContext &ctx) {
                auto out = std::make_shared<LatentImagesOutput>();
                out->images = decodeCodes(ctx.model(), checkCode(ctx.model(), TensorValue({1, int64_t(z.size())}, z)), cls);
                return out;
            },
            [this](std::shared_ptr<const LatentImagesOutput> r) {
                mPanel->showDecoded(r->images);
                mPanel->units()->setImage(r->images);
                emit latentShown("decoded");
            });
    });
    connect(mPanel, &LatentPanel::randomRequested, this, [this](int seed, double truncation) {
        const int64_t d = int64_t(mPanel->code().size());
        if (d == 0) return;
        const TensorValue z = sampleCodes(1, d, uint64_t(seed), truncation);
        mPanel->setCode(std::vector<float>(z.data(), z.data() + z.numel()));
    });
    connect(mPanel, &LatentPanel::traversalRequested, this, [this] {
        const std::vector<float> z = mPanel->code();
        const std::vector<int> dims = mPanel->traversalDims();
        const int steps = mPanel->traversalSteps();
        const double range = mPanel->traversalRange();
        const int cls = mPanel->classIndex();
        if (z.empty() || dims.empty()) return;
        mBridge->run<LatentImagesOutput>(
            &mTraverseSlot, this,
            [z, dims, steps, range, cls](JobContext &ctx) {
                Model &m = ctx.model();
                const TensorValue code = checkCode(m, TensorValue({1, int64_t(z.size())}, z));
                std::vector<TensorValue> rows;
                for (int d : dims) rows.push_back(traverseCodes(code, d, -range, range, steps));
                auto out = std::make_shared<LatentImagesOutput>();
                out->images = decodeCodes(m, concatRows(rows), cls);
                out->dims = int(dims.size());
                out->steps = steps;
                return out;
            },
            [this](std::shared_ptr<const LatentImagesOutput> r) {
                mPanel->showTraversal(r->images, r->dims, r->steps);
                emit latentShown("traversal");
            });
    });
    connect(mPanel, &LatentPanel::interpolationRequested, this, [this] {
        const std::vector<float> a = mPanel->codeA(), b = mPanel->codeB();
        const int steps = mPanel->interpolationSteps();
        const InterpolationMode mode = mPanel->interpolationMode();
        const int cls = mPanel->classIndex();
        if (a.empty()) return;
        mBridge->run<LatentImagesOutput>(
            &mInterpSlot, this,
            [a, b, steps, mode, cls](JobContext &ctx) {
                auto out = std::make_shared<LatentImagesOutput>();
                out->images = decodeCodes(
                    ctx.model(), interpolateCodes(TensorValue({1, int64_t(a.size())}, a), TensorValue({1, int64_t(b.size())}, b), steps, mode), cls);
                return out;
            },
            [this](std::shared_ptr<const LatentImagesOutput> r) {
                mPanel->showInterpolation(r->images);
                emit latentShown("interpolation");
            });
    });
    connect(mPanel, &LatentPanel::animationExportRequested, this, [this](const QString &which) {
        const QString path =
            QFileDialog::getSaveFileName(mWindow, tr("Export %1 animation").arg(which), which + ".gif", tr("Animations (*.gif *.mp4)"));
        if (!path.isEmpty()) exportAnimation(which, path);
    });
    wireTabs();
    wireUnits();
}

LatentFeature::~LatentFeature() = default;

void LatentFeature::placeDocks(DockLayout &layout) { layout.tab(mDock); }

QList<QPair<QString, const FigureSource *>> LatentFeature::figures() const
{
    return {{"latent-traversal", mPanel->traversalGrid()},
            {"latent-interpolation", mPanel->interpolationRow()},
            {"latent-units", mPanel->units()->gallery()},
            {"latent-unit-edit", mPanel->units()->editView()}};
}

void LatentFeature::saveSession(Session &s) const
{
    if (!mWorkspace->isGenerator()) return;
    const UnitsPanel *u = mPanel->units();
    const UnitsPanel::Request r = u->request();
    if (r.layer.isEmpty()) return;
    s.units.layer = u->hasUnits() ? QString::fromStdString(u->maps().layer.layer) : r.layer;
    s.units.count = r.count;
    s.units.seed = r.seed;
    s.units.sortClass = u->sortClass();
    s.units.selected = u->selectedUnits();
    s.units.dissected = u->hasUnits();
}

void LatentFeature::restoreSession(const Session &s)
{
    if (s.units.layer.isEmpty()) return;
    mRestoredUnits = s.units;
    mPanel->units()->setRequest({s.units.layer, s.units.count, s.units.seed});
    if (!s.units.dissected) return;
    if (mClassifier.isEmpty())
        mUnitsPending = true;   // the companions are still being found
    else
        emit mPanel->units()->dissectRequested();
}

void LatentFeature::onModel(std::shared_ptr<const ModelSummary> s)
{
    if (!mWorkspace->isGenerator()) {
        mPanel->setLatentDim(0, QString());
        return;
    }
    // A generator: codes, not images, are its input.
    mPanel->setLatentDim(int(s->inputShape.size() == 2 ? s->inputShape[1] : 0), QString::fromStdString(s->fileName));
    if (const Json *lat = s->metadata.raw.find("latent"); lat && lat->find("dim") && lat->find("dim")->isNumber())
        mPanel->setLatentDim(int(lat->find("dim")->asInt()), QString::fromStdString(s->fileName));
    QStringList classes;
    const Json *role = s->metadata.raw.find("role");
    if (role && role->asString() == "conditional_generator") {
        for (const auto &l : s->metadata.labels) classes << QString::fromStdString(l);
        if (classes.isEmpty())
            if (const Json *k = s->metadata.raw.find("classes"); k && k->isNumber())
                for (int64_t c = 0; c < k->asInt(); ++c) classes << QString::number(c);
    }
    mPanel->setConditionalClasses(classes);
    mDock->raise();
    findCompanions();
    emit mPanel->randomRequested(0, 0.0);
}

void LatentFeature::findCompanions()
{
    mClassifier.clear();
    mEncoder.clear();
    mBridge->run<CompanionsOutput>(
        &mCompanionSlot, this,
        [](JobContext &ctx) {
            auto out = std::make_shared<CompanionsOutput>();
            const ModelSummary &s = ctx.model().summary();
            out->companions = discoverCompanions(s, [&ctx](const std::string &path) -> Model & { return ctx.companion(path); });
            // Units: the layer with the most units among those with a spatial extent of at least 4×4 (a middle layer
            // of a DCGAN) is offered first.
            int64_t most = 0;
            for (const LayerInfo &l : s.layers)
                if (l.calls > 0 && !l.outputShapes.empty() && l.outputShapes.front().size() == 4) {
                    out->unitLayers.push_back(l.path);
                    const Shape &o = l.outputShapes.front();
                    if (o[2] >= 4 && o[1] > most) {
                        most = o[1];
                        out->preferredUnitLayer = l.path;
                    }
                }
            return out;
        },
        [this](std::shared_ptr<const CompanionsOutput> r) {
            const Companions &c = r->companions;
            mClassifier = QString::fromStdString(c.classifier);
            mEncoder = QString::fromStdString(c.encoder);
            QStringList labels, layers;
            for (const auto &l : c.classifierLabels) labels << QString::fromStdString(l);
            for (const auto &l : c.layers) layers << QString::fromStdString(l);
            mPanel->setClassLabels(labels);
            mPanel->setLayers(layers, layers.isEmpty() ? QString() : layers.front());
            QStringList unitLayers;
            for (const auto &l : r->unitLayers) unitLayers << QString::fromStdString(l);
            mPanel->units()->setLayers(unitLayers, QString::fromStdString(r->preferredUnitLayer));
            mPanel->units()->setClassLabels(labels);
            if (mUnitsPending) {
                mUnitsPending = false;
                mPanel->units()->setRequest({mRestoredUnits.layer, mRestoredUnits.count, mRestoredUnits.seed});
                emit mPanel->units()->dissectRequested();
            }
            mPanel->setCompanions(QFileInfo(mClassifier).fileName(), QFileInfo(mEncoder).fileName());
            emit latentShown("companions");
        });
}

bool LatentFeature::needClassifier(const QString &tab)
{
    if (!mClassifier.isEmpty()) return true;
    mPanel->showTabError(tab,
                         tr("No classifier for this generator: put a classification model trained on the same dataset beside it, "
                            "or name one in the generator's metadata (\"classifier\")."));
    return false;
}

bool LatentFeature::needEncoder(const QString &tab)
{
    if (!mEncoder.isEmpty()) return true;
    mPanel->showTabError(tab, tr("No VAE encoder for this decoder: its metadata names none (\"pair\")."));
    return false;
}

template <class R>
void LatentFeature::runTab(TaskSlot &slot, const QString &tab, std::function<std::shared_ptr<const R>(JobContext &)> work,
                           std::function<void(std::shared_ptr<const R>)> done)
{
    TaskHooks<R> hooks;
    hooks.failed = [this, tab](const QString &message) { mPanel->showTabError(tab, message); };
    mBridge->run<R>(&slot, this, std::move(work), std::move(done), hooks);
}

void LatentFeature::wireUnits()
{
    UnitsPanel *units = mPanel->units();
    connect(units, &UnitsPanel::dissectRequested, this, [this, units] {
        if (!needClassifier("units")) return;
        const UnitsPanel::Request r = units->request();
        if (r.layer.isEmpty()) {
            units->showError(tr("This generator has no layer with units at a spatial resolution (an output [N, U, h, w])."));
            return;
        }
        units->showStatus(tr("Dissecting layer %1 over %2 codes …").arg(r.layer).arg(r.count));
        runTab<UnitsOutput>(
            mUnitsSlot, "units",
            [r, cls = mClassifier.toStdString()](JobContext &ctx) {
                Model &gen = ctx.model();
                Model &c = ctx.companion(cls);
                auto out = std::make_shared<UnitsOutput>();
                const std::string layer = r.layer.toStdString();
                ctx.progress(0, 1, "unit maps of layer " + layer);
                out->maps = generatorUnitMaps(gen, layer, r.count, uint64_t(r.seed), 0.99, 3);
                out->maps.activations = TensorValue();   // the tab shows mean maps, quantiles and top samples only
                const WorkflowSink sink = sinkOf(ctx);
                DissectOptions o;
                o.cancelled = sink.cancelled;
                o.progress = [&sink](int64_t done, int64_t total) { sink.report(done, total, "removing units"); };
                out->dissection = dissectGenerator(gen, c, layer, r.count, uint64_t(r.seed), o);
                return out;
            },
            [this, units](std::shared_ptr<const UnitsOutput> r) {
                units->showUnits(r->maps, r->dissection);
                if (!mRestoredUnits.layer.isEmpty() && mRestoredUnits.layer.toStdString() == r->maps.layer.layer) {
                    units->setSortClass(mRestoredUnits.sortClass);
                    units->selectUnits(std::set<int64_t>(mRestoredUnits.selected.begin(), mRestoredUnits.selected.end()));
                    mRestoredUnits = Session::Units();
                }
                emit latentShown("units");
            });
    });
    connect(units, &UnitsPanel::editRequested, this, [this, units](bool insert) {
        if (!needClassifier("units")) return;
        const std::vector<float> z = mPanel->code();
        if (z.empty()) return;
        if (!units->hasUnits()) {
            units->showError(tr("Dissect a layer first, then select its units."));
            return;
        }
        UnitEdit e;
        e.layer = units->maps().layer.layer;
        e.units = units->selectedUnits();
        if (e.units.empty()) {
            units->showError(tr("Select units in the gallery first (click them)."));
            return;
        }
        if (insert) e.values = units->insertValues();
        e.mask = units->layerMask();
        runTab<UnitEditOutput>(
            mUnitEditSlot, "units",
            [z, e, insert, cls = mClassifier.toStdString()](JobContext &ctx) {
                Model &gen = ctx.model();
                Model &c = ctx.companion(cls);
                const TensorValue code = checkCode(gen, TensorValue({1, int64_t(z.size())}, z));
                auto out = std::make_shared<UnitEditOutput>();
                out->pair = concatRows({decodeCodes(gen, code), decodeWithEdit(gen, code, e)});
                const TensorValue logits = c.forward(toClassifierInput(out->pair, gen.summary(), c.summary()), {}).outputs.at(0);
                auto verdict = [&](int64_t row) {
                    const Prediction p = c.topK(logits.rows(row, row + 1), 1).at(0);
                    return (p.label.empty() ? std::to_string(p.index) : p.label) + " " + std::to_string(int(std::lround(p.probability * 100))) + " %";
                };
                int64_t cells = 0;
                for (int64_t i = 0; i < e.mask.numel(); ++i) cells += e.mask.at(i) != 0;
                std::string units;
                for (size_t i = 0; i < e.units.size(); ++i) units += (i ? ", " : "") + std::to_string(e.units[i]);
                out->verdict = "original: " + verdict(0) + "  ·  edited: " + verdict(1) + "  (units " + units + " of layer " + e.layer + " "
                    + (insert ? "inserted" : "removed") + " "
                    + (e.mask.numel() ? "in " + std::to_string(cells) + " of " + std::to_string(e.mask.numel()) + " cells"
                                      : std::string("everywhere"))
                    + ")";
                return out;
            },
            [this, units](std::shared_ptr<const UnitEditOutput> r) {
                units->showEdit(r->pair, QString::fromStdString(r->verdict));
                emit latentShown("units-edit");
            });
    });
}

void LatentFeature::wireTabs()
{
    connect(mPanel, &LatentPanel::directionsRequested, this, [this] {
        const LatentPanel::DirectionRequest r = mPanel->directionRequest();
        const std::vector<float> z = mPanel->code();
        if (z.empty()) return;
        if (r.source != "ganspace" && r.source != "sefa") {
            if (!needEncoder("directions")) return;
            if (!mWorkspace->dataset()) {
                mPanel->showTabError("directions", tr("Open a labelled dataset (Dataset dock) to compute directions from encoded items."));
                return;
            }
        }
        runTab<DirectionsOutput>(
            mDirectionsSlot, "directions",
            [r, z, ds = mWorkspace->dataset(), enc = mEncoder.toStdString(), cls = mPanel->classIndex()](JobContext &ctx) {
                Model &gen = ctx.model();
                auto out = std::make_shared<DirectionsOutput>();
                out->source = r.source.toStdString();
                if (r.source == "ganspace") {
                    ctx.progress(0, 2, "GANSpace: sampling and decomposing layer " + r.layer.toStdString());
                    out->set = principalDirectionsOfActivation(gen, r.layer.toStdString(), r.k, r.count, 0);
                } else if (r.source == "sefa") {
                    out->set = sefaDirections(gen, "", int(std::min<int64_t>(r.k, int64_t(z.size())))).directions;
                } else {
                    Model &e = ctx.companion(enc);
                    const ModelSummary &es = e.summary();
                    if (r.source == "pca") {
                        const TensorValue codes = encodeDataset(e, *ds, size_t(r.count), [&ctx](size_t done, size_t total) {
                            ctx.throwIfCancelled();
                            ctx.progress(int64_t(done), int64_t(total), "encoding dataset items");
                        });
                        out->set = principalDirectionsOfCodes(codes, r.k);
                    } else {
                        auto meanOf = [&](int cls) {
                            std::vector<TensorValue> items;
                            for (size_t i = 0; i < ds->size() && items.size() < 1000; ++i)
                                if (ds->label(i) == cls) items.push_back(ds->batch(i, i + 1, es.metadata.input, es.inputShape));
                            if (items.empty()) throw Error(ErrorCode::BadInput, "The dataset has no item of class " + std::to_string(cls));
                            return meanCode(e, concatRows(items));
                        };
                        const TensorValue a = meanOf(r.from), b = meanOf(r.to);
                        std::vector<float> d(size_t(a.numel()));
                        for (int64_t j = 0; j < a.numel(); ++j) d[size_t(j)] = b.at(j) - a.at(j);
                        out->set.directions = TensorValue({1, a.numel()}, std::move(d));
                    }
                }
                // Each direction swept around the current code (attribute directions from 0 to 1: A's mean to B's).
                const TensorValue code = checkCode(gen, TensorValue({1, int64_t(z.size())}, z));
                std::vector<TensorValue> rows;
                const int64_t k = out->set.directions.dim(0), D = out->set.directions.dim(1);
                for (int64_t j = 0; j < k; ++j) {
                    const TensorValue dir({1, D}, std::vector<float>(out->set.directions.data() + j * D, out->set.directions.data() + (j + 1) * D));
                    rows.push_back(r.source == "attribute" ? moveAlong(code, dir, 0, 1, r.steps) : moveAlong(code, dir, -r.range, r.range, r.steps));
                }
                out->images = decodeCodes(gen, concatRows(rows), cls);
                out->steps = r.steps;
                return out;
            },
            [this](std::shared_ptr<const DirectionsOutput> r) {
                mPanel->showDirections(r->set.directions, r->set.explainedRatio, QString::fromStdString(r->source), r->images, r->steps);
                emit latentShown("directions");
            });
    });

    connect(mPanel, &LatentPanel::galleryRequested, this, [this](int count, int seed, double truncation) {
        const int64_t d = int64_t(mPanel->code().size());
        if (d == 0) return;
        runTab<GalleryOutput>(
            mGallerySlot, "gallery",
            [count, seed, truncation, d, cls = mPanel->classIndex()](JobContext &ctx) {
                auto out = std::make_shared<GalleryOutput>();
                out->codes = sampleCodes(count, d, uint64_t(seed), truncation);
                out->images = decodeCodes(ctx.model(), out->codes, cls);
                return out;
            },
            [this](std::shared_ptr<const GalleryOutput> r) {
                mPanel->showGallery(r->codes, r->images);
                emit latentShown("gallery");
            });
    });

    connect(mPanel, &LatentPanel::counterfactualRequested, this, [this] {
        const LatentPanel::CounterfactualRequest r = mPanel->counterfactualRequest();
        if (!needClassifier("counterfactual")) return;
        const std::vector<float> z = mPanel->code();
        if (z.empty()) return;
        std::string image;
        if (r.fromInput) {
            if (!needEncoder("counterfactual")) return;
            if (mWorkspace->imagePath().isEmpty()) {
                mPanel->showTabError("counterfactual", tr("Open an input image first (Input dock), or start from the current code."));
                return;
            }
            image = mWorkspace->imagePath().toStdString();
        }
        runTab<CounterfactualOutput>(
            mCounterfactualSlot, "counterfactual",
            [r, z, image, cls = mClassifier.toStdString(), enc = mEncoder.toStdString()](JobContext &ctx) {
                Model &gen = ctx.model();
                Model &c = ctx.companion(cls);
                TensorValue z0 = TensorValue({1, int64_t(z.size())}, z);
                if (!image.empty()) {
                    Model &e = ctx.companion(enc);
                    z0 = encodePosterior(e, imageFileToTensor(image, e.summary().metadata.input, e.summary().inputShape)).first;
                }
                CounterfactualOptions o;
                o.target = r.target;
                o.steps = r.steps;
                o.distanceWeight = r.distanceWeight;
                o.stopProbability = r.stopProbability;
                o.cancelled = [&ctx] { return ctx.cancelled(); };
                o.progress = [&ctx, &o](int step, double p, double) {
                    if (step % 10 == 0) ctx.progress(step, o.steps, "counterfactual: p(target) = " + std::to_string(p).substr(0, 5));
                };
                auto out = std::make_shared<CounterfactualOutput>();
                out->result = latentCounterfactual(gen, c, z0, o);
                const CounterfactualResult &res = out->result;
                out->frames = counterfactualStrip(gen, res, 8, true);
                const auto &labels = c.summary().metadata.labels;
                auto name = [&](int k) { return k >= 0 && size_t(k) < labels.size() ? labels[size_t(k)] : std::to_string(k); };
                char buf[512];
                std::snprintf(
                    buf, sizeof buf,
                    "%s: %s → %s in %d steps; p(%s) %.4f → %.4f; ‖z − z0‖ = %.3f. Frames evenly spaced along the path; last: difference (grey = 0).",
                    res.reached ? "Reached" : "Not reached", name(res.predicted.front()).c_str(), name(res.predicted.back()).c_str(),
                    int(res.path.dim(0) - 1), name(r.target).c_str(), res.targetProbability.front(), res.targetProbability.back(),
                    res.distance.back());
                out->summary = buf;
                return out;
            },
            [this](std::shared_ptr<const CounterfactualOutput> r) {
                const TensorValue &p = r->result.path;
                const int64_t D = p.dim(1), S = p.dim(0);
                mPanel->showCounterfactual(r->frames, r->result.targetProbability, QString::fromStdString(r->summary),
                                           std::vector<float>(p.data() + (S - 1) * D, p.data() + S * D));
                emit latentShown("counterfactual");
            });
    });

    connect(mPanel, &LatentPanel::vaeRequested, this, [this](int items) {
        if (!needEncoder("vae")) return;
        if (!mWorkspace->dataset() && mWorkspace->imagePath().isEmpty()) {
            mPanel->showTabError("vae", tr("Open an input image or a dataset first."));
            return;
        }
        runTab<VaeOutput>(
            mVaeSlot, "vae",
            [items, ds = mWorkspace->dataset(), image = mWorkspace->imagePath().toStdString(), enc = mEncoder.toStdString()](JobContext &ctx) {
                Model &gen = ctx.model();
                Model &e = ctx.companion(enc);
                const ModelSummary &es = e.summary();
                std::vector<TensorValue> parts;
                if (!image.empty()) parts.push_back(imageFileToTensor(image, es.metadata.input, es.inputShape));
                if (ds) {
                    const size_t n = std::min(ds->size(), size_t(items));
                    for (size_t b = 0; b < n; b += 256) parts.push_back(ds->batch(b, std::min(n, b + 256), es.metadata.input, es.inputShape));
                }
                const TensorValue x = concatRows(parts);
                ctx.progress(0, 2, "encoding " + std::to_string(x.dim(0)) + " images");
                const auto [mu, logvar] = encodePosterior(e, x);
                const TensorValue recon = decodeCodes(gen, mu);
                if (recon.shape() != x.shape())
                    throw Error(ErrorCode::BadInput,
                                "The reconstructions " + shapeToString(recon.shape()) + " do not match the inputs " + shapeToString(x.shape()));
                auto out = std::make_shared<VaeOutput>();
                out->kl = klPerDimension(mu, logvar);
                std::vector<TensorValue> pairs;
                for (int64_t i = 0; i < std::min<int64_t>(8, x.dim(0)); ++i) {
                    pairs.push_back(x.rows(i, i + 1));
                    pairs.push_back(recon.rows(i, i + 1));
                }
                out->pairs = concatRows(pairs);
                int active = 0;
                double total = 0;
                for (double v : out->kl) {
                    active += v > 0.01;
                    total += v;
                }
                char buf[400];
                std::snprintf(buf, sizeof buf,
                              "%lld image(s)%s: reconstruction SSIM %.3f, PSNR %.2f dB; KL to the prior %.2f nats in total, %d of %zu latent "
                              "dimensions active (KL > 0.01). Pairs: input, reconstruction.",
                              static_cast<long long>(x.dim(0)), image.empty() ? "" : " (the input image first)", meanSsim(recon, x), psnr(recon, x),
                              total, active, out->kl.size());
                out->summary = buf;
                return out;
            },
            [this](std::shared_ptr<const VaeOutput> r) {
                mPanel->showVae(r->pairs, r->kl, QString::fromStdString(r->summary));
                emit latentShown("vae");
            });
    });

    connect(mPanel, &LatentPanel::encodeInputRequested, this, [this] {
        if (!needEncoder("vae")) return;
        if (mWorkspace->imagePath().isEmpty()) {
            mPanel->showTabError("vae", tr("Open an input image first (Input dock)."));
            return;
        }
        runTab<EncodedOutput>(
            mEncodeSlot, "vae",
            [image = mWorkspace->imagePath().toStdString(), enc = mEncoder.toStdString()](JobContext &ctx) {
                Model &e = ctx.companion(enc);
                const TensorValue mu =
                    checkCode(ctx.model(), encodePosterior(e, imageFileToTensor(image, e.summary().metadata.input, e.summary().inputShape)).first,
                              "encoded image");
                auto out = std::make_shared<EncodedOutput>();
                out->code.assign(mu.data(), mu.data() + mu.numel());
                return out;
            },
            [this](std::shared_ptr<const EncodedOutput> r) {
                mPanel->setCode(r->code);
                emit latentShown("encoded");
            });
    });

    connect(mPanel, &LatentPanel::metricsRequested, this, [this](int count) {
        if (!needClassifier("metrics")) return;
        const int64_t d = int64_t(mPanel->code().size());
        if (d == 0) return;
        runTab<MetricsOutput>(
            mMetricsSlot, "metrics",
            [count, d, ds = mWorkspace->dataset(), cls = mClassifier.toStdString(), enc = mEncoder.toStdString()](JobContext &ctx) {
                Model &gen = ctx.model();
                Model &c = ctx.companion(cls);
                Model *e = enc.empty() ? nullptr : &ctx.companion(enc);
                TensorValue real, realEnc;
                if (ds) {
                    const size_t n = std::min(ds->size(), size_t(count));
                    real = ds->batch(0, n, c.summary().metadata.input, c.summary().inputShape);
                    if (e) realEnc = ds->batch(0, n, e->summary().metadata.input, e->summary().inputShape);
                }
                const auto &suggested = c.summary().metadata.suggestedLayers;
                auto out = std::make_shared<MetricsOutput>();
                out->classifier = c.summary().fileName;
                out->report = generativeReport(gen, c, suggested.empty() ? std::string() : suggested.back(), sampleCodes(count, d, 0), real, e,
                                               realEnc, [&ctx](const std::string &s) {
                                                   ctx.throwIfCancelled();
                                                   ctx.progress(0, 0, s);
                                               });
                return out;
            },
            [this](std::shared_ptr<const MetricsOutput> r) {
                const GenerativeReport &g = r->report;
                QString html = tr("<h3>Generative quality</h3><p>%1 samples from the prior (seed 0); features: <b>%2</b>, layer <b>%3</b> "
                                  "(pooled).</p><table cellpadding='3'>")
                                   .arg(g.samples)
                                   .arg(QString::fromStdString(r->classifier), QString::fromStdString(g.featureLayer));
                auto row = [&html](const QString &name, const QString &value, const QString &note = {}) {
                    html += QString("<tr><td>%1</td><td align='right'><b>%2</b></td><td><i>%3</i></td></tr>").arg(name, value, note);
                };
                row(tr("Inception Score"), QString::number(g.inceptionScore, 'f', 3),
                    g.hasReal ? tr("real items: %1").arg(g.realInceptionScore, 0, 'f', 3) : QString());
                row(tr("Diversity (mean pairwise distance)"), QString::number(g.diversity, 'f', 3),
                    g.hasReal ? tr("real items: %1").arg(g.realDiversity, 0, 'f', 3) : QString());
                if (g.hasReal)
                    row(tr("Fréchet distance to %1 dataset items").arg(g.realItems), QString::number(g.frechetDistance, 'f', 3));
                else
                    row(tr("Fréchet distance"), "—", tr("open a dataset to compare with real items"));
                if (g.hasReconstruction) {
                    row(tr("Reconstruction SSIM"), QString::number(g.reconstructionSsim, 'f', 4));
                    row(tr("Reconstruction PSNR"), QString::number(g.reconstructionPsnr, 'f', 2) + " dB");
                    row(tr("Active latent units (KL > 0.01)"), QString("%1 / %2").arg(g.activeUnits).arg(g.klPerDim.size()));
                }
                html += "</table>";
                mPanel->showMetrics(html);
                emit latentShown("metrics");
            });
    });
}

bool LatentFeature::exportAnimation(const QString &which, const QString &path)
{
    try {
        TensorValue frames = which == "traversal" ? mPanel->traversalGrid()->images() : mPanel->interpolationRow()->images();
        if (frames.shape().size() != 4 || frames.dim(0) == 0)
            throw Error(ErrorCode::BadInput, "Nothing to export: run the " + which.toStdString() + " first");
        if (which == "traversal") frames = traversalFrames(frames, mPanel->traversalSteps());
        writeAnimation(path.toStdString(), frames);
        return true;
    } catch (const std::exception &e) {
        mWorkspace->showError(QString::fromStdString(e.what()));
        return false;
    }
}

}   // namespace pellucid
