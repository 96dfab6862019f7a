#pragma once
// Quality metrics for generated images: PSNR, SSIM (see sanity.h), Fréchet distance of feature statistics
// (matrix square root by symmetric eigen-decomposition), Inception Score from a classifier's probabilities,
// diversity (mean pairwise feature distance) and the KL divergence of a VAE posterior to its prior.
#include "engine/core/tensorvalue.h"

#include <string>
#include <vector>

namespace pellucid {

class Model;

/// Peak signal-to-noise ratio in dB between two image batches of equal shape, values in [0, dataRange].
double psnr(const TensorValue &a, const TensorValue &b, double dataRange = 1.0);
/// Mean SSIM over the images (and channels) of two [N, C, H, W] batches.
double meanSsim(const TensorValue &a, const TensorValue &b, double dataRange = 1.0);

/// Fréchet distance between Gaussians fitted to two feature sets [N, D] and [M, D]:
/// ‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1^½ Σ2 Σ1^½)^½) (equal to the usual tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½)).
double frechetDistance(const TensorValue &features1, const TensorValue &features2);
/// The symmetric positive semi-definite square root of a D × D matrix (row-major), by Jacobi eigen-decomposition.
std::vector<double> sqrtPsd(const std::vector<double> &A, int64_t d);

/// exp(E_x KL(p(y|x) ‖ p(y))) from logits [N, K] (softmax taken here).
double inceptionScore(const TensorValue &logits);
/// Mean Euclidean distance between all pairs of feature rows.
double diversity(const TensorValue &features);
/// A classifier's pooled features of `layer` (its logits when empty) for inputs x it takes, and its logits, in
/// batches of 256: [N, D] (and logits [N, K]).
TensorValue classifierFeatures(Model &cls, const std::string &layer, const TensorValue &x, TensorValue &logits);
/// KL(N(μ, σ²) ‖ N(0, 1)) per latent dimension, averaged over the batch: mu and logvar [N, D].
std::vector<double> klPerDimension(const TensorValue &mu, const TensorValue &logvar);

}   // namespace pellucid
