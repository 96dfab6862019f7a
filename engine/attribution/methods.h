#pragma once
// The method registry: one row per attribution method, read by the engine (names, precision, dispatch
// checks), the Attribution panel (which fields to show), the CLI (method names and help), the composer and
// sessions (names in JSON), the dataset workflows (sample counts). Plain data, no torch.
// Adding a method: an enum value below, its computation in engine/attribution/methods/<name>.cpp (a
// detail::MethodImpl), and a row in methods.cpp (ARCHITECTURE.md).
#include <cstdint>
#include <string>
#include <vector>

namespace pellucid {

namespace detail {
struct MethodImpl;   // the computation (engine/attribution/methods/<name>.cpp); opaque outside the engine
}

enum class AttributionMethod {
    Saliency,
    InputXGradient,
    IntegratedGradients,
    GuidedBackprop,
    Deconvnet,
    SmoothGrad,
    GradCam,
    GradCamPlusPlus,
    LayerCam,
    ScoreCam,
    GuidedGradCam,
    Occlusion,
    Lime,
    KernelShap,
};

/// The parameters of AttributionParams a method reads (beyond the target, which every method reads).
enum MethodParam : unsigned {
    ParamLayer = 1u << 0,         // layer
    ParamSteps = 1u << 1,         // steps (integration points)
    ParamIntegration = 1u << 2,   // integration rule
    ParamBaseline = 1u << 3,      // baseline kind / tensor / blur sigma
    ParamNoise = 1u << 4,         // noise base, noise type, stdev
    ParamSamples = 1u << 5,       // samples
    ParamSeed = 1u << 6,          // seed
    ParamWindow = 1u << 7,        // occlusion window and stride
    ParamFill = 1u << 8,          // the value removed features take
    ParamFeatures = 1u << 9,      // feature mask / superpixels / grid cells
};

struct MethodInfo {
    AttributionMethod method;
    const char *name;                 // CLI and JSON name
    const char *displayName;          // the panel's name
    bool needsLayer;                  // the user picks a layer (CAM layer)
    bool layerResolution;             // the map is at the layer's resolution, [N, 1, h, w] (the CAMs)
    bool signedMap;                   // the map can be negative (diverging colour map)
    bool forwardOnly;                 // no gradients: follows the model's reduced precision
    bool superpixels;                 // features are superpixels of the input (SLIC computed per input)
    unsigned params;                  // MethodParam bits
    int defaultSamples;               // the panel's and workflows' sample count (0: the method takes none)
    int minSamples;                   // fewer samples than this give a meaningless map (GUI and workflows raise to it)
    const detail::MethodImpl *impl;   // what computeAttribution runs
    bool outputOnly = false;          // its passes need only the model's output (through plain, guided or deconvnet ReLUs):
                                      // AttributionParams::fastKernels applies
};

/// A numeric parameter's range and default, shared by the panel's fields, the CLI's help and checks.
struct ParameterInfo {
    MethodParam param;
    const char *name;   // CLI option / JSON key
    double minimum, maximum, defaultValue;
    const char *help;
};
/// Steps, samples, noise σ, seed, occlusion window side and fill.
const std::vector<ParameterInfo> &attributionParameters();
const ParameterInfo &parameterInfo(const std::string &name);

/// Every method, in the order the panel and the CLI list them.
const std::vector<MethodInfo> &methodRegistry();
const MethodInfo &methodInfo(AttributionMethod m);
/// The row for a CLI / JSON name; nullptr when none.
const MethodInfo *findMethod(const std::string &name);
/// The CLI names, space-separated, in registry order.
std::string methodNames();

const char *methodName(AttributionMethod m);
bool parseMethod(const std::string &name, AttributionMethod &out);
const std::vector<AttributionMethod> &allMethods();
inline bool usesParam(AttributionMethod m, MethodParam p) { return (methodInfo(m).params & p) != 0; }
inline bool isCamMethod(AttributionMethod m) { return methodInfo(m).layerResolution; }
inline bool isSignedMethod(AttributionMethod m) { return methodInfo(m).signedMap; }
inline bool isForwardOnlyMethod(AttributionMethod m) { return methodInfo(m).forwardOnly; }
inline bool usesSuperpixels(AttributionMethod m) { return methodInfo(m).superpixels; }
inline bool needsLayer(AttributionMethod m) { return methodInfo(m).needsLayer; }

}   // namespace pellucid
