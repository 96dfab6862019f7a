#include <torch/script.h>
#include <torch/torch.h>

#include "engine/generative/dissection.h"

#include "engine/core/errors.h"
#include "engine/runtime/modelimpl.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace pellucid {

namespace {

constexpr int64_t kChunk = 256;

std::string layerName(const UnitLayer &l) { return "layer " + l.layer; }

/// A layer of a model whose output can be replaced: the tap clone gives its output, the replaced clone takes
/// a new one.
struct Site {
    Model &model;
    Model::Impl &d;
    std::string path;
    std::shared_ptr<detail::TappedForward> replaced;

    Site(Model &m, const std::string &layer) : model(m), d(m.impl()), path(d.checkedPath(m, layer))
    {
        try {
            replaced = d.replaced(path);
        } catch (const std::exception &e) {
            throw Error(ErrorCode::BadInput, "Cannot set the units of layer " + layer + ": " + summarizeTorchError(e.what()));
        }
    }

    /// (the model's first output, the layer's output) for a batch.
    std::pair<at::Tensor, at::Tensor> run(const at::Tensor &x)
    {
        torch::NoGradGuard noGrad;
        std::vector<c10::IValue> r;
        try {
            r = d.runTapped(x, {path});
        } catch (const std::exception &e) {
            throw Error(ErrorCode::ModelError, d.summary.fileName + ": forward failed: " + summarizeTorchError(e.what()));
        }
        if (r.at(1).isNone()) throw Error(ErrorCode::BadInput, "Layer '" + path + "' was not executed for this input");
        if (!r.at(1).isTensor())
            throw Error(ErrorCode::BadInput, "Layer " + path + " has no units: its output is not one tensor [N, U, …] (a tuple or another value)");
        std::vector<at::Tensor> outs;
        flattenTensors(r.at(0), outs);
        if (outs.empty()) throw Error(ErrorCode::ModelError, d.summary.fileName + " returned no tensor");
        return {outs.front(), r.at(1).toTensor()};
    }

    /// The model's first output with the layer's output replaced.
    at::Tensor with(const at::Tensor &x, const at::Tensor &replacement)
    {
        torch::NoGradGuard noGrad;
        std::vector<at::Tensor> outs;
        try {
            flattenTensors(replaced->run(d.torchModule(), {x, replacement}).at(0), outs);
        } catch (const std::exception &e) {
            throw Error(ErrorCode::ModelError,
                        d.summary.fileName + ": forward with layer " + path + " replaced failed: " + summarizeTorchError(e.what()));
        }
        if (outs.empty()) throw Error(ErrorCode::ModelError, d.summary.fileName + " returned no tensor");
        return outs.front();
    }
};

UnitLayer describe(const std::string &path, const at::Tensor &act)
{
    if (act.dim() < 2 || act.dim() == 3 || act.dim() > 4 || act.size(1) < 1)
        throw Error(ErrorCode::BadInput,
                    "Layer " + path + " has no units: its output is " + shapeToString(Shape(act.sizes().begin(), act.sizes().end()))
                        + " (units are the channels of an output [N, U, h, w] or the features of [N, U])");
    UnitLayer l;
    l.layer = path;
    l.units = act.size(1);
    if (act.dim() == 4) {
        l.height = act.size(2);
        l.width = act.size(3);
    }
    return l;
}

at::Tensor applyEdit(const at::Tensor &act, const UnitEdit &e, const at::Tensor &mask)
{
    at::Tensor r = act.clone();
    for (size_t i = 0; i < e.units.size(); ++i) {
        const double v = e.values.empty() ? 0.0 : e.values.size() == 1 ? e.values[0] : e.values[i];
        at::Tensor ch = r.select(1, e.units[i]);
        if (mask.defined())
            ch.masked_fill_(mask, v);
        else
            ch.fill_(v);
    }
    return r;
}

at::Tensor maskTensor(const UnitEdit &e, const torch::Device &device)
{
    if (e.mask.numel() == 0) return {};
    at::Tensor m = torch::from_blob(const_cast<float *>(e.mask.data()), {e.mask.dim(0), e.mask.dim(1)}, torch::kFloat).clone();
    return (m != 0).to(device);
}

/// A batch of a TensorValue's rows [b, e) on the model's device.
at::Tensor rows(Model::Impl &d, const TensorValue &t, int64_t b, int64_t e) { return d.toTorch(t.rows(b, e)); }

/// The classifier's class probabilities (double) for generated images, mapped to its input.
struct ClassifierView {
    Model &cls;
    const ModelSummary &gen;
    at::Tensor scale, offset;

