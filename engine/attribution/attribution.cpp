#include <torch/script.h>
#include <torch/torch.h>

#include "engine/attribution/attribution.h"

#include "engine/core/errors.h"
#include "engine/runtime/modelimpl.h"

#include <algorithm>
#include <dlfcn.h>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <random>

namespace pellucid {
namespace {

const std::pair<IntegrationRule, const char *> kRules[] = {
    {IntegrationRule::GaussLegendre, "gauss-legendre"}, {IntegrationRule::RiemannLeft, "riemann-left"},
    {IntegrationRule::RiemannRight, "riemann-right"},   {IntegrationRule::RiemannMiddle, "riemann-middle"},
    {IntegrationRule::RiemannTrapezoid, "riemann-trapezoid"},
};

/// Free memory of the current CUDA device via libcudart's cudaMemGetInfo, looked up at run time so the
/// engine needs no CUDA headers or link dependency; -1 when it cannot be asked.
int64_t cudaFreeBytes()
{
    using MemGetInfo = int (*)(size_t *, size_t *);
    static MemGetInfo fn = [] () -> MemGetInfo {
        for (const char *lib : {"libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"})
        {
            void *h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD);   // the one torch already loaded, if any
            if (!h) h = dlopen(lib, RTLD_LAZY);
            if (void *f = h ? dlsym(h, "cudaMemGetInfo") : nullptr) return reinterpret_cast<MemGetInfo>(f);
        }
        return nullptr;
    }();
    size_t free = 0, total = 0;
    return fn && fn(&free, &total) == 0 ? int64_t(free) : -1;
}

int64_t availableMemoryBytes()
{
    std::ifstream in("/proc/meminfo");
    std::string key;
    int64_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb * 1024;
    return int64_t(4) << 30;
}

/// The shared forward/backward mechanism every method is a variant of.
class Runner {
public:
    Runner(Model &model, const AttributionParams &p, const AttributionSink &sink)
        : model(model), d(model.impl()), p(p), sink(sink),
          // Forward-only methods follow the model's precision (Model::setPrecision); gradient methods stay fp32.
          reduced(model.precision() != Precision::Float32 && isForwardOnlyMethod(p.method)) {}

    Model &model;
    Model::Impl &d;
    const AttributionParams &p;
    const AttributionSink &sink;
    const bool reduced;
    int64_t passes = 0, chunks = 0;

