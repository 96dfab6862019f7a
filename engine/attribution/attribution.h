#pragma once
// Attribution methods ("why did the model say that?"), with Captum's output conventions so numbers compare
// directly: one shared forward/backward mechanism over the tapped clone of forward, many thin variants.
#include "engine/attribution/methods.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/jobs.h"
#include "engine/core/json.h"
#include "engine/runtime/model.h"
#include "engine/core/tensorvalue.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pellucid {

enum class IntegrationRule { GaussLegendre, RiemannLeft, RiemannRight, RiemannMiddle, RiemannTrapezoid };
enum class NoiseType { SmoothGrad, SmoothGradSquared, VarGrad };
enum class BaselineKind { Zero, Blur, Uniform, Tensor };

/// Layers a CAM method can use: executed, output [N, C, H, W] or transformer tokens [N, T, C] on a square
/// patch grid (T or T − 1 square).
bool isCamLayer(const LayerInfo &layer);
/// The default CAM layer, as pytorch-grad-cam recommends: the last CAM layer whose map has more than one
/// cell (not the 1×1 output of an average pool), climbed from a leaf to the block around it (a ResNet's
/// layer4.1); the last CAM layer when none has more than one cell; "" when there is none.
std::string suggestedCamLayer(const ModelSummary &summary);
const char *integrationName(IntegrationRule r);
bool parseIntegration(const std::string &name, IntegrationRule &out);

/// Points in [0, 1] and weights of an integration rule with n points (Captum's placement).
void integrationPoints(IntegrationRule rule, int n, std::vector<double> &alphas, std::vector<double> &weights);

struct AttributionTarget {
    enum class Kind { Predicted, Class, Contrast } kind = Kind::Predicted;
    int classIndex = 0;   // Class; the first class of a Contrast
    int otherClass = 0;   // Contrast: y[classIndex] - y[otherClass]
};

struct AttributionParams {
    AttributionMethod method = AttributionMethod::Saliency;
    AttributionTarget target;
    std::string layer;   // CAM methods
    // Integrated gradients
    int steps = 50;
    IntegrationRule integration = IntegrationRule::GaussLegendre;
    BaselineKind baseline = BaselineKind::Zero;
    TensorValue baselineTensor;   // BaselineKind::Tensor: the input's shape (batch 1)
    float blurSigma = 5.0f;       // BaselineKind::Blur, in pixels
    // Noise tunnel (SmoothGrad and its variants, around a gradient method)
    AttributionMethod noiseBase = AttributionMethod::Saliency;
    NoiseType noise = NoiseType::SmoothGrad;
    int samples = 25;      // noise tunnel, LIME, KernelSHAP
    float stdev = 0.15f;   // noise σ as a fraction of the input's value range
    uint64_t seed = 0;
    // Occlusion
    std::vector<int64_t> window, stride;   // per input dimension after the batch (C, H, W); window 0: whole dim
    float fill = 0.0f;
    // LIME / KernelSHAP: feature ids per pixel ([H, W] or the input's shape); empty: a grid of gridCells²
    TensorValue featureMask;
    int gridCells = 8;
    // Batching
    int64_t memoryBudgetBytes = 0;   // 0: half the free CUDA memory, or a quarter of the free RAM
    int64_t internalBatch = 0;       // 0: chosen from the budget
    // Fast kernels (opt-in): passes that need only the model's output (input gradients, forwards of
    // perturbed inputs: saliency, input × gradient, IG, SmoothGrad, guided backprop, deconvnet, occlusion, LIME,
    // KernelSHAP; guided and deconvnet ReLUs put into the frozen copy's graph) run through a
    // frozen copy with BatchNorm folded into the convolutions and channels-last weights and inputs — about 1.9×
    // faster on a ResNet on the CPU. The same function, rounded differently: where a ReLU or max-pool sits at a
    // near-tie the gradient can take the other branch, so maps differ from eager PyTorch's by ~1e-6 of their
    // largest value, and at such ties by more. Layer methods (CAMs, guided Grad-CAM) keep the exact path.
    bool fastKernels = false;
};

struct AttributionResult : JobOutput {
    uint64_t inputId = 0;
    AttributionMethod method = AttributionMethod::Saliency;
    std::string layer;
    int targetClass = 0;
    TensorValue map;               // Captum's convention: the input's shape, or [N, 1, h, w] for CAMs
    double convergenceDelta = 0;   // IG: Σ attribution − (y(x) − y(baseline)) (largest over a batch); NaN otherwise
    int64_t modelPasses = 0;       // samples pushed through the model (forward, plus backward where used)
    int64_t chunks = 0;
    // "exact", or "fast" when params.fastKernels was honoured; fastKernelsNote says why it was not (the model
    // cannot be frozen, or its frozen copy's output differed beyond rounding).
    std::string kernels = "exact";
    std::string fastKernelsNote;
    int64_t done = 0, total = 0;   // progress when partial
    bool partial = false;
    double elapsedMs = 0;
};

/// Where a long attribution reports to; any member may be empty.
struct AttributionSink {
    std::function<bool()> cancelled;
    std::function<void(int64_t done, int64_t total)> progress;
    std::function<void(std::shared_ptr<const AttributionResult>)> partial;
};

/// Throws Error with a message that names the problem (non-spatial layer, target out of range, ...).
std::shared_ptr<AttributionResult> computeAttribution(Model &model, const TensorValue &input, const AttributionParams &params,
                                                      const AttributionSink &sink = {});

Job attributionJob(TensorValue input, uint64_t inputId, AttributionParams params);

/// Live mode's work for one frame: the prediction and `activationLayer`'s activations (handed to
/// `onActivations` as soon as they exist), then the attribution when `attribution` is given. With Grad-CAM,
/// Grad-CAM++, LayerCAM, saliency or input × gradient on a single input everything comes from ONE forward
/// pass (taps on both layers, the predicted class read from its logits) and one backward pass (for the CAMs
/// it stops at the CAM layer) — instead of the three forward passes that separate activation and attribution
/// requests cost. Other methods run after the activations as computeAttribution does. Returns the
/// attribution (nullptr without one).
std::shared_ptr<AttributionResult> computeLiveFrame(Model &model, const TensorValue &input, uint64_t inputId, const std::string &activationLayer,
                                                    int topK, int histogramBins, const AttributionParams *attribution, const AttributionSink &sink,
                                                    const std::function<void(std::shared_ptr<ActivationOutput>)> &onActivations);

/// computeLiveFrame as a job of kind `kind`: the activations come as a partial output, the attribution as
/// the final one (without an attribution the activations are the final output).
Job liveFrameJob(TensorValue input, uint64_t inputId, std::string activationLayer, const AttributionParams *attribution, std::string kind,
                 int topK = 5, int histogramBins = 64);

/// Parameters as JSON (sessions, batch sidecars) and back; the feature mask and a baseline tensor are not
/// stored (a baseline file is referenced by path in `baselinePath`). Throws Error(BadInput) on bad values.
Json attributionParamsToJson(const AttributionParams &p, const std::string &baselinePath = {});
AttributionParams attributionParamsFromJson(const Json &j, std::string *baselinePath = nullptr);

/// Benchmark support: milliseconds to push `samples` copies of the input through the model in chunks of
/// `chunk`, forward only or forward + backward to the input — the raw cost an attribution method pays.
double rawPassMs(Model &model, const TensorValue &input, int64_t samples, int64_t chunk, bool backward);

}   // namespace pellucid
