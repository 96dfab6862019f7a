#include <torch/script.h>
#include <torch/torch.h>

#include "engine/generative/generative.h"

#include "engine/core/errors.h"
#include "engine/runtime/modelimpl.h"
#include "engine/generative/genmetrics.h"
#include "engine/projection/projection.h"

#include <algorithm>
#include <cmath>

namespace pellucid {

int64_t latentDim(const Model &model)
{
    const ModelSummary &s = model.summary();
    const Json *role = s.metadata.raw.find("role");
    const std::string r = role && role->isString() ? role->asString() : "";
    if (r != "generator" && r != "decoder" && r != "conditional_generator")
        throw Error(ErrorCode::BadInput,
                    s.fileName + " has no generator role (its metadata role is " + (r.empty() ? std::string("absent") : "'" + r + "'")
                        + "; a generator or decoder maps latent codes to images — choose the role in the UI or with --role)");
    if (const Json *lat = s.metadata.raw.find("latent"))
        if (const Json *d = lat->find("dim")) return d->asInt();
    if (s.inputShape.size() == 2) return s.inputShape[1];
    throw Error(ErrorCode::BadMetadata,
                s.fileName
                    + ": its latent size is unknown (no metadata latent.dim, no Linear first layer); "
                      "give --input-shape 1,D");
}

bool isConditional(const Model &model)
{
    const Json *role = model.summary().metadata.raw.find("role");
    return role && role->isString() && role->asString() == "conditional_generator";
}

int64_t conditionalClasses(const Model &model)
{
    const ModelSummary &s = model.summary();
    if (!s.metadata.labels.empty()) return int64_t(s.metadata.labels.size());
    if (const Json *k = s.metadata.raw.find("classes"); k && k->isNumber()) return k->asInt();
    throw Error(ErrorCode::BadMetadata, s.fileName + ": a conditional generator's metadata must give its classes (\"labels\" or \"classes\": K)");
}

TensorValue checkCode(const Model &model, const TensorValue &z, const std::string &what)
{
    int64_t D = 0;
    try {
        D = latentDim(model);
    } catch (const Error &e) {
        if (e.code() != ErrorCode::BadMetadata || z.shape().empty()) throw;
        D = z.shape().back();   // the latent size is the code's own when the model does not say
    }
    const Shape &s = z.shape();
    const bool ok = (s.size() == 2 && s[0] == 1 && s[1] == D) || (s.size() == 1 && s[0] == D);
    if (!ok)
        throw Error(ErrorCode::BadInput,
                    "The " + what + " has shape " + shapeToString(s) + "; this model's codes are [1, " + std::to_string(D) + "]");
    for (int64_t i = 0; i < z.numel(); ++i)
        if (!std::isfinite(z.at(i))) throw Error(ErrorCode::BadInput, "The " + what + " holds a non-finite value at position " + std::to_string(i));
    return TensorValue({1, D}, std::vector<float>(z.data(), z.data() + z.numel()));
}

TensorValue traverseCodes(const TensorValue &z, int64_t dim, double a, double b, int steps)
{
    const int64_t D = z.numel();
    if (dim < 0 || dim >= D)
        throw Error(ErrorCode::BadInput, "Dimension " + std::to_string(dim) + " is outside the code's 0–" + std::to_string(D - 1));
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
    if (z1.numel() != D)
        throw Error(ErrorCode::BadInput, "The two codes differ in size (" + std::to_string(D) + " and " + std::to_string(z1.numel()) + ")");
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
        const TensorValue mu =
            encoder.forward(TensorValue(sh, std::vector<float>(images.data() + b * per, images.data() + e * per)), {}).outputs.at(0);
        const int64_t D = mu.numel() / (e - b);
        sum.resize(size_t(D), 0.0);
        for (int64_t i = 0; i < mu.numel(); ++i) sum[size_t(i % D)] += mu.at(i);
    }
    std::vector<float> mean(sum.size());
    for (size_t j = 0; j < sum.size(); ++j) mean[j] = float(sum[j] / double(n));
    const int64_t dim = int64_t(mean.size());   // before the vector is moved away
    return TensorValue({1, dim}, std::move(mean));
}