    void checkCancel() const
    {
        if (sink.cancelled && sink.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
    }

    struct Out {
        at::Tensor logits, layer;
    };

    Out forward(const at::Tensor &x, const std::string &layer, detail::ReluMode relu = detail::ReluMode::Keep)
    {
        std::vector<std::string> paths;
        if (!layer.empty()) paths.push_back(layer);
        std::vector<c10::IValue> outs;
        const bool low = reduced && x.is_floating_point() && !torch::GradMode::is_enabled() && relu == detail::ReluMode::Keep;
        try {
            outs = low ? d.tapped(paths, relu, true)->run(d.reduced, {x.to(d.reducedType())}) : d.tapped(paths, relu)->run(d.module, {x});
        } catch (const Error &) {
            throw;
        } catch (const std::exception &e) {
            throw Error(ErrorCode::ModelError, "The model's forward failed: " + summarizeTorchError(e.what()));
        }
        Out o;
        std::vector<at::Tensor> ts;
        flattenTensors(outs.at(0), ts);
        if (ts.empty()) throw Error(ErrorCode::ModelError, "The model returned no tensor");
        o.logits = low ? ts[0].to(at::kFloat) : ts[0];
        if (!layer.empty()) {
            if (outs.at(1).isNone())
                throw Error(ErrorCode::BadInput, "Layer '" + layer + "' was not executed for this input");
            std::vector<at::Tensor> ls;
            flattenTensors(outs.at(1), ls);
            if (ls.empty()) throw Error(ErrorCode::BadInput, "Layer '" + layer + "' returns no tensor");
            o.layer = low ? ls[0].to(at::kFloat) : ls[0];
        }
        passes += x.size(0);
        return o;
    }

    int classes(const at::Tensor &logits) const
    {
        if (logits.dim() != 2)
            throw Error(ErrorCode::BadInput, "Attribution needs a model output of shape [N, classes]; this model returns "
                                                 + shapeToString(Shape(logits.sizes().begin(), logits.sizes().end())));
        return int(logits.size(1));
    }

    void checkTarget(int k, int n) const
    {
        if (k < 0 || k >= n)
            throw Error(ErrorCode::BadInput, "Target class " + std::to_string(k) + " is outside the model's "
                                                 + std::to_string(n) + " classes (0–" + std::to_string(n - 1) + ")");
    }

    /// Resolves the target for one input item (batch 1): the class index whose score is explained.
    AttributionTarget resolveTarget(const at::Tensor &x)
    {
        AttributionTarget t = p.target;
        if (t.kind == AttributionTarget::Kind::Predicted) {
            torch::NoGradGuard ng;
            const at::Tensor logits = forward(x, "").logits;
            classes(logits);
            t.kind = AttributionTarget::Kind::Class;
            t.classIndex = int(logits[0].argmax().item<int64_t>());
        }
        return t;
    }

    at::Tensor scores(const at::Tensor &logits, const AttributionTarget &t) const
    {
        const int n = classes(logits);
        checkTarget(t.classIndex, n);
        at::Tensor s = logits.select(1, t.classIndex);
        if (t.kind == AttributionTarget::Kind::Contrast) {
            checkTarget(t.otherClass, n);
            s = s - logits.select(1, t.otherClass);
        }
        return s;
    }

    /// ∂score/∂input for a batch of inputs.
    at::Tensor grads(const at::Tensor &xs, const AttributionTarget &t, detail::ReluMode relu = detail::ReluMode::Keep)
    {
        torch::AutoGradMode enable(true);
        at::Tensor x = xs.detach().requires_grad_(true);
        const at::Tensor y = scores(forward(x, "", relu).logits, t).sum();
        ++chunks;
        return torch::autograd::grad({y}, {x})[0].detach();
    }

    /// Samples per chunk: from the internal batch, else from the memory budget and the layers' sizes.
    int64_t chunkSize(const at::Tensor &x) const
    {
        if (p.internalBatch > 0) return p.internalBatch;
        int64_t perSample = x.numel() * 4 * 4;
        for (const auto &l : d.summary.layers)
            if (l.leaf && l.calls > 0)
                for (const auto &s : l.outputShapes) perSample += shapeNumel(s) / std::max<int64_t>(1, s.empty() ? 1 : s[0]) * 4 * 3;
        int64_t budget = p.memoryBudgetBytes;
        if (budget <= 0) {
            // Default: half the device's free memory on CUDA (2 GiB if it cannot be asked), a quarter of the
            // available RAM (at most 4 GiB) on the CPU.
            const int64_t cudaFree = d.device.is_cuda() ? cudaFreeBytes() : -1;
            budget = d.device.is_cuda() ? (cudaFree > 0 ? cudaFree / 2 : (int64_t(2) << 30))
                                        : std::min<int64_t>(availableMemoryBytes() / 4, int64_t(4) << 30);
        }
        return std::clamp<int64_t>(budget / std::max<int64_t>(1, perSample), 1, 256);
    }

    void progress(int64_t done, int64_t total) const
    {
        if (sink.progress) sink.progress(done, total);
    }

    void partial(const at::Tensor &map, int64_t done, int64_t total) const
    {
        if (!sink.partial || done >= total) return;
        auto r = std::make_shared<AttributionResult>();
        r->method = p.method;
        r->layer = p.layer;
        r->map = tensorToValue(map);
        r->partial = true;
        r->done = done;
        r->total = total;
        sink.partial(r);
    }
};

at::Tensor makeBaseline(Runner &r, const at::Tensor &x)
{
    const AttributionParams &p = r.p;
    switch (p.baseline) {
    case BaselineKind::Zero:
        return at::zeros_like(x);
    case BaselineKind::Tensor: {
        const Shape want(x.sizes().begin(), x.sizes().end());
        Shape given = p.baselineTensor.shape();
        if (given.size() + 1 == want.size()) given.insert(given.begin(), 1);
        if (given != want)
            throw Error(ErrorCode::BadInput, "Baseline shape " + shapeToString(p.baselineTensor.shape())
                                                 + " does not match the input shape " + shapeToString(want));
        return r.d.toTorch(p.baselineTensor).reshape(x.sizes()).to(x.scalar_type());
    }
    case BaselineKind::Uniform: {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(p.seed);
        const double lo = x.min().item<double>(), hi = x.max().item<double>();
        return (at::rand(x.sizes(), gen, torch::kFloat) * (hi - lo) + lo).to(x.device());
    }
    case BaselineKind::Blur: {
        if (x.dim() != 4) throw Error(ErrorCode::BadInput, "A blurred baseline needs an image input [N, C, H, W]");
        const double sigma = std::max(0.1, double(p.blurSigma));
        const int64_t radius = std::max<int64_t>(1, int64_t(std::ceil(3 * sigma)));
        at::Tensor k = at::arange(-radius, radius + 1, x.options()).pow(2).div(-2 * sigma * sigma).exp();
        k = k / k.sum();
        const int64_t c = x.size(1);
        at::Tensor kh = k.view({1, 1, 1, -1}).repeat({c, 1, 1, 1});
        at::Tensor kv = k.view({1, 1, -1, 1}).repeat({c, 1, 1, 1});
        const int64_t padW = std::min(radius, x.size(3) - 1), padH = std::min(radius, x.size(2) - 1);
        auto conv = [c](const at::Tensor &in, const at::Tensor &kernel) {
            return at::conv2d(in, kernel / kernel.sum() * c, at::Tensor(), at::IntArrayRef{1, 1}, at::IntArrayRef{0, 0},
                              at::IntArrayRef{1, 1}, c);
        };
        at::Tensor y = x;
        if (padW > 0) y = conv(at::reflection_pad2d(y, {padW, padW, 0, 0}), kh.narrow(3, radius - padW, 2 * padW + 1));
        if (padH > 0) y = conv(at::reflection_pad2d(y, {0, 0, padH, padH}), kv.narrow(2, radius - padH, 2 * padH + 1));
        return y.detach();
    }
    }
    return at::zeros_like(x);
}

/// Plain gradient methods on one batch of (possibly noisy) inputs.
at::Tensor gradientMethod(Runner &r, AttributionMethod m, const at::Tensor &xs, const AttributionTarget &t)
{
    switch (m) {
    case AttributionMethod::Saliency: return r.grads(xs, t).abs();
    case AttributionMethod::InputXGradient: return xs * r.grads(xs, t);
    case AttributionMethod::GuidedBackprop: return r.grads(xs, t, detail::ReluMode::Guided);
    case AttributionMethod::Deconvnet: return r.grads(xs, t, detail::ReluMode::Deconvnet);
    default: throw Error(ErrorCode::Internal, "not a plain gradient method");
    }
}

at::Tensor integratedGradients(Runner &r, const at::Tensor &x, const AttributionTarget &t, double &delta)
{
    const AttributionParams &p = r.p;
    if (p.steps < 1) throw Error(ErrorCode::BadInput, "Integrated gradients needs at least 1 step (got " + std::to_string(p.steps) + ")");
    std::vector<double> alphas, weights;
    integrationPoints(p.integration, p.steps, alphas, weights);
    const at::Tensor b = makeBaseline(r, x);
    const at::Tensor diff = x - b;
    at::Tensor sum = at::zeros_like(x);
    const int64_t n = int64_t(alphas.size()), chunk = r.chunkSize(x);
    double wDone = 0;
    for (int64_t i = 0; i < n; i += chunk) {
        r.checkCancel();
        const int64_t k = std::min(chunk, n - i);
        std::vector<float> a(alphas.begin() + i, alphas.begin() + i + k), w(weights.begin() + i, weights.begin() + i + k);
        const std::vector<int64_t> shape = [&] { std::vector<int64_t> s(size_t(x.dim()), 1); s[0] = k; return s; }();
        const at::Tensor at_ = torch::tensor(a, x.options()).view(shape);
        const at::Tensor wt = torch::tensor(w, x.options()).view(shape);
        const at::Tensor g = r.grads(b + at_ * diff, t);
        sum += (g * wt).sum(0, true);
        for (float v : w) wDone += v;
        r.progress(i + k, n);
        r.partial(diff * sum / wDone, i + k, n);
    }
    const at::Tensor attr = diff * sum;
    {
        torch::NoGradGuard ng;
        const at::Tensor y = r.scores(r.forward(at::cat({x, b}), "").logits, t);
        delta = attr.sum().item<double>() - (y[0] - y[1]).item<double>();
    }
    return attr;
}

/// Token outputs of transformers [B, T, C] as a patch grid [B, C, g, g] (a leading CLS token dropped when
/// T − 1 is square); undefined when T is not a square (plus one).
at::Tensor tokensToGrid(const at::Tensor &a)
{
    if (a.dim() != 3) return {};
    const int64_t T = a.size(1);
    for (int64_t skip : {int64_t(0), int64_t(1)}) {
        const int64_t n = T - skip, g = int64_t(std::llround(std::sqrt(double(n))));
        if (n > 0 && g * g == n)
            return a.narrow(1, skip, n).reshape({a.size(0), g, g, a.size(2)}).permute({0, 3, 1, 2});
    }
    return {};
}

/// Spatial [N, C, H, W] as is; transformer tokens [N, T, C] reshaped to their patch grid.
at::Tensor spatialLayer(const std::string &layer, const at::Tensor &a)
{
    if (a.dim() == 4) return a;
    at::Tensor g = tokensToGrid(a);
    if (!g.defined())
        throw Error(ErrorCode::BadInput, "Layer '" + layer + "' output " + shapeToString(Shape(a.sizes().begin(), a.sizes().end()))
                                             + " is not spatial: CAM methods need a layer with output [N, C, H, W] "
                                               "or transformer tokens [N, T, C] on a square patch grid");
    return g;
}

/// The gradient CAMs from a layer's activation A and the score's gradient g at it (both spatial).
at::Tensor camFromGradients(AttributionMethod m, const at::Tensor &g, const at::Tensor &Ad)
{
    switch (m) {
    case AttributionMethod::GradCam:
    case AttributionMethod::GuidedGradCam:
        return at::relu((g.mean({2, 3}, true) * Ad).sum(1, true));
    case AttributionMethod::GradCamPlusPlus: {
        const at::Tensor g2 = g * g, g3 = g2 * g;
        const at::Tensor sumA = Ad.sum({2, 3}, true);
        at::Tensor aij = g2 / (2 * g2 + sumA * g3 + 1e-6);
        aij = at::where(g != 0, aij, at::zeros_like(aij));
        const at::Tensor w = (at::relu(g) * aij).sum({2, 3}, true);
        return at::relu((w * Ad).sum(1, true));
    }
    case AttributionMethod::LayerCam:
        return at::relu((at::relu(g) * Ad).sum(1, true));
    default:
        throw Error(ErrorCode::Internal, "not a gradient CAM method");
    }
}

at::Tensor camMethod(Runner &r, AttributionMethod m, const at::Tensor &x, const AttributionTarget &t)
{
    const std::string layer = r.model.resolveLayer(r.p.layer).path;
    auto spatial = [&](const at::Tensor &a) { return spatialLayer(layer, a); };
    if (m == AttributionMethod::ScoreCam) {
        torch::NoGradGuard ng;
        const at::Tensor A = spatial(r.forward(x, layer).layer);
        if (x.dim() != 4) throw Error(ErrorCode::BadInput, "Score-CAM needs an image input [N, C, H, W]");
        at::Tensor up = at::upsample_bilinear2d(A, {x.size(2), x.size(3)}, false);
        const at::Tensor lo = up.amin({2, 3}, true), hi = up.amax({2, 3}, true);
        up = at::where(hi > lo, (up - lo) / (hi - lo), at::zeros_like(up));
        const int64_t C = A.size(1), chunk = r.chunkSize(x);
        std::vector<at::Tensor> s;
        for (int64_t c = 0; c < C; c += chunk) {
            r.checkCancel();
            const int64_t k = std::min(chunk, C - c);
            const at::Tensor masks = up[0].narrow(0, c, k).unsqueeze(1);   // [k, 1, H, W]
            s.push_back(r.scores(r.forward(x * masks, "").logits, t));
            ++r.chunks;
            r.progress(c + k, C);
            if (c + k < C) {   // the map from the channels scored so far
                const at::Tensor wp = at::softmax(at::cat(s), 0).view({1, c + k, 1, 1});
                r.partial(at::relu((wp * A.narrow(1, 0, c + k)).sum(1, true)), c + k, C);
            }
        }
        const at::Tensor w = at::softmax(at::cat(s), 0).view({1, C, 1, 1});
        return at::relu((w * A).sum(1, true));
    }
    torch::AutoGradMode enable(true);
    const at::Tensor xg = x.detach().requires_grad_(true);
    const Runner::Out o = r.forward(xg, layer);
    spatial(o.layer);   // checks before the backward pass
    const at::Tensor y = r.scores(o.logits, t).sum();
    const at::Tensor g = spatial(torch::autograd::grad({y}, {o.layer})[0].detach());
    ++r.chunks;
    return camFromGradients(m, g, spatial(o.layer.detach()));
}

at::Tensor occlusion(Runner &r, const at::Tensor &x, const AttributionTarget &t)
{
    const AttributionParams &p = r.p;
    const int64_t dims = x.dim() - 1;
    std::vector<int64_t> win = p.window, stride = p.stride;
    if (win.empty()) {
        win.assign(size_t(dims), 1);
        win[0] = x.size(1);
        for (int64_t i = 1; i < dims; ++i) win[size_t(i)] = std::max<int64_t>(1, x.size(i + 1) / 8);
    }
    if (int64_t(win.size()) == dims)
        for (int64_t i = 0; i < dims; ++i)
            if (win[size_t(i)] == 0) win[size_t(i)] = x.size(i + 1);   // 0: the whole dimension
    if (stride.empty()) stride = win;
    if (int64_t(win.size()) != dims || int64_t(stride.size()) != dims)
        throw Error(ErrorCode::BadInput, "Occlusion window and stride need " + std::to_string(dims) + " values (one per input dimension after the batch)");
    std::vector<int64_t> counts(static_cast<size_t>(dims));
    int64_t positions = 1;
    for (int64_t i = 0; i < dims; ++i) {
        const int64_t in = x.size(i + 1);
        if (win[size_t(i)] < 1 || win[size_t(i)] > in || stride[size_t(i)] < 1)
            throw Error(ErrorCode::BadInput, "Occlusion window " + std::to_string(win[size_t(i)]) + " / stride " + std::to_string(stride[size_t(i)])
                                                 + " do not fit input dimension " + std::to_string(i + 1) + " of size " + std::to_string(in));
        counts[size_t(i)] = (in - win[size_t(i)] + stride[size_t(i)] - 1) / stride[size_t(i)] + 1;   // Captum: ceil + 1
        positions *= counts[size_t(i)];
    }
    auto region = [&](at::Tensor t, int64_t pos) {   // t has no batch dim
        for (int64_t i = 0; i < dims; ++i) {
            const int64_t start = (pos % counts[size_t(i)]) * stride[size_t(i)];
            pos /= counts[size_t(i)];
            t = t.narrow(i, start, std::min(win[size_t(i)], t.size(i) - start));
        }
        return t;
    };
    torch::NoGradGuard ng;
    at::Tensor y0;   // the unoccluded score, from the first chunk (which carries x itself first)
    at::Tensor total = at::zeros_like(x[0]), count = at::zeros_like(x[0]);
    const int64_t chunk = r.chunkSize(x);
    for (int64_t pos = 0; pos < positions; pos += chunk) {
        r.checkCancel();
        const int64_t k = std::min(chunk, positions - pos);
        std::vector<int64_t> rep(static_cast<size_t>(x.dim()), 1);
        rep[0] = k;
        at::Tensor xs = x.repeat(rep);
        at::Tensor masks = at::zeros_like(xs);
        for (int64_t j = 0; j < k; ++j) region(masks[j], pos + j).fill_(1.0);
        xs = xs * (1 - masks) + masks * p.fill;
        at::Tensor ys;
        if (!y0.defined()) {
            ys = r.scores(r.forward(at::cat({x, xs}), "").logits, t);
            y0 = ys.narrow(0, 0, 1);
            ys = ys.narrow(0, 1, k);
        } else {
            ys = r.scores(r.forward(xs, "").logits, t);
        }
        const at::Tensor diff = y0 - ys;
        ++r.chunks;
        std::vector<int64_t> view(static_cast<size_t>(x.dim()), 1);
        view[0] = k;
        total += (masks * diff.view(view)).sum(0);
        count += masks.sum(0);
        r.progress(pos + k, positions);
        r.partial((total / count.clamp_min(1)).unsqueeze(0), pos + k, positions);
    }
    return (total / count.clamp_min(1)).unsqueeze(0);
}

/// LIME and KernelSHAP: a weighted linear model of the target score over binary feature masks.
at::Tensor surrogate(Runner &r, AttributionMethod m, const at::Tensor &x, const AttributionTarget &t)
{
    const AttributionParams &p = r.p;
    if (x.dim() < 3) throw Error(ErrorCode::BadInput, "LIME and KernelSHAP need an input with spatial dimensions");
    const int64_t H = x.size(x.dim() - 2), W = x.size(x.dim() - 1);
    // Feature ids per pixel, remapped to 0..M-1.
    at::Tensor ids;
    if (p.featureMask.numel() > 0) {
        const Shape &s = p.featureMask.shape();
        if (s.size() < 2 || s[s.size() - 2] != H || s[s.size() - 1] != W)
            throw Error(ErrorCode::BadInput, "Feature mask shape " + shapeToString(s) + " does not match the input's "
                                                 + std::to_string(H) + "×" + std::to_string(W));
        at::Tensor raw = torch::from_blob(const_cast<float *>(p.featureMask.data()), {p.featureMask.numel()}, torch::kFloat)
                             .to(torch::kLong).view({-1}).narrow(0, p.featureMask.numel() - H * W, H * W);
        at::Tensor uniq, inverse;
        std::tie(uniq, inverse, std::ignore) = at::_unique2(raw, true, true, false);
        ids = inverse.view({H, W});
    } else {
        const int64_t cells = std::max(1, p.gridCells);
        const at::Tensor rows = at::div(at::arange(H, torch::kLong) * cells, H, "floor").view({H, 1});
        const at::Tensor cols = at::div(at::arange(W, torch::kLong) * cells, W, "floor").view({1, W});
        ids = rows * cells + cols;
    }
    const int64_t M = ids.max().item<int64_t>() + 1;
    const int64_t S = std::max(p.samples, 2);
    std::mt19937_64 rng(p.seed);
    at::Tensor Z = at::zeros({S, M}, torch::kDouble), wts = at::ones({S}, torch::kDouble);
    auto z = Z.accessor<double, 2>();
    auto wa = wts.accessor<double, 1>();
    std::vector<double> sizeWeights;
    for (int64_t k = 1; k < M; ++k) sizeWeights.push_back(double(M - 1) / double(k * (M - k)));
    std::discrete_distribution<int64_t> sizeDist(sizeWeights.begin(), sizeWeights.end());
    std::bernoulli_distribution coin(0.5);
    std::vector<int64_t> order(static_cast<size_t>(M));
    std::iota(order.begin(), order.end(), 0);
    for (int64_t s = 0; s < S; ++s) {
        if (s == 0) { for (int64_t j = 0; j < M; ++j) z[s][j] = 1; }
        else if (s == 1) { /* all off */ }
        else if (m == AttributionMethod::KernelShap && M > 1) {
            const int64_t k = sizeDist(rng) + 1;
            std::shuffle(order.begin(), order.end(), rng);
            for (int64_t j = 0; j < k; ++j) z[s][order[size_t(j)]] = 1;
        } else {
            for (int64_t j = 0; j < M; ++j) z[s][j] = coin(rng) ? 1 : 0;
        }
        if (m == AttributionMethod::KernelShap) {
            wa[s] = (s < 2) ? 1e6 : 1.0;   // the empty and full coalitions pin the intercept and the total
        } else {
            double on = 0;
            for (int64_t j = 0; j < M; ++j) on += z[s][j];
            const double cosDist = on > 0 ? 1.0 - on / (std::sqrt(on) * std::sqrt(double(M))) : 1.0;
            wa[s] = std::exp(-cosDist * cosDist / (2 * 0.75 * 0.75));
        }
    }
    // Model scores for each mask: features off take the fill value.
    torch::NoGradGuard ng;
    const at::Tensor idsDev = ids.to(x.device());
    std::vector<at::Tensor> ys;
    // Weighted least squares with an intercept over the first n samples; coefficients painted per feature.
    auto fit = [&](int64_t n) {
        const at::Tensor y = at::cat(ys).narrow(0, 0, n);
        const at::Tensor A = at::cat({at::ones({n, 1}, torch::kDouble), Z.narrow(0, 0, n)}, 1);
        const at::Tensor Aw = A * wts.narrow(0, 0, n).view({-1, 1});
        const at::Tensor lhs = A.t().mm(Aw) + 1e-8 * at::eye(M + 1, torch::kDouble);
        const at::Tensor beta = at::linalg_solve(lhs, Aw.t().mv(y).view({-1, 1})).view({-1});
        const at::Tensor coef = beta.narrow(0, 1, M).to(torch::kFloat);
        const at::Tensor map = coef.index_select(0, ids.view({-1})).view({H, W}).to(x.device());
        return map.expand(x.sizes()).contiguous();
    };
    const int64_t chunk = r.chunkSize(x);
    for (int64_t s = 0; s < S; s += chunk) {
        r.checkCancel();
        const int64_t k = std::min(chunk, S - s);
        const at::Tensor keep = Z.narrow(0, s, k).to(x.device(), torch::kFloat).index_select(1, idsDev.view({-1})).view({k, 1, H, W});
        std::vector<int64_t> rep(size_t(x.dim()), 1);
        rep[0] = k;
        at::Tensor xs = x.repeat(rep);
        const at::Tensor mask = x.dim() == 4 ? keep : keep.view({k, H, W});
        xs = xs * mask + (1 - mask) * p.fill;
        ys.push_back(r.scores(r.forward(xs, "").logits, t).to(torch::kCPU, torch::kDouble));
        ++r.chunks;
        r.progress(s + k, S);
        if (s + k < S && s + k > M && r.sink.partial) r.partial(fit(s + k), s + k, S);
    }
    return fit(S);
}

at::Tensor attributeOne(Runner &r, AttributionMethod m, const at::Tensor &x, const AttributionTarget &t, double &delta)
{
    switch (m) {
    case AttributionMethod::Saliency:
    case AttributionMethod::InputXGradient:
    case AttributionMethod::GuidedBackprop:
    case AttributionMethod::Deconvnet:
        r.progress(0, 1);
        return gradientMethod(r, m, x, t);
    case AttributionMethod::IntegratedGradients:
        return integratedGradients(r, x, t, delta);
    case AttributionMethod::GradCam:
    case AttributionMethod::GradCamPlusPlus:
    case AttributionMethod::LayerCam:
    case AttributionMethod::ScoreCam:
        return camMethod(r, m, x, t);
    case AttributionMethod::GuidedGradCam: {
        if (x.dim() != 4) throw Error(ErrorCode::BadInput, "Guided Grad-CAM needs an image input [N, C, H, W]");
        const at::Tensor cam = camMethod(r, m, x, t);
        const at::Tensor gb = r.grads(x, t, detail::ReluMode::Guided);
        return gb * at::upsample_nearest2d(cam, {x.size(2), x.size(3)});
    }
    case AttributionMethod::Occlusion:
        return occlusion(r, x, t);
    case AttributionMethod::Lime:
    case AttributionMethod::KernelShap:
        return surrogate(r, m, x, t);
    case AttributionMethod::SmoothGrad:
        break;
    }
    // Noise tunnel around another method.
    const AttributionParams &p = r.p;
    if (p.noiseBase == AttributionMethod::SmoothGrad) throw Error(ErrorCode::BadInput, "The noise tunnel cannot wrap itself");
    if (p.samples < 1) throw Error(ErrorCode::BadInput, "The noise tunnel needs at least 1 sample (got " + std::to_string(p.samples) + ")");
    const double range = (x.max() - x.min()).item<double>();
    const double sigma = double(p.stdev) * (range > 0 ? range : 1.0);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(p.seed);
    const bool batched = p.noiseBase == AttributionMethod::Saliency || p.noiseBase == AttributionMethod::InputXGradient
                         || p.noiseBase == AttributionMethod::GuidedBackprop || p.noiseBase == AttributionMethod::Deconvnet;
    const int64_t chunk = batched ? r.chunkSize(x) : 1;
    at::Tensor sum, sumSq;
    for (int64_t i = 0; i < p.samples; i += chunk) {
        r.checkCancel();
        const int64_t k = std::min<int64_t>(chunk, p.samples - i);
        std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
        shape[0] = k;
        const at::Tensor noisy = x + (at::randn(shape, gen, torch::kFloat) * sigma).to(x.device());
        at::Tensor a;
        if (batched) {
            a = gradientMethod(r, p.noiseBase, noisy, t);
        } else {
            double unused = 0;
            a = attributeOne(r, p.noiseBase, noisy, t, unused);
        }
        const at::Tensor s1 = a.sum(0, true), s2 = (a * a).sum(0, true);
        sum = sum.defined() ? sum + s1 : s1;
        sumSq = sumSq.defined() ? sumSq + s2 : s2;
        const double n = double(i + k);
        r.progress(i + k, p.samples);
        const at::Tensor mean = sum / n, meanSq = sumSq / n;
        r.partial(p.noise == NoiseType::SmoothGrad ? mean : p.noise == NoiseType::SmoothGradSquared ? meanSq : meanSq - mean * mean,
                  i + k, p.samples);
    }
    const double n = double(p.samples);
    const at::Tensor mean = sum / n, meanSq = sumSq / n;
    return p.noise == NoiseType::SmoothGrad ? mean : p.noise == NoiseType::SmoothGradSquared ? meanSq : meanSq - mean * mean;
}

} // namespace

bool isCamLayer(const LayerInfo &l)
{
    if (l.calls <= 0 || l.outputShapes.empty()) return false;
    const Shape &o = l.outputShapes[0];
    auto square = [](int64_t n) { const auto g = int64_t(std::llround(std::sqrt(double(n)))); return n > 0 && g * g == n; };
    return o.size() == 4 || (o.size() == 3 && (square(o[1]) || square(o[1] - 1)));
}

std::string suggestedCamLayer(const ModelSummary &summary)
{
    std::string last, lastWide;
    for (const auto &l : summary.layers) {
        if (!isCamLayer(l)) continue;
        last = l.path;
        const Shape &o = l.outputShapes[0];
        const int64_t cells = o.size() == 4 ? o[2] * o[3] : o[1];
        if (cells > 1) lastWide = l.path;
    }
    if (lastWide.empty()) return last;
    // From a leaf inside a block (a ResNet's layer4.1.bn2) up to the block itself (layer4.1: the residual sum
    // after its ReLU), pytorch-grad-cam's model.layer4[-1]; plain Sequential containers are not climbed.
    for (;;) {
        const size_t dot = lastWide.rfind('.');
        if (dot == std::string::npos) break;
        const std::string parent = lastWide.substr(0, dot);
        const auto it = std::find_if(summary.layers.begin(), summary.layers.end(), [&](const LayerInfo &l) { return l.path == parent; });
        if (it == summary.layers.end() || !isCamLayer(*it) || it->op == "Sequential" || it->op == "ModuleList") break;
        lastWide = parent;
    }
    return lastWide;
}

const char *integrationName(IntegrationRule r)
{
    for (const auto &k : kRules)
        if (k.first == r) return k.second;
    return "?";
}

bool parseIntegration(const std::string &name, IntegrationRule &out)
{
    for (const auto &k : kRules)
        if (name == k.second) { out = k.first; return true; }
    return false;
}

void integrationPoints(IntegrationRule rule, int n, std::vector<double> &alphas, std::vector<double> &weights)
{
    alphas.assign(size_t(n), 0.0);
    weights.assign(size_t(n), 1.0 / n);
    switch (rule) {
    case IntegrationRule::RiemannLeft:
        for (int i = 0; i < n; ++i) alphas[size_t(i)] = n == 1 ? 0.0 : (1.0 - 1.0 / n) * i / (n - 1);
        break;
    case IntegrationRule::RiemannRight:
        for (int i = 0; i < n; ++i) alphas[size_t(i)] = n == 1 ? 1.0 : 1.0 / n + (1.0 - 1.0 / n) * i / (n - 1);
        break;
    case IntegrationRule::RiemannMiddle:
        for (int i = 0; i < n; ++i) alphas[size_t(i)] = n == 1 ? 0.5 : 0.5 / n + (1.0 - 1.0 / n) * i / (n - 1);
        break;
    case IntegrationRule::RiemannTrapezoid:
        // Captum's placement: linspace(0, 1, n) with weights 1/n, halved at both ends.
        if (n < 2) throw Error(ErrorCode::BadInput, "The trapezoid rule needs at least 2 steps (got " + std::to_string(n) + ")");
        for (int i = 0; i < n; ++i) {
            alphas[size_t(i)] = double(i) / (n - 1);
            weights[size_t(i)] = (i == 0 || i == n - 1) ? 0.5 / n : 1.0 / n;
        }
        break;
    case IntegrationRule::GaussLegendre:
        // Nodes and weights on [-1, 1] by Newton's method on the Legendre polynomial, mapped to [0, 1].
        for (int i = 0; i < n; ++i) {
            double x = std::cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 0;
            for (int it = 0; it < 100; ++it) {
                double p0 = 1, p1 = x;
                for (int k = 2; k <= n; ++k) {
                    const double pk = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
                    p0 = p1;
                    p1 = pk;
                }
                if (n == 1) { p1 = x; p0 = 1; }
                dp = n * (x * p1 - p0) / (x * x - 1);
                const double dx = p1 / dp;
                x -= dx;
                if (std::fabs(dx) < 1e-15) break;
            }
            alphas[size_t(n - 1 - i)] = 0.5 * (x + 1);
            weights[size_t(n - 1 - i)] = 0.5 * 2 / ((1 - x * x) * dp * dp);
        }
        break;
    }
}

std::shared_ptr<AttributionResult> computeAttribution(Model &model, const TensorValue &input,
                                                      const AttributionParams &params, const AttributionSink &sink)
{
    const auto t0 = std::chrono::steady_clock::now();
    model.checkInput(input);
    if (needsLayer(params.method)) {
        if (params.layer.empty())
            throw Error(ErrorCode::BadInput, std::string(methodName(params.method)) + " needs a layer (--layer PATH)");
        model.resolveLayer(params.layer);
    }
    if (usesSuperpixels(params.method) && params.samples < 2)
        throw Error(ErrorCode::BadInput, std::string(methodName(params.method)) + " needs at least 2 samples");
    Runner r(model, params, sink);
    const at::Tensor all = model.impl().toTorch(input);
    if (!all.is_floating_point())
        throw Error(ErrorCode::BadInput, "Attribution to the input needs a floating-point input; use a layer method for token ids");
    auto result = std::make_shared<AttributionResult>();
    result->method = params.method;
    result->layer = params.layer;
    result->convergenceDelta = params.method == AttributionMethod::IntegratedGradients ? 0.0 : std::nan("");
    std::vector<at::Tensor> maps;
    for (int64_t b = 0; b < all.size(0); ++b) {
        const at::Tensor x = all.narrow(0, b, 1);
        const AttributionTarget t = r.resolveTarget(x);
        if (b == 0) result->targetClass = t.classIndex;
        double delta = 0;
        maps.push_back(attributeOne(r, params.method, x, t, delta).detach());
        // Over a batch, report the delta of largest magnitude (with its sign).
        if (params.method == AttributionMethod::IntegratedGradients && std::fabs(delta) >= std::fabs(result->convergenceDelta))
            result->convergenceDelta = delta;
    }
    result->map = tensorToValue(at::cat(maps));
    result->modelPasses = r.passes;
    result->chunks = r.chunks;
    result->elapsedMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

double rawPassMs(Model &model, const TensorValue &input, int64_t samples, int64_t chunk, bool backward)
{
    Model::Impl &d = model.impl();
    const at::Tensor x = d.toTorch(input).narrow(0, 0, 1);
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t done = 0; done < samples; done += chunk) {
        const int64_t k = std::min(chunk, samples - done);
        std::vector<int64_t> rep(size_t(x.dim()), 1);
        rep[0] = k;
        const at::Tensor xs = x.repeat(rep);
        if (backward) {
            torch::AutoGradMode enable(true);
            const at::Tensor xg = xs.detach().requires_grad_(true);
            std::vector<at::Tensor> ts;
            flattenTensors(d.tapped({})->run(d.module, {xg}).at(0), ts);
            const at::Tensor y = ts.at(0).select(1, 0).sum();
            (void)torch::autograd::grad({y}, {xg});
        } else {
            torch::NoGradGuard ng;
            std::vector<at::Tensor> ts;
            flattenTensors(d.tapped({})->run(d.module, {xs}).at(0), ts);
            (void)ts.at(0).sum().item<float>();
        }
    }
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

/// A job's context as an attribution's sink: its cancel flag, progress, and partial maps tagged with the input id.
static AttributionSink jobSink(JobContext &ctx, uint64_t inputId)
{
    AttributionSink sink;
    sink.cancelled = [&ctx] { return ctx.cancelled(); };
    sink.progress = [&ctx](int64_t done, int64_t total) { ctx.progress(done, total, "attribution"); };
    sink.partial = [&ctx, inputId](std::shared_ptr<const AttributionResult> r) {
        auto copy = std::make_shared<AttributionResult>(*r);
        copy->inputId = inputId;
        ctx.partial(copy);
    };
    return sink;
}

Job attributionJob(TensorValue input, uint64_t inputId, AttributionParams params)
{
    Job job;
    job.kind = "attribution";
    job.work = [input = std::move(input), inputId, params = std::move(params)](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        const AttributionSink sink = jobSink(ctx, inputId);
        auto r = computeAttribution(ctx.model(), input, params, sink);
        r->inputId = inputId;
        return r;
    };
    return job;
}

std::shared_ptr<AttributionResult> computeLiveFrame(Model &model, const TensorValue &input, uint64_t inputId,
                                                    const std::string &activationLayer, int topK, int histogramBins,
                                                    const AttributionParams *attribution, const AttributionSink &sink,
                                                    const std::function<void(std::shared_ptr<ActivationOutput>)> &onActivations)
{
    const AttributionMethod m = attribution ? attribution->method : AttributionMethod::Saliency;
    const bool gradCam = m == AttributionMethod::GradCam || m == AttributionMethod::GradCamPlusPlus || m == AttributionMethod::LayerCam;
    const bool inputGradient = m == AttributionMethod::Saliency || m == AttributionMethod::InputXGradient;
    const bool shared = attribution && input.shape().size() >= 1 && input.dim(0) == 1
                        && ((gradCam && !attribution->layer.empty()) || inputGradient);
    if (!shared) {
        onActivations(computeActivations(model, input, inputId, activationLayer, topK, histogramBins));
        if (!attribution) return nullptr;
        if (sink.cancelled && sink.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
        auto r = computeAttribution(model, input, *attribution, sink);
        r->inputId = inputId;
        return r;
    }
    const auto t0 = std::chrono::steady_clock::now();
    model.checkInput(input);
    Model::Impl &d = model.impl();
    const std::string camPath = gradCam ? model.resolveLayer(attribution->layer).path : std::string();
    std::vector<std::string> paths;
    if (gradCam) paths.push_back(camPath);
    std::string actPath;
    if (!activationLayer.empty()) {
        actPath = model.resolveLayer(activationLayer).path;
        if (actPath != camPath) paths.push_back(actPath);
    }
    const at::Tensor x = d.toTorch(input);
    if (!x.is_floating_point())
        throw Error(ErrorCode::BadInput, "Attribution to the input needs a floating-point input; use a layer method for token ids");
    torch::AutoGradMode enable(true);
    const at::Tensor xg = x.detach().requires_grad_(true);   // so the graph reaches the CAM layer
    std::vector<c10::IValue> outs;
    try {
        outs = d.tapped(paths)->run(d.module, {xg});
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::ModelError, "The model's forward failed on input " + shapeToString(input.shape()) + ": "
                                               + summarizeTorchError(e.what()));
    }
    for (size_t i = 0; i < paths.size(); ++i)
        if (outs.at(1 + i).isNone())
            throw Error(ErrorCode::BadInput, "Layer '" + paths[i] + "' was not executed for this input (it sits in a branch the model did not take)");
    const double forwardMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::vector<at::Tensor> logitsOut, camOut;
    flattenTensors(outs.at(0), logitsOut);
    if (gradCam) flattenTensors(outs.at(1), camOut);
    if (logitsOut.empty()) throw Error(ErrorCode::ModelError, "The model returned no tensor");
    if (gradCam && camOut.empty()) throw Error(ErrorCode::BadInput, "Layer '" + camPath + "' returns no tensor");
    {
        ForwardResult fr;
        fr.outputs = toValues(outs.at(0));
        if (!actPath.empty()) fr.taps[actPath] = toValues(outs.at(actPath == camPath || !gradCam ? 1 : 2));
        onActivations(activationOutputFrom(model, std::move(fr), inputId, activationLayer, topK, histogramBins, forwardMs));
    }
    if (sink.cancelled && sink.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");

    Runner r(model, *attribution, sink);
    const at::Tensor &logits = logitsOut[0];
    AttributionTarget t = attribution->target;
    if (t.kind == AttributionTarget::Kind::Predicted) {   // read from the same forward pass
        r.classes(logits);
        t.kind = AttributionTarget::Kind::Class;
        t.classIndex = int(logits[0].argmax().item<int64_t>());
    }
    const at::Tensor y = r.scores(logits, t).sum();
    at::Tensor map;
    if (gradCam) {
        const at::Tensor A = spatialLayer(camPath, camOut[0]);
        const at::Tensor g = spatialLayer(camPath, torch::autograd::grad({y}, {camOut[0]})[0].detach());
        map = camFromGradients(m, g, A.detach());
    } else {   // as gradientMethod: |∂y/∂x| or x · ∂y/∂x
        const at::Tensor g = torch::autograd::grad({y}, {xg})[0].detach();
        map = m == AttributionMethod::Saliency ? g.abs() : x * g;
    }
    auto result = std::make_shared<AttributionResult>();
    result->inputId = inputId;
    result->method = m;
    result->layer = attribution->layer;
    result->targetClass = t.classIndex;
    result->convergenceDelta = std::nan("");
    result->map = tensorToValue(map);
    result->modelPasses = 1;
    result->chunks = 1;
    result->elapsedMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

Job liveFrameJob(TensorValue input, uint64_t inputId, std::string activationLayer, const AttributionParams *attribution,
                 std::string kind, int topK, int histogramBins)
{
    Job job;
    job.kind = std::move(kind);
    std::optional<AttributionParams> params;
    if (attribution) params = *attribution;
    job.work = [input = std::move(input), inputId, activationLayer = std::move(activationLayer), params, topK,
                histogramBins](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        const AttributionSink sink = jobSink(ctx, inputId);
        std::shared_ptr<ActivationOutput> activations;
        auto r = computeLiveFrame(ctx.model(), input, inputId, activationLayer, topK, histogramBins, params ? &*params : nullptr, sink,
                                  [&](std::shared_ptr<ActivationOutput> a) {
                                      activations = a;
                                      if (params) ctx.partial(std::move(a));
                                  });
        if (r) return r;
        return activations;
    };
    return job;
}

} // namespace pellucid

namespace pellucid {

Json attributionParamsToJson(const AttributionParams &p, const std::string &baselinePath)
{
    Json j = Json::object();
    j["method"] = methodName(p.method);
    Json t = Json::object();
    t["kind"] = p.target.kind == AttributionTarget::Kind::Predicted ? "predicted"
                : p.target.kind == AttributionTarget::Kind::Class   ? "class"
                                                                    : "contrast";
    t["class"] = p.target.classIndex;
    t["other"] = p.target.otherClass;
    j["target"] = t;
    j["layer"] = p.layer;
    j["steps"] = p.steps;
    j["integration"] = integrationName(p.integration);
    j["baseline"] = p.baseline == BaselineKind::Zero ? "zero" : p.baseline == BaselineKind::Blur ? "blur"
                    : p.baseline == BaselineKind::Uniform ? "uniform" : "file";
    if (!baselinePath.empty()) j["baseline_file"] = baselinePath;
    j["blur_sigma"] = double(p.blurSigma);
    j["noise_base"] = methodName(p.noiseBase);
    j["noise"] = p.noise == NoiseType::SmoothGrad ? "smoothgrad" : p.noise == NoiseType::SmoothGradSquared ? "smoothgrad-sq" : "vargrad";
    j["samples"] = p.samples;
    j["stdev"] = double(p.stdev);
    j["seed"] = int64_t(p.seed);
    Json w = Json::array(), st = Json::array();
    for (int64_t v : p.window) w.push(Json(v));
    for (int64_t v : p.stride) st.push(Json(v));
    j["window"] = w;
    j["stride"] = st;
    j["fill"] = double(p.fill);
    j["grid"] = p.gridCells;
    return j;
}

AttributionParams attributionParamsFromJson(const Json &j, std::string *baselinePath)
{
    AttributionParams p;
    try {
        if (!parseMethod(j.find("method") ? j.find("method")->asString() : "", p.method))
            throw std::runtime_error("unknown method");
        if (const Json *t = j.find("target")) {
            const std::string kind = t->find("kind") ? t->find("kind")->asString() : "predicted";
            p.target.kind = kind == "class" ? AttributionTarget::Kind::Class
                            : kind == "contrast" ? AttributionTarget::Kind::Contrast : AttributionTarget::Kind::Predicted;
            if (const Json *c = t->find("class")) p.target.classIndex = int(c->asInt());
            if (const Json *c = t->find("other")) p.target.otherClass = int(c->asInt());
        }
        if (const Json *v = j.find("layer")) p.layer = v->asString();
        if (const Json *v = j.find("steps")) p.steps = int(v->asInt());
        if (const Json *v = j.find("integration"); v && !parseIntegration(v->asString(), p.integration))
            throw std::runtime_error("unknown integration rule " + v->asString());
        if (const Json *v = j.find("baseline")) {
            const std::string b = v->asString();
            p.baseline = b == "blur" ? BaselineKind::Blur : b == "uniform" ? BaselineKind::Uniform : b == "file" ? BaselineKind::Tensor : BaselineKind::Zero;
        }
        if (const Json *v = j.find("baseline_file"); v && baselinePath) *baselinePath = v->asString();
        if (const Json *v = j.find("blur_sigma")) p.blurSigma = float(v->asNumber());
        if (const Json *v = j.find("noise_base"); v && !parseMethod(v->asString(), p.noiseBase))
            throw std::runtime_error("unknown noise base " + v->asString());
        if (const Json *v = j.find("noise")) {
            const std::string n = v->asString();
            p.noise = n == "smoothgrad-sq" ? NoiseType::SmoothGradSquared : n == "vargrad" ? NoiseType::VarGrad : NoiseType::SmoothGrad;
        }
        if (const Json *v = j.find("samples")) p.samples = int(v->asInt());
        if (const Json *v = j.find("stdev")) p.stdev = float(v->asNumber());
        if (const Json *v = j.find("seed")) p.seed = uint64_t(v->asInt());
        if (const Json *v = j.find("window")) for (const Json &x : v->asArray()) p.window.push_back(x.asInt());
        if (const Json *v = j.find("stride")) for (const Json &x : v->asArray()) p.stride.push_back(x.asInt());
        if (const Json *v = j.find("fill")) p.fill = float(v->asNumber());
        if (const Json *v = j.find("grid")) p.gridCells = int(v->asInt());
    } catch (const std::exception &e) {
        throw Error(ErrorCode::BadInput, std::string("Invalid attribution parameters: ") + e.what());
    }
    return p;
}

} // namespace pellucid
