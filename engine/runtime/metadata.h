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
    bool dtypeDeclared = false;             // the metadata (or the user) says so; else a .npy input's own dtype decides
    float rangeLo = 0.0f, rangeHi = 1.0f;   // pixel values are scaled to this range before mean/std
    std::vector<float> mean, std;           // per channel; empty: no normalisation
    int resize = 0;                         // torchvision's Resize(n): the shorter side scaled to n first; 0: none
    int64_t cropH = 0, cropW = 0;           // then CenterCrop(h, w); 0: none (the picture is resized to the shape)
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
/// Metadata from Hugging Face-style files beside a model, for models without Pellucid metadata:
/// `config.json` (`id2label` → labels, task classification) and `preprocessor_config.json` (`image_mean`,
/// `image_std`, `rescale_factor`, `crop_size` or `size` → the input shape [1, 3, H, W], RGB). `found` is
/// false when neither file exists. Throws Error(BadMetadata) naming the file and field for malformed ones.
ModelMetadata huggingFaceMetadata(const std::string &folder, bool &found);
/// Whether an input runs as int64: the model's declared dtype, else the tensor's own (a .npy of integer ids).
bool inputIsLong(const InputSpec &spec, const TensorValue &input);
/// What was done to an input's element type to feed it ("" when it ran as given), for a one-line note.
std::string inputDtypeNote(const InputSpec &spec, const TensorValue &input);

Json metadataToJson(const ModelMetadata &m);
/// Labels from a file: one per line, a JSON list, or a JSON {"0": "label", …} dict (ids 0…K−1). Throws
/// Error naming the file and the problem.
std::vector<std::string> readLabelsFile(const std::string &path);

}   // namespace pellucid
