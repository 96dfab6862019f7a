// .npy reader (engine/core/npy.cpp): any bytes are read or refused; what is read writes back and reads
// again to the same shape, dtype and values.
#include "engine/core/npy.h"
#include "tests/fuzz/harness.h"

#include <cmath>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz::guarded([&] {
        const std::string path = fuzz::writeFile("input.npy", data, size);
        const pellucid::TensorValue t = pellucid::readNpy(path);
        const std::string copy = fuzz::scratch() + "/copy.npy";
        pellucid::writeNpy(copy, t);
        const pellucid::TensorValue back = pellucid::readNpy(copy);
        fuzz::require(back.shape() == t.shape(), "a written .npy reads back with another shape");
        fuzz::require(back.numel() == t.numel(), "a written .npy reads back with another size");
        for (int64_t i = 0; i < t.numel(); ++i) {
            const float a = t.data()[i], b = back.data()[i];
            fuzz::require(a == b || (std::isnan(a) && std::isnan(b)), "a written .npy reads back with other values");
        }
    });
    return 0;
}
