#include "engine/projection/projection.h"

#include "engine/core/errors.h"
#include "engine/core/linalg.h"
#include "engine/projection/affinities.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace pellucid {
namespace {

void checkMatrix(const TensorValue &f)
{
    if (f.shape().size() != 2 || f.dim(0) < 2)
        throw Error(ErrorCode::BadInput, "Projections need features [N, D] with N >= 2, not " + shapeToString(f.shape()));
}

std::vector<double> squaredDistances(const std::vector<double> &X, int64_t n, int64_t d)
{
    std::vector<double> D(size_t(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j) {
            double s = 0;
            for (int64_t k = 0; k < d; ++k) {
                const double t = X[size_t(i * d + k)] - X[size_t(j * d + k)];
                s += t * t;
            }
            D[size_t(i * n + j)] = D[size_t(j * n + i)] = s;
        }
    return D;
}

}   // namespace

PcaResult pca(const TensorValue &features, int k, unsigned seed)
{
    checkMatrix(features);
    const int64_t n = features.dim(0), d = features.dim(1);
    if (k < 1 || k > std::min(n, d))
        throw Error(ErrorCode::BadInput, "PCA with " + std::to_string(k) + " components needs at most min(N, D) = " + std::to_string(std::min(n, d)));
    std::vector<double> X(size_t(n * d));
    std::vector<double> mean(size_t(d), 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < d; ++j) mean[size_t(j)] += features.at(i * d + j) / double(n);
    double total = 0;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < d; ++j) {
            const double v = features.at(i * d + j) - mean[size_t(j)];
            X[size_t(i * d + j)] = v;
            total += v * v;
        }
    total /= double(n - 1);
    // Block power iteration on C = XᵀX/(n−1) for the leading k eigenvectors (with a few extra vectors).
    const int64_t b = std::min<int64_t>(d, k + 8);
    std::mt19937 rng(seed);
    std::normal_distribution<double> gauss;
    std::vector<double> V(size_t(d * b));
    for (auto &v : V) v = gauss(rng);
    auto orthonormalise = [&](std::vector<double> &M) {
        for (int64_t c = 0; c < b; ++c) {
            for (int64_t p = 0; p < c; ++p) {
                double dot = 0;
                for (int64_t r = 0; r < d; ++r) dot += M[size_t(r * b + c)] * M[size_t(r * b + p)];
                for (int64_t r = 0; r < d; ++r) M[size_t(r * b + c)] -= dot * M[size_t(r * b + p)];
            }
            double norm = 0;
            for (int64_t r = 0; r < d; ++r) norm += M[size_t(r * b + c)] * M[size_t(r * b + c)];
            norm = std::sqrt(std::max(norm, 1e-300));
            for (int64_t r = 0; r < d; ++r) M[size_t(r * b + c)] /= norm;
        }
    };
    orthonormalise(V);
    std::vector<double> XV(size_t(n * b)), CV(size_t(d * b));
    auto applyC = [&](const std::vector<double> &in, std::vector<double> &out) {
        std::fill(XV.begin(), XV.end(), 0.0);
        for (int64_t i = 0; i < n; ++i)
            for (int64_t r = 0; r < d; ++r) {
                const double x = X[size_t(i * d + r)];
                if (x == 0) continue;
                for (int64_t c = 0; c < b; ++c) XV[size_t(i * b + c)] += x * in[size_t(r * b + c)];
            }
        std::fill(out.begin(), out.end(), 0.0);
        for (int64_t i = 0; i < n; ++i)
            for (int64_t r = 0; r < d; ++r) {
                const double x = X[size_t(i * d + r)];
                if (x == 0) continue;
                for (int64_t c = 0; c < b; ++c) out[size_t(r * b + c)] += x * XV[size_t(i * b + c)] / double(n - 1);
            }
    };
    std::vector<double> previous(size_t(b), 0.0);
    for (int it = 0; it < 500; ++it) {
        applyC(V, CV);
        // Rayleigh quotients (eigenvalue estimates) before re-orthonormalising.
        std::vector<double> lambda(size_t(b), 0.0);
        for (int64_t c = 0; c < b; ++c)
            for (int64_t r = 0; r < d; ++r) lambda[size_t(c)] += V[size_t(r * b + c)] * CV[size_t(r * b + c)];
        V = CV;
        orthonormalise(V);
        double change = 0;
        for (int64_t c = 0; c < k; ++c)
            change = std::max(change, std::fabs(lambda[size_t(c)] - previous[size_t(c)]) / std::max(1e-300, std::fabs(lambda[size_t(c)])));
        previous = lambda;
        if (it > 5 && change < 1e-12) break;
    }
    // Rayleigh–Ritz: diagonalise VᵀCV (b × b, Jacobi) to separate close eigenvalues exactly.
    applyC(V, CV);
    std::vector<double> H(size_t(b * b), 0.0), E, eig;
    for (int64_t p = 0; p < b; ++p)
        for (int64_t q = 0; q < b; ++q)
            for (int64_t r = 0; r < d; ++r) H[size_t(p * b + q)] += V[size_t(r * b + p)] * CV[size_t(r * b + q)];
    symmetricEigen(H, b, eig, E);
    std::vector<int64_t> order(static_cast<size_t>(b));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return eig[size_t(x)] > eig[size_t(y)]; });
    PcaResult res;
    std::vector<float> comps(size_t(k * d)), proj(size_t(n * k));
    for (int64_t c = 0; c < k; ++c) {
        const int64_t e = order[size_t(c)];
        // Component = V · E[:, e]; a deterministic sign (largest entry positive).
        std::vector<double> w(size_t(d), 0.0);
        for (int64_t r = 0; r < d; ++r)
            for (int64_t q = 0; q < b; ++q) w[size_t(r)] += V[size_t(r * b + q)] * E[size_t(q * b + e)];
        const auto big = std::max_element(w.begin(), w.end(), [](double x, double y) { return std::fabs(x) < std::fabs(y); });
        const double sign = *big < 0 ? -1 : 1;
        for (int64_t r = 0; r < d; ++r) comps[size_t(c * d + r)] = float(sign * w[size_t(r)]);
        const double var = eig[size_t(e)];
        res.explainedVariance.push_back(var);
        res.explainedRatio.push_back(total > 0 ? var / total : 0);
        for (int64_t i = 0; i < n; ++i) {
            double s = 0;
            for (int64_t r = 0; r < d; ++r) s += X[size_t(i * d + r)] * sign * w[size_t(r)];
            proj[size_t(i * k + c)] = float(s);
        }
    }
    res.components = TensorValue({k, d}, std::move(comps));
    res.projected = TensorValue({n, k}, std::move(proj));
    return res;
}