    at::Tensor probabilities(const at::Tensor &images)
    {
        Model::Impl &c = cls.impl();
        if (images.dim() != 4)
            throw Error(ErrorCode::BadInput,
                        "The generator's output is " + shapeToString(Shape(images.sizes().begin(), images.sizes().end()))
                            + ", not images [N, C, H, W]");
        const Shape &in = c.summary.inputShape;
        if (in.size() == 4 && (in[1] != images.size(1) || in[2] != images.size(2) || in[3] != images.size(3)))
            throw Error(ErrorCode::BadInput,
                        "The generator draws " + std::to_string(images.size(1)) + "×" + std::to_string(images.size(2)) + "×"
                            + std::to_string(images.size(3)) + " images; the classifier " + c.summary.fileName + " takes " + shapeToString(in));
        if (!scale.defined()) {
            const ChannelAffine a = generatorToClassifier(gen, c.summary, images.size(1));
            scale = torch::tensor(std::vector<double>(a.scale)).to(torch::kFloat).view({1, -1, 1, 1}).to(images.device());
            offset = torch::tensor(std::vector<double>(a.offset)).to(torch::kFloat).view({1, -1, 1, 1}).to(images.device());
        }
        torch::NoGradGuard noGrad;
        const at::Tensor x = (images.to(torch::kFloat) * scale + offset).to(c.device);
        std::vector<at::Tensor> outs;
        try {
            flattenTensors(c.torchModule().forward({x}), outs);
        } catch (const std::exception &e) {
            throw Error(ErrorCode::ModelError, c.summary.fileName + ": forward failed on the generated images: " + summarizeTorchError(e.what()));
        }
        if (outs.empty() || outs.front().dim() != 2) throw Error(ErrorCode::BadInput, c.summary.fileName + " does not return class scores [N, K]");
        return at::softmax(outs.front().to(torch::kDouble), 1).to(torch::kCPU);
    }
};

at::Tensor classifierProbabilities(Model::Impl &c, const at::Tensor &logits)
{
    if (logits.dim() != 2) throw Error(ErrorCode::BadInput, c.summary.fileName + " does not return class scores [N, K]");
    return at::softmax(logits.to(torch::kDouble), 1).to(torch::kCPU);
}

std::vector<int64_t> rankUnits(const at::Tensor &effect /*[U, K] double*/, int64_t k)
{
    const int64_t U = effect.size(0);
    std::vector<int64_t> order(static_cast<size_t>(U));
    std::iota(order.begin(), order.end(), 0);
    const double *e = effect.data_ptr<double>();
    const int64_t K = effect.size(1);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return e[a * K + k] > e[b * K + k]; });
    return order;
}

void checkCancel(const DissectOptions &o)
{
    if (o.cancelled && o.cancelled()) throw Error(ErrorCode::Cancelled, "Dissection cancelled");
}

TensorValue toValue(const at::Tensor &t) { return tensorToValue(t.to(torch::kCPU).to(torch::kFloat).contiguous()); }

/// The layer's output per chunk of samples, kept while they fit a budget (then each chunk's is computed again
/// when an edit needs it: one more forward to the layer instead of unbounded memory).
struct LayerOutputs {
    int64_t budget = 0;
    std::vector<at::Tensor> kept;
    at::Tensor first;
    int64_t bytes = 0;
    bool keep = true;
    void add(const at::Tensor &a)
    {
        if (!first.defined()) first = a;
        bytes += a.numel() * int64_t(a.element_size());
        if (bytes > budget) {
            keep = false;
            kept.clear();
        }
        if (keep) kept.push_back(a);
    }
    at::Tensor get(Site &s, const std::vector<at::Tensor> &inputs, size_t c) const { return keep ? kept[c] : s.run(inputs[c]).second; }
};

