#include "engine/core/linalg.h"

#include <algorithm>
#include <cmath>

namespace pellucid {

void symmetricEigen(std::vector<double> H, int64_t d, std::vector<double> &values, std::vector<double> &V)
{
    V.assign(size_t(d * d), 0.0);
    for (int64_t i = 0; i < d; ++i) V[size_t(i * d + i)] = 1;
    for (int sweep = 0; sweep < 100; ++sweep) {
        double off = 0, diag = 0;
        for (int64_t p = 0; p < d; ++p) {
            diag += H[size_t(p * d + p)] * H[size_t(p * d + p)];
            for (int64_t q = p + 1; q < d; ++q) off += H[size_t(p * d + q)] * H[size_t(p * d + q)];
        }
        if (off <= 1e-30 * std::max(1.0, diag)) break;
        for (int64_t p = 0; p < d; ++p)
            for (int64_t q = p + 1; q < d; ++q) {
                const double apq = H[size_t(p * d + q)];
                if (std::fabs(apq) < 1e-300) continue;
                const double theta = (H[size_t(q * d + q)] - H[size_t(p * d + p)]) / (2 * apq);
                const double t = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
                const double c = 1 / std::sqrt(t * t + 1), s = t * c;
                for (int64_t r = 0; r < d; ++r) {
                    const double hp = H[size_t(r * d + p)], hq = H[size_t(r * d + q)];
                    H[size_t(r * d + p)] = c * hp - s * hq;
                    H[size_t(r * d + q)] = s * hp + c * hq;
                }
                for (int64_t r = 0; r < d; ++r) {
                    const double hp = H[size_t(p * d + r)], hq = H[size_t(q * d + r)];
                    H[size_t(p * d + r)] = c * hp - s * hq;
                    H[size_t(q * d + r)] = s * hp + c * hq;
                }
                for (int64_t r = 0; r < d; ++r) {
                    const double vp = V[size_t(r * d + p)], vq = V[size_t(r * d + q)];
                    V[size_t(r * d + p)] = c * vp - s * vq;
                    V[size_t(r * d + q)] = s * vp + c * vq;
                }
            }
    }
    values.resize(size_t(d));
    for (int64_t i = 0; i < d; ++i) values[size_t(i)] = H[size_t(i * d + i)];
}

/// Solves (A) x = b for a symmetric positive-definite A (Cholesky), in place.
bool solveSpd(std::vector<double> A, std::vector<double> b, int64_t n, std::vector<double> &x)
{
    for (int64_t j = 0; j < n; ++j) {
        double d = A[size_t(j * n + j)];
        for (int64_t k = 0; k < j; ++k) d -= A[size_t(j * n + k)] * A[size_t(j * n + k)];
        if (!(d > 0)) return false;
        d = std::sqrt(d);
        A[size_t(j * n + j)] = d;
        for (int64_t i = j + 1; i < n; ++i) {
            double s = A[size_t(i * n + j)];
            for (int64_t k = 0; k < j; ++k) s -= A[size_t(i * n + k)] * A[size_t(j * n + k)];
            A[size_t(i * n + j)] = s / d;
        }
    }
    for (int64_t i = 0; i < n; ++i) {   // L y = b
        double s = b[size_t(i)];
        for (int64_t k = 0; k < i; ++k) s -= A[size_t(i * n + k)] * b[size_t(k)];
        b[size_t(i)] = s / A[size_t(i * n + i)];
    }
    for (int64_t i = n - 1; i >= 0; --i) {   // Lᵀ x = y
        double s = b[size_t(i)];
        for (int64_t k = i + 1; k < n; ++k) s -= A[size_t(k * n + i)] * b[size_t(k)];
        b[size_t(i)] = s / A[size_t(i * n + i)];
    }
    x = std::move(b);
    return true;
}

}   // namespace pellucid
