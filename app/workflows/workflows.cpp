#include "app/workflows/workflows.h"

#include "engine/runtime/engine.h"

#include "app/io/imageinput.h"
#include "engine/core/errors.h"
#include "engine/projection/projection.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace pellucid {

WorkflowSink sinkOf(JobContext &ctx)
{
    WorkflowSink s;
    s.cancelled = [&ctx] { return ctx.cancelled(); };
    s.progress = [&ctx](int64_t done, int64_t total, const std::string &stage) { ctx.progress(done, total, stage); };
    return s;
}

void WorkflowSink::check() const
{
    if (cancelled && cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
}

void WorkflowSink::report(int64_t done, int64_t total, const std::string &stage) const
{
    if (progress) progress(done, total, stage);
}

namespace {

double msSince(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

size_t itemsOf(const Dataset &data, size_t limit) { return limit > 0 ? std::min(data.size(), limit) : data.size(); }

std::string fixed(double v, int digits)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

}   // namespace

DatasetEvaluation evaluateDataset(Model &model, const Dataset &data, size_t limit, size_t batch, int topK, const WorkflowSink &sink)
{
    const ModelSummary &s = model.summary();
    DatasetEvaluation out;
    out.items = itemsOf(data, limit);
    batch = std::max<size_t>(1, batch);
    std::unique_ptr<Evaluator> ev;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t b = 0; b < out.items; b += batch) {
        sink.check();
        const size_t e = std::min(out.items, b + batch);
        const TensorValue x = data.batch(b, e, s.metadata.input, s.inputShape);
        const auto m0 = std::chrono::steady_clock::now();
        const TensorValue logits = model.forward(x, {}).outputs.at(0);
        out.modelMs += msSince(m0);
        if (!ev) {
            // The class count from the first batch's output (the dry run may not know the shape).
            if (logits.shape().size() != 2)
                throw Error(ErrorCode::BadInput, "Evaluation needs a classifier with output [N, classes], not " + shapeToString(logits.shape()));
            out.classes = int(logits.dim(1));
            ev = std::make_unique<Evaluator>(out.classes, topK);
        }
        ev->add(logits, std::vector<int>(data.labels().begin() + long(b), data.labels().begin() + long(e)));
        sink.report(int64_t(e), int64_t(out.items), "evaluating");
    }
    if (!ev) throw Error(ErrorCode::BadInput, "The dataset is empty");
    out.result = ev->finish();
    out.totalMs = msSince(t0);
    return out;
}

namespace {

/// The first `limit` items (0: all) preprocessed for the model, without those holding NaN or Inf (named).
struct FiniteItems {
    TensorValue items;
    std::vector<int> labels;
    std::vector<std::string> skipped;
};
FiniteItems readFiniteItems(const Model &model, const Dataset &data, size_t limit, const WorkflowSink &sink)
{
    const ModelSummary &s = model.summary();
    const size_t n = itemsOf(data, limit);
    FiniteItems out;
    std::vector<float> all;
    Shape item;
    for (size_t b = 0; b < n; b += 256) {
        sink.check();
        const size_t e = std::min(n, b + 256);
        const TensorValue x = data.batch(b, e, s.metadata.input, s.inputShape);
        const int64_t per = x.numel() / int64_t(e - b);
        item.assign(x.shape().begin() + 1, x.shape().end());
        for (size_t i = b; i < e; ++i) {
            const float *v = x.data() + int64_t(i - b) * per;
            if (!std::all_of(v, v + per, [](float f) { return std::isfinite(f); })) {
                out.skipped.push_back(data.itemName(i));
                continue;
            }
            all.insert(all.end(), v, v + per);
            out.labels.push_back(data.label(i));
        }
        sink.report(int64_t(e), int64_t(n), "reading items");
    }
    if (out.labels.empty())
        throw Error(ErrorCode::BadInput, n == 0 ? std::string("The dataset is empty") : "Every item of the dataset holds NaN or Inf");
    item.insert(item.begin(), int64_t(out.labels.size()));
    out.items = TensorValue(item, std::move(all));
    return out;
}

DatasetDissection dissectItems(Model &classifier, const FiniteItems &f, const std::string &layer, int curveUnits, const WorkflowSink &sink)
{
    DatasetDissection out;
    out.items = f.labels.size();
    out.skipped = f.skipped;
    DissectOptions o;
    o.curveUnits = curveUnits;
    o.cancelled = sink.cancelled;
    o.progress = [&](int64_t done, int64_t total) { sink.report(done, total, "removing units"); };
    out.dissection = dissectClassifier(classifier, f.items, f.labels, layer, o);
    return out;
}

}   // namespace

DatasetDissection dissectDataset(Model &classifier, const Dataset &data, const std::string &layer, size_t limit, int curveUnits,
                                 const WorkflowSink &sink)
{
    return dissectItems(classifier, readFiniteItems(classifier, data, limit, sink), layer, curveUnits, sink);
}

ClassifierUnits classifierUnits(Model &classifier, const Dataset &data, const std::string &layer, size_t limit, int curveUnits,
                                const WorkflowSink &sink)
{
    const FiniteItems f = readFiniteItems(classifier, data, limit, sink);
    ClassifierUnits out;
    // The maps over the first 2,000 items at most (they hold every item's activations); the effects over all.
    const int64_t mapped = std::min<int64_t>(f.items.dim(0), 2000);
    out.maps = unitMapsOfInputs(classifier, f.items.rows(0, mapped), layer, 0.99, 3);
    out.dissection = dissectItems(classifier, f, layer, curveUnits, sink);
    // The items for display: the model's normalisation undone, its pixel range mapped to [0, 1].
    const InputSpec &spec = classifier.summary().metadata.input;
    TensorValue shown = f.items.rows(0, mapped);
    if (shown.shape().size() == 4) {
        const int64_t C = shown.dim(1), P = shown.dim(2) * shown.dim(3);
        std::vector<float> v(shown.data(), shown.data() + shown.numel());
        const double span = spec.rangeHi > spec.rangeLo ? spec.rangeHi - spec.rangeLo : 1.0;
        for (size_t i = 0; i < v.size(); ++i) {
            const size_t c = size_t((int64_t(i) / P) % C);
            const double mean = spec.mean.empty() ? 0.0 : spec.mean[std::min(c, spec.mean.size() - 1)];
            const double sd = spec.std.empty() ? 1.0 : spec.std[std::min(c, spec.std.size() - 1)];
            v[i] = float((v[i] * sd + mean - spec.rangeLo) / span);
        }
        shown = TensorValue(shown.shape(), std::move(v));
    }
    out.maps.images = shown;
    return out;
}

TensorValue datasetFeatures(Model &model, const Dataset &data, const std::string &layer, size_t limit, const WorkflowSink &sink)
{
    const ModelSummary &s = model.summary();
    const size_t n = itemsOf(data, limit);
    const std::string path = model.resolveLayer(layer).path;
    std::vector<float> feats;
    int64_t dim = 0;
    for (size_t b = 0; b < n; b += 256) {
        sink.check();
        const size_t e = std::min(n, b + 256);
        const TensorValue pooled = poolActivations(model.forward(data.batch(b, e, s.metadata.input, s.inputShape), {layer}).taps.at(path).at(0));
        dim = pooled.dim(1);
        feats.insert(feats.end(), pooled.data(), pooled.data() + pooled.numel());
        sink.report(int64_t(e), int64_t(n), "activations");
    }
    return TensorValue({int64_t(n), dim}, std::move(feats));
}

Projection projectFeatures(const TensorValue &X, const std::string &name, const ProjectionOptions &o, const WorkflowSink &sink,
                           const std::function<void(const std::string &, const TensorValue &)> &live)
{
    Projection out;
    const int64_t n = X.shape().empty() ? 0 : X.dim(0);
    if (o.method == "pca") {
        const PcaResult r = pca(X, o.dims);
        out.points = r.projected;
        out.explainedRatio = r.explainedRatio;
        out.title = "PCA of " + name;
        if (r.explainedRatio.size() >= 2)
            out.title += " (" + fixed(100 * r.explainedRatio[0], 1) + "% + " + fixed(100 * r.explainedRatio[1], 1) + "% of the variance)";
    } else if (o.method == "umap") {
        UmapOptions u;
        u.dims = o.dims;
        u.neighbours = o.neighbours;
        u.minDist = o.minDist;
        u.epochs = o.epochs;
        u.seed = o.seed;
        u.cancelled = sink.cancelled;
        sink.report(0, 1, "UMAP: nearest neighbours");
        const int total = o.epochs > 0 ? o.epochs : (n > 10000 ? 200 : 500);
        u.progress = [&](int epoch, const TensorValue &y) {
            sink.report(epoch, total, "UMAP");
            if (live && epoch % 50 == 0) live("UMAP of " + name + " — epoch " + std::to_string(epoch) + " of " + std::to_string(total), y);
        };
        out.points = umap(X, u);
        out.title = "UMAP of " + name + " (" + std::to_string(n) + " items, " + std::to_string(o.neighbours) + " neighbours, min_dist "
            + fixed(o.minDist, 1) + ")";
    } else if (o.method == "tsne") {
        TsneOptions t;
        t.dims = o.dims;
        t.perplexity = o.perplexity;
        t.iterations = o.iterations;
        t.theta = o.theta >= 0 ? o.theta : (o.dims == 2 ? 0.5 : 0.0);
        t.seed = o.seed;
        if (o.repulsion == "bh")
            t.repulsion = TsneRepulsion::BarnesHut;
        else if (o.repulsion == "fft")
            t.repulsion = TsneRepulsion::Interpolation;
        else if (o.repulsion != "auto")
            throw Error(ErrorCode::BadInput, "Unknown t-SNE repulsion '" + o.repulsion + "' (use auto, bh or fft)");
        t.cancelled = sink.cancelled;
        sink.report(0, 1, "t-SNE: nearest neighbours");
        t.progress = [&](int it, double kl, const TensorValue &y) {
            sink.report(it, o.iterations, "t-SNE");
            if (live)
                live("t-SNE of " + name + " — iteration " + std::to_string(it) + " of " + std::to_string(o.iterations) + ", KL " + fixed(kl, 3), y);
        };
        out.points = tsne(X, t);
        const std::string how = !(t.theta > 0 && t.dims == 2)                       ? "exact"
            : tsneRepulsionFor(int64_t(n), t.repulsion) == TsneRepulsion::BarnesHut ? "Barnes–Hut θ " + fixed(t.theta, 1)
                                                                                    : "FFT-interpolated";
        out.title = "t-SNE of " + name + " (" + std::to_string(n) + " items, " + how + ", perplexity " + fixed(o.perplexity, 0) + ")";
    } else {
        throw Error(ErrorCode::BadInput, "Unknown projection '" + o.method + "' (use pca, tsne or umap)");
    }
    return out;
}

TensorValue superpixelMask(const TensorValue &input, const ExplainOptions &o)
{
    if (input.shape().size() != 4) return {};
    const int side = int(std::max(input.dim(2), input.dim(3)));
    return slicSegments(input, o.superpixelSize > 0 ? o.superpixelSize : std::max(2, side / 8));
}

std::shared_ptr<AttributionResult> explainInput(Model &model, const TensorValue &input, AttributionParams p, const ExplainOptions &o,
                                                const AttributionSink &sink)
{
    if (o.superpixels && usesSuperpixels(p.method) && p.featureMask.numel() == 0) p.featureMask = superpixelMask(input, o);
    return computeAttribution(model, input, p, sink);
}

std::vector<MethodFaithfulness> faithfulness(Model &model, const Dataset &data, const std::vector<AttributionParams> &methods,
                                             const FaithfulnessOptions &o, const WorkflowSink &sink)
{
    const ModelSummary &s = model.summary();
    const InputSpec &spec = s.metadata.input;
    const size_t n = itemsOf(data, o.limit);
    std::vector<MethodFaithfulness> out;
    int64_t done = 0;
    for (const AttributionParams &p : methods) {
        MethodFaithfulness m;
        m.params = p;
        m.deletion.assign(size_t(o.steps + 1), 0.0);
        m.insertion.assign(size_t(o.steps + 1), 0.0);
        for (size_t i = 0; i < n; ++i) {
            sink.check();
            const TensorValue x = data.batch(i, i + 1, spec, s.inputShape);
            const auto r = explainInput(model, x, p, o.explain);
            const double sigma = o.blurSigma > 0 ? o.blurSigma : std::max(1.0, double(std::max(x.dim(2), x.dim(3))) / 10.0);
            const auto d = faithfulnessCurve(model, x, r->map, r->targetClass, o.steps, false, blackBaseline(x, spec));
            const auto in = faithfulnessCurve(model, x, r->map, r->targetClass, o.steps, true, gaussianBlur(x, sigma));
            for (int k = 0; k <= o.steps; ++k) {
                m.deletion[size_t(k)] += d.scores[size_t(k)] / double(n);
                m.insertion[size_t(k)] += in.scores[size_t(k)] / double(n);
            }
            m.deletionAuc += d.auc / double(n);
            m.insertionAuc += in.auc / double(n);
            if (o.robustness) {
                const TensorValue map = r->map.shape() == x.shape() ? r->map : TensorValue(x.shape(), std::vector<float>(size_t(x.numel()), 0.f));
                m.infidelity += infidelity(model, x, map, r->targetClass, 20, 0.003 * (spec.std.empty() ? 1.0 : 1.0 / spec.std[0])) / double(n);
                AttributionParams fixedTarget = p;
                fixedTarget.target.kind = AttributionTarget::Kind::Class;
                fixedTarget.target.classIndex = r->targetClass;
                m.maxSensitivity =
                    std::max(m.maxSensitivity,
                             maxSensitivity(
                                 model, x, [&](const TensorValue &xx) { return explainInput(model, xx, fixedTarget, o.explain)->map; }, 5, 0.02));
            }
            sink.report(++done, int64_t(n * methods.size()), "deletion / insertion");
        }
        out.push_back(std::move(m));
    }
    return out;
}

SanityResult sanityCheck(Model &model, const TensorValue &x, AttributionParams &p, const ExplainOptions &explain, uint64_t seed,
                         const WorkflowSink &sink)
{
    if (p.target.kind == AttributionTarget::Kind::Predicted) {
        const auto top = model.topK(model.forward(x, {}).outputs.at(0), 1);
        p.target.kind = AttributionTarget::Kind::Class;
        p.target.classIndex = top.empty() ? 0 : top[0].index;
    }
    const AttributionParams fixedTarget = p;
    return cascadingRandomization(
        model,
        [&](Model &m) {
            sink.check();
            return explainInput(m, x, fixedTarget, explain)->map;
        },
        seed);
}

namespace {

std::string datasetOf(const ModelSummary &s)
{
    const Json *d = s.metadata.raw.find("labels_dataset");
    return d && d->isString() ? d->asString() : std::string();
}

}   // namespace

Companions discoverCompanions(const ModelSummary &s, const std::function<Model &(const std::string &)> &load)
{
    namespace fs = std::filesystem;
    Companions out;
    const fs::path dir = fs::path(s.path).parent_path();
    if (const Json *pair = s.metadata.raw.find("pair"); pair && pair->isString() && fs::exists(dir / pair->asString()))
        out.encoder = (dir / pair->asString()).string();
    if (const Json *c = s.metadata.raw.find("classifier"); c && c->isString() && fs::exists(dir / c->asString())) {
        out.classifier = (dir / c->asString()).string();
    } else if (!datasetOf(s).empty()) {
        // A classification model beside the generator, trained on the same labelled dataset.
        std::vector<fs::path> files;
        std::error_code ec;
        for (const auto &e : fs::directory_iterator(dir, ec))
            if (e.path().extension() == ".pt" && e.path() != fs::path(s.path) && e.path().string() != out.encoder) files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (const fs::path &f : files) {
            try {
                Model &m = load(f.string());
                if (m.summary().metadata.task == "classification" && !m.summary().metadata.labels.empty()
                    && (datasetOf(m.summary()) == datasetOf(s) || m.summary().metadata.name.find(datasetOf(s)) != std::string::npos)) {
                    out.classifier = f.string();
                    break;
                }
            } catch (const std::exception &) {
                // Not a model we can use; keep looking.
            }
        }
    }
    if (!out.classifier.empty()) out.classifierLabels = load(out.classifier).summary().metadata.labels;
    for (const LayerInfo &l : s.layers)
        if (l.calls > 0 && !l.outputShapes.empty() && l.outputShapes[0].size() >= 2) out.layers.push_back(l.path);
    return out;
}

TensorValue traversalFrames(const TensorValue &frames, int64_t steps)
{
    if (frames.shape().size() != 4 || steps < 1 || frames.dim(0) % steps != 0)
        throw Error(ErrorCode::BadInput,
                    "A traversal of " + shapeToString(frames.shape()) + " does not hold " + std::to_string(steps) + " steps per dimension");
    const int64_t rows = frames.dim(0) / steps;
    const int64_t C = frames.dim(1), H = frames.dim(2), W = frames.dim(3);
    std::vector<float> v(size_t(steps * C * rows * H * W));
    for (int64_t k = 0; k < steps; ++k)
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < C; ++c)
                for (int64_t y = 0; y < H; ++y)
                    for (int64_t x = 0; x < W; ++x)
                        v[size_t((((k * C + c) * rows + r) * H + y) * W + x)] = frames.at((((r * steps + k) * C + c) * H + y) * W + x);
    return TensorValue({steps, C, rows * H, W}, std::move(v));
}

}   // namespace pellucid
