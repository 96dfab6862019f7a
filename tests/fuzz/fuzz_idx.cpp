// IDX datasets (app/io/dataset.cpp): an images file and the labels file beside it (MNIST's layout), plain
// or gzipped. Opened or refused with a message; what opens gives batches of its items.
#include "app/io/dataset.h"
#include "tests/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz::guarded([&] {
        const auto [images, labels] = fuzz::splitTwo(data, size);
        const std::string path = fuzz::writeFile("set-images-idx3-ubyte", images);
        fuzz::writeFile("set-labels-idx1-ubyte", labels);
        const pellucid::Dataset d = pellucid::Dataset::open(path);
        fuzz::require(d.labels().size() == d.size(), "an IDX dataset's labels and items differ in number");
        pellucid::InputSpec spec;
        spec.channelOrder = "gray";
        const size_t n = std::min<size_t>(d.size(), 4);
        if (n) {
            const pellucid::TensorValue b = d.batch(0, n, spec, {1, 1, 28, 28});
            fuzz::require(b.shape().size() == 4 && b.shape()[0] == int64_t(n), "an IDX batch has the wrong shape");
        }
    });
    return 0;
}
