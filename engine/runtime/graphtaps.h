#pragma once
// Internal to the engine (includes torch): layer taps by graph rewriting.
//
// TorchScript modules do not run Python hooks, so a tap is made by rewriting the forward graph:
// module calls (prim::CallMethod on a submodule) are inlined one by one with inlineCallTo, which returns
// the values that replace each call's outputs; the module path comes from the chain of prim::GetAttr
// nodes that leads from `self` to the called module (the names named_modules() prints). A requested
// value that lives inside an if/loop block is carried out of the block (an Optional output of the
// If, a loop-carried Optional for a Loop: the last iteration's value, as a forward hook would keep).
// The clone returns (original outputs..., tap values...) as one tuple and runs as a GraphFunction.
#include <torch/script.h>
#include <torch/csrc/jit/api/function_impl.h>

#include <memory>
#include <string>
#include <vector>

namespace pellucid::detail {

/// How the clone treats ReLUs (aten::relu / aten::relu_), for the modified-gradient methods.
enum class ReluMode {
    Keep,
    Guided,      // backward passes only positive gradient at positive input (guided backprop)
    Deconvnet,   // backward passes the positive part of the gradient whatever the input (deconvnet)
};

/// Registers pellucid::guided_relu and pellucid::deconv_relu (custom autograd) once.
void registerReluOps();
/// Registers pellucid::sdpa_probs, mha_probs and encoder_layer_probs (engine/attention.cpp).
void registerAttentionOps();
/// Scaled dot-product attention written out (scale, causal mask, attention mask, softmax, dropout, weighted
/// sum), returning (output, probabilities): behind both the aten op registered for LibTorch < 2
/// (engine/opscompat.cpp) and pellucid::sdpa_probs.
/// editSite ≥ 0: the probabilities pass through applyAttentionEdit(probs, editSite) before weighting the values.
std::tuple<at::Tensor, at::Tensor> explicitAttention(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value,
                                                     const c10::optional<at::Tensor> &attnMask, double dropoutP, bool isCausal,
                                                     c10::optional<double> scale, bool enableGqa, int64_t editSite = -1);

struct ModuleCall {
    std::string path;       // "layer4.1.relu"
    std::string typeName;   // "ReLU"
    int callCount = 0;      // call sites in the inlined forward
};

/// Every submodule called by forward, in the order of their (last) call.
std::vector<ModuleCall> listModuleCalls(const torch::jit::Module &module);

struct TappedForward {
    std::vector<std::string> paths;   // the tapped module paths, in output order
    size_t originalOutputs = 1;       // leading tuple elements that are the model's own outputs
    /// Per path, the tuple elements that may hold its output — every call of the module in program order
    /// (calls in an if's other branch are None when not taken); run() keeps the last one that ran, as a
    /// forward hook would. Empty: one element per path.
    std::vector<std::vector<size_t>> candidates;
    /// Per path: the graph holds no output for it at all (a traced module that returns its input unchanged).
    std::vector<bool> noOutput;
    /// The ReLUs (aten::relu / aten::relu_) given the ReluMode's backward; 0 for ReluMode::Keep.
    size_t relusReplaced = 0;
    std::shared_ptr<torch::jit::Graph> graph;
    std::unique_ptr<torch::jit::GraphFunction> function;

    /// Runs the clone: returns the tuple's elements. The module object is passed as `self`.
    std::vector<c10::IValue> run(const torch::jit::Module &module, std::vector<c10::IValue> inputs) const;
};

/// Builds the clone of forward that also returns the outputs of the given module calls. A path
/// "<module>#input" taps the first argument of that module's call (e.g. an attention's output projection's
/// input: the heads side by side).
/// Throws std::runtime_error for a path that forward never calls.
std::unique_ptr<TappedForward> buildTappedForward(const torch::jit::Module &module, const std::vector<std::string> &paths,
                                                  ReluMode relu = ReluMode::Keep);

/// The attention sites of a forward graph (module calls inlined), in program order, and a clone that also
/// returns every site's attention probabilities [B, H, L, S] (Optional: a site inside a branch that did not
/// run gives None). Fused sites are rewritten into explicit ones that return their probabilities:
/// aten::scaled_dot_product_attention → pellucid::sdpa_probs, aten::_native_multi_head_attention →
/// pellucid::mha_probs, aten::_transformer_encoder_layer_fwd → pellucid::encoder_layer_probs; a hand-written
/// attention (a softmax whose result feeds a matmul/bmm/einsum) is tapped as it is.
///
/// keyInputs tells cross-attention from self-attention by data flow: per site, a bit per forward argument
/// (bit 0: the first argument after self) whose tensors its keys are computed from — shapes read off a tensor
/// (aten::size) do not count. A softmax site's keys are the second operand of the product that makes its scores.
///
/// With `editable`, every site's probabilities pass through the edit the calling thread has set
/// (AttentionEditScope) before they weight the values: prompt-to-prompt's re-weighting and map injection.
struct AttentionForward {
    std::vector<std::string> kinds;    // per site: "sdpa", "native_mha", "encoder_layer", "softmax"
    std::vector<unsigned> keyInputs;   // per site: the forward arguments its keys depend on (bit i: argument i)
    std::unique_ptr<TappedForward> forward;
};
std::unique_ptr<AttentionForward> buildAttentionForward(const torch::jit::Module &module, bool editable = false);

/// What an editable attention clone does to its sites' probabilities on this thread. Per site (program
/// order, as AttentionForward::kinds): probabilities of the batch items from `fromItem` on (of `batch`) have
/// the key columns `replaceKeys` taken from `replace` (that site's probabilities of another run, the same
/// shape as those items'), then every key column multiplied by `weight` ([K]); undefined tensors: no change.
struct AttentionEdit {
    struct Site {
        at::Tensor weight;        // [K] or undefined
        at::Tensor replace;       // probabilities for the edited items, or undefined
        at::Tensor replaceKeys;   // [K] bool: the columns taken from `replace`
    };
    std::vector<Site> sites;
    int64_t batch = 1, fromItem = 0;
};
/// Sets the edit the editable clones apply on this thread for the scope's lifetime.
class AttentionEditScope {
public:
    explicit AttentionEditScope(const AttentionEdit *edit);
    ~AttentionEditScope();
    AttentionEditScope(const AttentionEditScope &) = delete;
    AttentionEditScope &operator=(const AttentionEditScope &) = delete;

private:
    const AttentionEdit *mPrevious;
};
/// The thread's edit applied to one site's probabilities ([B, H, Q, K] or [B·H, Q, K]); `probs` itself when
/// no edit is set for the site.
at::Tensor applyAttentionEdit(const at::Tensor &probs, int64_t site);

/// A clone of forward(x, replacement) in which the output of the module at `path` (its last call) is
/// replaced by the extra input `replacement` — for layer attributions (e.g. integrated gradients on an
/// embedding's output). The clone returns (outputs..., the module's original output). With cutAt, the
/// clone ends at the last call of that module: it returns (cutAt's output, the original output) and what
/// only fed the rest of forward is eliminated (a language model's head over every position).
std::unique_ptr<TappedForward> buildReplacedForward(const torch::jit::Module &module, const std::string &path, const std::string &cutAt = {});

}   // namespace pellucid::detail
