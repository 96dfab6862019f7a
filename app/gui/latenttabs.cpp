// The Latent dock's directions, gallery, counterfactual, VAE and metrics tabs: engine jobs and their results.
// A generator's companion models (the VAE encoder named by metadata "pair", and a classifier — metadata
// "classifier", else a classification model beside the generator trained on the same dataset) are loaded on
// the engine thread and cached there.
#include "app/gui/mainwindow.h"

#include "app/io/dataset.h"
#include "app/gui/enginebridge.h"
#include "app/io/imageinput.h"
#include "engine/core/errors.h"
#include "engine/generative/generative.h"
#include "engine/generative/genmetrics.h"
#include "widgets/latent/latentpanel.h"

#include <QDir>
#include <QFileInfo>

#include <filesystem>
#include <map>
#include <mutex>

namespace pellucid {

struct LatentCompanions {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<Model>> models;
    /// Loads (once) a companion model on the CPU or the engine's device; only called on the engine thread.
    Model &get(const std::string &path)
    {
        std::lock_guard<std::mutex> lock(mutex);
        auto it = models.find(path);
        if (it != models.end()) return *it->second;
        LoadOptions o;
        std::shared_ptr<Model> m = Model::load(path, o);
        models[path] = m;
        return *m;
    }
};

namespace {

struct CompanionsOutput : JobOutput {
    std::string classifier, encoder;
    std::vector<std::string> labels;
    std::vector<std::string> layers;
    std::string preferredLayer;
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

std::string datasetOf(const ModelSummary &s)
{
    const Json *d = s.metadata.raw.find("labels_dataset");
    return d && d->isString() ? d->asString() : std::string();
}

} // namespace

void MainWindow::findLatentCompanions()
{
    mCompanionClassifier.clear();
    mCompanionEncoder.clear();
    Job job;
    job.kind = "latent-companions";
    job.work = [companions = mCompanions](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        namespace fs = std::filesystem;
        Model &gen = ctx.model();
        const ModelSummary &s = gen.summary();
        auto out = std::make_shared<CompanionsOutput>();
        const fs::path dir = fs::path(s.path).parent_path();
        if (const Json *pair = s.metadata.raw.find("pair"); pair && pair->isString() && fs::exists(dir / pair->asString()))
            out->encoder = (dir / pair->asString()).string();
        if (const Json *c = s.metadata.raw.find("classifier"); c && c->isString() && fs::exists(dir / c->asString())) {
            out->classifier = (dir / c->asString()).string();
        } else if (!datasetOf(s).empty()) {
            // A classification model beside the generator, trained on the same labelled dataset.
            std::vector<fs::path> files;
            for (const auto &e : fs::directory_iterator(dir))
                if (e.path().extension() == ".pt" && e.path() != fs::path(s.path) && e.path().string() != out->encoder) files.push_back(e.path());
            std::sort(files.begin(), files.end());
            for (const fs::path &f : files) {
                try {
                    Model &m = companions->get(f.string());
                    if (m.summary().metadata.task == "classification" && !m.summary().metadata.labels.empty()
                        && (datasetOf(m.summary()) == datasetOf(s) || m.summary().metadata.name.find(datasetOf(s)) != std::string::npos)) {
                        out->classifier = f.string();
                        break;
                    }
                } catch (const std::exception &) {
                    // Not a model we can use; keep looking.
                }
            }
        }
        if (!out->classifier.empty()) {
            Model &c = companions->get(out->classifier);
            out->labels = c.summary().metadata.labels;
        }
        for (const LayerInfo &l : s.layers)
            if (l.calls > 0 && !l.outputShapes.empty() && l.outputShapes[0].size() >= 2) out->layers.push_back(l.path);
        if (!out->layers.empty()) out->preferredLayer = out->layers.front();
        return out;
    };
    mBridge->submit(std::move(job));
}

void MainWindow::wireLatentTabs()
{
    mCompanions = std::make_shared<LatentCompanions>();
    auto needClassifier = [this](const QString &tab) {
        if (!mCompanionClassifier.isEmpty()) return true;
        mLatent->showTabError(tab, tr("No classifier for this generator: put a classification model trained on the same dataset beside it, "
                                      "or name one in the generator's metadata (\"classifier\")."));
        return false;
    };
    auto needEncoder = [this](const QString &tab) {
        if (!mCompanionEncoder.isEmpty()) return true;
        mLatent->showTabError(tab, tr("No VAE encoder for this decoder: its metadata names none (\"pair\")."));
        return false;
    };

    connect(mLatent, &LatentPanel::directionsRequested, this, [this, needEncoder] {
        const LatentPanel::DirectionRequest r = mLatent->directionRequest();
        const std::vector<float> z = mLatent->code();
        if (z.empty()) return;
        if (r.source != "ganspace") {
            if (!needEncoder("directions")) return;
            if (!mDatasetData) {
                mLatent->showTabError("directions", tr("Open a labelled dataset (Dataset dock) to compute directions from encoded items."));
                return;
            }
        }
        Job job;
        job.kind = "latent-directions";
        job.work = [r, z, ds = mDatasetData, enc = mCompanionEncoder.toStdString(), companions = mCompanions, cls = mLatent->classIndex()](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
            Model &gen = ctx.model();
            auto out = std::make_shared<DirectionsOutput>();
            out->source = r.source.toStdString();
            if (r.source == "ganspace") {
                ctx.progress(0, 2, "GANSpace: sampling and decomposing layer " + r.layer.toStdString());
                out->set = principalDirectionsOfActivation(gen, r.layer.toStdString(), r.k, r.count, 0);
            } else {
                Model &e = companions->get(enc);
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
        };
        mBridge->submit(std::move(job));
    });

    connect(mLatent, &LatentPanel::galleryRequested, this, [this](int count, int seed, double truncation) {
        const int64_t d = int64_t(mLatent->code().size());
        if (d == 0) return;
        Job job;
        job.kind = "latent-gallery";
        job.work = [count, seed, truncation, d, cls = mLatent->classIndex()](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
            auto out = std::make_shared<GalleryOutput>();
            out->codes = sampleCodes(count, d, uint64_t(seed), truncation);
            out->images = decodeCodes(ctx.model(), out->codes, cls);
            return out;
        };
        mBridge->submit(std::move(job));
    });

    connect(mLatent, &LatentPanel::counterfactualRequested, this, [this, needClassifier, needEncoder] {
        const LatentPanel::CounterfactualRequest r = mLatent->counterfactualRequest();
        if (!needClassifier("counterfactual")) return;
        const std::vector<float> z = mLatent->code();
        if (z.empty()) return;
        std::string image;
        if (r.fromInput) {
            if (!needEncoder("counterfactual")) return;
            if (mImagePath.isEmpty()) {
                mLatent->showTabError("counterfactual", tr("Open an input image first (Input dock), or start from the current code."));
                return;
            }
            image = mImagePath.toStdString();
        }
        Job job;
        job.kind = "latent-counterfactual";
        job.work = [r, z, image, cls = mCompanionClassifier.toStdString(), enc = mCompanionEncoder.toStdString(),
                    companions = mCompanions](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
            Model &gen = ctx.model();
            Model &c = companions->get(cls);
            TensorValue z0 = TensorValue({1, int64_t(z.size())}, z);
            if (!image.empty()) {
                Model &e = companions->get(enc);
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
            std::snprintf(buf, sizeof buf, "%s: %s → %s in %d steps; p(%s) %.4f → %.4f; ‖z − z0‖ = %.3f. Frames evenly spaced along the path; last: difference (grey = 0).",
                          res.reached ? "Reached" : "Not reached", name(res.predicted.front()).c_str(), name(res.predicted.back()).c_str(),
                          int(res.path.dim(0) - 1), name(r.target).c_str(), res.targetProbability.front(), res.targetProbability.back(), res.distance.back());
            out->summary = buf;
            return out;
        };
        mBridge->submit(std::move(job));
    });

    connect(mLatent, &LatentPanel::vaeRequested, this, [this, needEncoder](int items) {
        if (!needEncoder("vae")) return;
        if (!mDatasetData && mImagePath.isEmpty()) {
            mLatent->showTabError("vae", tr("Open an input image or a dataset first."));
            return;
        }
        Job job;
        job.kind = "latent-vae";
        job.work = [items, ds = mDatasetData, image = mImagePath.toStdString(), enc = mCompanionEncoder.toStdString(),
                    companions = mCompanions](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
            Model &gen = ctx.model();
            Model &e = companions->get(enc);
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
                throw Error(ErrorCode::BadInput, "The reconstructions " + shapeToString(recon.shape()) + " do not match the inputs " + shapeToString(x.shape()));
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
            for (double v : out->kl) { active += v > 0.01; total += v; }
            char buf[400];
            std::snprintf(buf, sizeof buf, "%lld image(s)%s: reconstruction SSIM %.3f, PSNR %.2f dB; KL to the prior %.2f nats in total, %d of %zu latent dimensions active (KL > 0.01). Pairs: input, reconstruction.",
                          static_cast<long long>(x.dim(0)), image.empty() ? "" : " (the input image first)", meanSsim(recon, x), psnr(recon, x), total, active, out->kl.size());
            out->summary = buf;
            return out;
        };
        mBridge->submit(std::move(job));
    });

    connect(mLatent, &LatentPanel::encodeInputRequested, this, [this, needEncoder] {
        if (!needEncoder("vae")) return;
        if (mImagePath.isEmpty()) {
            mLatent->showTabError("vae", tr("Open an input image first (Input dock)."));
            return;
        }
        Job job;
        job.kind = "latent-encode";
        job.work = [image = mImagePath.toStdString(), enc = mCompanionEncoder.toStdString(), companions = mCompanions](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
            Model &e = companions->get(enc);
            const TensorValue mu = checkCode(ctx.model(), encodePosterior(e, imageFileToTensor(image, e.summary().metadata.input, e.summary().inputShape)).first, "encoded image");
            auto out = std::make_shared<EncodedOutput>();
            out->code.assign(mu.data(), mu.data() + mu.numel());
            return out;
        };
        mBridge->submit(std::move(job));
    });

    connect(mLatent, &LatentPanel::metricsRequested, this, [this, needClassifier](int count) {
        if (!needClassifier("metrics")) return;
        const int64_t d = int64_t(mLatent->code().size());
        if (d == 0) return;
        Job job;
        job.kind = "latent-metrics";
        job.work = [count, d, ds = mDatasetData, cls = mCompanionClassifier.toStdString(), enc = mCompanionEncoder.toStdString(),
                    companions = mCompanions](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
            Model &gen = ctx.model();
            Model &c = companions->get(cls);
            Model *e = enc.empty() ? nullptr : &companions->get(enc);
            TensorValue real, realEnc;
            if (ds) {
                const size_t n = std::min(ds->size(), size_t(count));
                real = ds->batch(0, n, c.summary().metadata.input, c.summary().inputShape);
                if (e) realEnc = ds->batch(0, n, e->summary().metadata.input, e->summary().inputShape);
            }
            const auto &suggested = c.summary().metadata.suggestedLayers;
            auto out = std::make_shared<MetricsOutput>();
            out->classifier = c.summary().fileName;
            out->report = generativeReport(gen, c, suggested.empty() ? std::string() : suggested.back(), sampleCodes(count, d, 0), real, e, realEnc,
                                           [&ctx](const std::string &s) { ctx.throwIfCancelled(); ctx.progress(0, 0, s); });
            return out;
        };
        mBridge->submit(std::move(job));
    });

    connect(mBridge, &EngineBridge::jobFailed, this, [this](quint64, const QString &kind, const QString &message) {
        if (kind.startsWith("latent-")) mLatent->showTabError(kind.mid(7), message);
    });

    connect(mBridge, &EngineBridge::jobFinished, this, [this](quint64, const QString &, std::shared_ptr<const JobOutput> out) {
        if (auto r = std::dynamic_pointer_cast<const CompanionsOutput>(out)) {
            mCompanionClassifier = QString::fromStdString(r->classifier);
            mCompanionEncoder = QString::fromStdString(r->encoder);
            QStringList labels, layers;
            for (const auto &l : r->labels) labels << QString::fromStdString(l);
            for (const auto &l : r->layers) layers << QString::fromStdString(l);
            mLatent->setClassLabels(labels);
            mLatent->setLayers(layers, QString::fromStdString(r->preferredLayer));
            mLatent->setCompanions(QFileInfo(mCompanionClassifier).fileName(), QFileInfo(mCompanionEncoder).fileName());
            emit latentShown("companions");
        } else if (auto r = std::dynamic_pointer_cast<const DirectionsOutput>(out)) {
            mLatent->showDirections(r->set.directions, r->set.explainedRatio, QString::fromStdString(r->source), r->images, r->steps);
            emit latentShown("directions");
        } else if (auto r = std::dynamic_pointer_cast<const GalleryOutput>(out)) {
            mLatent->showGallery(r->codes, r->images);
            emit latentShown("gallery");
        } else if (auto r = std::dynamic_pointer_cast<const CounterfactualOutput>(out)) {
            const TensorValue &p = r->result.path;
            const int64_t D = p.dim(1), S = p.dim(0);
            mLatent->showCounterfactual(r->frames, r->result.targetProbability, QString::fromStdString(r->summary),
                                        std::vector<float>(p.data() + (S - 1) * D, p.data() + S * D));
            emit latentShown("counterfactual");
        } else if (auto r = std::dynamic_pointer_cast<const VaeOutput>(out)) {
            mLatent->showVae(r->pairs, r->kl, QString::fromStdString(r->summary));
            emit latentShown("vae");
        } else if (auto r = std::dynamic_pointer_cast<const EncodedOutput>(out)) {
            mLatent->setCode(r->code);
            emit latentShown("encoded");
        } else if (auto r = std::dynamic_pointer_cast<const MetricsOutput>(out)) {
            const GenerativeReport &g = r->report;
            QString html = tr("<h3>Generative quality</h3><p>%1 samples from the prior (seed 0); features: <b>%2</b>, layer <b>%3</b> (pooled).</p><table cellpadding='3'>")
                               .arg(g.samples).arg(QString::fromStdString(r->classifier), QString::fromStdString(g.featureLayer));
            auto row = [&html](const QString &name, const QString &value, const QString &note = {}) {
                html += QString("<tr><td>%1</td><td align='right'><b>%2</b></td><td><i>%3</i></td></tr>").arg(name, value, note);
            };
            row(tr("Inception Score"), QString::number(g.inceptionScore, 'f', 3), g.hasReal ? tr("real items: %1").arg(g.realInceptionScore, 0, 'f', 3) : QString());
            row(tr("Diversity (mean pairwise distance)"), QString::number(g.diversity, 'f', 3), g.hasReal ? tr("real items: %1").arg(g.realDiversity, 0, 'f', 3) : QString());
            if (g.hasReal) row(tr("Fréchet distance to %1 dataset items").arg(g.realItems), QString::number(g.frechetDistance, 'f', 3));
            else row(tr("Fréchet distance"), "—", tr("open a dataset to compare with real items"));
            if (g.hasReconstruction) {
                row(tr("Reconstruction SSIM"), QString::number(g.reconstructionSsim, 'f', 4));
                row(tr("Reconstruction PSNR"), QString::number(g.reconstructionPsnr, 'f', 2) + " dB");
                row(tr("Active latent units (KL > 0.01)"), QString("%1 / %2").arg(g.activeUnits).arg(g.klPerDim.size()));
            }
            html += "</table>";
            mLatent->showMetrics(html);
            emit latentShown("metrics");
        }
    });
}

} // namespace pellucid
