#pragma once
// Helpers the bench's sections share (engine/bench/bench.cpp, versus_captum.cpp).
#include <algorithm>
#include <vector>

namespace pellucid {

/// The upper median of a sample; 0 for none.
inline double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

}   // namespace pellucid