/// The samples of a dissection in chunks, with the layer's outputs and the classifier's probabilities of the
/// originals [n, K]; measure(edit) gives p(original) − p(edited) per sample.
struct Samples {
    Site &site;
    std::function<at::Tensor(const at::Tensor &output)> probabilities;
    std::vector<at::Tensor> inputs, base;
    LayerOutputs acts;

    Samples(Site &s, const TensorValue &all, std::function<at::Tensor(const at::Tensor &)> p, const DissectOptions &o)
        : site(s), probabilities(std::move(p))
    {
        acts.budget = o.keepBytes;
        const int64_t n = all.dim(0);
        for (int64_t b = 0; b < n; b += kChunk) {
            checkCancel(o);
            inputs.push_back(rows(site.d, all, b, std::min(n, b + kChunk)));
            const auto r = site.run(inputs.back());
            acts.add(r.second);
            base.push_back(probabilities(r.first));
        }
    }
    at::Tensor measure(const UnitEdit &e)
    {
        std::vector<at::Tensor> diff;
        for (size_t c = 0; c < inputs.size(); ++c)
            diff.push_back(base[c] - probabilities(site.with(inputs[c], applyEdit(acts.get(site, inputs, c), e, {}))));
        return at::cat(diff, 0);
    }
    /// The dissection's layer, sample count, classes and labels; the originals' probabilities [N, K].
    at::Tensor start(Dissection &r, const Model &classifier) const
    {
        r.layer = describe(site.path, acts.first);
        r.samples = 0;
        for (const at::Tensor &b : base) r.samples += b.size(0);
        at::Tensor P = at::cat(base, 0);
        r.classes = P.size(1);
        r.labels = classifier.summary().metadata.labels;
        return P;
    }
};

/// The shared loop: `measure(edit)` returns the per-sample difference p(original) − p(edited) [N, K] (double, CPU)
/// for an edit; effect rows and removal curves are reduced by `reduce` ([N, K] → [K]).
template <class Measure, class Reduce>
void dissect(Dissection &r, Measure measure, Reduce reduce, const DissectOptions &o)
{
    const int64_t U = r.layer.units, K = r.classes;
    const int curve = int(std::min<int64_t>(std::max(0, o.curveUnits), U));
    const int64_t total = U + K * curve;
    int64_t done = 0;
    at::Tensor effect = at::zeros({U, K}, torch::kDouble);
    for (int64_t u = 0; u < U; ++u) {
        checkCancel(o);
        UnitEdit e;
        e.layer = r.layer.layer;
        e.units = {u};
        effect[u].copy_(reduce(measure(e)));
        if (o.progress) o.progress(++done, total);
    }
    effect = effect.contiguous();
    r.effect = toValue(effect);
    for (int64_t k = 0; k < K; ++k) {
        r.ranking.push_back(rankUnits(effect, k));
        std::vector<double> c;
        for (int n = 1; n <= curve; ++n) {
            checkCancel(o);
            UnitEdit e;
            e.layer = r.layer.layer;
            e.units.assign(r.ranking.back().begin(), r.ranking.back().begin() + n);
            const at::Tensor row = reduce(measure(e));
            c.push_back(row[k].item<double>());
            if (o.progress) o.progress(++done, total);
        }
        r.removal.push_back(std::move(c));
    }
}

}   // namespace

UnitLayer unitLayer(Model &model, const std::string &layer, const TensorValue &input)
{
    Site s(model, layer);
    const int64_t n = std::min<int64_t>(input.dim(0), 1);
    return describe(s.path, s.run(rows(s.d, input, 0, std::max<int64_t>(n, 1))).second);
}

