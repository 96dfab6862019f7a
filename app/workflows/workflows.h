#pragma once
// Dataset-level tasks, written once and used by both the CLI commands and the GUI features: evaluation,
// pooled features and their projection, deletion/insertion faithfulness, the sanity check, companion
// discovery for generators and the traversal's animation frames. Each runs synchronously on the calling
// thread (the GUI calls them inside engine jobs) and reports to a progress/cancel sink.
#include "app/io/dataset.h"
#include "engine/attribution/attribution.h"
#include "engine/evaluation/evaluation.h"
#include "engine/evaluation/sanity.h"
#include "engine/generative/dissection.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pellucid {

class JobContext;

/// Where a workflow reports; any member may be empty.
struct WorkflowSink {
    std::function<bool()> cancelled;
    std::function<void(int64_t done, int64_t total, const std::string &stage)> progress;
    void check() const;   // throws Error(Cancelled) when cancelled
    void report(int64_t done, int64_t total, const std::string &stage) const;
};
/// The sink of an engine job (the GUI runs workflows inside jobs): its cancel flag and its progress.
WorkflowSink sinkOf(JobContext &ctx);

// --- evaluation -------------------------------------------------------------------------------------------
struct DatasetEvaluation {
    EvalResult result;
    int classes = 0;
    size_t items = 0;
    double totalMs = 0, modelMs = 0;   // the whole run, and the model's forward passes alone
};
/// Top-1 / top-k accuracy, per-class scores, confusion and calibration over the first `limit` items (0: all).
DatasetEvaluation evaluateDataset(Model &model, const Dataset &data, size_t limit = 0, size_t batch = 256, int topK = 5,
                                  const WorkflowSink &sink = {});

// --- projection -------------------------------------------------------------------------------------------
/// The layer's activations pooled to one vector per item (spatial maps over H×W, tokens over T): [N, D].
TensorValue datasetFeatures(Model &model, const Dataset &data, const std::string &layer, size_t limit = 0, const WorkflowSink &sink = {});

struct ProjectionOptions {
    std::string method = "pca";   // pca | tsne | umap
    int dims = 2;
    double perplexity = 30;           // t-SNE
    int iterations = 1000;            // t-SNE
    double theta = -1;                // t-SNE: > 0 sparse (Barnes–Hut angle θ), 0 exact; < 0: 0.5 for 2 dimensions, else exact
    std::string repulsion = "auto";   // sparse t-SNE: auto | bh (Barnes–Hut) | fft (FFT-accelerated interpolation)
    int neighbours = 15;              // UMAP
    double minDist = 0.1;             // UMAP
    int epochs = 0;                   // UMAP; 0: automatic
    unsigned seed = 0;
};
struct Projection {
    TensorValue points;                   // [N, dims]
    std::vector<double> explainedRatio;   // PCA
    std::string title;                    // e.g. "t-SNE of features.9 (…)"
};
/// Projects features; `live` gets the embedding while t-SNE / UMAP optimise (every 50 iterations / epochs).
/// Throws Error(BadInput) for an unknown method.
Projection projectFeatures(const TensorValue &features, const std::string &layerName, const ProjectionOptions &options, const WorkflowSink &sink = {},
                           const std::function<void(const std::string &title, const TensorValue &points)> &live = {});

// --- explanation quality ----------------------------------------------------------------------------------
/// An attribution of one input: computeAttribution, with SLIC superpixels per input for the methods whose
/// registry row uses superpixels (unless `superpixels` is false or the params carry a feature mask).
struct ExplainOptions {
    bool superpixels = true;
    int superpixelSize = 0;   // SLIC region size in pixels; 0: the input's longer side / 8
};
/// The SLIC superpixels of an image input [1, C, H, W] as a feature mask (empty for other inputs).
TensorValue superpixelMask(const TensorValue &input, const ExplainOptions &options = {});
std::shared_ptr<AttributionResult> explainInput(Model &model, const TensorValue &input, AttributionParams params, const ExplainOptions &options = {},
                                                const AttributionSink &sink = {});

struct FaithfulnessOptions {
    int steps = 20;
    size_t limit = 50;
    double blurSigma = 0;      // the insertion start's blur; 0: max(1, longer side / 10)
    bool robustness = false;   // also infidelity and max-sensitivity (Captum's definitions)
    ExplainOptions explain;
};
struct MethodFaithfulness {
    AttributionParams params;
    std::vector<double> deletion, insertion;   // mean curves, steps + 1 points
    double deletionAuc = 0, insertionAuc = 0;
    double infidelity = 0, maxSensitivity = 0;
};
/// Deletion (removed pixels painted black) and insertion (from a blurred copy, RISE) curves of each method's
/// map, averaged over the first `limit` items.
std::vector<MethodFaithfulness> faithfulness(Model &model, const Dataset &data, const std::vector<AttributionParams> &methods,
                                             const FaithfulnessOptions &options, const WorkflowSink &sink = {});

/// The model-parameter randomisation test (Adebayo et al.) of one input's map: the explained class is fixed
/// to the original prediction first (so randomisation changes the map, not the target). `params` gets it.
SanityResult sanityCheck(Model &model, const TensorValue &input, AttributionParams &params, const ExplainOptions &explain = {}, uint64_t seed = 0,
                         const WorkflowSink &sink = {});

// --- generators -------------------------------------------------------------------------------------------
struct Companions {
    std::string classifier, encoder;   // paths, empty when none
    std::vector<std::string> classifierLabels;
    std::vector<std::string> layers;   // the generator's executed layers with an output of rank ≥ 2
};
/// A generator's companions: the encoder its metadata pairs it with ("pair"), and the classifier its
/// metadata names ("classifier") or else a classification model beside it trained on the same labelled
/// dataset. `load` opens a candidate (the caller may cache); candidates that fail to load are skipped.
Companions discoverCompanions(const ModelSummary &generator, const std::function<Model &(const std::string &path)> &load);

// --- dissection ------------------------------------------------------------------------------------------
struct DatasetDissection {
    Dissection dissection;
    size_t items = 0;                   // items measured
    std::vector<std::string> skipped;   // items left out because they hold NaN or Inf (their names)
};
/// Classifier dissection (dissectClassifier) over the first `limit` items of a labelled dataset (0: all),
/// preprocessed as the model's inputs; items holding NaN or Inf are skipped and named.
DatasetDissection dissectDataset(Model &classifier, const Dataset &data, const std::string &layer, size_t limit = 0, int curveUnits = 20,
                                 const WorkflowSink &sink = {});
/// The Activations dock's Units view: the dissection above and the layer's unit maps over the same items (the
/// first 2,000 of them; `maps.images`: the items mapped back from the model's normalisation to [0, 1]).
struct ClassifierUnits {
    DatasetDissection dissection;
    UnitMaps maps;
};
ClassifierUnits classifierUnits(Model &classifier, const Dataset &data, const std::string &layer, size_t limit = 0, int curveUnits = 20,
                                const WorkflowSink &sink = {});

/// A traversal decoded as [dims × steps, C, H, W] (rows are dimensions) as animation frames: frame k stacks
/// every dimension's step k vertically, [steps, C, dims × H, W].
TensorValue traversalFrames(const TensorValue &images, int64_t steps);

}   // namespace pellucid
