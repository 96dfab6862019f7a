// Operators that models saved by newer PyTorch versions call but an older linked LibTorch lacks.
// LibTorch 1.13 (Debian's) has no aten::scaled_dot_product_attention: a model saved by PyTorch 2.x that
// calls it fails to load with "Unknown builtin op". We register the operator with PyTorch 2.x's exact
// schema and an explicit implementation (scale, causal mask, attention mask, softmax, weighted sum).
#include <torch/library.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "engine/runtime/graphtaps.h"

#include <cmath>
#include <limits>

namespace pellucid::detail {

std::tuple<at::Tensor, at::Tensor> explicitAttention(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value,
                                                     const c10::optional<at::Tensor> &attnMask, double dropoutP, bool isCausal,
                                                     c10::optional<double> scale, bool enableGqa, int64_t editSite)
{
    at::Tensor k = key, v = value;
    if (enableGqa && query.dim() >= 3 && key.size(-3) != query.size(-3)) {
        const int64_t groups = query.size(-3) / key.size(-3);
        k = k.repeat_interleave(groups, -3);
        v = v.repeat_interleave(groups, -3);
    }
    const double s = scale.has_value() ? *scale : 1.0 / std::sqrt(double(query.size(-1)));
    at::Tensor scores = at::matmul(query, k.transpose(-2, -1)) * s;
    const double ninf = -std::numeric_limits<double>::infinity();
    if (isCausal) {
        const int64_t L = query.size(-2), S = k.size(-2);
        at::Tensor keep = at::ones({L, S}, query.options().dtype(at::kBool)).tril();
        scores = scores.masked_fill(keep.logical_not(), ninf);
    }
    if (attnMask.has_value() && attnMask->defined()) {
        if (attnMask->scalar_type() == at::kBool)
            scores = scores.masked_fill(attnMask->logical_not(), ninf);
        else
            scores = scores + *attnMask;
    }
    at::Tensor probs = at::softmax(scores, -1);
    if (editSite >= 0) probs = applyAttentionEdit(probs, editSite);
    const at::Tensor used = dropoutP > 0.0 ? at::dropout(probs, dropoutP, /*train=*/true) : probs;
    return {at::matmul(used, v), probs};
}

#if TORCH_VERSION_MAJOR < 2
namespace {

at::Tensor scaledDotProductAttention(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value,
                                     const c10::optional<at::Tensor> &attnMask, double dropoutP, bool isCausal, c10::optional<double> scale,
                                     bool enableGqa)
{
    return std::get<0>(explicitAttention(query, key, value, attnMask, dropoutP, isCausal, scale, enableGqa));
}

}   // namespace

TORCH_LIBRARY_FRAGMENT(aten, m)
{
    m.def("scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_mask=None, "
          "float dropout_p=0.0, bool is_causal=False, *, float? scale=None, bool enable_gqa=False) -> Tensor");
    m.impl("scaled_dot_product_attention", c10::DispatchKey::CompositeImplicitAutograd, TORCH_FN(scaledDotProductAttention));
}
#endif

/// Referenced from Model::load so the linker keeps this translation unit (and its registrations).
bool compatOpsRegistered() { return TORCH_VERSION_MAJOR < 2; }

}   // namespace pellucid::detail
