// Attention extraction: explicit replacements of PyTorch's fused attention kernels that also return their
// probabilities (registered as pellucid:: operators, differentiable), the clone that returns every site's
// probabilities, and the rollouts.
#include <torch/library.h>
#include <torch/torch.h>

#include "engine/attention/attention.h"

#include "engine/attribution/attribution.h"
#include "engine/core/errors.h"
#include "engine/runtime/modelimpl.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace pellucid {
namespace detail {
namespace {

const double kNegInf = -std::numeric_limits<double>::infinity();

/// Scores with the native kernels' mask applied: bool True = masked out; float masks are added.
at::Tensor maskScores(at::Tensor scores, const at::Tensor &mask)
{
    if (mask.scalar_type() == at::kBool) return scores.masked_fill(mask, kNegInf);
    return scores + mask;
}

std::tuple<at::Tensor, at::Tensor> sdpaProbs(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value,
                                             const c10::optional<at::Tensor> &attnMask, double dropoutP, bool isCausal, c10::optional<double> scale,
                                             bool enableGqa)
{
    return explicitAttention(query, key, value, attnMask, dropoutP, isCausal, scale, enableGqa);
}

/// Explicit _native_multi_head_attention (batch-first [B, T, E]) returning (out, weights, probs [B, H, T, S]).
std::tuple<at::Tensor, at::Tensor, at::Tensor> mhaProbsAt(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value, int64_t embedDim,
                                                          int64_t heads, const at::Tensor &qkvWeight, const at::Tensor &qkvBias,
                                                          const at::Tensor &projWeight, const at::Tensor &projBias,
                                                          const c10::optional<at::Tensor> &mask, bool needWeights, bool averageWeights,
                                                          c10::optional<int64_t> maskType, int64_t editSite)
{
    const int64_t B = query.size(0), T = query.size(1), S = key.size(1), dh = embedDim / heads;
    const auto w = qkvWeight.chunk(3, 0);
    const auto b = qkvBias.chunk(3, 0);
    auto split = [&](const at::Tensor &x, int64_t len) { return x.view({B, len, heads, dh}).transpose(1, 2); };
    const at::Tensor q = split(at::linear(query, w[0], b[0]), T) / std::sqrt(double(dh));
    const at::Tensor k = split(at::linear(key, w[1], b[1]), S);
    const at::Tensor v = split(at::linear(value, w[2], b[2]), S);
    at::Tensor scores = at::matmul(q, k.transpose(-2, -1));   // [B, H, T, S]
    if (mask.has_value() && mask->defined()) {
        at::Tensor m = *mask;
        const int64_t type = maskType.has_value() ? *maskType : (m.dim() == 2 && m.size(0) == B && m.size(1) == S && B != T ? 1 : 0);
        if (type == 1)
            m = m.view({B, 1, 1, S});   // key padding mask [B, S]
        else if (m.dim() == 2)
            m = m.view({1, 1, T, S});   // attention mask [T, S]
        scores = maskScores(scores, m);
    }
    at::Tensor probs = at::softmax(scores, -1);
    if (mask.has_value() && mask->defined()) probs = probs.nan_to_num(0.0);   // fully masked rows give 0, as the kernel
    if (editSite >= 0) probs = applyAttentionEdit(probs, editSite);
    const at::Tensor ctx = at::matmul(probs, v).transpose(1, 2).reshape({B, T, embedDim});
    const at::Tensor out = at::linear(ctx, projWeight, projBias);
    at::Tensor weights;
    if (needWeights)
        weights = averageWeights ? probs.sum(1) / double(heads) : probs;
    else
        weights = at::empty({0}, query.options());
    return {out, weights, probs};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> mhaProbs(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value, int64_t embedDim,
                                                        int64_t heads, const at::Tensor &qkvWeight, const at::Tensor &qkvBias,
                                                        const at::Tensor &projWeight, const at::Tensor &projBias,
                                                        const c10::optional<at::Tensor> &mask, bool needWeights, bool averageWeights,
                                                        c10::optional<int64_t> maskType)
{
    return mhaProbsAt(query, key, value, embedDim, heads, qkvWeight, qkvBias, projWeight, projBias, mask, needWeights, averageWeights, maskType, -1);
}

std::tuple<at::Tensor, at::Tensor> encoderLayerProbs(const at::Tensor &src, int64_t embedDim, int64_t heads, const at::Tensor &qkvWeight,
                                                     const at::Tensor &qkvBias, const at::Tensor &projWeight, const at::Tensor &projBias,
                                                     bool useGelu, bool normFirst, double eps, const at::Tensor &nw1, const at::Tensor &nb1,
                                                     const at::Tensor &nw2, const at::Tensor &nb2, const at::Tensor &fw1, const at::Tensor &fb1,
                                                     const at::Tensor &fw2, const at::Tensor &fb2, const c10::optional<at::Tensor> &mask,
                                                     c10::optional<int64_t> maskType)
{
    auto norm = [&](const at::Tensor &x, const at::Tensor &w, const at::Tensor &b) { return at::layer_norm(x, {embedDim}, w, b, eps); };
    at::Tensor x = normFirst ? norm(src, nw1, nb1) : src;
    auto [attn, weights, probs] = mhaProbs(x, x, x, embedDim, heads, qkvWeight, qkvBias, projWeight, projBias, mask, false, true, maskType);
    (void)weights;
    x = attn + src;
    if (!normFirst) x = norm(x, nw1, nb1);
    const at::Tensor residual = x;
    if (normFirst) x = norm(x, nw2, nb2);
    x = at::linear(x, fw1, fb1);
    x = useGelu ? at::gelu(x) : at::relu(x);
    x = at::linear(x, fw2, fb2) + residual;
    if (!normFirst) x = norm(x, nw2, nb2);
    return {x, probs};
}

std::tuple<at::Tensor, at::Tensor> sdpaProbsEdit(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value,
                                                 const c10::optional<at::Tensor> &attnMask, double dropoutP, bool isCausal,
                                                 c10::optional<double> scale, bool enableGqa, int64_t site)
{
    return explicitAttention(query, key, value, attnMask, dropoutP, isCausal, scale, enableGqa, site);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> mhaProbsEdit(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value, int64_t embedDim,
                                                            int64_t heads, const at::Tensor &qkvWeight, const at::Tensor &qkvBias,
                                                            const at::Tensor &projWeight, const at::Tensor &projBias,
                                                            const c10::optional<at::Tensor> &mask, bool needWeights, bool averageWeights,
                                                            c10::optional<int64_t> maskType, int64_t site)
{
    return mhaProbsAt(query, key, value, embedDim, heads, qkvWeight, qkvBias, projWeight, projBias, mask, needWeights, averageWeights, maskType,
                      site);
}

at::Tensor attnEdit(const at::Tensor &probs, int64_t site) { return applyAttentionEdit(probs, site); }

thread_local const AttentionEdit *tCurrentEdit = nullptr;

}   // namespace

AttentionEditScope::AttentionEditScope(const AttentionEdit *edit) : mPrevious(tCurrentEdit) { tCurrentEdit = edit; }
AttentionEditScope::~AttentionEditScope() { tCurrentEdit = mPrevious; }

at::Tensor applyAttentionEdit(const at::Tensor &probs, int64_t site)
{
    const AttentionEdit *e = tCurrentEdit;
    if (!e || site < 0 || size_t(site) >= e->sites.size()) return probs;
    const AttentionEdit::Site &s = e->sites[size_t(site)];
    if (!s.weight.defined() && !s.replace.defined()) return probs;
    // [B, H, Q, K] or [B·H, Q, K]: the edited items are the rows from fromItem·(rows per item) on.
    const int64_t rows = probs.size(0), per = e->batch > 0 && rows % e->batch == 0 ? rows / e->batch : 1;
    const int64_t from = std::min(rows, e->fromItem * per);
    at::Tensor edited = probs.narrow(0, from, rows - from);
    if (s.replace.defined()) {
        if (s.replace.numel() != edited.numel())
            throw std::runtime_error("attention injection: site " + std::to_string(site) + " holds " + std::to_string(edited.numel())
                                     + " probabilities, the injected maps " + std::to_string(s.replace.numel()));
        edited = at::where(s.replaceKeys.to(edited.device()), s.replace.to(edited.device(), edited.scalar_type()).view(edited.sizes()), edited);
    }
    if (s.weight.defined()) edited = edited * s.weight.to(edited.device(), edited.scalar_type());
    return from == 0 ? edited : at::cat({probs.narrow(0, 0, from), edited}, 0);
}

void registerAttentionOps() { }   // the registrations below run at load; referencing this keeps the object linked

TORCH_LIBRARY_FRAGMENT(pellucid, m)
{
    m.def("sdpa_probs(Tensor query, Tensor key, Tensor value, Tensor? attn_mask=None, float dropout_p=0.0, bool is_causal=False, "
          "float? scale=None, bool enable_gqa=False) -> (Tensor, Tensor)");
    m.def("mha_probs(Tensor query, Tensor key, Tensor value, int embed_dim, int num_head, Tensor qkv_weight, Tensor qkv_bias, "
          "Tensor proj_weight, Tensor proj_bias, Tensor? mask=None, bool need_weights=True, bool average_attn_weights=True, "
          "int? mask_type=None) -> (Tensor, Tensor, Tensor)");
    m.def("encoder_layer_probs(Tensor src, int embed_dim, int num_heads, Tensor qkv_weight, Tensor qkv_bias, Tensor proj_weight, "
          "Tensor proj_bias, bool use_gelu, bool norm_first, float eps, Tensor norm_weight_1, Tensor norm_bias_1, "
          "Tensor norm_weight_2, Tensor norm_bias_2, Tensor ffn_weight_1, Tensor ffn_bias_1, Tensor ffn_weight_2, "
          "Tensor ffn_bias_2, Tensor? mask=None, int? mask_type=None) -> (Tensor, Tensor)");
    m.def("sdpa_probs_edit(Tensor query, Tensor key, Tensor value, Tensor? attn_mask, float dropout_p, bool is_causal, "
          "float? scale, bool enable_gqa, int site) -> (Tensor, Tensor)");
    m.def("mha_probs_edit(Tensor query, Tensor key, Tensor value, int embed_dim, int num_head, Tensor qkv_weight, Tensor qkv_bias, "
          "Tensor proj_weight, Tensor proj_bias, Tensor? mask, bool need_weights, bool average_attn_weights, "
          "int? mask_type, int site) -> (Tensor, Tensor, Tensor)");
    m.def("attn_edit(Tensor(a) probs, int site) -> Tensor(a)");
    m.impl("sdpa_probs_edit", c10::DispatchKey::CompositeImplicitAutograd, TORCH_FN(sdpaProbsEdit));
    m.impl("mha_probs_edit", c10::DispatchKey::CompositeImplicitAutograd, TORCH_FN(mhaProbsEdit));
    m.impl("attn_edit", c10::DispatchKey::CompositeImplicitAutograd, TORCH_FN(attnEdit));
    m.impl("sdpa_probs", c10::DispatchKey::CompositeImplicitAutograd, TORCH_FN(sdpaProbs));
    m.impl("mha_probs", c10::DispatchKey::CompositeImplicitAutograd, TORCH_FN(mhaProbs));
    m.impl("encoder_layer_probs", c10::DispatchKey::CompositeImplicitAutograd, TORCH_FN(encoderLayerProbs));
}

}   // namespace detail

namespace {

detail::AttentionForward &attentionForward(Model &model)
{
    requireTorchScript(model, "Attention extraction");
    Model::Impl &d = model.impl();
    if (!d.attention) {
        try {
            d.attention = detail::buildAttentionForward(d.torchModule());
        } catch (const std::exception &e) {
            throw Error(ErrorCode::ModelError, "Cannot rewrite the attention of " + d.summary.fileName + ": " + e.what());
        }
    }
    if (d.attention->kinds.empty())
        throw Error(ErrorCode::BadInput,
                    d.summary.fileName
                        + " has no attention site (no scaled_dot_product_attention, multi-head "
                          "attention kernel, encoder-layer kernel, or softmax feeding a matrix product)");
    return *d.attention;
}

/// Runs the attention clone; returns the model outputs and the executed sites' probabilities [B, H, L, S].
void runAttention(Model &model, const at::Tensor &x, std::vector<at::Tensor> &outputs, std::vector<at::Tensor> &probs,
                  std::vector<std::string> &kinds)
{
    Model::Impl &d = model.impl();
    detail::AttentionForward &af = attentionForward(model);
    std::vector<c10::IValue> result;
    try {
        result = af.forward->run(d.torchModule(), {x});
    } catch (const c10::Error &e) {
        throw Error(ErrorCode::ModelError, "The model raised: " + std::string(e.what_without_backtrace()).substr(0, 600));
    }
    const size_t n = af.forward->originalOutputs;
    for (size_t i = 0; i < n && i < result.size(); ++i) flattenTensors(result[i], outputs);
    const int64_t batch = x.dim() > 0 ? x.size(0) : 1;
    for (size_t i = n; i < result.size(); ++i) {
        if (result[i].isNone()) continue;   // a site in a branch that did not run
        at::Tensor p = result[i].toTensor();
        if (p.dim() == 3 && batch > 0 && p.size(0) % batch == 0) p = p.view({batch, p.size(0) / batch, p.size(1), p.size(2)});
        if (p.dim() != 4) continue;   // not an attention matrix after all
        probs.push_back(p);
        kinds.push_back(af.kinds[i - n]);
    }
}

at::Tensor valueToTorch(const TensorValue &t) { return torch::from_blob(const_cast<float *>(t.data()), t.shape(), torch::kFloat).clone(); }

at::Tensor rolloutOf(const std::vector<at::Tensor> &mats)
{
    at::Tensor r;
    for (const at::Tensor &a : mats) r = r.defined() ? at::matmul(a, r) : a;
    return r;
}

}   // namespace

std::vector<std::string> attentionSites(Model &model)
{
    Model::Impl &d = model.impl();
    if (!d.attention) d.attention = detail::buildAttentionForward(d.torchModule());
    return d.attention->kinds;
}

AttentionResult computeAttention(Model &model, const TensorValue &input)
{
    torch::NoGradGuard ng;
    Model::Impl &d = model.impl();
    std::vector<at::Tensor> outs, probs;
    AttentionResult r;
    runAttention(model, d.toTorch(input), outs, probs, r.kinds);
    if (probs.empty()) throw Error(ErrorCode::BadInput, d.summary.fileName + ": no attention site ran for this input");
    for (const at::Tensor &p : probs) r.layers.push_back(tensorToValue(p.to(torch::kCPU).to(torch::kFloat).contiguous()));
    for (const at::Tensor &o : outs) r.outputs.push_back(tensorToValue(o.to(torch::kCPU).to(torch::kFloat).contiguous()));
    return r;
}

TensorValue stackAttention(const AttentionResult &r)
{
    if (r.layers.empty()) throw Error(ErrorCode::BadInput, "No attention layers to stack");
    const Shape s = r.layers[0].shape();
    std::vector<float> all;
    for (size_t l = 0; l < r.layers.size(); ++l) {
        if (r.layers[l].shape() != s)
            throw Error(ErrorCode::BadInput,
                        "Attention layers differ in shape (" + shapeToString(s) + " and " + shapeToString(r.layers[l].shape()) + " at layer "
                            + std::to_string(l) + "): they cannot be stacked");
        all.insert(all.end(), r.layers[l].data(), r.layers[l].data() + r.layers[l].numel());
    }
    // [L, B, H, Q, K] → [B, L, H, Q, K]
    const int64_t L = int64_t(r.layers.size()), B = s[0], per = r.layers[0].numel() / B;
    std::vector<float> out(all.size());
    for (int64_t l = 0; l < L; ++l)
        for (int64_t b = 0; b < B; ++b)
            std::copy(all.begin() + (l * B + b) * per, all.begin() + (l * B + b + 1) * per, out.begin() + (b * L + l) * per);
    return TensorValue({B, L, s[1], s[2], s[3]}, std::move(out));
}

TensorValue attentionRollout(const std::vector<TensorValue> &layers)
{
    if (layers.empty()) throw Error(ErrorCode::BadInput, "Rollout needs at least one attention layer");
    torch::NoGradGuard ng;
    std::vector<at::Tensor> mats;
    for (const TensorValue &l : layers) {
        if (l.shape().size() != 4 || l.dim(2) != l.dim(3))
            throw Error(ErrorCode::BadInput, "Rollout needs square self-attention [B, H, L, L], not " + shapeToString(l.shape()));
        const at::Tensor a = valueToTorch(l).to(torch::kDouble).mean(1);
        mats.push_back(0.5 * a + 0.5 * at::eye(a.size(-1), a.options()).unsqueeze(0));
    }
    return tensorToValue(rolloutOf(mats).to(torch::kFloat).contiguous());
}

TensorValue gradientRollout(Model &model, const TensorValue &input, int target)
{
    Model::Impl &d = model.impl();
    torch::AutoGradMode grad(true);
    std::vector<at::Tensor> outs, probs;
    std::vector<std::string> kinds;
    runAttention(model, d.toTorch(input), outs, probs, kinds);
    if (probs.empty()) throw Error(ErrorCode::BadInput, d.summary.fileName + ": no attention site ran for this input");
    if (outs.empty() || outs[0].dim() != 2) throw Error(ErrorCode::BadInput, "Gradient rollout needs class scores [B, K] as the first output");
    const at::Tensor logits = outs[0];
    const int64_t K = logits.size(1);
    if (target >= K)
        throw Error(ErrorCode::BadInput, "Target class " + std::to_string(target) + " is outside the model's 0–" + std::to_string(K - 1));
    const at::Tensor idx = target >= 0 ? at::full({logits.size(0)}, int64_t(target), torch::kLong).to(logits.device()) : logits.argmax(1);
    const at::Tensor y = logits.gather(1, idx.unsqueeze(1)).sum();
    for (const at::Tensor &p : probs)
        if (!p.requires_grad())
            throw Error(ErrorCode::BadInput, "The attention does not depend on trainable parameters or the input: no gradient to weight it by");
    const std::vector<at::Tensor> grads =
        torch::autograd::grad({y}, probs, {}, /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
    torch::NoGradGuard ng;
    std::vector<at::Tensor> mats;
    for (size_t l = 0; l < probs.size(); ++l) {
        const at::Tensor a = probs[l].detach().to(torch::kDouble);
        if (a.size(2) != a.size(3)) throw Error(ErrorCode::BadInput, "Rollout needs square self-attention");
        const at::Tensor g = grads[l].defined() ? grads[l].to(torch::kDouble) : at::zeros_like(a);
        const at::Tensor cam = (g * a).clamp_min(0).mean(1);
        mats.push_back(cam + at::eye(a.size(-1), a.options()).unsqueeze(0));
    }
    return tensorToValue(rolloutOf(mats).to(torch::kCPU).to(torch::kFloat).contiguous());
}

std::string embeddingLayer(const Model &model)
{
    const ModelSummary &s = model.summary();
    if (const Json *e = s.metadata.raw.find("embedding_layer"); e && e->isString()) return e->asString();
    for (const LayerInfo &l : s.layers)
        if (l.op == "Embedding" && l.calls > 0) return l.path;
    return "";
}

TokenAttribution tokenAttributions(Model &model, const TensorValue &ids, const std::string &layerName, int target, int steps, int64_t padId)
{
    Model::Impl &d = model.impl();
    const std::string layer = layerName.empty() ? embeddingLayer(model) : layerName;
    if (layer.empty()) throw Error(ErrorCode::BadInput, d.summary.fileName + " has no embedding layer (name one: metadata \"embedding_layer\")");
    const std::string path = d.checkedPath(model, layer);
    if (ids.shape().size() != 2 || ids.dim(0) != 1)
        throw Error(ErrorCode::BadInput, "Token attributions take one sequence of ids [1, T], not " + shapeToString(ids.shape()));
    if (steps < 2) throw Error(ErrorCode::BadInput, "Integrated gradients need at least 2 steps");
    const at::Tensor x = d.toTorch(ids);
    at::Tensor xb = x.clone();
    if (xb.size(1) > 2) xb.narrow(1, 1, xb.size(1) - 2).fill_(padId);
    std::shared_ptr<detail::TappedForward> tf;
    try {
        tf = d.replaced(path);
    } catch (const std::exception &e) {
        throw Error(ErrorCode::BadInput, "Cannot attribute at layer " + layer + ": " + e.what());
    }
    at::Tensor E, Eb, logits;
    {
        torch::NoGradGuard ng;
        const auto r = d.runTapped(x, {path});
        std::vector<at::Tensor> outs, taps;
        flattenTensors(r.at(0), outs);
        flattenTensors(r.at(1), taps);
        logits = outs.at(0);
        E = taps.at(0);
        std::vector<at::Tensor> tb;
        flattenTensors(d.runTapped(xb, {path}).at(1), tb);
        Eb = tb.at(0);
    }
    if (logits.dim() != 2) throw Error(ErrorCode::BadInput, "Token attributions need class scores [1, K] as the first output");
    const int64_t K = logits.size(1);
    const int t = target >= 0 ? target : int(logits.argmax(1).item<int64_t>());
    if (t >= K) throw Error(ErrorCode::BadInput, "Target class " + std::to_string(t) + " is outside the model's 0–" + std::to_string(K - 1));
    std::vector<double> alphas, weights;
    integrationPoints(IntegrationRule::GaussLegendre, steps, alphas, weights);
    at::Tensor total = at::zeros_like(E, E.options().dtype(torch::kDouble));
    auto score = [&](const at::Tensor &ids, const at::Tensor &emb) {
        std::vector<at::Tensor> outs;
        flattenTensors(tf->run(d.torchModule(), {ids, emb}).at(0), outs);
        return outs.at(0)[0][t];
    };
    for (size_t k = 0; k < alphas.size(); ++k) {
        torch::AutoGradMode on(true);
        const at::Tensor r = (Eb + alphas[k] * (E - Eb)).detach().requires_grad_(true);
        const at::Tensor y = score(x, r);
        total += weights[k] * torch::autograd::grad({y}, {r})[0].to(torch::kDouble);
    }
    const at::Tensor attr = ((E - Eb).to(torch::kDouble) * total).sum(-1).reshape({-1}).to(torch::kCPU).contiguous();
    TokenAttribution out;
    out.layer = layer;
    out.target = t;
    out.scores.assign(attr.data_ptr<double>(), attr.data_ptr<double>() + attr.numel());
    double sum = 0;
    for (double v : out.scores) sum += v;
    torch::NoGradGuard ng;
    const double fx = score(x, E).item<double>(), fb = score(x, Eb).item<double>();
    out.delta = sum - (fx - fb);
    return out;
}

}   // namespace pellucid
