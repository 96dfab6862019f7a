#pragma once
// Language models: what an autoregressive (causal) LM writes, token by token, and why. Any TorchScript model
// forward(ids int64 [B, L]) -> logits [B, L, V], traced or scripted. Its parts — the token embedding, the
// blocks, the final norm and the unembedding — come from metadata ("lm": {"embedding", "blocks",
// "final_norm", "unembed"}) or from the module names of GPT-2 / nanoGPT (transformer.wte, transformer.h.N,
// transformer.ln_f, lm_head) and Llama (model.embed_tokens, model.layers.N, model.norm, lm_head).
//
// Generation (greedy, temperature, top-k, top-p, seeded) records each step's probability, entropy and
// alternatives; per-step attribution explains generated token i by every earlier token j (saliency, input ×
// gradient and integrated gradients on the token embedding's output, batched over the steps; ablation; the
// last layer's attention and rollout); the logit lens decodes every block's output through the final norm
// (its statistics recomputed per block) and the unembedding.
#include "engine/core/tensorvalue.h"
#include "engine/runtime/model.h"

#include <functional>
#include <string>
#include <vector>

namespace pellucid {

struct LanguageModelParts {
    std::string embedding;             // the token embedding module (its output is what attributions perturb)
    std::vector<std::string> blocks;   // the transformer blocks, in order
    std::string finalNorm;             // "" when the model has none
    std::string unembed;               // the output projection module ("" when tied and not a module)
    int64_t context = 0;               // the longest sequence (metadata lm.context, else the position table's rows; 0: unknown)
    int64_t bos = -1, eos = -1;        // metadata lm.bos_id / eos_id (−1: none)
};

/// The model's parts. Throws Error(BadInput) naming what is missing and listing candidates.
LanguageModelParts languageModelParts(const Model &model);
/// Whether the model is a causal LM: metadata task "language_model", or its parts are found by name.
bool isLanguageModel(const Model &model);

struct GenerationOptions {
    int maxNew = 20;
    double temperature = 0;   // 0: greedy (the most probable token; ties to the lowest id, as torch.argmax)
    int topK = 0;             // 0: all
    double topP = 1;          // nucleus: the smallest set of most probable tokens whose mass reaches P
    uint64_t seed = 0;
    std::vector<int64_t> stopIds;   // generation ends after one of these (default: the model's eos)
    bool stopAtEos = true;
    int alternatives = 5;   // top-k alternatives recorded per step
    std::function<bool()> cancelled;
};

struct GenerationStep {
    int64_t id = 0;
    double probability = 0;   // of the chosen token, from the full (untempered) distribution
    double entropy = 0;       // of that distribution, in nats
    std::vector<int64_t> topIds;
    std::vector<double> topProbabilities;
};

struct Generation {
    std::vector<int64_t> ids;   // prompt + generated
    int64_t promptLength = 0;
    std::vector<GenerationStep> steps;
    std::string stopReason;   // "max_new", "stop_id", "context"
};

/// Generates from `prompt` (ids, BOS included when the model expects one). `onStep` sees each token as it is
/// chosen (streaming). Throws Error(BadInput) for an empty prompt, ids outside the vocabulary or bad options.
Generation generate(Model &model, const std::vector<int64_t> &prompt, const GenerationOptions &options,
                    const std::function<void(const GenerationStep &)> &onStep = {});

enum class GenerationMethod { Saliency, InputXGradient, IntegratedGradients, Ablation, Attention, Rollout };
bool parseGenerationMethod(const std::string &name, GenerationMethod &out);
const char *generationMethodName(GenerationMethod m);

struct GenerationAttributionOptions {
    GenerationMethod method = GenerationMethod::Saliency;
    int steps = 32;            // integrated gradients: Gauss–Legendre points
    int64_t baselineId = 0;    // ablation: the id put in token j's place
    int64_t contrastId = -1;   // ≥ 0: the target is log p(t) − log p(contrastId)
    std::function<bool()> cancelled;
};

struct GenerationAttribution {
    TensorValue scores;                 // [G, P + G]: row i = generated token i, column j = token j; 0 where j ≥ P + i
    std::vector<double> targets;        // per row: the explained value (log p, or the log-probability difference)
    std::vector<double> completeness;   // integrated gradients, per row: Σ_j score − (f(x) − f(0 · embeddings))
    // How the gradient methods ran: batched forward + backward passes, the token rows they computed, whether
    // the head ran only at each row's target position and whether rows were cut to their prefix.
    int64_t passes = 0, tokenRows = 0;
    bool headAtTargets = false, prefixRows = false;
};

/// Explains the tokens after `promptLength` in `ids` (prompt + continuation). Gradient methods batch the
/// generated steps (integrated gradients: steps × G rows) into few forward + backward passes: where the
/// model's numbers show it is exact (checked on the run), each pass ends at the last block with the final
/// norm and unembedding applied at the rows' target positions only, and rows of early steps are cut to
/// their prefix (grouped by length to minimise the work).
GenerationAttribution attributeGeneration(Model &model, const std::vector<int64_t> &ids, int64_t promptLength,
                                          const GenerationAttributionOptions &options);

struct LogitLens {
    std::vector<std::string> blocks;
    TensorValue probabilities;                  // [blocks, L, V]
    TensorValue entropy;                        // [blocks, L] nats
    TensorValue klToFinal;                      // [blocks, L]: KL(final ‖ block) in nats
    TensorValue finalRank;                      // [blocks, L]: the rank (0 = top) of the final layer's top token in the block's distribution
    std::vector<std::vector<int64_t>> topIds;   // per cell (block-major), the top-k ids
};

/// The tuned lens (Belrose et al. 2023): per block an affine translator h ↦ A·h + c, trained so that the
/// translated block output, through the final norm and the unembedding, matches the model's final
/// distribution (minimising KL(final ‖ lens) over a corpus). The last block keeps the identity.
struct TunedLens {
    std::vector<std::string> blocks;
    TensorValue weights;                    // [blocks, D, D] (A, applied as h · Aᵀ)
    TensorValue biases;                     // [blocks, D]
    std::vector<double> klLogit, klTuned;   // per block, mean KL(final ‖ lens) on the corpus before and after
};
struct TunedLensOptions {
    int steps = 300;   // Adam steps per block (full batch over the corpus' positions)
    double learningRate = 3e-3;
    std::function<bool()> cancelled;
};
/// Trains the translators on `sequences` (token ids, each ≤ the model's context). Throws Error(BadInput) for
/// an empty corpus.
TunedLens trainTunedLens(Model &model, const std::vector<std::vector<int64_t>> &sequences, const TunedLensOptions &options = {});
/// A tuned lens as one .npy file: float32 [blocks, D + 1, D] (rows 0…D−1: Aᵀ, row D: c); the blocks are the
/// model's. Written atomically.
void saveTunedLens(const TunedLens &lens, const std::string &path);
TunedLens loadTunedLens(const Model &model, const std::string &path);

/// Every block's output through the final norm (recomputing its statistics) and the unembedding; with
/// `tuned`, each block's output is translated first.
LogitLens logitLens(Model &model, const std::vector<int64_t> &ids, int topK = 5, const TunedLens *tuned = nullptr);

/// What the gradient methods cannot avoid, for pellucid-bench: one forward + backward of the G rows
/// [G, L] through the clone with the embedding's output replaced (a log-probability target per row), and one
/// plain forward of [1, L]; milliseconds, medians of `reps`.
struct LmPassCosts {
    double batchedForwardBackwardMs = 0, forwardMs = 0;   // medians
};
/// withBatchedPass false: only the plain forward is timed (the batched fields stay 0).
LmPassCosts languageModelPassCosts(Model &model, const std::vector<int64_t> &ids, int64_t promptLength, int reps, int warmUp = 3,
                                   bool withBatchedPass = true);

/// Activation patching (clean → corrupted). For every block (or its attention / MLP module) and position,
/// the corrupted run with that site's output at that position restored from the clean run: p(target) at the
/// last position. Beside it, attribution patching — the first-order estimate p_corrupt + (h_clean −
/// h_corrupt) · ∂p/∂h from one backward per site — and the Pearson correlation of the two effects.
/// Head: each attention head separately — its slice of the attention's output projection's input (the heads
/// side by side) restored at one position; rows block-major, `heads` per block.
enum class PatchSite { Block, Attention, Mlp, Head };
bool parsePatchSite(const std::string &name, PatchSite &out);
struct PatchingResult {
    std::vector<std::string> sites;   // the patched modules, one per row ("<projection> head h" per head)
    int64_t heads = 0;                // PatchSite::Head: heads per block (rows = blocks × heads)
    TensorValue probability;          // [sites, L]: p(target) with that site's output at that position restored
    TensorValue estimate;             // [sites, L]: attribution patching's estimate of the same
    int64_t target = 0;
    double pClean = 0, pCorrupt = 0;
    double agreement = 0;   // Pearson correlation of (probability − pCorrupt) and (estimate − pCorrupt)
};
/// `target` < 0: the clean run's most probable next token. Prompts must have equal lengths.
PatchingResult activationPatching(Model &model, const std::vector<int64_t> &clean, const std::vector<int64_t> &corrupt, int64_t target = -1,
                                  PatchSite site = PatchSite::Block);

}   // namespace pellucid
