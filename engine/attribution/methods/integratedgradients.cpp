// Integrated gradients (Sundararajan et al.) with Captum's integration rules, progressive, with the convergence delta.
#include "engine/attribution/runner.h"

namespace pellucid::detail {

namespace {

at::Tensor integratedGradients(Runner &r, AttributionMethod, const at::Tensor &x, const AttributionTarget &t, double &delta)
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
        const std::vector<int64_t> shape = [&] {
            std::vector<int64_t> s(size_t(x.dim()), 1);
            s[0] = k;
            return s;
        }();
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

}   // namespace

extern const MethodImpl integratedGradientsImpl{&integratedGradients};

}   // namespace pellucid::detail
