// Saliency, input × gradient, guided backprop and deconvnet: one backward pass each (Captum's conventions).
#include "engine/attribution/runner.h"

namespace pellucid::detail {

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

bool isPlainGradientMethod(AttributionMethod m)
{
    return m == AttributionMethod::Saliency || m == AttributionMethod::InputXGradient || m == AttributionMethod::GuidedBackprop
        || m == AttributionMethod::Deconvnet;
}

namespace {

at::Tensor plainGradient(Runner &r, AttributionMethod m, const at::Tensor &x, const AttributionTarget &t, double &)
{
    r.progress(0, 1);
    return gradientMethod(r, m, x, t);
}

}   // namespace

extern const MethodImpl saliencyImpl{&plainGradient};
extern const MethodImpl inputXGradientImpl{&plainGradient};
extern const MethodImpl guidedBackpropImpl{&plainGradient};
extern const MethodImpl deconvnetImpl{&plainGradient};

}   // namespace pellucid::detail
