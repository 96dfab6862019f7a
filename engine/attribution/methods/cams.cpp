// The class activation maps: Grad-CAM, Grad-CAM++, Layer-CAM, Score-CAM, and Guided Grad-CAM.
#include "engine/attribution/runner.h"

namespace pellucid::detail {

/// The gradient CAMs from a layer's activation A and the score's gradient g at it (both spatial).
at::Tensor camFromGradients(AttributionMethod m, const at::Tensor &g, const at::Tensor &Ad)
{
    switch (m) {
    case AttributionMethod::GradCam:
    case AttributionMethod::GuidedGradCam: return at::relu((g.mean({2, 3}, true) * Ad).sum(1, true));
    case AttributionMethod::GradCamPlusPlus: {
        const at::Tensor g2 = g * g, g3 = g2 * g;
        const at::Tensor sumA = Ad.sum({2, 3}, true);
        at::Tensor aij = g2 / (2 * g2 + sumA * g3 + 1e-6);
        aij = at::where(g != 0, aij, at::zeros_like(aij));
        const at::Tensor w = (at::relu(g) * aij).sum({2, 3}, true);
        return at::relu((w * Ad).sum(1, true));
    }
    case AttributionMethod::LayerCam: return at::relu((at::relu(g) * Ad).sum(1, true));
    default: throw Error(ErrorCode::Internal, "not a gradient CAM method");
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

namespace {

at::Tensor layerCam(Runner &r, AttributionMethod m, const at::Tensor &x, const AttributionTarget &t, double &) { return camMethod(r, m, x, t); }

at::Tensor guidedGradCam(Runner &r, AttributionMethod m, const at::Tensor &x, const AttributionTarget &t, double &)
{
    if (x.dim() != 4) throw Error(ErrorCode::BadInput, "Guided Grad-CAM needs an image input [N, C, H, W]");
    const at::Tensor cam = camMethod(r, m, x, t);
    const at::Tensor gb = r.grads(x, t, detail::ReluMode::Guided);
    return gb * at::upsample_nearest2d(cam, {x.size(2), x.size(3)});
}

}   // namespace

extern const MethodImpl gradCamImpl{&layerCam};
extern const MethodImpl gradCamPlusPlusImpl{&layerCam};
extern const MethodImpl layerCamImpl{&layerCam};
extern const MethodImpl scoreCamImpl{&layerCam};
extern const MethodImpl guidedGradCamImpl{&guidedGradCam};

}   // namespace pellucid::detail