void checkEdit(const UnitLayer &l, const UnitEdit &e)
{
    if (e.units.empty()) throw Error(ErrorCode::BadInput, "No units to set (give unit indices of " + layerName(l) + ")");
    for (int64_t u : e.units)
        if (u < 0 || u >= l.units)
            throw Error(ErrorCode::BadInput,
                        "Unit " + std::to_string(u) + " is outside " + layerName(l) + "'s units 0–" + std::to_string(l.units - 1));
    if (!e.values.empty() && e.values.size() != 1 && e.values.size() != e.units.size())
        throw Error(ErrorCode::BadInput,
                    "Give one value for all units or one per unit (" + std::to_string(e.units.size()) + "), not " + std::to_string(e.values.size()));
    for (double v : e.values)
        if (!std::isfinite(v)) throw Error(ErrorCode::BadInput, "A unit's value must be finite");
    if (e.mask.numel() > 0) {
        if (l.height == 0)
            throw Error(ErrorCode::BadInput,
                        "A mask needs a layer with spatial extent; " + layerName(l) + " has " + std::to_string(l.units) + " units and no h×w");
        if (e.mask.shape().size() != 2 || e.mask.dim(0) != l.height || e.mask.dim(1) != l.width)
            throw Error(ErrorCode::BadInput,
                        "The mask is " + shapeToString(e.mask.shape()) + "; " + layerName(l) + "'s units are " + std::to_string(l.height) + "×"
                            + std::to_string(l.width) + " (a mask [" + std::to_string(l.height) + ", " + std::to_string(l.width) + "])");
        for (int64_t i = 0; i < e.mask.numel(); ++i)
            if (!std::isfinite(e.mask.at(i))) throw Error(ErrorCode::BadInput, "The mask holds a non-finite value");
    }
}

TensorValue forwardWithEdit(Model &model, const TensorValue &input, const UnitEdit &edit)
{
    model.checkInput(input);
    Site s(model, edit.layer);
    const at::Tensor mask = maskTensor(edit, s.d.device);
    std::vector<float> all;
    Shape item;
    const int64_t n = input.dim(0);
    for (int64_t b = 0; b < n; b += kChunk) {
        const int64_t e = std::min(n, b + kChunk);
        const at::Tensor x = rows(s.d, input, b, e);
        const at::Tensor act = s.run(x).second;
        if (b == 0) checkEdit(describe(s.path, act), edit);
        const TensorValue out = toValue(s.with(x, applyEdit(act, edit, mask)));
        item.assign(out.shape().begin() + 1, out.shape().end());
        all.insert(all.end(), out.data(), out.data() + out.numel());
    }
    item.insert(item.begin(), n);
    return TensorValue(item, std::move(all));
}

TensorValue decodeWithEdit(Model &generator, const TensorValue &codes, const UnitEdit &edit)
{
    const int64_t D = latentDim(generator);
    if (isConditional(generator)) throw Error(ErrorCode::BadInput, "Unit edits take an unconditional generator or decoder (z → image)");
    if (codes.shape().size() != 2 || codes.dim(1) != D || codes.dim(0) < 1)
        throw Error(ErrorCode::BadInput,
                    "The codes are " + shapeToString(codes.shape()) + "; " + generator.summary().fileName + " takes codes [N, " + std::to_string(D)
                        + "]");
    for (int64_t i = 0; i < codes.numel(); ++i)
        if (!std::isfinite(codes.at(i))) throw Error(ErrorCode::BadInput, "The codes hold a non-finite value at position " + std::to_string(i));
    return forwardWithEdit(generator, codes, edit);
}