TensorValue decodeCodes(Model &model, const TensorValue &codes, int64_t classIndex)
{
    latentDim(model);
    const bool conditional = isConditional(model);
    if (conditional) {
        const int64_t K = conditionalClasses(model);
        if (classIndex < 0 || classIndex >= K)
            throw Error(ErrorCode::BadInput,
                        model.summary().fileName + " is a conditional generator: choose a class between 0 and " + std::to_string(K - 1)
                            + (classIndex < 0 ? std::string(" (none was given)") : " (not " + std::to_string(classIndex) + ")"));
    }
    std::vector<float> all;
    Shape itemShape;
    const int64_t n = codes.dim(0), D = codes.dim(1);
    for (int64_t b = 0; b < n; b += 256) {
        const int64_t e = std::min(n, b + 256);
        const TensorValue batch({e - b, D}, std::vector<float>(codes.data() + b * D, codes.data() + e * D));
        TensorValue out;
        if (conditional) {
            Model::Impl &d = model.impl();
            torch::NoGradGuard noGrad;
            const at::Tensor z = torch::from_blob(const_cast<float *>(batch.data()), {e - b, D}, torch::kFloat).clone().to(d.device);
            const at::Tensor y = torch::full({e - b}, classIndex, torch::kLong).to(d.device);
            std::vector<at::Tensor> ts;
            try {
                flattenTensors(d.torchModule().forward({z, y}), ts);
            } catch (const c10::Error &err) {
                throw Error(ErrorCode::ModelError,
                            model.summary().fileName + " failed as forward(z, class): " + std::string(err.what_without_backtrace()).substr(0, 400));
            }
            if (ts.empty()) throw Error(ErrorCode::ModelError, "The conditional generator returned no tensor");
            out = tensorToValue(ts.front().to(torch::kCPU).to(torch::kFloat).contiguous());
        } else {
            out = model.forward(batch, {}).outputs.at(0);
        }
        itemShape.assign(out.shape().begin() + 1, out.shape().end());
        all.insert(all.end(), out.data(), out.data() + out.numel());
    }
    Shape shape = itemShape;
    shape.insert(shape.begin(), n);
    return TensorValue(shape, std::move(all));
}

ChannelAffine generatorToClassifier(const ModelSummary &gen, const ModelSummary &cls, int64_t channels)
{
    double lo = 0, hi = 1;
    if (const Json *out = gen.metadata.raw.find("output"))
        if (const Json *r = out->find("range")) {
            lo = r->asArray().at(0).asNumber();
            hi = r->asArray().at(1).asNumber();
        }
    if (!(hi > lo)) throw Error(ErrorCode::BadMetadata, gen.fileName + ": output.range must be increasing");
    const InputSpec &spec = cls.metadata.input;
    ChannelAffine a;
    for (int64_t c = 0; c < channels; ++c) {
        const double mean = spec.mean.empty() ? 0.0 : spec.mean[size_t(std::min<int64_t>(c, int64_t(spec.mean.size()) - 1))];
        const double sd = spec.std.empty() ? 1.0 : spec.std[size_t(std::min<int64_t>(c, int64_t(spec.std.size()) - 1))];
        // x' = (rangeLo + (x − lo)/(hi − lo)·(rangeHi − rangeLo) − mean) / sd
        const double k = (spec.rangeHi - spec.rangeLo) / (hi - lo);
        a.scale.push_back(k / sd);
        a.offset.push_back((spec.rangeLo - lo * k - mean) / sd);
    }
    return a;
}

TensorValue toClassifierInput(const TensorValue &images, const ModelSummary &gen, const ModelSummary &cls)
{
    if (images.shape().size() != 4) throw Error(ErrorCode::BadInput, "Generated images must be [N, C, H, W], not " + shapeToString(images.shape()));
    const int64_t C = images.dim(1), P = images.dim(2) * images.dim(3);
    const ChannelAffine a = generatorToClassifier(gen, cls, C);
    std::vector<float> v(size_t(images.numel()));
    for (int64_t i = 0; i < images.numel(); ++i) {
        const size_t c = size_t((i / P) % C);
        v[size_t(i)] = float(images.at(i) * a.scale[c] + a.offset[c]);
    }
    return TensorValue(images.shape(), std::move(v));
}

