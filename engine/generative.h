#pragma once
// Generative models: latent traversals, interpolation (lerp / slerp) and sampling, decoded by a
// generator or decoder model (metadata "role": "generator" or "decoder"; "latent": {"dim": D}).
#include "engine/model.h"
#include "engine/tensorvalue.h"

#include <string>

namespace pellucid {

enum class InterpolationMode { Lerp, Slerp };

/// The latent size a generator expects (metadata latent.dim, else its input shape); throws Error(BadInput)
/// when the model has no generator/decoder role.
int64_t latentDim(const Model &model);
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
/// Decodes codes [N, D] in batches: [N, C, H, W].
TensorValue decodeCodes(Model &model, const TensorValue &codes);

} // namespace pellucid