namespace {

/// Fills the maps from the layer's activations [N, U, h, w] (chunks, CPU float).
void fillMaps(UnitMaps &m, const std::string &path, const std::vector<at::Tensor> &acts, double quantileLevel, int topK)
{
    m.layer = describe(path, acts.front());
    if (m.layer.height == 0)
        throw Error(ErrorCode::BadInput,
                    "Unit maps need a layer with spatial extent [N, U, h, w]; layer " + path + " gives [N, " + std::to_string(m.layer.units) + "]");
    const at::Tensor A = at::cat(acts, 0).contiguous();   // [N, U, h, w]
    if (!at::isfinite(A).all().item<bool>()) throw Error(ErrorCode::BadInput, "Layer " + path + " produced a non-finite value");
    const int64_t count = A.size(0);
    m.quantileLevel = quantileLevel;
    m.activations = toValue(A);
    at::Tensor sum = at::zeros({A.size(1), A.size(2), A.size(3)}, torch::kDouble);
    for (int64_t n = 0; n < count; ++n) sum += A[n].to(torch::kDouble);
    m.meanMaps = toValue(sum / double(count));
    const at::Tensor peaks = A.flatten(2).amax(2).contiguous();   // [N, U]
    m.peaks = toValue(peaks);
    const int64_t U = m.layer.units;
    for (int64_t u = 0; u < U; ++u) {
        // NumPy's default (linear) quantile of the unit's activations over every sample and position.
        const at::Tensor v = std::get<0>(A.select(1, u).reshape({-1}).to(torch::kDouble).sort()).contiguous();
        const double *p = v.data_ptr<double>();
        const double pos = quantileLevel * double(v.numel() - 1);
        const int64_t lo = int64_t(std::floor(pos)), hi = std::min<int64_t>(lo + 1, v.numel() - 1);
        m.quantile.push_back(p[lo] + (p[hi] - p[lo]) * (pos - double(lo)));
        std::vector<int64_t> order(static_cast<size_t>(count));
        std::iota(order.begin(), order.end(), 0);
        const float *pk = peaks.data_ptr<float>();
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return pk[a * U + u] > pk[b * U + u]; });
        order.resize(size_t(std::min<int64_t>(count, std::max(1, topK))));
        m.topSamples.push_back(std::move(order));
    }
}

/// Unit maps hold every sample's activations (for the quantiles and the regions): refused beyond 256 MB.
void checkMapsBudget(const std::string &path, const at::Tensor &chunk, int64_t samples)
{
    constexpr int64_t kMaxBytes = int64_t(256) << 20;
    const int64_t perSample = chunk.numel() / std::max<int64_t>(1, chunk.size(0)) * int64_t(sizeof(float));
    if (perSample * samples > kMaxBytes)
        throw Error(ErrorCode::BadInput,
                    "Unit maps of " + std::to_string(samples) + " samples of layer " + path + " would hold "
                        + std::to_string(perSample * samples >> 20) + " MB of activations; take at most " + std::to_string(kMaxBytes / perSample)
                        + " samples");
}

void checkQuantile(double q)
{
    if (!(q > 0 && q < 1)) throw Error(ErrorCode::BadInput, "The quantile must lie strictly between 0 and 1");
}

}   // namespace

UnitMaps generatorUnitMaps(Model &generator, const std::string &layer, int64_t count, uint64_t seed, double quantileLevel, int topK)
{
    const int64_t D = latentDim(generator);
    if (isConditional(generator)) throw Error(ErrorCode::BadInput, "Unit maps take an unconditional generator or decoder (z → image)");
    if (count < 1) throw Error(ErrorCode::BadInput, "Unit maps need at least one code");
    checkQuantile(quantileLevel);
    UnitMaps m;
    m.codes = sampleCodes(count, D, seed);
    Site s(generator, layer);
    std::vector<at::Tensor> images, acts;
    for (int64_t b = 0; b < count; b += kChunk) {
        const auto r = s.run(rows(s.d, m.codes, b, std::min(count, b + kChunk)));
        images.push_back(r.first.to(torch::kCPU).to(torch::kFloat));
        acts.push_back(r.second.to(torch::kCPU).to(torch::kFloat));
        if (b == 0) checkMapsBudget(s.path, acts.front(), count);
    }
    fillMaps(m, s.path, acts, quantileLevel, topK);
    m.images = toValue(at::cat(images, 0));
    return m;
}

UnitMaps unitMapsOfInputs(Model &model, const TensorValue &inputs, const std::string &layer, double quantileLevel, int topK)
{
    if (inputs.shape().empty() || inputs.dim(0) < 1) throw Error(ErrorCode::BadInput, "Unit maps need at least one input");
    model.checkInput(inputs);
    checkQuantile(quantileLevel);
    UnitMaps m;
    Site s(model, layer);
    std::vector<at::Tensor> acts;
    const int64_t n = inputs.dim(0);
    for (int64_t b = 0; b < n; b += kChunk) {
        acts.push_back(s.run(rows(s.d, inputs, b, std::min(n, b + kChunk))).second.to(torch::kCPU).to(torch::kFloat));
        if (b == 0) checkMapsBudget(s.path, acts.front(), n);
    }
    fillMaps(m, s.path, acts, quantileLevel, topK);
    m.images = inputs;
    return m;
}

