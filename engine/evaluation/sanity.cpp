#include <torch/script.h>
#include <torch/torch.h>

#include "engine/evaluation/sanity.h"

#include "engine/core/errors.h"
#include "engine/runtime/modelimpl.h"
#include "engine/core/stats.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

namespace pellucid {
namespace {

std::vector<double> magnitudes(const TensorValue &t)
{
    std::vector<double> out(size_t(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) out[size_t(i)] = std::fabs(double(t.at(i)));
    return out;
}

/// Sum over channels to one plane (last two dims).
std::vector<double> plane(const TensorValue &t, int64_t &h, int64_t &w)
{
    const Shape &s = t.shape();
    h = s.size() >= 2 ? s[s.size() - 2] : 1;
    w = s.back();
    const int64_t planes = t.numel() / (h * w);
    std::vector<double> out(size_t(h * w), 0.0);
    for (int64_t c = 0; c < planes; ++c)
        for (int64_t i = 0; i < h * w; ++i) out[size_t(i)] += std::fabs(double(t.at(c * h * w + i)));
    return out;
}

std::vector<double> normalised(std::vector<double> v)
{
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    const double a = *lo, span = *hi - *lo;
    for (double &x : v) x = span > 0 ? (x - a) / span : 0.0;
    return v;
}

}   // namespace

double ssim(const std::vector<double> &a, const std::vector<double> &b, int64_t h, int64_t w, double dataRange)
{
    const int win = 7, pad = win / 2;
    if (h < win || w < win) throw Error(ErrorCode::BadInput, "SSIM needs images of at least 7×7 pixels");
    const double C1 = std::pow(0.01 * dataRange, 2), C2 = std::pow(0.03 * dataRange, 2);
    const double np = win * win, cov = np / (np - 1);
    double total = 0;
    int64_t count = 0;
    for (int64_t y = pad; y < h - pad; ++y)
        for (int64_t x = pad; x < w - pad; ++x) {
            double ma = 0, mb = 0, maa = 0, mbb = 0, mab = 0;
            for (int dy = -pad; dy <= pad; ++dy)
                for (int dx = -pad; dx <= pad; ++dx) {
                    const double va = a[size_t((y + dy) * w + x + dx)], vb = b[size_t((y + dy) * w + x + dx)];
                    ma += va;
                    mb += vb;
                    maa += va * va;
                    mbb += vb * vb;
                    mab += va * vb;
                }
            ma /= np;
            mb /= np;
            maa /= np;
            mbb /= np;
            mab /= np;
            const double va = cov * (maa - ma * ma), vb = cov * (mbb - mb * mb), vab = cov * (mab - ma * mb);
            total += ((2 * ma * mb + C1) * (2 * vab + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
            ++count;
        }
    return total / double(count);
}

SanityResult cascadingRandomization(Model &model, const std::function<TensorValue(Model &)> &explain, uint64_t seed)
{
    Model::Impl &d = model.impl();
    // Layers with parameters of their own, in reverse order of their (last) call: the top layer first.
    std::map<std::string, bool> hasOwnParameters;
    for (const auto &nm : d.torchModule().named_modules()) hasOwnParameters[nm.name] = nm.value.parameters(false).size() > 0;
    std::vector<std::string> order;
    for (auto it = d.calledPaths.rbegin(); it != d.calledPaths.rend(); ++it)
        if (hasOwnParameters[*it]) order.push_back(*it);
    std::map<std::string, at::Tensor> saved;
    for (const auto &p : d.torchModule().named_parameters(true)) saved[p.name] = p.value.detach().clone();
    struct Restore {
        Model::Impl &d;
        std::map<std::string, at::Tensor> &saved;
        ~Restore()
        {
            torch::NoGradGuard ng;
            for (const auto &p : d.torchModule().named_parameters(true)) p.value.copy_(saved.at(p.name));
        }
    } restore{d, saved};

    const TensorValue original = explain(model);
    int64_t h = 0, w = 0;
    const std::vector<double> origPlane = normalised(plane(original, h, w));
    const std::vector<double> origMag = magnitudes(original);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    SanityResult res;
    for (const std::string &layer : order) {
        {
            torch::NoGradGuard ng;
            for (const auto &nm : d.torchModule().named_modules())
                if (nm.name == layer)
                    for (const auto &p : nm.value.named_parameters(false)) {
                        const double sd = p.value.numel() > 1 ? p.value.std().item<double>() : 1.0;
                        p.value.copy_(at::randn(p.value.sizes(), gen, torch::kFloat).mul(sd > 0 ? sd : 1.0).to(p.value.device()));
                    }
        }
        const TensorValue m = explain(model);
        int64_t hh = 0, ww = 0;
        const std::vector<double> pl = normalised(plane(m, hh, ww));
        SanityStep step;
        step.layer = layer;
        step.spearman = spearman(origMag, magnitudes(m));
        step.ssim = (h >= 7 && w >= 7) ? ssim(origPlane, pl, h, w, 1.0) : std::nan("");
        res.steps.push_back(step);
    }
    res.insensitive = !res.steps.empty() && res.steps.back().spearman > 0.9;
    return res;
}

double infidelity(Model &model, const TensorValue &input, const TensorValue &attribution, int target, int samples, double noise, uint64_t seed)
{
    if (attribution.shape() != input.shape())
        throw Error(ErrorCode::BadInput, "Infidelity needs an attribution of the input's shape " + shapeToString(input.shape()));
    if (samples < 1) throw Error(ErrorCode::BadInput, "Infidelity needs at least 1 sample");
    const int64_t n = input.numel();
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, noise);
    std::vector<float> batch(size_t(samples * n));
    std::vector<double> dots(size_t(samples), 0.0);
    for (int s = 0; s < samples; ++s)
        for (int64_t i = 0; i < n; ++i) {
            const double pert = g(rng);
            batch[size_t(s * n + i)] = float(input.at(i) - pert);
            dots[size_t(s)] += pert * attribution.at(i);
        }
    Shape shape = input.shape();
    shape[0] = samples;
    const TensorValue outs = model.forward(TensorValue(shape, std::move(batch)), {}).outputs.at(0);
    const TensorValue ref = model.forward(input, {}).outputs.at(0);
    if (outs.shape().size() != 2 || target < 0 || target >= outs.dim(1))
        throw Error(ErrorCode::BadInput, "Target " + std::to_string(target) + " is not a class of this model");
    const double fx = ref.at(target);
    double total = 0;
    for (int s = 0; s < samples; ++s) {
        const double diff = dots[size_t(s)] - (fx - outs.at(int64_t(s) * outs.dim(1) + target));
        total += diff * diff;
    }
    return total / samples;
}

double maxSensitivity(Model &, const TensorValue &input, const std::function<TensorValue(const TensorValue &)> &explain, int samples, double radius,
                      uint64_t seed)
{
    const TensorValue base = explain(input);
    double norm = 0;
    for (int64_t i = 0; i < base.numel(); ++i) norm += double(base.at(i)) * base.at(i);
    norm = std::sqrt(norm);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-radius, radius);
    double worst = 0;
    for (int s = 0; s < samples; ++s) {
        std::vector<float> x(input.data(), input.data() + input.numel());
        for (float &v : x) v = float(v + u(rng));
        const TensorValue m = explain(TensorValue(input.shape(), std::move(x)));
        double diff = 0;
        for (int64_t i = 0; i < m.numel(); ++i) diff += std::pow(double(m.at(i)) - base.at(i), 2);
        worst = std::max(worst, norm > 0 ? std::sqrt(diff) / norm : std::sqrt(diff));
    }
    return worst;
}

}   // namespace pellucid
