#pragma once
// Paths of the committed fixtures and of the shared reference data (../shared/reference).
#include "engine/runtime/model.h"
#include "engine/core/tensorvalue.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace fixtures {

inline std::string dir() { return PELLUCID_FIXTURES_DIR; }
inline std::string path(const std::string &name) { return dir() + "/" + name; }
inline std::string reference(const std::string &name) { return std::string(PELLUCID_REFERENCE_DIR) + "/" + name; }
inline std::string resources(const std::string &name) { return std::string(PELLUCID_RESOURCES_DIR) + "/" + name; }
/// Load options for the CPU (the tests' models run there whatever the machine has).
inline pellucid::LoadOptions cpuOptions()
{
    pellucid::LoadOptions o;
    o.device = pellucid::DevicePreference::Cpu;
    return o;
}

/// A committed fixture model, loaded on the CPU.
inline std::unique_ptr<pellucid::Model> loadCpu(const std::string &file) { return pellucid::Model::load(path(file), cpuOptions()); }

/// Batch element 0 of a tensor, keeping a batch dimension of 1.
inline pellucid::TensorValue firstItem(const pellucid::TensorValue &batch)
{
    const pellucid::TensorValue s = batch.slice0(0);
    pellucid::Shape sh = s.shape();
    sh.insert(sh.begin(), 1);
    return pellucid::TensorValue(sh, std::vector<float>(s.data(), s.data() + s.numel()));
}

/// max |a - b| over elements (shapes must match; +inf when they do not).
inline double maxAbsDiff(const pellucid::TensorValue &a, const pellucid::TensorValue &b)
{
    if (a.shape() != b.shape()) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, double(std::fabs(a.at(i) - b.at(i))));
    return m;
}

inline double maxAbs(const pellucid::TensorValue &a)
{
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, double(std::fabs(a.at(i))));
    return m;
}

}   // namespace fixtures
