#pragma once
// Attention of any transformer: the probabilities [batch, heads, query, key] of every attention site of the
// forward graph, through fused kernels (scaled_dot_product_attention, _native_multi_head_attention,
// _transformer_encoder_layer_fwd) rewritten into explicit ones, or hand-written softmax attention; attention
// rollout (Abnar & Zuidema 2020) and gradient-weighted rollout (Chefer et al. 2021).
#include "engine/runtime/model.h"
#include "engine/core/tensorvalue.h"

#include <string>
#include <vector>

namespace pellucid {

struct AttentionResult {
    std::vector<TensorValue> layers;    // per executed site, in program (layer) order: [B, H, L, S]
    std::vector<std::string> kinds;     // "sdpa", "native_mha", "encoder_layer" or "softmax" per layer
    std::vector<TensorValue> outputs;   // the model's outputs from the same run
};

/// The attention sites forward contains (executed or not), by kind, in program order.
std::vector<std::string> attentionSites(Model &model);
/// Runs the model once and returns every executed site's probabilities. Throws Error(BadInput) for a model
/// with no attention site.
AttentionResult computeAttention(Model &model, const TensorValue &input);
/// [B, layers, H, L, S]; every layer must have the same heads and sequence lengths.
TensorValue stackAttention(const AttentionResult &result);

/// Attention rollout: per layer the head mean Ā, then 0.5·Ā + 0.5·I, multiplied across layers (last layer
/// leftmost): [B, L, L]. Layers must be square ([B, H, L, L]).
TensorValue attentionRollout(const std::vector<TensorValue> &layers);
/// Gradient-weighted rollout for a target class: per layer I + mean_h((∂y/∂A ⊙ A)⁺), multiplied across
/// layers: [B, L, L]. target < 0: the predicted class.
TensorValue gradientRollout(Model &model, const TensorValue &input, int target = -1);

/// Layer integrated gradients on an embedding layer's output (token attributions for text): the layer's
/// output is interpolated from the baseline's (the same ids with every token but the first and last replaced
/// by `padId`) to the input's, the target's gradient integrated (Gauss–Legendre, `steps` points), and
/// (E − E_b) · ∫∇ summed over the embedding dimension per token.
struct TokenAttribution {
    std::vector<double> scores;   // per token
    int target = 0;
    double delta = 0;   // Σ scores − (f(x) − f(baseline)): the completeness error
    std::string layer;
};
TokenAttribution tokenAttributions(Model &model, const TensorValue &ids, const std::string &layer = "", int target = -1, int steps = 50,
                                   int64_t padId = 0);
/// The model's embedding layer: metadata "embedding_layer", else the first called Embedding module; "" if none.
std::string embeddingLayer(const Model &model);

}   // namespace pellucid
