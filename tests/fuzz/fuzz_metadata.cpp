// Model metadata (engine/runtime/metadata.cpp): a sidecar (<model>.pt.json), a labels file, and Hugging
// Face's config.json / preprocessor_config.json beside a model. Parsed or refused with a message.
#include "engine/runtime/metadata.h"
#include "tests/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string text(reinterpret_cast<const char *>(data), size);
    fuzz::guarded([&] { pellucid::parseMetadata(text, "sidecar", "model.pt.json"); });
    fuzz::guarded([&] { pellucid::readLabelsFile(fuzz::writeFile("labels.txt", text)); });
    fuzz::guarded([&] {
        const auto [config, preprocessor] = fuzz::splitTwo(data, size);
        const std::string dir = fuzz::scratch() + "/hf";
        std::filesystem::create_directories(dir);
        fuzz::writeFile("hf/config.json", config);
        fuzz::writeFile("hf/preprocessor_config.json", preprocessor);
        bool found = false;
        pellucid::huggingFaceMetadata(dir, found);
    });
    return 0;
}
