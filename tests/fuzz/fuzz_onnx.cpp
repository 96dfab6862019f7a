// The ONNX file reader (engine/onnx/onnxfile.cpp: the protocol-buffer walk that reads an ONNX file's graph
// inputs, nodes and metadata before OpenCV's importer sees it). Read or refused with one line; what is read is
// consistent.
#include "engine/onnx/onnxfile.h"
#include "tests/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz::guarded([&] {
        const pellucid::OnnxFileInfo info = pellucid::parseOnnxFile(std::string(reinterpret_cast<const char *>(data), size), "fuzz.onnx");
        fuzz::require(info.inputs.size() == info.inputShapes.size(), "inputs and their shapes disagree");
        fuzz::require(!info.nodes.empty() && !info.inputs.empty(), "a graph without nodes or inputs was accepted");
        for (const auto &shape : info.inputShapes)
            for (int64_t d : shape) fuzz::require(d == -1 || d > 0, "a dimension below 1 was accepted");
    });
    return 0;
}
