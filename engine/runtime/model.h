#pragma once
// A loaded TorchScript model: metadata, the layer catalogue and forward passes with layer taps.
// Synchronous; the Engine runs it on its worker thread, the CLI calls it directly.
#include "engine/runtime/backend.h"
#include "engine/runtime/metadata.h"
#include "engine/core/tensorvalue.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pellucid {

enum class DevicePreference { Auto, Cpu, Cuda };
/// Arithmetic of forward-only work (activations, predictions, forward-only live frames); gradient methods
/// always run in float32.
enum class Precision { Float32, Float16, BFloat16 };
const char *precisionName(Precision p);   // "fp32", "fp16", "bf16"
bool parsePrecision(const std::string &name, Precision &out);

/// What enabling a reduced precision found on its check inputs.
struct PrecisionCheck {
    Precision precision = Precision::Float32;
    int inputs = 0, agreeing = 0;   // check inputs whose top-1 class matched float32's
    double maxAbsLogitDiff = 0;     // largest |logit(reduced) − logit(fp32)| over them
};

struct LoadOptions {
    DevicePreference device = DevicePreference::Auto;
    Shape inputShape;                           // the user's input shape; overrides metadata when given
    int threads = 0;                            // CPU threads for torch; 0: every core (OMP_NUM_THREADS, when set, decides)
    std::string inputDtype;                     // "float32" or "int64"; overrides metadata when given
    std::string role;                           // "classifier", "generator", "decoder", "encoder", "conditional_generator";
                                                // overrides the metadata role when given (the UI's role chooser)
    std::string defaultRole;                    // the role when the metadata names neither a role nor a task (a generator command's model)
    Precision precision = Precision::Float32;   // forward-only work; checked at load (see Model::setPrecision)
    // Preprocessing and labels the user gives instead of writing metadata (each overrides the metadata's).
    std::string labelsFile;         // one label per line, a JSON list, or a JSON {"id": "label"} dict
    std::vector<float> mean, std;   // per channel
    std::vector<float> range;       // [low, high] pixel values are scaled to before mean/std
    int resize = 0;                 // the shorter side first (torchvision's Resize)
    std::vector<int64_t> crop;      // [h, w] (or [n]) centre crop after resizing
    // The first load of each file (by path, size and time) runs in a forked child before this process loads
    // it: LibTorch's importer compiles the archive's code and can crash on archives no check foresees; a child
    // that dies is a clear refusal, not the end of the app with its unsaved work.
    // A file a child has loaded once is remembered across runs by its content (model.cpp:
    // rememberedLoadsFile), so later runs skip the child.
    bool isolateFirstLoad = true;
};

/// How the first-load guard went in this process: loads tried in a child, and loads a child had already
/// tried in an earlier run (the remembered list, LoadOptions::isolateFirstLoad).
struct IsolatedLoadStats {
    int64_t childLoads = 0;
    int64_t remembered = 0;
};
IsolatedLoadStats isolatedLoadStats();

struct LayerInfo {
    std::string path;                  // as named_modules() prints it
    std::string op;                    // module class name: "Conv2d", "Sequential", ...
    int depth = 0;                     // number of dots in path
    bool leaf = true;                  // has no submodules
    int64_t parameters = 0;            // recursive parameter count
    int calls = 0;                     // how often forward calls it (0: never)
    std::vector<Shape> outputShapes;   // tensors of its output from the dry run (flattened tuples)
    bool executedInDryRun = false;
};

struct ModelSummary {
    std::string path;
    std::string fileName;
    ModelMetadata metadata;
    std::string device;   // "cpu", "cuda:0"
    std::string torchVersion;
    std::string format = "torchscript";   // or a backend's (engine/runtime/backend.h): "onnx"
    std::string runtime;                  // what runs it: "LibTorch 1.13.0", "OpenCV DNN 4.6.0"
    Shape inputShape;                     // empty when unknown
    std::string inputShapeSource;         // "metadata", "user", "dry-run" or "unknown"
    std::vector<Shape> outputShapes;
    std::vector<LayerInfo> layers;   // every submodule, in named_modules() order
    int64_t parameterCount = 0;
    std::string dryRunError;   // why no dry run succeeded, if none did
    double warmupMs = 0;
    int threads = 0;                  // CPU threads torch uses after loading
    std::string precision = "fp32";   // of forward-only work: "fp32", "fp16" or "bf16"
    std::string
        precisionNote;   // why a requested reduced precision was not taken (the check's message)             // CUDA: forward + backward passes run at load so the first frame is not slow
};

