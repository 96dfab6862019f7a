#include "engine/attribution/runner.h"

namespace pellucid::detail {

at::Tensor makeBaseline(Runner &r, const at::Tensor &x)
{
    const AttributionParams &p = r.p;
    switch (p.baseline) {
    case BaselineKind::Zero: return at::zeros_like(x);
    case BaselineKind::Tensor: {
        const Shape want(x.sizes().begin(), x.sizes().end());
        Shape given = p.baselineTensor.shape();
        if (given.size() + 1 == want.size()) given.insert(given.begin(), 1);
        if (given != want)
            throw Error(ErrorCode::BadInput,
                        "Baseline shape " + shapeToString(p.baselineTensor.shape()) + " does not match the input shape " + shapeToString(want));
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
            return at::conv2d(in, kernel / kernel.sum() * c, at::Tensor(), at::IntArrayRef{1, 1}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, c);
        };
        at::Tensor y = x;
        if (padW > 0) y = conv(at::reflection_pad2d(y, {padW, padW, 0, 0}), kh.narrow(3, radius - padW, 2 * padW + 1));
        if (padH > 0) y = conv(at::reflection_pad2d(y, {0, 0, padH, padH}), kv.narrow(2, radius - padH, 2 * padH + 1));
        return y.detach();
    }
    }
    return at::zeros_like(x);
}

/// Token outputs of transformers [B, T, C] as a patch grid [B, C, g, g] (a leading CLS token dropped when
/// T − 1 is square); undefined when T is not a square (plus one).
at::Tensor tokensToGrid(const at::Tensor &a)
{
    if (a.dim() != 3) return {};
    const int64_t T = a.size(1);
    for (int64_t skip : {int64_t(0), int64_t(1)}) {
        const int64_t n = T - skip, g = int64_t(std::llround(std::sqrt(double(n))));
        if (n > 0 && g * g == n) return a.narrow(1, skip, n).reshape({a.size(0), g, g, a.size(2)}).permute({0, 3, 1, 2});
    }
    return {};
}

/// Spatial [N, C, H, W] as is; transformer tokens [N, T, C] reshaped to their patch grid.
at::Tensor spatialLayer(const std::string &layer, const at::Tensor &a)
{
    if (a.dim() == 4) return a;
    at::Tensor g = tokensToGrid(a);
    if (!g.defined())
        throw Error(ErrorCode::BadInput,
                    "Layer '" + layer + "' output " + shapeToString(Shape(a.sizes().begin(), a.sizes().end()))
                        + " is not spatial: CAM methods need a layer with output [N, C, H, W] "
                          "or transformer tokens [N, T, C] on a square patch grid");
    return g;
}

at::Tensor attributeOne(Runner &r, AttributionMethod m, const at::Tensor &x, const AttributionTarget &t, double &delta)
{
    const MethodInfo &info = methodInfo(m);
    if (!info.impl) throw Error(ErrorCode::Internal, std::string("The method ") + info.name + " has no computation");
    return info.impl->compute(r, m, x, t, delta);
}

}   // namespace pellucid::detail
