// The noise tunnel (SmoothGrad and its variants) around any other method.
#include "engine/attribution/runner.h"

namespace pellucid::detail {

namespace {

/// SmoothGrad, SmoothGrad² and VarGrad: a noise tunnel around another method.
at::Tensor noiseTunnel(Runner &r, AttributionMethod, const at::Tensor &x, const AttributionTarget &t, double &)
{
    const AttributionParams &p = r.p;
    if (p.noiseBase == AttributionMethod::SmoothGrad) throw Error(ErrorCode::BadInput, "The noise tunnel cannot wrap itself");
    if (p.samples < 1) throw Error(ErrorCode::BadInput, "The noise tunnel needs at least 1 sample (got " + std::to_string(p.samples) + ")");
    const double range = (x.max() - x.min()).item<double>();
    const double sigma = double(p.stdev) * (range > 0 ? range : 1.0);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(p.seed);
    const bool batched = isPlainGradientMethod(p.noiseBase);
    const int64_t chunk = batched ? r.chunkSize(x) : 1;
    at::Tensor sum, sumSq;
    for (int64_t i = 0; i < p.samples; i += chunk) {
        r.checkCancel();
        const int64_t k = std::min<int64_t>(chunk, p.samples - i);
        std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
        shape[0] = k;
        const at::Tensor noisy = x + (at::randn(shape, gen, torch::kFloat) * sigma).to(x.device());
        at::Tensor a;
        if (batched) {
            a = gradientMethod(r, p.noiseBase, noisy, t);
        } else {
            double unused = 0;
            a = attributeOne(r, p.noiseBase, noisy, t, unused);
        }
        const at::Tensor s1 = a.sum(0, true), s2 = (a * a).sum(0, true);
        sum = sum.defined() ? sum + s1 : s1;
        sumSq = sumSq.defined() ? sumSq + s2 : s2;
        const double n = double(i + k);
        r.progress(i + k, p.samples);
        const at::Tensor mean = sum / n, meanSq = sumSq / n;
        r.partial(p.noise == NoiseType::SmoothGrad              ? mean
                      : p.noise == NoiseType::SmoothGradSquared ? meanSq
                                                                : meanSq - mean * mean,
                  i + k, p.samples);
    }
    const double n = double(p.samples);
    const at::Tensor mean = sum / n, meanSq = sumSq / n;
    return p.noise == NoiseType::SmoothGrad ? mean : p.noise == NoiseType::SmoothGradSquared ? meanSq : meanSq - mean * mean;
}

}   // namespace

extern const MethodImpl smoothGradImpl{&noiseTunnel};

}   // namespace pellucid::detail