DirectionSet principalDirectionsOfCodes(const TensorValue &codes, int k)
{
    if (codes.shape().size() != 2) throw Error(ErrorCode::BadInput, "Codes must be [N, D], not " + shapeToString(codes.shape()));
    const PcaResult r = pca(codes, k);
    DirectionSet d;
    d.directions = r.components;
    d.explainedRatio = r.explainedRatio;
    for (double v : r.explainedVariance) d.sigma.push_back(std::sqrt(std::max(0.0, v)));
    return d;
}

DirectionSet principalDirectionsOfActivation(Model &generator, const std::string &layer, int k, int64_t count, uint64_t seed)
{
    const int64_t D = latentDim(generator);
    if (isConditional(generator)) throw Error(ErrorCode::BadInput, "GANSpace directions are computed for unconditional generators only");
    if (count < 2) throw Error(ErrorCode::BadInput, "Principal directions need at least 2 sampled codes");
    const TensorValue Z = sampleCodes(count, D, seed);
    std::vector<float> feats;
    int64_t F = 0;
    for (int64_t b = 0; b < count; b += 256) {
        const int64_t e = std::min(count, b + 256);
        const TensorValue batch({e - b, D}, std::vector<float>(Z.data() + b * D, Z.data() + e * D));
        const ForwardResult r = generator.forward(batch, {layer});
        const TensorValue &act = r.taps.begin()->second.at(0);
        if (act.shape().empty() || act.dim(0) != e - b)
            throw Error(ErrorCode::BadInput, "Layer " + layer + " does not keep the batch dimension (shape " + shapeToString(act.shape()) + ")");
        F = act.numel() / (e - b);
        for (int64_t i = 0; i < act.numel(); ++i)
            if (!std::isfinite(act.at(i))) throw Error(ErrorCode::BadInput, "Layer " + layer + " produced a non-finite value for a sampled code");
        feats.insert(feats.end(), act.data(), act.data() + act.numel());
    }
    if (k < 1 || k > std::min<int64_t>(count, F))
        throw Error(ErrorCode::BadInput,
                    "Principal directions: k = " + std::to_string(k)
                        + " must be between 1 and min(count, layer size) = " + std::to_string(std::min<int64_t>(count, F)));
    // Randomised SVD (Halko et al. 2011) of the centred activations with power iterations: BLAS-bound, so a
    // 2,000 × 3,136 layer takes well under a second where a dense eigen-decomposition would take minutes.
    at::Tensor X = torch::from_blob(feats.data(), {count, F}, torch::kFloat).to(torch::kDouble);
    X = X - X.mean(0, true);
    const double total = X.pow(2).sum().item<double>();
    const int64_t l = std::min<int64_t>(std::min<int64_t>(count, F), k + 20);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
    at::Tensor Q = std::get<0>(at::linalg_qr(X.matmul(at::randn({F, l}, gen, torch::kDouble))));
    for (int it = 0; it < 7; ++it) {
        Q = std::get<0>(at::linalg_qr(X.t().matmul(Q)));
        Q = std::get<0>(at::linalg_qr(X.matmul(Q)));
    }
    const auto svd = at::linalg_svd(Q.t().matmul(X), false);
    const at::Tensor U = Q.matmul(std::get<0>(svd)).narrow(1, 0, k);   // [N, k]
    const at::Tensor S = std::get<1>(svd).narrow(0, 0, k);
    const at::Tensor coords = (U * S.unsqueeze(0)).contiguous();   // PCA coordinates [N, k]
    const int kk = k;
    DirectionSet d;
    for (int j = 0; j < kk; ++j) d.explainedRatio.push_back(total > 0 ? std::pow(S[j].item<double>(), 2) / total : 0.0);
    const double *P = coords.data_ptr<double>();
    std::vector<float> dirs(size_t(kk * D));
    for (int j = 0; j < kk; ++j) {
        // Least squares of the codes on coordinate j: v = Xjᵀ Z / Xjᵀ Xj (the prior has mean 0).
        double xx = 0;
        std::vector<double> v(size_t(D), 0.0);
        for (int64_t n = 0; n < count; ++n) {
            const double x = P[n * kk + j];
            xx += x * x;
            for (int64_t i = 0; i < D; ++i) v[size_t(i)] += x * Z.at(n * D + i);
        }
        double norm = 0;
        for (double &e : v) {
            e /= std::max(xx, 1e-30);
            norm += e * e;
        }
        norm = std::sqrt(norm);
        if (!(norm > 0)) throw Error(ErrorCode::BadInput, "Layer " + layer + " does not depend on the latent code");
        double proj2 = 0;
        for (int64_t n = 0; n < count; ++n) {
            double s = 0;
            for (int64_t i = 0; i < D; ++i) s += Z.at(n * D + i) * v[size_t(i)] / norm;
            proj2 += s * s;
        }
        for (int64_t i = 0; i < D; ++i) dirs[size_t(j * D + i)] = float(v[size_t(i)] / norm);
        d.sigma.push_back(std::sqrt(proj2 / double(count)));
    }
    d.directions = TensorValue({kk, D}, std::move(dirs));
    return d;
}