struct Prediction {
    int index = 0;
    std::string label;
    float probability = 0;
    float logit = 0;
};

struct ForwardResult {
    std::vector<TensorValue> outputs;                       // the model's output tensors, flattened
    std::map<std::string, std::vector<TensorValue>> taps;   // requested layer -> its output tensors
};

/// A layer reference: a module path, optionally with [i] to pick one tensor of a tuple output.
struct LayerRef {
    std::string path;
    int element = 0;
};

class Model {
public:
    /// Throws Error with a message that names the file and what is wrong with it. A file whose extension has a
    /// registered backend (engine/runtime/backend.h: ".onnx") opens through it.
    static std::unique_ptr<Model> load(const std::string &path, const LoadOptions &options = {});
    ~Model();
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;

    const ModelSummary &summary() const;

    /// Parses "path" or "path[i]" and checks the path is a called module; throws Error(UnknownLayer)
    /// suggesting close names otherwise.
    LayerRef resolveLayer(const std::string &name) const;

    /// Checks the input against the expected shape; throws Error(BadInput) naming both shapes.
    void checkInput(const TensorValue &input) const;

    /// Forward with taps (no gradients). Throws Error(ModelError) if the model raises.
    ForwardResult forward(const TensorValue &input, const std::vector<std::string> &layerPaths);

    /// Forward-only work in reduced precision (a converted copy of the module; gradients stay float32).
    /// Checked first on `checkInputs` plus the dry-run input: every top-1 class must match float32's, else
    /// Error(BadInput) says on how many it changed and the model stays as it was. Float32 switches back.
    /// Error(BadInput) too when the device has no kernels for that type (fp16 convolutions on older CPU
    /// LibTorch builds).
    PrecisionCheck setPrecision(Precision p, const std::vector<TensorValue> &checkInputs = {});
    Precision precision() const;

    /// The fast kernels' frozen copy (AttributionParams::fastKernels), built on first call: whether there is
    /// one, why not, and what its forward graph holds — BatchNorms left after folding, convolutions, whether
    /// the 4-D weights are channels-last.
    struct FastKernels {
        bool ready = false;
        std::string note;
        int batchNorms = 0, convolutions = 0;
        bool channelsLast = false;
    };
    FastKernels fastKernels();

    /// How many threads the BLAS library's own pool gets for this model's work (engine/runtime/threads.h): one
    /// where long convolutions make at least 3/4 of its multiply-adds by the dry run's shapes, or where
    /// LibTorch's threads spin; 0 (the library's own count) otherwise. useBlasThreads applies it (Model::load does, and each
    /// engine job that takes the model).
    int blasThreads() const;
    const std::string &blasThreadsWhy() const;
    double convolutionShare() const;   // of the multiply-adds of its convolutions and matrix products; < 0 unknown
    void useBlasThreads() const;

    /// Plain forward through the module's own method (no rewriting): the baseline for the tap overhead.
    std::vector<TensorValue> plainForward(const TensorValue &input);

    /// Softmax top-k of the first output's first row (labels from metadata when present).
    std::vector<Prediction> topK(const TensorValue &logits, int k) const;

    /// The torch-side state (opaque outside the engine's torch files).
    struct Impl;
    Impl &impl() { return *d; }

private:
    Model();
    static std::unique_ptr<Model> loadWithBackend(const std::string &path, const LoadOptions &options, BackendOpener open);
    static void finishLoad(Model &model, const LoadOptions &options);
    std::unique_ptr<Impl> d;
};

/// Whether the linked LibTorch sees a CUDA device.
bool cudaAvailable();

/// A one-line human summary of a torch/TorchScript exception message (drops C++ stack traces and
/// TorchScript tracebacks, keeps the raised error).
std::string summarizeTorchError(const std::string &what);

/// Softmax top-k of row 0 of a [N, C] (or [C]) logits tensor.
std::vector<Prediction> topKPredictions(const TensorValue &logits, int k, const std::vector<std::string> &labels);

}   // namespace pellucid
