#pragma once
// Paths of the committed fixtures and of the shared reference data (../shared/reference).
#include "engine/tensorvalue.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace fixtures {

inline std::string dir() { return PELLUCID_FIXTURES_DIR; }
inline std::string path(const std::string &name) { return dir() + "/" + name; }
inline std::string reference(const std::string &name) { return std::string(PELLUCID_REFERENCE_DIR) + "/" + name; }
inline std::string resources(const std::string &name) { return std::string(PELLUCID_RESOURCES_DIR) + "/" + name; }

/// max |a - b| over elements (shapes must match; +inf when they do not).
inline double maxAbsDiff(const pellucid::TensorValue &a, const pellucid::TensorValue &b)
{
    if (a.shape() != b.shape())
        return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i)
        m = std::max(m, double(std::fabs(a.at(i) - b.at(i))));
    return m;
}

inline double maxAbs(const pellucid::TensorValue &a)
{
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i)
        m = std::max(m, double(std::fabs(a.at(i))));
    return m;
}

} // namespace fixtures
