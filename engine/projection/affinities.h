#pragma once
// t-SNE's conditional affinities of one point, shared by the exact and the sparse t-SNE (no torch).
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace pellucid {

/// p_j = exp(−β·d_j) / Σ exp(−β·d_k) over one point's `count` squared distances `d` (to every other point, or
/// to its nearest neighbours, possibly shifted by the nearest one's: the shift cancels), with the precision β
/// found by bisection so that the entropy (nats) is log(perplexity) within 1e-5, at most maxIterations steps.
inline void conditionalAffinities(const double *d, int64_t count, double perplexity, int maxIterations, double *p)
{
    const double target = std::log(perplexity);
    double beta = 1, lo = 0, hi = INFINITY;
    for (int it = 0; it < maxIterations; ++it) {
        double sum = 0, h = 0;
        for (int64_t j = 0; j < count; ++j) {
            p[j] = std::exp(-d[j] * beta);
            sum += p[j];
        }
        sum = std::max(sum, 1e-300);
        for (int64_t j = 0; j < count; ++j) {
            p[j] /= sum;
            h += beta * d[j] * p[j];
        }
        h += std::log(sum);
        if (std::fabs(h - target) < 1e-5) break;
        if (h > target) {
            lo = beta;
            beta = std::isinf(hi) ? beta * 2 : (beta + hi) / 2;
        } else {
            hi = beta;
            beta = (beta + lo) / 2;
        }
    }
}

}   // namespace pellucid
