#include <torch/script.h>
#include <torch/torch.h>

#include "engine/generative.h"

#include "engine/errors.h"

#include <cmath>

namespace pellucid {

int64_t latentDim(const Model &model)
{
    const ModelSummary &s = model.summary();
    const Json *role = s.metadata.raw.find("role");
    const std::string r = role && role->isString() ? role->asString() : "";
    if (r != "generator" && r != "decoder")
        throw Error(ErrorCode::BadInput, s.fileName + " has no generator role (its metadata role is " + (r.empty() ? std::string("absent") : "'" + r + "'")
                                             + "; a generator or decoder maps latent codes to images)");
    if (const Json *lat = s.metadata.raw.find("latent"))
        if (const Json *d = lat->find("dim")) return d->asInt();
    if (s.inputShape.size() == 2) return s.inputShape[1];
    throw Error(ErrorCode::BadMetadata, s.fileName + ": the metadata gives no latent size (latent.dim)");
}

TensorValue checkCode(const Model &model, const TensorValue &z, const std::string &what)
{
    const int64_t D = latentDim(model);
    const Shape &s = z.shape();
    const bool ok = (s.size() == 2 && s[0] == 1 && s[1] == D) || (s.size() == 1 && s[0] == D);
    if (!ok)
        throw Error(ErrorCode::BadInput, "The " + what + " has shape " + shapeToString(s) + "; this model's codes are [1, " + std::to_string(D) + "]");
    for (int64_t i = 0; i < z.numel(); ++i)
        if (!std::isfinite(z.at(i)))
            throw Error(ErrorCode::BadInput, "The " + what + " holds a non-finite value at position " + std::to_string(i));
    return TensorValue({1, D}, std::vector<float>(z.data(), z.data() + z.numel()));
}

TensorValue traverseCodes(const TensorValue &z, int64_t dim, double a, double b, int steps)
{
    const int64_t D = z.numel();
    if (dim < 0 || dim >= D) throw Error(ErrorCode::BadInput, "Dimension " + std::to_string(dim) + " is outside the code's 0–" + std::to_string(D - 1));
    if (steps < 1) throw Error(ErrorCode::BadInput, "A traversal needs at least 1 step");
    std::vector<float> out(size_t(steps * D));
    for (int k = 0; k < steps; ++k) {
        const double t = steps == 1 ? a : a + (b - a) * double(k) / double(steps - 1);
        for (int64_t j = 0; j < D; ++j) out[size_t(k * D + j)] = z.at(j) + (j == dim ? float(t) : 0.0f);
    }
    return TensorValue({steps, D}, std::move(out));
}

TensorValue interpolateCodes(const TensorValue &z0, const TensorValue &z1, int steps, InterpolationMode mode)
{
    const int64_t D = z0.numel();
    if (z1.numel() != D) throw Error(ErrorCode::BadInput, "The two codes differ in size (" + std::to_string(D) + " and " + std::to_string(z1.numel()) + ")");
    if (steps < 2) throw Error(ErrorCode::BadInput, "An interpolation needs at least 2 steps (both endpoints)");
    double n0 = 0, n1 = 0, dot = 0;
    for (int64_t j = 0; j < D; ++j) {
        n0 += double(z0.at(j)) * z0.at(j);
        n1 += double(z1.at(j)) * z1.at(j);
        dot += double(z0.at(j)) * z1.at(j);
    }
    n0 = std::sqrt(n0);
    n1 = std::sqrt(n1);
    const double cosine = n0 > 0 && n1 > 0 ? std::clamp(dot / (n0 * n1), -1.0, 1.0) : 1.0;
    const double omega = std::acos(cosine);
    const bool parallel = std::sin(omega) < 1e-6;   // slerp is undefined: fall back to lerp
    std::vector<float> out(size_t(steps * D));
    for (int k = 0; k < steps; ++k) {
        const double t = double(k) / double(steps - 1);
        double w0 = 1 - t, w1 = t;
        if (mode == InterpolationMode::Slerp && !parallel) {
            w0 = std::sin((1 - t) * omega) / std::sin(omega);
            w1 = std::sin(t * omega) / std::sin(omega);
        }
        for (int64_t j = 0; j < D; ++j) out[size_t(k * D + j)] = float(w0 * z0.at(j) + w1 * z1.at(j));
    }
    return TensorValue({steps, D}, std::move(out));
}

TensorValue sampleCodes(int64_t count, int64_t dim, uint64_t seed, double truncation)
{
    if (count < 1) throw Error(ErrorCode::BadInput, "Sampling needs a count of at least 1");
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    at::Tensor z = at::randn({count, dim}, gen, torch::kFloat);
    if (truncation > 0) {
        for (int pass = 0; pass < 1000; ++pass) {
            const at::Tensor bad = z.abs() > truncation;
            if (!bad.any().item<bool>()) break;
            z = at::where(bad, at::randn({count, dim}, gen, torch::kFloat), z);
        }
    }
    const float *p = z.contiguous().data_ptr<float>();
    return TensorValue({count, dim}, std::vector<float>(p, p + count * dim));
}

TensorValue moveAlong(const TensorValue &z, const TensorValue &direction, double a, double b, int steps)
{
    const int64_t D = z.numel();
    if (direction.numel() != D)
        throw Error(ErrorCode::BadInput, "The direction has " + std::to_string(direction.numel()) + " values for codes of size " + std::to_string(D));
    if (steps < 1) throw Error(ErrorCode::BadInput, "Moving along a direction needs at least 1 step");
    std::vector<float> out(size_t(steps * D));
    for (int k = 0; k < steps; ++k) {
        const double t = steps == 1 ? a : a + (b - a) * double(k) / double(steps - 1);
        for (int64_t j = 0; j < D; ++j) out[size_t(k * D + j)] = float(z.at(j) + t * direction.at(j));
    }
    return TensorValue({steps, D}, std::move(out));
}

TensorValue meanCode(Model &encoder, const TensorValue &images)
{
    if (images.shape().empty() || images.dim(0) < 1) throw Error(ErrorCode::BadInput, "No images to encode");
    const int64_t n = images.dim(0), per = images.numel() / n;
    std::vector<double> sum;
    for (int64_t b = 0; b < n; b += 256) {
        const int64_t e = std::min(n, b + 256);
        Shape sh = images.shape();
        sh[0] = e - b;
        const TensorValue mu = encoder.forward(TensorValue(sh, std::vector<float>(images.data() + b * per, images.data() + e * per)), {}).outputs.at(0);
        const int64_t D = mu.numel() / (e - b);
        sum.resize(size_t(D), 0.0);
        for (int64_t i = 0; i < mu.numel(); ++i) sum[size_t(i % D)] += mu.at(i);
    }
    std::vector<float> mean(sum.size());
    for (size_t j = 0; j < sum.size(); ++j) mean[j] = float(sum[j] / double(n));
    const int64_t dim = int64_t(mean.size());   // before the vector is moved away
    return TensorValue({1, dim}, std::move(mean));
}

TensorValue decodeCodes(Model &model, const TensorValue &codes)
{
    latentDim(model);
    std::vector<float> all;
    Shape itemShape;
    const int64_t n = codes.dim(0), D = codes.dim(1);
    for (int64_t b = 0; b < n; b += 256) {
        const int64_t e = std::min(n, b + 256);
        const TensorValue batch({e - b, D}, std::vector<float>(codes.data() + b * D, codes.data() + e * D));
        const TensorValue out = model.forward(batch, {}).outputs.at(0);
        itemShape.assign(out.shape().begin() + 1, out.shape().end());
        all.insert(all.end(), out.data(), out.data() + out.numel());
    }
    Shape shape = itemShape;
    shape.insert(shape.begin(), n);
    return TensorValue(shape, std::move(all));
}

} // namespace pellucid