namespace {

at::Tensor firstTensor(const c10::IValue &v, const std::string &what)
{
    std::vector<at::Tensor> ts;
    flattenTensors(v, ts);
    if (ts.empty()) throw Error(ErrorCode::BadInput, "The " + what + " returned no tensor");
    return ts.front();
}

}   // namespace

CounterfactualResult latentCounterfactual(Model &decoder, Model &classifier, const TensorValue &z0, const CounterfactualOptions &o)
{
    const TensorValue code = checkCode(decoder, z0, "starting code");
    if (isConditional(decoder)) throw Error(ErrorCode::BadInput, "Latent counterfactuals need an unconditional decoder (z → image)");
    if (o.steps < 1) throw Error(ErrorCode::BadInput, "A counterfactual search needs at least 1 step");
    if (!(o.learningRate > 0) || !(o.distanceWeight >= 0))
        throw Error(ErrorCode::BadInput, "The learning rate must be positive and the distance weight non-negative");
    Model::Impl &dd = decoder.impl(), &cc = classifier.impl();
    const int64_t D = code.numel();
    const at::Tensor start = dd.toTorch(code);
    at::Tensor z = start.clone();

    CounterfactualResult r;
    std::vector<float> path;
    at::Tensor scale, offset;
    at::Tensor firstImage, lastImage;
    int extra = -1;
    for (int step = 0;; ++step) {
        if (o.cancelled && o.cancelled()) throw Error(ErrorCode::Cancelled, "Counterfactual search cancelled");
        torch::AutoGradMode grad(true);
        z = z.detach().requires_grad_(true);
        const at::Tensor image = firstTensor(dd.torchModule().forward({z}), "decoder");
        if (image.dim() != 4) throw Error(ErrorCode::BadInput, "The decoder's output is not an image batch [1, C, H, W]");
        if (!scale.defined()) {
            const ChannelAffine a = generatorToClassifier(decoder.summary(), classifier.summary(), image.size(1));
            scale = torch::tensor(std::vector<double>(a.scale), torch::kFloat).view({1, -1, 1, 1}).to(image.device());
            offset = torch::tensor(std::vector<double>(a.offset), torch::kFloat).view({1, -1, 1, 1}).to(image.device());
        }
        const at::Tensor x = (image * scale + offset).to(cc.device);
        const at::Tensor logits = firstTensor(cc.torchModule().forward({x}), "classifier").reshape({1, -1});
        const int64_t K = logits.size(1);
        if (o.target < 0 || o.target >= K)
            throw Error(ErrorCode::BadInput, "Target class " + std::to_string(o.target) + " is outside the classifier's 0–" + std::to_string(K - 1));
        const at::Tensor logp = torch::log_softmax(logits, 1);
        const at::Tensor dist2 = (z - start).pow(2).sum();
        const at::Tensor loss = -logp[0][o.target] + o.distanceWeight * dist2.to(logp.device());
        const double p = std::exp(logp[0][o.target].item<double>());
        if (!std::isfinite(loss.item<double>()))
            throw Error(ErrorCode::BadInput, "The counterfactual loss became non-finite at step " + std::to_string(step));
        const at::Tensor zc = z.detach().to(torch::kCPU).contiguous();
        path.insert(path.end(), zc.data_ptr<float>(), zc.data_ptr<float>() + D);
        r.targetProbability.push_back(p);
        r.distance.push_back(std::sqrt(dist2.item<double>()));
        r.predicted.push_back(int(logits.argmax(1).item<int64_t>()));
        if (step == 0) firstImage = image.detach();
        lastImage = image.detach();
        if (o.progress) o.progress(step, p, r.distance.back());
        if (extra < 0 && p >= o.stopProbability) {
            r.reached = true;
            extra = o.extraSteps;
        }
        if (extra == 0 || step >= o.steps) break;
        if (extra > 0) --extra;
        const at::Tensor g = torch::autograd::grad({loss}, {z})[0];
        z = z.detach() - o.learningRate * g;
    }
    const int64_t S = int64_t(r.targetProbability.size());
    r.path = TensorValue({S, D}, std::move(path));
    r.original = tensorToValue(firstImage.to(torch::kCPU));
    r.counterfactual = tensorToValue(lastImage.to(torch::kCPU));
    std::vector<float> diff(size_t(r.original.numel()));
    for (int64_t i = 0; i < r.original.numel(); ++i) diff[size_t(i)] = r.counterfactual.at(i) - r.original.at(i);
    r.difference = TensorValue(r.original.shape(), std::move(diff));
    return r;
}

