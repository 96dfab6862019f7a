#pragma once
// What an ONNX file declares, read from its protocol-buffer encoding without a protobuf library: the graph's
// nodes (name, operator, first output), its real inputs with their shapes, its outputs, and the model's
// metadata properties. Bounds-checked throughout: a damaged or hostile file is one Error(BadInput) line, never
// a read past the buffer (tests/fuzz/fuzz_onnx.cpp).
#include "engine/core/tensorvalue.h"

#include <map>
#include <string>
#include <vector>

namespace pellucid {

struct OnnxFileInfo {
    int64_t irVersion = 0;
    std::string producer;                                  // "pytorch 1.13.0"
    std::vector<std::pair<std::string, int64_t>> opsets;   // domain ("" for ai.onnx) → version
    struct Node {
        std::string name, op, domain, output;   // output: the node's first output
    };
    std::vector<Node> nodes;
    std::vector<std::string> inputs;   // graph inputs that are not initializers
    std::vector<Shape> inputShapes;    // per input; -1 for a symbolic or missing dimension
    std::vector<std::string> outputs;
    std::map<std::string, std::string> metadata;   // metadata_props
    int64_t initializerValues = 0;                 // elements of every initializer (the weights)
};

/// Parses `bytes` (a whole .onnx file); `path` names the file in messages. Throws Error(BadInput).
OnnxFileInfo parseOnnxFile(const std::string &bytes, const std::string &path);

}   // namespace pellucid
