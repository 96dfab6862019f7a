#pragma once
// Generative models: latent traversals, interpolation (lerp / slerp) and sampling, decoded by a
// generator or decoder model (metadata "role": "generator" or "decoder"; "latent": {"dim": D}).
#include "engine/runtime/model.h"
#include "engine/core/tensorvalue.h"

#include <functional>
#include <string>
#include <vector>

namespace pellucid {

enum class InterpolationMode { Lerp, Slerp };

/// The latent size a generator expects (metadata latent.dim, else its input shape); throws Error(BadInput)
/// when the model has no generator/decoder/conditional_generator role.
int64_t latentDim(const Model &model);
/// A conditional generator (metadata role "conditional_generator") is called as forward(z, class) with
/// int64 class indices [N]; its class names are metadata "labels" (or "classes": K).
bool isConditional(const Model &model);
int64_t conditionalClasses(const Model &model);
/// Checks a code [1, D] (or [D]) against the model: size and finiteness. Returns it as [1, D].
TensorValue checkCode(const Model &model, const TensorValue &z, const std::string &what = "code");

/// Codes z + t·e_dim for t = linspace(a, b, steps): [steps, D].
TensorValue traverseCodes(const TensorValue &z, int64_t dim, double a, double b, int steps);
/// Codes from z0 to z1, endpoints included: [steps, D]. Slerp keeps the norm for equal-norm endpoints and
/// falls back to lerp for (anti)parallel ones.
TensorValue interpolateCodes(const TensorValue &z0, const TensorValue &z1, int steps, InterpolationMode mode);
/// `count` codes from the standard normal prior exactly as torch.manual_seed(seed); torch.randn(count, D)
/// draws them; with truncation τ > 0 every entry is resampled until |z| ≤ τ (truncation trick).
TensorValue sampleCodes(int64_t count, int64_t dim, uint64_t seed, double truncation = 0);
/// Codes z + t·d for t = linspace(a, b, steps) along any direction d [1, D] (a traversal is d = e_I).
TensorValue moveAlong(const TensorValue &z, const TensorValue &direction, double a, double b, int steps);
/// The mean posterior code of images under an encoder whose first output is μ [N, D] (batched).
TensorValue meanCode(Model &encoder, const TensorValue &images);
/// Decodes codes [N, D] in batches: [N, C, H, W]. A conditional generator needs `classIndex` (0 ≤ k < K).
TensorValue decodeCodes(Model &model, const TensorValue &codes, int64_t classIndex = -1);

/// Per-channel affine map from a generator's output range (metadata output.range, default [0, 1]) to a
/// classifier's input (its range, then mean/std): x' = x·scale[c] + offset[c].
struct ChannelAffine {
    std::vector<double> scale, offset;
};
ChannelAffine generatorToClassifier(const ModelSummary &gen, const ModelSummary &cls, int64_t channels);
/// Generator images [N, C, H, W] as the classifier's input.
TensorValue toClassifierInput(const TensorValue &images, const ModelSummary &gen, const ModelSummary &cls);

/// Unit latent directions [k, D] with the share of variance each explains (of the codes or of the layer).
struct DirectionSet {
    TensorValue directions;
    std::vector<double> explainedRatio;
    std::vector<double> sigma;   // standard deviation of the codes along each direction
};
/// Principal directions of a set of codes [N, D] (e.g. a VAE's posterior means over a dataset).
DirectionSet principalDirectionsOfCodes(const TensorValue &codes, int k);
/// GANSpace (Härkönen et al. 2020): `count` codes sampled from the prior (seeded), PCA of the flattened
/// activation of `layer`, and each component carried back to latent space by least squares — the code
/// regressed on the component's coordinate (coordinates are uncorrelated, so one direction per component).
DirectionSet principalDirectionsOfActivation(Model &generator, const std::string &layer, int k, int64_t count, uint64_t seed);

/// A latent counterfactual: gradient steps on L(z) = −log p(target | C(G(z))) + λ‖z − z0‖² from z0 until
/// p(target) ≥ stopProbability (then `extraSteps` more to move clear of the boundary) or `steps` run out.
struct CounterfactualOptions {
    int target = 0;
    int steps = 300;
    double learningRate = 0.05;
    double distanceWeight = 0.05;   // λ
    double stopProbability = 0.9;
    int extraSteps = 0;
    std::function<bool()> cancelled;
    std::function<void(int step, double probability, double distance)> progress;
};
struct CounterfactualResult {
    TensorValue path;                        // codes [S + 1, D], z0 first
    std::vector<double> targetProbability;   // per code of the path
    std::vector<double> distance;            // ‖z − z0‖ per code of the path
    std::vector<int> predicted;              // the classifier's class per code of the path
    TensorValue original, counterfactual;    // decoded z0 and the last code [1, C, H, W]
    TensorValue difference;                  // counterfactual − original
    bool reached = false;
};
CounterfactualResult latentCounterfactual(Model &decoder, Model &classifier, const TensorValue &z0, const CounterfactualOptions &options);
/// Indices of up to `frames` codes of a path [S, D] evenly spaced along its length (first and last included).
std::vector<int64_t> framesAlongPath(const TensorValue &path, int frames);

/// Up to `frames` decoded codes evenly spaced along a counterfactual's path, then (when `withDifference`)
/// the difference image mapped to [0, 1] with grey = 0: [frames (+1), C, H, W].
TensorValue counterfactualStrip(Model &decoder, const CounterfactualResult &result, int frames, bool withDifference);

/// Quality of a generator measured with a classifier as the feature extractor: Inception Score of the
/// generated images (classifier logits), diversity and Fréchet distance in the features of `layer` (pooled;
/// the logits when `layer` is empty); with real images, the same for them; with a VAE encoder (returning
/// μ, log σ²), reconstruction SSIM / PSNR of the real images and KL to the prior per latent dimension.
struct GenerativeReport {
    int64_t samples = 0, realItems = 0;
    std::string featureLayer;
    double inceptionScore = 0, diversity = 0;
    bool hasReal = false;
    double frechetDistance = 0, realInceptionScore = 0, realDiversity = 0;
    bool hasReconstruction = false;
    double reconstructionSsim = 0, reconstructionPsnr = 0;
    std::vector<double> klPerDim;
    int activeUnits = 0;           // dimensions with KL > 0.01 nats
    TensorValue reconstructions;   // of the first real images (up to 16), for display
};
/// `real` [M, C, H, W] in the classifier's input space (may be empty); `realForEncoder` the same items in
/// the encoder's input space (used only with `encoder`).
GenerativeReport generativeReport(Model &generator, Model &classifier, const std::string &layer, const TensorValue &codes, const TensorValue &real,
                                  Model *encoder, const TensorValue &realForEncoder, const std::function<void(const std::string &stage)> &stage = {});
/// Encoder μ and log σ² for a batch (a VAE encoder returns both; throws Error(BadInput) otherwise).
std::pair<TensorValue, TensorValue> encodePosterior(Model &encoder, const TensorValue &images);

}   // namespace pellucid