TensorValue unitRegions(const UnitMaps &m, int64_t sample)
{
    const int64_t N = m.activations.dim(0), U = m.layer.units;
    if (sample < 0 || sample >= N) throw Error(ErrorCode::BadInput, "Sample " + std::to_string(sample) + " is outside 0–" + std::to_string(N - 1));
    const int64_t h = m.layer.height, w = m.layer.width, H = m.images.dim(2), W = m.images.dim(3);
    const at::Tensor a = torch::from_blob(const_cast<float *>(m.activations.data()) + sample * U * h * w, {1, U, h, w}, torch::kFloat);
    const at::Tensor up = at::upsample_bilinear2d(a, {H, W}, false)[0];
    std::vector<float> q;
    for (double v : m.quantile) q.push_back(float(v));
    const at::Tensor thr = torch::from_blob(q.data(), {U, 1, 1}, torch::kFloat);
    return toValue((up > thr).to(torch::kFloat));
}

Dissection dissectGenerator(Model &generator, Model &classifier, const std::string &layer, int64_t count, uint64_t seed, const DissectOptions &o)
{
    const int64_t D = latentDim(generator);
    if (isConditional(generator)) throw Error(ErrorCode::BadInput, "Dissection takes an unconditional generator or decoder (z → image)");
    if (count < 1) throw Error(ErrorCode::BadInput, "Dissection needs at least one code");
    const TensorValue Z = sampleCodes(count, D, seed);
    Site s(generator, layer);
    ClassifierView view{classifier, generator.summary(), {}, {}};
    Samples samples(
        s, Z, [&view](const at::Tensor &images) { return view.probabilities(images); }, o);
    Dissection r;
    const at::Tensor meanP = samples.start(r, classifier).mean(0).contiguous();
    r.baseProbability.assign(meanP.data_ptr<double>(), meanP.data_ptr<double>() + r.classes);
    auto measure = [&samples](const UnitEdit &e) { return samples.measure(e); };
    dissect(
        r, measure, [](const at::Tensor &d) { return d.mean(0); }, o);
    return r;
}

Dissection dissectClassifier(Model &classifier, const TensorValue &items, const std::vector<int> &labels, const std::string &layer,
                             const DissectOptions &o)
{
    if (items.shape().empty() || items.dim(0) < 1) throw Error(ErrorCode::BadInput, "Classifier dissection needs at least one item");
    if (int64_t(labels.size()) != items.dim(0))
        throw Error(ErrorCode::BadInput, std::to_string(labels.size()) + " labels for " + std::to_string(items.dim(0)) + " items");
    classifier.checkInput(items);
    Site s(classifier, layer);
    const int64_t N = items.dim(0);
    Samples samples(
        s, items, [&s](const at::Tensor &logits) { return classifierProbabilities(s.d, logits); }, o);
    Dissection r;
    const at::Tensor P = samples.start(r, classifier);
    std::vector<float> onehot(size_t(N * r.classes), 0.0f);
    r.itemsPerClass.assign(size_t(r.classes), 0);
    for (int64_t i = 0; i < N; ++i) {
        const int k = labels[size_t(i)];
        if (k < 0 || k >= r.classes)
            throw Error(ErrorCode::BadInput,
                        "Item " + std::to_string(i) + "'s label " + std::to_string(k) + " is outside the classifier's classes 0–"
                            + std::to_string(r.classes - 1));
        onehot[size_t(i * r.classes + k)] = 1;
        ++r.itemsPerClass[size_t(k)];
    }
    const at::Tensor M = torch::from_blob(onehot.data(), {N, r.classes}, torch::kFloat).to(torch::kDouble);   // [N, K]
    const at::Tensor counts = M.sum(0);
    auto reduce = [&](const at::Tensor &d) { return at::where(counts > 0, (d * M).sum(0) / counts.clamp_min(1), at::zeros_like(counts)); };
    const at::Tensor meanP = reduce(P).contiguous();
    r.baseProbability.assign(meanP.data_ptr<double>(), meanP.data_ptr<double>() + r.classes);
    auto measure = [&samples](const UnitEdit &e) { return samples.measure(e); };
    dissect(r, measure, reduce, o);
    return r;
}

