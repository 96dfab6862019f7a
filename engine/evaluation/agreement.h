#pragma once
// How well an attribution map agrees with people: a human region mask (where the evidence should be)
// against the map at the input's pixels, and agreement between annotators. One definition each (plain C++,
// no LibTorch); the feedback report (app/feedback) and deletion/insertion use them.
#include "engine/core/tensorvalue.h"

#include <cstdint>
#include <vector>

namespace pellucid {

/// The map as pixel saliency at H×W: the attribution summed over its channels (batch element 0, signed);
/// a coarser map (a CAM's [1, 1, h, w]) upsampled bilinearly with half-pixel centres (align_corners false,
/// as the overlay draws it). Throws Error(BadInput) for a map of rank < 2.
std::vector<double> pixelSaliency(const TensorValue &attribution, int64_t H, int64_t W);

/// A mask of the same pixels: non-zero = inside the region.
using PixelMask = std::vector<uint8_t>;

/// Pointing game: 1 when the map's maximum (its first, in row-major order, as NumPy's argmax) lies inside
/// the mask, else 0.
double pointingGame(const std::vector<double> &map, const PixelMask &mask);
/// Energy-based pointing game: the share of the positive attribution (max(v, 0)) inside the mask; 0 when the
/// map has no positive value.
double energyPointingGame(const std::vector<double> &map, const PixelMask &mask);
/// The (100 − k)th percentile of the values (NumPy's default, linear interpolation).
double percentile(std::vector<double> values, double q);
/// IoU of the top-k % pixels (signed value at or above the (100 − k)th percentile) with the mask.
double topPercentIoU(const std::vector<double> &map, const PixelMask &mask, double percent);
/// ROC-AUC of the values as a predictor of the mask (ties count a half, as scikit-learn's roc_auc_score);
/// NaN when the mask holds every pixel or none.
double rocAuc(const std::vector<double> &map, const PixelMask &mask);
/// Intersection over union of two masks (1 when both are empty).
double maskIoU(const PixelMask &a, const PixelMask &b);
/// Cohen's κ of two raters' labels (any integer categories) on the same items: (p_o − p_e) / (1 − p_e);
/// NaN when fewer than one item or p_e = 1 (as scikit-learn's cohen_kappa_score).
double cohenKappa(const std::vector<int> &a, const std::vector<int> &b);

/// Every figure of one map against one mask. Throws Error(BadInput) when the sizes differ, the mask is
/// empty or the map holds NaN / Inf (named).
struct MaskAgreement {
    double pointing = 0, energy = 0, iouTop = 0, auc = 0;   // auc NaN when undefined
};
MaskAgreement maskAgreement(const std::vector<double> &map, const PixelMask &mask, double topPercent = 10);

/// A mean over items with its 95 % interval (normal approximation, sample standard deviation); NaN values
/// are left out; fewer than two items: the interval is NaN.
struct MeanInterval {
    double mean = 0, lo = 0, hi = 0;
    int64_t n = 0;
};
MeanInterval meanInterval(const std::vector<double> &values);

}   // namespace pellucid
