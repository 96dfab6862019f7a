// Occlusion (Zeiler & Fergus) with Captum's window and stride placement, batched, progressive.
#include "engine/attribution/runner.h"

namespace pellucid::detail {

namespace {

at::Tensor occlusion(Runner &r, AttributionMethod, const at::Tensor &x, const AttributionTarget &t, double &)
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
        throw Error(ErrorCode::BadInput,
                    "Occlusion window and stride need " + std::to_string(dims) + " values (one per input dimension after the batch)");
    std::vector<int64_t> counts(static_cast<size_t>(dims));
    int64_t positions = 1;
    for (int64_t i = 0; i < dims; ++i) {
        const int64_t in = x.size(i + 1);
        if (win[size_t(i)] < 1 || win[size_t(i)] > in || stride[size_t(i)] < 1)
            throw Error(ErrorCode::BadInput,
                        "Occlusion window " + std::to_string(win[size_t(i)]) + " / stride " + std::to_string(stride[size_t(i)])
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

}   // namespace

extern const MethodImpl occlusionImpl{&occlusion};

}   // namespace pellucid::detail
