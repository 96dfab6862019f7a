#include "engine/linalg.h"

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

} // namespace pellucid