std::vector<int64_t> framesAlongPath(const TensorValue &path, int frames)
{
    const int64_t S = path.dim(0), D = path.dim(1);
    std::vector<double> length(size_t(S), 0.0);
    for (int64_t k = 1; k < S; ++k) {
        double d2 = 0;
        for (int64_t j = 0; j < D; ++j) d2 += std::pow(double(path.at(k * D + j)) - path.at((k - 1) * D + j), 2);
        length[size_t(k)] = length[size_t(k - 1)] + std::sqrt(d2);
    }
    const int n = int(std::min<int64_t>(frames, S));
    std::vector<int64_t> idx;
    for (int f = 0; f < n; ++f) {
        const double want = n == 1 ? 0.0 : length.back() * f / (n - 1);
        const int64_t k = std::lower_bound(length.begin(), length.end(), want - 1e-12) - length.begin();
        idx.push_back(std::min<int64_t>(k, S - 1));
    }
    return idx;
}

TensorValue counterfactualStrip(Model &decoder, const CounterfactualResult &r, int frames, bool withDifference)
{
    const int64_t D = r.path.dim(1);
    const std::vector<int64_t> idx = framesAlongPath(r.path, frames);
    std::vector<float> codes;
    for (int64_t k : idx) codes.insert(codes.end(), r.path.data() + k * D, r.path.data() + (k + 1) * D);
    const TensorValue images = decodeCodes(decoder, TensorValue({int64_t(idx.size()), D}, std::move(codes)));
    if (!withDifference) return images;
    double m = 1e-12;
    for (int64_t i = 0; i < r.difference.numel(); ++i) m = std::max(m, double(std::abs(r.difference.at(i))));
    std::vector<float> v(images.data(), images.data() + images.numel());
    for (int64_t i = 0; i < r.difference.numel(); ++i) v.push_back(float(0.5 + 0.5 * r.difference.at(i) / m));
    Shape s = images.shape();
    s[0] += 1;
    return TensorValue(s, std::move(v));
}

/// Pooled features of `layer` (the logits when empty) and the logits, batched.
TensorValue classifierFeatures(Model &cls, const std::string &layer, const TensorValue &x, TensorValue &logits)
{
    std::vector<float> f, l;
    int64_t d = 0, k = 0;
    for (int64_t b = 0; b < x.dim(0); b += 256) {
        const int64_t e = std::min(x.dim(0), b + 256);
        const ForwardResult r = cls.forward(x.rows(b, e), layer.empty() ? std::vector<std::string>{} : std::vector<std::string>{layer});
        const TensorValue &out = r.outputs.at(0);
        l.insert(l.end(), out.data(), out.data() + out.numel());
        k = out.numel() / (e - b);
        const TensorValue pooled = layer.empty() ? TensorValue({e - b, k}, std::vector<float>(out.data(), out.data() + out.numel()))
                                                 : poolActivations(r.taps.begin()->second.at(0));
        d = pooled.dim(1);
        f.insert(f.end(), pooled.data(), pooled.data() + pooled.numel());
    }
    logits = TensorValue({x.dim(0), k}, std::move(l));
    return TensorValue({x.dim(0), d}, std::move(f));
}

