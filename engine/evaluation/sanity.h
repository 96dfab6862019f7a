#pragma once
// Explanation quality beyond deletion/insertion: the model-parameter randomisation test (Adebayo et al.
// 2018, cascading from the top layer), infidelity and max-sensitivity (Captum's definitions), and SSIM.
#include "engine/attribution/attribution.h"
#include "engine/runtime/model.h"

#include <functional>
#include <string>
#include <vector>

namespace pellucid {

/// Structural similarity of two h×w maps as scikit-image computes it (7×7 uniform window, K1 = 0.01,
/// K2 = 0.03, sample covariance, mean over the window-valid region); `dataRange` as skimage's data_range.
double ssim(const std::vector<double> &a, const std::vector<double> &b, int64_t h, int64_t w, double dataRange);

struct SanityStep {
    std::string layer;     // the deepest layer randomised so far (cascading from the top)
    double spearman = 0;   // rank correlation of |map| with the original |map|
    double ssim = 0;       // SSIM of the min-max normalised |maps|
};

struct SanityResult {
    std::vector<SanityStep> steps;
    bool insensitive = false;   // the maps barely change even with every layer randomised: flagged
};

/// Randomises the parameters of the layers that have any, from the last called to the first, cumulatively,
/// and compares the explanation after each step with the original. The model's parameters are restored
/// afterwards (also when explaining throws). `explain` maps the (possibly randomised) model to a map.
SanityResult cascadingRandomization(Model &model, const std::function<TensorValue(Model &)> &explain, uint64_t seed = 0);

/// Captum's infidelity: mean over `samples` Gaussian perturbations I (σ = `noise`) of (Iᵀ Φ − (f(x) − f(x − I)))²
/// for the target's logit, with Φ the attribution map (the input's shape).
double infidelity(Model &model, const TensorValue &input, const TensorValue &attribution, int target, int samples = 50, double noise = 0.003,
                  uint64_t seed = 0);

/// Captum's sensitivity_max: the largest ‖Φ(x + δ) − Φ(x)‖ / ‖Φ(x)‖ over `samples` uniform perturbations
/// δ in [−radius, radius].
double maxSensitivity(Model &model, const TensorValue &input, const std::function<TensorValue(const TensorValue &)> &explain, int samples = 10,
                      double radius = 0.02, uint64_t seed = 0);

}   // namespace pellucid
