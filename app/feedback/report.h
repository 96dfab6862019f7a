#pragma once
// The feedback report: every attribution method's map against the human region masks of a feedback
// database (pointing game, energy pointing game, IoU of the top-k % pixels, ROC-AUC; means with 95 %
// intervals over items), verdicts per method, agreement between annotators (mask IoU, Cohen's κ on
// verdicts) and ratings of generated samples. Used by `pellucid-cli feedback --report` and the Feedback dock.
#include "app/feedback/store.h"
#include "app/io/dataset.h"
#include "app/workflows/workflows.h"
#include "engine/core/json.h"
#include "engine/evaluation/agreement.h"

#include <map>
#include <string>
#include <vector>

namespace pellucid::feedback {

/// A region mask read from a file: a PNG (or any image OpenCV reads; non-zero in any channel = inside) or
/// a .npy of [H, W], [1, H, W] or [1, 1, H, W] (non-zero = inside). Throws Error naming the problem.
struct MaskImage {
    int width = 0, height = 0;
    std::vector<uint8_t> pixels;   // row-major, 0 / 1
};
MaskImage readMaskFile(const std::string &path);
/// The mask at the model input's H × W: as it is when it has that size; from the input file's own size
/// (`fileWidth` × `fileHeight`) through the same geometry as the picture (the metadata's resize of the
/// shorter side, centre crop, resize to the model's input; nearest neighbour); else Error(BadInput).
MaskImage fitMask(const MaskImage &mask, int H, int W, int fileWidth, int fileHeight, const InputSpec &spec = {});

/// The model's input as the report and `annotate` read it: the stored bytes of an image or a .npy (by the
/// path's extension), preprocessed per the model's metadata.
TensorValue inputFromBytes(const Model &model, const std::vector<uint8_t> &bytes, const std::string &path);
/// An image file's own width and height (0, 0 for a .npy or an unreadable file).
std::pair<int, int> imageFileSize(const std::vector<uint8_t> &bytes);

/// A method's parameters for the report: the registry's defaults, the explained class the model's
/// prediction, the CAM layer the model suggests.
AttributionParams defaultReportParams(AttributionMethod method, const ModelSummary &summary);

struct ReportOptions {
    std::string modelPath;              // restrict to this model (by SHA-256) and load it from here
    std::vector<std::string> methods;   // CLI names; empty: every method of the registry
    double topPercent = 10;
    /// Real images for the rated samples' Fréchet distance (the first `realItems`); null: none.
    const Dataset *real = nullptr;
    size_t realItems = 1000;
};

struct MethodReport {
    std::string method;
    int64_t items = 0;                             // masks the method's map was compared with
    MeanInterval pointing, energy, iouTop, auc;    // over items
    int64_t agree = 0, disagree = 0, unsure = 0;   // verdicts on this method
    std::string error;                             // why the method failed on this model (items 0)
};
struct AnnotatorPair {
    std::string first, second;
    int64_t items = 0;   // verdicts both gave on the same model, input and method
    double kappa = 0;    // NaN when undefined
};
struct RatingSummary {
    std::string source, modelSha, modelPath;
    int64_t count = 0;
    MeanInterval rating;
    std::map<std::string, int64_t> flags;
    // Beside the ratings, the same samples measured (latent samples of an unconditional generator with a
    // companion classifier): inception score and diversity of the rated samples, and Spearman's ρ between
    // each sample's rating and the classifier's confidence in it. `metricsNote` says why when absent.
    bool hasMetrics = false;
    std::string classifier, metricsNote;
    double inceptionScore = 0, diversity = 0, confidenceSpearman = 0;
    std::string featureLayer;   // the classifier's layer diversity and the Fréchet distance use (as gen-metrics)
    bool hasFrechet = false;    // with real images (ReportOptions::real)
    double frechetDistance = 0;
    int64_t realItems = 0;
    std::map<int, double> confidenceByRating;   // mean top-1 probability of the samples rated k
};
struct Report {
    std::string database;
    double topPercent = 10;
    int64_t maskItems = 0;               // mask annotations compared
    std::vector<std::string> skipped;    // one line per mask that could not be used
    std::vector<MethodReport> methods;   // ranked by pointing game (then energy), best first
    int64_t maskPairs = 0;               // pairs of masks by different annotators on one input
    double maskIoU = 0;                  // their mean IoU (NaN without pairs)
    std::vector<AnnotatorPair> kappas;
    std::vector<RatingSummary> ratings;
};

/// Loads each annotated model (from options.modelPath, or the path stored with its annotations, checked
/// against the stored SHA-256), recomputes every method's map on every masked input and compares.
Report feedbackReport(const Store &store, const ReportOptions &options, const WorkflowSink &sink = {});
Json reportJson(const Report &report);
std::string reportText(const Report &report);

}   // namespace pellucid::feedback
