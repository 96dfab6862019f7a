#pragma once
// Small statistics shared by several capabilities (no torch).
#include <vector>

namespace pellucid {

/// Spearman's rank correlation (ties get their average rank); 0 when either side is constant or n < 2.
double spearman(const std::vector<double> &a, const std::vector<double> &b);

}   // namespace pellucid
