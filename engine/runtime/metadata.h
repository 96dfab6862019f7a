#pragma once
// Model metadata: the `pellucid.json` extra file inside a TorchScript archive, or a MODEL.pt.json sidecar.
#include "engine/core/json.h"
#include "engine/core/tensorvalue.h"

#include <string>
#include <vector>

namespace pellucid {

struct InputSpec {
    Shape shape;   // with the batch dimension; empty when unknown
    std::string layout = "NCHW";
    std::string channelOrder;               // "gray", "rgb" or "bgr"; empty when unknown
    std::string dtype = "float32";          // "float32" or "int64"
    float rangeLo = 0.0f, rangeHi = 1.0f;   // pixel values are scaled to this range before mean/std
    std::vector<float> mean, std;           // per channel; empty: no normalisation
};

struct ModelMetadata {
    std::string source = "none";   // "archive", "sidecar" or "none"
    std::string name;
    std::string task;   // "classification", ...
    InputSpec input;
    std::vector<std::string> labels;
    std::vector<std::string> suggestedLayers;
    Json raw;   // the whole document, for fields later features read
};

/// Throws Error(BadMetadata) naming `origin` and the offending field.
ModelMetadata parseMetadata(const std::string &text, const std::string &source, const std::string &origin);
Json metadataToJson(const ModelMetadata &m);

}   // namespace pellucid