std::pair<TensorValue, TensorValue> encodePosterior(Model &encoder, const TensorValue &images)
{
    std::vector<float> mu, lv;
    int64_t D = 0;
    for (int64_t b = 0; b < images.dim(0); b += 256) {
        const int64_t e = std::min(images.dim(0), b + 256);
        const ForwardResult r = encoder.forward(images.rows(b, e), {});
        if (r.outputs.size() < 2 || r.outputs[0].shape() != r.outputs[1].shape())
            throw Error(ErrorCode::BadInput, encoder.summary().fileName + " is not a VAE encoder: it must return (mu, logvar) of equal shapes");
        D = r.outputs[0].numel() / (e - b);
        mu.insert(mu.end(), r.outputs[0].data(), r.outputs[0].data() + r.outputs[0].numel());
        lv.insert(lv.end(), r.outputs[1].data(), r.outputs[1].data() + r.outputs[1].numel());
    }
    return {TensorValue({images.dim(0), D}, std::move(mu)), TensorValue({images.dim(0), D}, std::move(lv))};
}

GenerativeReport generativeReport(Model &gen, Model &cls, const std::string &layer, const TensorValue &codes, const TensorValue &real, Model *encoder,
                                  const TensorValue &realForEncoder, const std::function<void(const std::string &)> &stage)
{
    auto say = [&](const std::string &s) {
        if (stage) stage(s);
    };
    GenerativeReport g;
    g.samples = codes.dim(0);
    g.featureLayer = layer.empty() ? std::string("logits") : layer;
    say("decoding " + std::to_string(g.samples) + " samples");
    TensorValue images;
    if (isConditional(gen)) {
        // Classes in turn: sample i gets class i mod K.
        const int64_t K = conditionalClasses(gen), D = codes.dim(1);
        std::vector<TensorValue> decoded(size_t(codes.dim(0)));
        for (int64_t c = 0; c < K; ++c) {
            std::vector<float> part;
            std::vector<int64_t> which;
            for (int64_t i = c; i < codes.dim(0); i += K) {
                part.insert(part.end(), codes.data() + i * D, codes.data() + (i + 1) * D);
                which.push_back(i);
            }
            if (which.empty()) continue;
            const TensorValue out = decodeCodes(gen, TensorValue({int64_t(which.size()), D}, std::move(part)), c);
            for (size_t k = 0; k < which.size(); ++k) decoded[size_t(which[k])] = out.rows(int64_t(k), int64_t(k) + 1);
        }
        images = concatRows(decoded);
    } else {
        images = decodeCodes(gen, codes);
    }
    TensorValue logits;
    say("classifier features of the samples");
    const TensorValue features = classifierFeatures(cls, layer, toClassifierInput(images, gen.summary(), cls.summary()), logits);
    g.inceptionScore = inceptionScore(logits);
    g.diversity = diversity(features);
    if (real.numel() > 0) {
        say("classifier features of the real items");
        g.hasReal = true;
        g.realItems = real.dim(0);
        TensorValue realLogits;
        const TensorValue realFeatures = classifierFeatures(cls, layer, real, realLogits);
        g.frechetDistance = frechetDistance(features, realFeatures);
        g.realInceptionScore = inceptionScore(realLogits);
        g.realDiversity = diversity(realFeatures);
    }
    if (encoder && realForEncoder.numel() > 0) {
        say("encoding and reconstructing the real items");
        g.hasReconstruction = true;
        const auto [mu, logvar] = encodePosterior(*encoder, realForEncoder);
        const TensorValue recon = decodeCodes(gen, mu);
        if (recon.shape() != realForEncoder.shape())
            throw Error(ErrorCode::BadInput,
                        "Reconstructions " + shapeToString(recon.shape()) + " do not match the encoder's inputs "
                            + shapeToString(realForEncoder.shape()));
        g.reconstructionSsim = meanSsim(recon, realForEncoder);
        g.reconstructionPsnr = psnr(recon, realForEncoder);
        g.klPerDim = klPerDimension(mu, logvar);
        for (double v : g.klPerDim) g.activeUnits += v > 0.01;
        g.reconstructions = recon.rows(0, std::min<int64_t>(16, recon.dim(0)));
    }
    return g;
}

}   // namespace pellucid
