#include "engine/attribution/methods.h"

#include "engine/core/errors.h"

namespace pellucid {

namespace detail {
// Defined beside each computation, in engine/attribution/methods/.
extern const MethodImpl saliencyImpl, inputXGradientImpl, integratedGradientsImpl, guidedBackpropImpl, deconvnetImpl, smoothGradImpl, gradCamImpl,
    gradCamPlusPlusImpl, layerCamImpl, scoreCamImpl, guidedGradCamImpl, occlusionImpl, limeImpl, kernelShapImpl;
}   // namespace detail

const std::vector<MethodInfo> &methodRegistry()
{
    using M = AttributionMethod;
    constexpr unsigned gradient = 0, ig = ParamSteps | ParamIntegration | ParamBaseline;
    constexpr unsigned tunnel = ParamNoise | ParamSamples | ParamSeed;
    constexpr unsigned surrogate = ParamSamples | ParamSeed | ParamFill | ParamFeatures;
    using namespace detail;
    // method, name, display name, needs layer, layer resolution, signed, forward-only, superpixels, params,
    // default samples, minimum samples, computation, output only (fast kernels apply)
    static const std::vector<MethodInfo> rows = {
        {M::Saliency, "saliency", "Saliency", false, false, false, false, false, gradient, 0, 0, &saliencyImpl, true},
        {M::InputXGradient, "inputxgrad", "Input × gradient", false, false, true, false, false, gradient, 0, 0, &inputXGradientImpl, true},
        {M::IntegratedGradients, "ig", "Integrated gradients", false, false, true, false, false, ig, 0, 0, &integratedGradientsImpl, true},
        {M::GuidedBackprop, "guided-backprop", "Guided backprop", false, false, true, false, false, gradient, 0, 0, &guidedBackpropImpl, true},
        {M::Deconvnet, "deconvnet", "Deconvnet", false, false, true, false, false, gradient, 0, 0, &deconvnetImpl, true},
        {M::SmoothGrad, "smoothgrad", "SmoothGrad (noise tunnel)", false, false, true, false, false, tunnel, 25, 1, &smoothGradImpl, true},
        {M::GradCam, "gradcam", "Grad-CAM", true, true, false, false, false, ParamLayer, 0, 0, &gradCamImpl},
        {M::GradCamPlusPlus, "gradcam++", "Grad-CAM++", true, true, false, false, false, ParamLayer, 0, 0, &gradCamPlusPlusImpl},
        {M::LayerCam, "layercam", "Layer-CAM", true, true, false, false, false, ParamLayer, 0, 0, &layerCamImpl},
        {M::ScoreCam, "scorecam", "Score-CAM", true, true, false, true, false, ParamLayer, 0, 0, &scoreCamImpl},
        {M::GuidedGradCam, "guided-gradcam", "Guided Grad-CAM", true, false, true, false, false, ParamLayer, 0, 0, &guidedGradCamImpl},
        {M::Occlusion, "occlusion", "Occlusion", false, false, true, true, false, ParamWindow | ParamFill, 0, 0, &occlusionImpl, true},
        {M::Lime, "lime", "LIME", false, false, true, true, true, surrogate, 200, 200, &limeImpl, true},
        {M::KernelShap, "kernelshap", "KernelSHAP", false, false, true, true, true, surrogate, 200, 200, &kernelShapImpl, true},
    };
    return rows;
}

const std::vector<ParameterInfo> &attributionParameters()
{
    // The defaults are AttributionParams' (attribution.h); the ranges the panel's fields allow.
    static const std::vector<ParameterInfo> rows = {
        {ParamSteps, "steps", 1, 2000, 50, "integration points"},
        {ParamSamples, "samples", 1, 10000, 25, "noise samples (SmoothGrad) or perturbations (LIME, KernelSHAP)"},
        {ParamNoise, "stdev", 0, 2, 0.15, "noise σ as a fraction of the input's value range"},
        {ParamSeed, "seed", 0, double(1 << 30), 0, "random seed"},
        {ParamWindow, "window", 0, 512, 0, "occlusion window side in pixels (0: an eighth of the input)"},
        {ParamFill, "fill", -1e6, 1e6, 0, "the value removed features take"},
    };
    return rows;
}

const ParameterInfo &parameterInfo(const std::string &name)
{
    for (const ParameterInfo &p : attributionParameters())
        if (name == p.name) return p;
    throw Error(ErrorCode::Internal, "no attribution parameter '" + name + "'");
}

const MethodInfo &methodInfo(AttributionMethod m)
{
    for (const MethodInfo &i : methodRegistry())
        if (i.method == m) return i;
    throw Error(ErrorCode::Internal, "attribution method " + std::to_string(int(m)) + " has no registry row");
}

const MethodInfo *findMethod(const std::string &name)
{
    for (const MethodInfo &i : methodRegistry())
        if (name == i.name) return &i;
    return nullptr;
}

std::string methodNames()
{
    std::string s;
    for (const MethodInfo &i : methodRegistry()) s += (s.empty() ? "" : " ") + std::string(i.name);
    return s;
}

const char *methodName(AttributionMethod m)
{
    for (const MethodInfo &i : methodRegistry())
        if (i.method == m) return i.name;
    return "?";
}

bool parseMethod(const std::string &name, AttributionMethod &out)
{
    const MethodInfo *i = findMethod(name);
    if (i) out = i->method;
    return i != nullptr;
}

const std::vector<AttributionMethod> &allMethods()
{
    static const std::vector<AttributionMethod> all = [] {
        std::vector<AttributionMethod> v;
        for (const MethodInfo &i : methodRegistry()) v.push_back(i.method);
        return v;
    }();
    return all;
}

}   // namespace pellucid
