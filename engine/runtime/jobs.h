#pragma once
// The engine's job kinds and their outputs. Each factory returns a Job to pass to Engine::submit.
#include "engine/runtime/engine.h"

#include <memory>
#include <string>

namespace pellucid {

struct ModelLoadedOutput : JobOutput {
    std::string id;   // the workspace id it was loaded under
    std::shared_ptr<const ModelSummary> summary;
};

/// One input through the model: the tapped layer's output with its statistics, and the prediction.
struct ActivationOutput : JobOutput {
    uint64_t inputId = 0;     // the caller's id for the input (to match overlays to inputs)
    std::string layer;        // as requested, "path" or "path[i]"
    TensorValue activation;   // the full tapped tensor (batch included)
    TensorValue::Stats stats;
    std::vector<ChannelStats> channels;   // of batch element 0
    Histogram histogram;
    TensorValue logits;   // first output of the model
    TensorValue::Stats logitStats;
    std::vector<Prediction> topK;
    double forwardMs = 0;
};

/// Loads a model into the engine's workspace under `id` (the main model by default), replacing the one there.
Job loadModelJob(const std::string &path, const LoadOptions &options, const std::string &id = kMainModel);

/// `layer` may be empty: then only the prediction is computed.
Job activationsJob(TensorValue input, uint64_t inputId, const std::string &layer, int topK = 5, int histogramBins = 64);

/// Runs an activations job body synchronously on a model (used by the job and by the CLI).
std::shared_ptr<ActivationOutput> computeActivations(Model &model, const TensorValue &input, uint64_t inputId, const std::string &layer, int topK,
                                                     int histogramBins);

/// The activation output for an already computed forward pass (`r.taps` holds `layer`'s path).
std::shared_ptr<ActivationOutput> activationOutputFrom(const Model &model, ForwardResult &&r, uint64_t inputId, const std::string &layer, int topK,
                                                       int histogramBins, double forwardMs);

}   // namespace pellucid
