#include "engine/generative/genmetrics.h"

#include "engine/core/errors.h"
#include "engine/core/linalg.h"
#include "engine/evaluation/sanity.h"

#include <algorithm>
#include <cmath>

namespace pellucid {
namespace {

void sameShape(const TensorValue &a, const TensorValue &b, const char *what)
{
    if (a.shape() != b.shape())
        throw Error(ErrorCode::BadInput,
                    std::string(what) + " needs batches of one shape: " + shapeToString(a.shape()) + " vs " + shapeToString(b.shape()));
}

void meanCov(const TensorValue &f, std::vector<double> &mean, std::vector<double> &cov)
{
    if (f.shape().size() != 2 || f.dim(0) < 2)
        throw Error(ErrorCode::BadInput, "Feature statistics need [N, D] with N >= 2, not " + shapeToString(f.shape()));
    const int64_t n = f.dim(0), d = f.dim(1);
    mean.assign(size_t(d), 0.0);
    cov.assign(size_t(d * d), 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < d; ++j) mean[size_t(j)] += f.at(i * d + j) / double(n);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t a = 0; a < d; ++a) {
            const double xa = f.at(i * d + a) - mean[size_t(a)];
            for (int64_t b = a; b < d; ++b) cov[size_t(a * d + b)] += xa * (f.at(i * d + b) - mean[size_t(b)]) / double(n - 1);
        }
    for (int64_t a = 0; a < d; ++a)
        for (int64_t b = 0; b < a; ++b) cov[size_t(a * d + b)] = cov[size_t(b * d + a)];
}

std::vector<double> matmul(const std::vector<double> &A, const std::vector<double> &B, int64_t d)
{
    std::vector<double> C(size_t(d * d), 0.0);
    for (int64_t i = 0; i < d; ++i)
        for (int64_t k = 0; k < d; ++k) {
            const double a = A[size_t(i * d + k)];
            if (a == 0) continue;
            for (int64_t j = 0; j < d; ++j) C[size_t(i * d + j)] += a * B[size_t(k * d + j)];
        }
    return C;
}

}   // namespace

double psnr(const TensorValue &a, const TensorValue &b, double range)
{
    sameShape(a, b, "PSNR");
    double se = 0;
    for (int64_t i = 0; i < a.numel(); ++i) se += std::pow(double(a.at(i)) - b.at(i), 2);
    const double mse = se / double(std::max<int64_t>(1, a.numel()));
    return mse > 0 ? 10 * std::log10(range * range / mse) : INFINITY;
}

double meanSsim(const TensorValue &a, const TensorValue &b, double range)
{
    sameShape(a, b, "SSIM");
    if (a.shape().size() != 4) throw Error(ErrorCode::BadInput, "SSIM needs images [N, C, H, W]");
    const int64_t planes = a.dim(0) * a.dim(1), h = a.dim(2), w = a.dim(3);
    double total = 0;
    for (int64_t p = 0; p < planes; ++p) {
        std::vector<double> x(a.data() + p * h * w, a.data() + (p + 1) * h * w), y(b.data() + p * h * w, b.data() + (p + 1) * h * w);
        total += ssim(x, y, h, w, range);
    }
    return total / double(planes);
}

std::vector<double> sqrtPsd(const std::vector<double> &A, int64_t d)
{
    std::vector<double> values, V;
    symmetricEigen(A, d, values, V);
    std::vector<double> out(size_t(d * d), 0.0);
    for (int64_t k = 0; k < d; ++k) {
        const double root = std::sqrt(std::max(0.0, values[size_t(k)]));   // clip tiny negative eigenvalues
        for (int64_t i = 0; i < d; ++i)
            for (int64_t j = 0; j < d; ++j) out[size_t(i * d + j)] += V[size_t(i * d + k)] * root * V[size_t(j * d + k)];
    }
    return out;
}

double frechetDistance(const TensorValue &f1, const TensorValue &f2)
{
    std::vector<double> m1, c1, m2, c2;
    meanCov(f1, m1, c1);
    meanCov(f2, m2, c2);
    const int64_t d = int64_t(m1.size());
    if (int64_t(m2.size()) != d) throw Error(ErrorCode::BadInput, "Feature sizes differ: " + std::to_string(d) + " and " + std::to_string(m2.size()));
    double meanTerm = 0;
    for (int64_t i = 0; i < d; ++i) meanTerm += std::pow(m1[size_t(i)] - m2[size_t(i)], 2);
    const std::vector<double> r1 = sqrtPsd(c1, d);
    const std::vector<double> middle = sqrtPsd(matmul(matmul(r1, c2, d), r1, d), d);
    double trace = 0;
    for (int64_t i = 0; i < d; ++i) trace += c1[size_t(i * d + i)] + c2[size_t(i * d + i)] - 2 * middle[size_t(i * d + i)];
    return std::max(0.0, meanTerm + trace);
}

double inceptionScore(const TensorValue &logits)
{
    if (logits.shape().size() != 2) throw Error(ErrorCode::BadInput, "The Inception Score needs logits [N, K]");
    const int64_t n = logits.dim(0), k = logits.dim(1);
    std::vector<double> p(size_t(n * k)), marginal(size_t(k), 0.0);
    for (int64_t i = 0; i < n; ++i) {
        double mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < k; ++c) mx = std::max(mx, double(logits.at(i * k + c)));
        for (int64_t c = 0; c < k; ++c) sum += (p[size_t(i * k + c)] = std::exp(double(logits.at(i * k + c)) - mx));
        for (int64_t c = 0; c < k; ++c) {
            p[size_t(i * k + c)] /= sum;
            marginal[size_t(c)] += p[size_t(i * k + c)] / double(n);
        }
    }
    double kl = 0;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < k; ++c) {
            const double q = p[size_t(i * k + c)];
            if (q > 0) kl += q * (std::log(q) - std::log(marginal[size_t(c)])) / double(n);
        }
    return std::exp(kl);
}

double diversity(const TensorValue &f)
{
    if (f.shape().size() != 2 || f.dim(0) < 2) throw Error(ErrorCode::BadInput, "Diversity needs features [N, D] with N >= 2");
    const int64_t n = f.dim(0), d = f.dim(1);
    double total = 0;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j) {
            double s = 0;
            for (int64_t k = 0; k < d; ++k) s += std::pow(double(f.at(i * d + k)) - f.at(j * d + k), 2);
            total += std::sqrt(s);
        }
    return total / (double(n) * double(n - 1) / 2);
}

std::vector<double> klPerDimension(const TensorValue &mu, const TensorValue &logvar)
{
    sameShape(mu, logvar, "The KL divergence");
    const int64_t n = mu.dim(0), d = mu.numel() / n;
    std::vector<double> kl(size_t(d), 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < d; ++j) {
            const double m = mu.at(i * d + j), lv = logvar.at(i * d + j);
            kl[size_t(j)] += -0.5 * (1 + lv - m * m - std::exp(lv)) / double(n);
        }
    return kl;
}

}   // namespace pellucid
