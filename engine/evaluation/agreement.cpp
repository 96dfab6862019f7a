#include "engine/evaluation/agreement.h"

#include "engine/core/errors.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>

namespace pellucid {

std::vector<double> pixelSaliency(const TensorValue &attribution, int64_t H, int64_t W)
{
    const Shape &as = attribution.shape();
    if (as.size() < 2) throw Error(ErrorCode::BadInput, "The attribution " + shapeToString(as) + " is not a map");
    if (H < 1 || W < 1) throw Error(ErrorCode::BadInput, "A saliency map needs at least one pixel");
    const int64_t h = as[as.size() - 2], w = as[as.size() - 1], planes = std::max<int64_t>(1, (as.size() >= 3 ? as[as.size() - 3] : 1));
    if (h < 1 || w < 1) throw Error(ErrorCode::BadInput, "The attribution " + shapeToString(as) + " is empty");
    std::vector<double> coarse(static_cast<size_t>(h * w), 0.0);
    for (int64_t c = 0; c < planes; ++c)
        for (int64_t i = 0; i < h * w; ++i) coarse[size_t(i)] += attribution.at(c * h * w + i);
    if (h == H && w == W) return coarse;
    std::vector<double> out(static_cast<size_t>(H * W), 0.0);
    for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
            const double sy = std::clamp((y + 0.5) * double(h) / double(H) - 0.5, 0.0, double(h - 1));
            const double sx = std::clamp((x + 0.5) * double(w) / double(W) - 0.5, 0.0, double(w - 1));
            const int64_t y0 = int64_t(sy), x0 = int64_t(sx), y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
            const double fy = sy - double(y0), fx = sx - double(x0);
            out[size_t(y * W + x)] = (1 - fy) * ((1 - fx) * coarse[size_t(y0 * w + x0)] + fx * coarse[size_t(y0 * w + x1)])
                + fy * ((1 - fx) * coarse[size_t(y1 * w + x0)] + fx * coarse[size_t(y1 * w + x1)]);
        }
    return out;
}

namespace {

void checkSizes(const std::vector<double> &map, const PixelMask &mask)
{
    if (map.size() != mask.size())
        throw Error(ErrorCode::BadInput, "The map has " + std::to_string(map.size()) + " pixels and the mask " + std::to_string(mask.size()));
    if (map.empty()) throw Error(ErrorCode::BadInput, "The map is empty");
}

}   // namespace

double pointingGame(const std::vector<double> &map, const PixelMask &mask)
{
    checkSizes(map, mask);
    const size_t best = size_t(std::max_element(map.begin(), map.end()) - map.begin());   // the first maximum
    return mask[best] ? 1.0 : 0.0;
}

double energyPointingGame(const std::vector<double> &map, const PixelMask &mask)
{
    checkSizes(map, mask);
    double inside = 0, all = 0;
    for (size_t i = 0; i < map.size(); ++i) {
        const double v = std::max(map[i], 0.0);
        all += v;
        if (mask[i]) inside += v;
    }
    return all > 0 ? inside / all : 0.0;
}

double percentile(std::vector<double> v, double q)
{
    if (v.empty()) throw Error(ErrorCode::BadInput, "The percentile of no values");
    std::sort(v.begin(), v.end());
    const double pos = std::clamp(q, 0.0, 100.0) / 100.0 * double(v.size() - 1);
    const size_t lo = size_t(std::floor(pos)), hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

double topPercentIoU(const std::vector<double> &map, const PixelMask &mask, double percent)
{
    checkSizes(map, mask);
    if (!(percent > 0 && percent <= 100)) throw Error(ErrorCode::BadInput, "Top-k % needs 0 < k <= 100");
    const double threshold = percentile(map, 100.0 - percent);
    int64_t inter = 0, uni = 0;
    for (size_t i = 0; i < map.size(); ++i) {
        const bool top = map[i] >= threshold, in = mask[i] != 0;
        inter += top && in;
        uni += top || in;
    }
    return uni ? double(inter) / double(uni) : 1.0;
}

double rocAuc(const std::vector<double> &map, const PixelMask &mask)
{
    checkSizes(map, mask);
    std::vector<size_t> order(map.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return map[a] < map[b]; });
    // Mann–Whitney U from average ranks (ties share their mean rank).
    double rankSum = 0;
    int64_t positives = 0;
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        while (j + 1 < order.size() && map[order[j + 1]] == map[order[i]]) ++j;
        const double rank = (double(i) + double(j)) / 2.0 + 1.0;
        for (size_t k = i; k <= j; ++k)
            if (mask[order[k]]) {
                rankSum += rank;
                ++positives;
            }
        i = j + 1;
    }
    const int64_t negatives = int64_t(map.size()) - positives;
    if (positives == 0 || negatives == 0) return std::nan("");
    return (rankSum - double(positives) * double(positives + 1) / 2.0) / (double(positives) * double(negatives));
}

double maskIoU(const PixelMask &a, const PixelMask &b)
{
    if (a.size() != b.size())
        throw Error(ErrorCode::BadInput, "Masks of " + std::to_string(a.size()) + " and " + std::to_string(b.size()) + " pixels");
    int64_t inter = 0, uni = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        inter += a[i] && b[i];
        uni += a[i] || b[i];
    }
    return uni ? double(inter) / double(uni) : 1.0;
}

double cohenKappa(const std::vector<int> &a, const std::vector<int> &b)
{
    if (a.size() != b.size()) throw Error(ErrorCode::BadInput, "Cohen's kappa needs the same items from both raters");
    if (a.empty()) return std::nan("");
    std::map<int, double> pa, pb;
    double agree = 0;
    const double n = double(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
        pa[a[i]] += 1.0 / n;
        pb[b[i]] += 1.0 / n;
        agree += a[i] == b[i] ? 1.0 / n : 0.0;
    }
    double expected = 0;
    for (const auto &[k, p] : pa)
        if (auto it = pb.find(k); it != pb.end()) expected += p * it->second;
    if (std::abs(1.0 - expected) < 1e-12) return std::nan("");
    return (agree - expected) / (1.0 - expected);
}

MaskAgreement maskAgreement(const std::vector<double> &map, const PixelMask &mask, double topPercent)
{
    checkSizes(map, mask);
    for (double v : map)
        if (!std::isfinite(v)) throw Error(ErrorCode::BadInput, "The map holds NaN or Inf");
    if (std::none_of(mask.begin(), mask.end(), [](uint8_t m) { return m != 0; })) throw Error(ErrorCode::BadInput, "The mask is empty");
    MaskAgreement r;
    r.pointing = pointingGame(map, mask);
    r.energy = energyPointingGame(map, mask);
    r.iouTop = topPercentIoU(map, mask, topPercent);
    r.auc = rocAuc(map, mask);
    return r;
}

MeanInterval meanInterval(const std::vector<double> &values)
{
    MeanInterval r;
    double sum = 0;
    for (double v : values)
        if (std::isfinite(v)) {
            sum += v;
            ++r.n;
        }
    if (r.n == 0) {
        r.mean = r.lo = r.hi = std::nan("");
        return r;
    }
    r.mean = sum / double(r.n);
    double ss = 0;
    for (double v : values)
        if (std::isfinite(v)) ss += (v - r.mean) * (v - r.mean);
    if (r.n < 2) {   // one item: no interval
        r.lo = r.hi = std::nan("");
        return r;
    }
    const double half = 1.959963984540054 * std::sqrt(ss / double(r.n - 1)) / std::sqrt(double(r.n));
    r.lo = r.mean - half;
    r.hi = r.mean + half;
    return r;
}

}   // namespace pellucid
