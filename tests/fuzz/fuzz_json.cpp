// The JSON reader (engine/core/json.cpp), which reads metadata, sidecars, sessions and tokenizer.json: any
// text is parsed or refused with a message; what parses dumps to text that parses to the same dump.
#include "engine/core/json.h"
#include "tests/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz::guarded([&] {
        const pellucid::Json j = pellucid::Json::parse(std::string(reinterpret_cast<const char *>(data), size));
        const std::string once = j.dump(), indented = j.dump(1);
        fuzz::require(pellucid::Json::parse(once).dump() == once, "a dumped JSON value does not read back to itself");
        fuzz::require(pellucid::Json::parse(indented).dump() == once, "an indented dump reads back to another value");
    });
    return 0;
}
