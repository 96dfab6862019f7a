// CSV datasets (app/io/dataset.cpp): lines of path,label, the paths relative to the CSV. The scratch folder
// holds items the lines may name — a gray PGM, a float .npy, a .npy with a NaN, a corrupt PNG — so opening
// and batching meet real, broken and non-finite items.
#include "app/io/dataset.h"
#include "engine/core/npy.h"
#include "tests/fuzz/harness.h"

#include <limits>

namespace {

void writeItems()
{
    static bool done = false;
    if (done) return;
    done = true;
    std::string pgm = "P5\n4 4\n255\n";
    for (int i = 0; i < 16; ++i) pgm += char(i * 16);
    fuzz::writeFile("a.pgm", pgm);
    std::vector<float> v(16, 0.5f);
    pellucid::writeNpy(fuzz::scratch() + "/b.npy", pellucid::TensorValue({1, 1, 4, 4}, v));
    v[3] = std::numeric_limits<float>::quiet_NaN();
    pellucid::writeNpy(fuzz::scratch() + "/nan.npy", pellucid::TensorValue({1, 1, 4, 4}, v));
    fuzz::writeFile("bad.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
}

}   // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    writeItems();
    fuzz::guarded([&] {
        const std::string path = fuzz::writeFile("list.csv", data, size);
        const pellucid::Dataset d = pellucid::Dataset::open(path);
        fuzz::require(d.labels().size() == d.size(), "a CSV dataset's labels and items differ in number");
        pellucid::InputSpec spec;
        spec.channelOrder = "gray";
        spec.shape = {1, 1, 4, 4};
        for (size_t i = 0; i < std::min<size_t>(d.size(), 8); ++i) fuzz::guarded([&] { d.batch(i, i + 1, spec, {1, 1, 4, 4}); });
    });
    return 0;
}
