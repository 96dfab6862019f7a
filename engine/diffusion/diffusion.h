#pragma once
// Text-to-image diffusion: sampling any TorchScript denoiser forward(x_t float [B,C,H,W], t int64 [B],
// cond int64 [B,K]) -> ε (or v) [B,C,H,W] with DDIM (η = 0) or DDPM ancestral steps and classifier-free
// guidance; its cross-attention (the attention sites whose keys are computed from `cond`, told apart from
// self-attention by data flow) captured per step, turned into per-word heat maps (DAAM, Tang et al. 2023) and
// edited (prompt-to-prompt's re-weighting and map injection, Hertz et al. 2022); the x̂₀ trajectory through a
// companion classifier (when the picture is decided); the gradient of a region's score with respect to each
// word's embedding through the last steps; the per-word maps' mIoU against masks.
//
// The denoiser's metadata: role "denoiser", `vocab` (cond ids → words: a list, or {"id": "word"}), and
//   "diffusion": {"train_steps", "beta_schedule" (linear | scaled_linear | cosine), "beta_start", "beta_end",
//                 "prediction" (epsilon | v), "sample_shape" [1, C, H, W], "null_id", "image_range" [lo, hi]}
// optionally "regions" [{"name", "token", "box": [y0, x0, y1, x1]}] (where each prompt position belongs: the
// ground truth of mIoU, the trajectory lens's crops), "prompt_length", "companion_classifier" (a file beside it),
// "embedding_layer" (the module whose output are the word embeddings; else the first Embedding called).
#include "engine/core/tensorvalue.h"
#include "engine/runtime/model.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pellucid {

struct DiffusionRegion {
    std::string name;
    int token = -1;                           // the prompt position that belongs here (-1: none)
    int64_t y0 = 0, x0 = 0, y1 = 0, x1 = 0;   // pixel box, end exclusive
};

struct DiffusionConfig {
    int64_t trainSteps = 1000;
    std::string betaSchedule = "linear";   // "linear", "scaled_linear", "cosine"
    double betaStart = 1e-4, betaEnd = 0.02;
    std::string prediction = "epsilon";   // or "v"
    Shape sampleShape;                    // [1, C, H, W]
    int64_t nullId = 0;
    double rangeLo = -1, rangeHi = 1;   // the pixel range of samples
    std::vector<std::string> vocab;     // id → word ("" for ids the vocabulary leaves out)
    int64_t promptLength = 0;           // 0: not fixed
    std::vector<DiffusionRegion> regions;
    std::string companionClassifier;   // as the metadata names it (relative to the model's folder)
    std::string embeddingLayer;        // "" when the model has none
};

/// Whether a model's metadata says it is a denoiser (role "denoiser" or a "diffusion" block).
bool isDenoiser(const Model &model);
/// The model's diffusion settings; Error(BadInput) for a model that is not a denoiser, Error(BadMetadata)
/// naming the field for a schedule, prediction, shape or vocabulary the metadata gets wrong.
DiffusionConfig diffusionConfig(const Model &model);
/// ᾱ_t for t = 0 … T−1 in double precision (cumulative product of 1 − β from the schedule).
std::vector<double> alphasCumprod(const DiffusionConfig &c);
/// The N sampling timesteps, "leading": t_k = k·(T/N) for k = N−1 … 0 (first step first).
std::vector<int64_t> samplingTimesteps(const DiffusionConfig &c, int steps);
/// Words (space-separated, from the vocabulary, case-insensitive) or ids ("3,7") to cond ids; Error(BadInput)
/// naming an unknown word.
std::vector<int64_t> promptToIds(const DiffusionConfig &c, const std::string &prompt);
/// Error(BadInput) for ids outside the vocabulary or a prompt of the wrong length.
void checkCondIds(const DiffusionConfig &c, const std::vector<int64_t> &ids);
/// The word of each id ("#id" when the vocabulary has none).
std::vector<std::string> idsToWords(const DiffusionConfig &c, const std::vector<int64_t> &ids);
/// Samples in the image range mapped to [0, 1] (clamped; NaN stays NaN) for display and image files.
TensorValue toUnitRange(const DiffusionConfig &c, const TensorValue &images);
/// The full path of the companion classifier the metadata names ("" when none or the file is missing).
std::string companionClassifierPath(const Model &denoiser);

struct DenoiserSite {
    std::string kind;     // "softmax", "sdpa", "native_mha", "encoder_layer"
    bool cross = false;   // keys computed from cond and not from x_t
};
/// Every attention site of the denoiser's forward, in program order.
std::vector<DenoiserSite> denoiserSites(Model &model);

enum class Sampler { Ddim, Ddpm };
const char *samplerName(Sampler s);
bool parseSampler(const std::string &name, Sampler &out);

/// Maps to inject into a run (prompt-to-prompt's word swap): per cross-attention site, the probabilities of
/// another run ([N, heads, Q, K], conditional pass), and which key columns to take from them.
struct AttentionInjection {
    std::vector<TensorValue> maps;
    std::vector<bool> keys;   // [K]
};