TensorValue tsne(const TensorValue &features, const TsneOptions &options)
{
    checkMatrix(features);
    const int64_t n = features.dim(0), d = features.dim(1);
    if (options.perplexity <= 0 || 3 * options.perplexity >= double(n))
        throw Error(ErrorCode::BadInput,
                    "t-SNE perplexity " + std::to_string(options.perplexity) + " needs more points (N = " + std::to_string(n)
                        + " must exceed 3 × perplexity)");
    if (options.theta > 0 && options.dims == 2) return tsneSparse(features, options);
    TsneOptions o = options;
    if (o.learningRate <= 0) o.learningRate = std::max(double(n) / 12.0 / 4.0, 50.0);
    std::vector<double> X(size_t(n * d));
    for (int64_t i = 0; i < n * d; ++i) X[size_t(i)] = features.at(i);
    const std::vector<double> D = squaredDistances(X, n, d);
    // Conditional affinities with a per-point precision found by bisection to match the perplexity.
    std::vector<double> P(size_t(n * n), 0.0), row(size_t(n - 1)), pRow(size_t(n - 1));
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0, c = 0; j < n; ++j)
            if (j != i) row[size_t(c++)] = D[size_t(i * n + j)];
        conditionalAffinities(row.data(), n - 1, o.perplexity, 100, pRow.data());
        for (int64_t j = 0, c = 0; j < n; ++j)
            if (j != i) P[size_t(i * n + j)] = pRow[size_t(c++)];
    }
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j) {
            const double s = std::max((P[size_t(i * n + j)] + P[size_t(j * n + i)]) / (2.0 * double(n)), 1e-12);
            P[size_t(i * n + j)] = P[size_t(j * n + i)] = s;
        }
    const int64_t m = o.dims;
    std::mt19937 rng(o.seed);
    std::normal_distribution<double> gauss(0, 1e-4);
    std::vector<double> Y(size_t(n * m)), vel(size_t(n * m), 0.0), gains(size_t(n * m), 1.0), grad(size_t(n * m));
    for (auto &y : Y) y = gauss(rng);
    std::vector<double> num(size_t(n * n));
    for (int it = 0; it < o.iterations; ++it) {
        if (o.cancelled && o.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
        const double exaggeration = it < 250 ? 12.0 : 1.0, momentum = it < 250 ? 0.5 : 0.8;
        double sumQ = 0;
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = i + 1; j < n; ++j) {
                double s = 0;
                for (int64_t k = 0; k < m; ++k) {
                    const double t = Y[size_t(i * m + k)] - Y[size_t(j * m + k)];
                    s += t * t;
                }
                const double q = 1 / (1 + s);
                num[size_t(i * n + j)] = num[size_t(j * n + i)] = q;
                sumQ += 2 * q;
            }
        std::fill(grad.begin(), grad.end(), 0.0);
        double kl = 0;
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j) {
                if (i == j) continue;
                const double q = num[size_t(i * n + j)];
                const double pij = P[size_t(i * n + j)];
                const double mult = (exaggeration * pij - q / sumQ) * q;
                for (int64_t k = 0; k < m; ++k) grad[size_t(i * m + k)] += 4 * mult * (Y[size_t(i * m + k)] - Y[size_t(j * m + k)]);
                if (j > i) kl += 2 * pij * std::log(pij / std::max(q / sumQ, 1e-300));
            }
        for (int64_t i = 0; i < n * m; ++i) {
            gains[size_t(i)] = (grad[size_t(i)] > 0) != (vel[size_t(i)] > 0) ? gains[size_t(i)] + 0.2 : std::max(0.01, gains[size_t(i)] * 0.8);
            vel[size_t(i)] = momentum * vel[size_t(i)] - o.learningRate * gains[size_t(i)] * grad[size_t(i)];
            Y[size_t(i)] += vel[size_t(i)];
        }
        for (int64_t k = 0; k < m; ++k) {   // keep centred
            double c = 0;
            for (int64_t i = 0; i < n; ++i) c += Y[size_t(i * m + k)] / double(n);
            for (int64_t i = 0; i < n; ++i) Y[size_t(i * m + k)] -= c;
        }
        if (o.progress && (it % 50 == 49 || it + 1 == o.iterations)) {
            std::vector<float> yf(Y.begin(), Y.end());
            o.progress(it + 1, kl, TensorValue({n, m}, std::move(yf)));
        }
    }
    return TensorValue({n, m}, std::vector<float>(Y.begin(), Y.end()));
}