SefaResult sefaDirections(Model &generator, const std::string &layer, int k)
{
    const int64_t D = latentDim(generator);
    Model::Impl &d = generator.impl();
    auto isLatentLayer = [](const std::string &type) {
        return type == "Linear" || type == "ConvTranspose1d" || type == "ConvTranspose2d" || type == "ConvTranspose3d";
    };
    std::string path;
    if (layer.empty()) {
        for (const detail::ModuleCall &c : detail::listModuleCalls(d.torchModule()))
            if (isLatentLayer(c.typeName)) {
                path = c.path;
                break;
            }
        if (path.empty())
            throw Error(ErrorCode::BadInput,
                        d.summary.fileName
                            + " calls no Linear or transposed convolution layer; SeFa factorises the weight of the layer that takes z");
    } else {
        path = d.checkedPath(generator, layer);
    }
    torch::jit::Module mod = d.torchModule();
    bool found = path.empty();
    for (const auto &m : d.torchModule().named_modules())
        if (m.name == path) {
            mod = m.value;
            found = true;
            break;
        }
    if (!found) throw Error(ErrorCode::UnknownLayer, "No module " + path + " in " + d.summary.fileName);
    const std::string type = mod.type()->name() ? mod.type()->name()->name() : "";
    if (!isLatentLayer(type) || !mod.hasattr("weight") || !mod.attr("weight").isTensor())
        throw Error(ErrorCode::BadInput,
                    "Layer " + path + " is a " + (type.empty() ? std::string("module") : type)
                        + "; SeFa factorises the weight of a Linear or transposed convolution layer that takes z");
    const at::Tensor W = mod.attr("weight").toTensor().detach().to(torch::kCPU).to(torch::kDouble);
    const at::Tensor A = type == "Linear" ? W : W.reshape({W.size(0), -1}).t();   // [out, D]
    if (A.size(1) != D)
        throw Error(ErrorCode::BadInput,
                    "Layer " + path + " takes " + std::to_string(A.size(1)) + " inputs, not the " + std::to_string(D)
                        + "-dimensional code (name the layer that takes z)");
    if (k < 1 || k > D)
        throw Error(ErrorCode::BadInput, "SeFa: k = " + std::to_string(k) + " must be between 1 and the code's size " + std::to_string(D));
    const auto eig = at::linalg_eigh(A.t().matmul(A));
    const at::Tensor values = std::get<0>(eig).flip(0).contiguous();
    const at::Tensor vectors = std::get<1>(eig).flip(1).t().contiguous();   // rows, eigenvalue descending
    SefaResult r;
    r.layer = path;
    const double *ev = values.data_ptr<double>();
    double sum = 0;
    for (int64_t i = 0; i < D; ++i) sum += std::max(0.0, ev[i]);
    std::vector<float> dirs(size_t(k * D));
    const double *v = vectors.data_ptr<double>();
    for (int j = 0; j < k; ++j) {
        int64_t arg = 0;
        for (int64_t i = 1; i < D; ++i)
            if (std::abs(v[j * D + i]) > std::abs(v[j * D + arg])) arg = i;
        const double sign = v[j * D + arg] < 0 ? -1.0 : 1.0;
        for (int64_t i = 0; i < D; ++i) dirs[size_t(j * D + i)] = float(sign * v[j * D + i]);
        r.eigenvalues.push_back(ev[j]);
        r.directions.explainedRatio.push_back(sum > 0 ? std::max(0.0, ev[j]) / sum : 0.0);
        r.directions.sigma.push_back(1.0);
    }
    r.directions.directions = TensorValue({k, D}, std::move(dirs));
    return r;
}

}   // namespace pellucid