struct DiffusionRequest {
    std::vector<int64_t> cond;   // [K] ids
    int steps = 50;
    uint64_t seed = 0;
    Sampler sampler = Sampler::Ddim;
    double guidance = 1.0;   // 1: the conditional pass only
    bool clipX0 = false;     // clamp x̂₀ to the image range
    bool captureAttention = false;
    /// Re-weighting: the cross-attention of prompt position `reweightToken` times `reweightFactor` (every site,
    /// every step, the conditional pass), not renormalised.
    int reweightToken = -1;
    double reweightFactor = 1.0;
    const AttentionInjection *inject = nullptr;
    /// Steps stream here (x_t after the step, x̂₀ of the step); return false to stop (Error(Cancelled)).
    std::function<bool(int step, int64_t t, const TensorValue &xt, const TensorValue &x0)> onStep;
    std::function<bool()> cancelled;
};

struct DiffusionResult {
    TensorValue sample;       // [1, C, H, W]: the final x
    TensorValue trajectory;   // [N, C, H, W]: x̂₀ of each step, first step first
    TensorValue states;       // [N, C, H, W]: x_t after each step
    std::vector<int64_t> timesteps;
    std::vector<int64_t> cond;
    std::vector<DenoiserSite> sites;           // every site (captureAttention or an edit)
    std::vector<int> crossSites;               // the indices of the cross-attention sites in `sites`
    std::vector<TensorValue> crossAttention;   // per cross site: [N, heads, Q, K] (captureAttention)
    double seconds = 0;                        // the sampling loop's wall time
    int denoiserCalls = 0;                     // forward passes (a guided step is one batched pass)
};

/// Samples the denoiser. x_T is drawn as torch.manual_seed(seed); torch.randn(sample_shape) on the CPU (DDPM's
/// per-step noise follows from the same generator). Error(BadInput) for ids outside the vocabulary, a
/// re-weighted position outside the prompt, maps to inject of the wrong shape; Error(ModelError) naming the
/// step when ε holds NaN or ±inf.
DiffusionResult sampleDiffusion(Model &model, const DiffusionRequest &request);

/// Per-word heat maps from a run's cross-attention [K, H, W]: every head's [Q] map of a word reshaped to the
/// site's h×w (h·w = Q in the sample's aspect ratio), bicubically upsampled (align_corners false) to H×W,
/// clamped at 0, then averaged over heads, sites and steps. Filters: steps [stepFrom, stepTo] (−1: the last),
/// one cross site (index into crossSites, −1: all), one head (−1: all).
struct HeatMapFilter {
    int stepFrom = 0, stepTo = -1;
    int site = -1;
    int head = -1;
};
TensorValue wordHeatMaps(const DiffusionResult &r, const HeatMapFilter &f = {});
/// The grid h×w of a site's Q queries for an H×W sample; Error(BadInput) when Q is no grid of that aspect.
std::pair<int64_t, int64_t> queryGrid(int64_t Q, int64_t H, int64_t W);

/// IoU of each word's map (divided by its maximum, then ≥ threshold: DAAM's) with its mask ([H, W], nonzero = in).
/// `minMax`: the map scaled from its minimum to its maximum instead — with few words (the softmax over K keys
/// sums to 1, so two words' maps are complementary and never near 0) max-normalised maps cover the image.
std::vector<double> mapIoU(const TensorValue &maps, const std::vector<TensorValue> &masks, double threshold = 0.4, bool minMax = false);
/// The masks of the metadata's regions for each prompt position ([H, W], 1 inside); positions without a
/// region get an empty TensorValue.
std::vector<TensorValue> regionMasks(const DiffusionConfig &c, int64_t promptLength);

/// The trajectory through a classifier: each step's x̂₀, each region cropped (the whole image when no region),
/// mapped from the image range to the classifier's input range, resized to its input size, normalised per its
/// metadata: softmax probabilities [N, regions, classes].
struct TrajectoryLens {
    std::vector<std::string> regions;
    std::vector<std::string> labels;
    TensorValue probabilities;   // [N, R, classes]
};
TrajectoryLens trajectoryLens(Model &classifier, const DiffusionConfig &c, const TensorValue &trajectory);
/// The same map from samples to a classifier's inputs: images [N, C, h, w] in the image range → what the
/// classifier takes (crop box [y0, x0, y1, x1]; all zero: the whole image).
TensorValue classifierInput(const Model &classifier, const DiffusionConfig &c, const TensorValue &images, const DiffusionRegion &box);

/// The gradient of a score of the final sample with respect to each word's embedding, through the last
/// `lastSteps` steps (the earlier ones run without gradients; the same seed, sampler and guidance): the score is
/// the region's mean pixel value, or with a classifier the probability of `classIndex` of the region's crop.
struct WordGradient {
    std::vector<std::string> words;
    std::vector<double> norm;             // ‖∂score/∂e_k‖ per prompt position
    std::vector<double> gradTimesInput;   // Σ_d e_kd · ∂score/∂e_kd
    double score = 0;
    std::string layer;
};
WordGradient wordGradients(Model &model, const DiffusionRequest &request, int lastSteps, const DiffusionRegion &region, Model *classifier = nullptr,
                           int classIndex = -1);

}   // namespace pellucid