TensorValue poolActivations(const TensorValue &act)
{
    const Shape &sh = act.shape();
    if (sh.size() < 2) throw Error(ErrorCode::BadInput, "Cannot pool an activation of shape " + shapeToString(sh));
    const int64_t items = sh[0], per = act.numel() / std::max<int64_t>(1, items);
    int64_t channels = sh[1], pool = 1;
    if (sh.size() == 3) {
        channels = sh[2];
        pool = sh[1];
    } else if (sh.size() >= 4)
        pool = per / channels;
    std::vector<float> out(static_cast<size_t>(items * channels));
    for (int64_t i = 0; i < items; ++i)
        for (int64_t c = 0; c < channels; ++c) {
            double acc = 0;
            for (int64_t k = 0; k < pool; ++k) acc += sh.size() == 3 ? act.at(i * per + k * channels + c) : act.at(i * per + c * pool + k);
            out[size_t(i * channels + c)] = float(acc / double(pool));
        }
    return TensorValue({items, channels}, std::move(out));
}

double neighbourhoodPreservation(const TensorValue &high, const TensorValue &low, int k)
{
    checkMatrix(high);
    checkMatrix(low);
    const int64_t n = high.dim(0);
    if (low.dim(0) != n) throw Error(ErrorCode::BadInput, "Both embeddings need the same points");
    // Exact neighbours by blocks (memory O(N·k), so the 60,000-point projections can be scored too).
    const int kk = int(std::min<int64_t>(k, n - 1));
    auto knn = [&](const TensorValue &t) {
        const KnnGraph g = nearestNeighbours(t, kk);
        std::vector<std::vector<int64_t>> out(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
            out[size_t(i)].assign(g.index.begin() + i * kk, g.index.begin() + (i + 1) * kk);
            std::sort(out[size_t(i)].begin(), out[size_t(i)].end());
        }
        return out;
    };
    const auto a = knn(high), b = knn(low);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
        std::vector<int64_t> common;
        std::set_intersection(a[size_t(i)].begin(), a[size_t(i)].end(), b[size_t(i)].begin(), b[size_t(i)].end(), std::back_inserter(common));
        total += double(common.size()) / double(a[size_t(i)].size());
    }
    return total / double(n);
}

}   // namespace pellucid
