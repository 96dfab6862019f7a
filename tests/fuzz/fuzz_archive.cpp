// Model archives up to LibTorch's loader: the archive check (engine/runtime/archive.cpp: zip records against
// the pickles) and then Model::load, which hands what the check accepts to torch::jit::load. A crash here is
// an archive the check let through that takes the loader down — in the GUI, the whole app.
#include "engine/runtime/model.h"
#include "tests/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz::guarded([&] {
        const std::string path = fuzz::writeFile("model.pt", data, size);
        pellucid::LoadOptions options;
        options.threads = 1;
        pellucid::Model::load(path, options);
    });
    return 0;
}
