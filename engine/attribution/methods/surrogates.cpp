// LIME and KernelSHAP: a weighted linear model of the target score over binary feature masks.
#include "engine/attribution/runner.h"

#include <numeric>
#include <random>

namespace pellucid::detail {

namespace {

/// LIME and KernelSHAP: a weighted linear model of the target score over binary feature masks.
at::Tensor surrogate(Runner &r, AttributionMethod m, const at::Tensor &x, const AttributionTarget &t, double &)
{
    const AttributionParams &p = r.p;
    if (x.dim() < 3) throw Error(ErrorCode::BadInput, "LIME and KernelSHAP need an input with spatial dimensions");
    const int64_t H = x.size(x.dim() - 2), W = x.size(x.dim() - 1);
    // Feature ids per pixel, remapped to 0..M-1.
    at::Tensor ids;
    if (p.featureMask.numel() > 0) {
        const Shape &s = p.featureMask.shape();
        if (s.size() < 2 || s[s.size() - 2] != H || s[s.size() - 1] != W)
            throw Error(ErrorCode::BadInput,
                        "Feature mask shape " + shapeToString(s) + " does not match the input's " + std::to_string(H) + "×" + std::to_string(W));
        at::Tensor raw = torch::from_blob(const_cast<float *>(p.featureMask.data()), {p.featureMask.numel()}, torch::kFloat)
                             .to(torch::kLong)
                             .view({-1})
                             .narrow(0, p.featureMask.numel() - H * W, H * W);
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
        if (s == 0) {
            for (int64_t j = 0; j < M; ++j) z[s][j] = 1;
        } else if (s == 1) { /* all off */
        } else if (m == AttributionMethod::KernelShap && M > 1) {
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

}   // namespace

extern const MethodImpl limeImpl{&surrogate};
extern const MethodImpl kernelShapImpl{&surrogate};

}   // namespace pellucid::detail
