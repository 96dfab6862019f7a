#pragma once
// A model format other than TorchScript behind the same Model interface: forward passes only (no gradients).
// The engine's LibTorch core knows only this interface; engine/onnx implements it for ONNX files with OpenCV's
// DNN module (an optional part of the build, on when OpenCV is found) and registers itself for ".onnx".
#include "engine/core/tensorvalue.h"

#include <memory>
#include <string>
#include <vector>

namespace pellucid {

enum class Precision;

/// One node whose output can be asked for: `name` as the user names it, `op` its operator type.
struct BackendNode {
    std::string name;
    std::string op;
    int64_t parameters = 0;   // weights the runtime holds for it
};

class ModelBackend {
public:
    virtual ~ModelBackend() = default;
    virtual std::string format() const = 0;    // "onnx"
    virtual std::string runtime() const = 0;   // "OpenCV DNN 4.6.0"
    /// Every node whose output can be asked for, in program order.
    virtual const std::vector<BackendNode> &nodes() const = 0;
    /// The input shape the file declares (empty when it declares none or a symbolic one).
    virtual Shape declaredInputShape() const = 0;
    /// Metadata the file carries as Pellucid's JSON (ONNX: the "pellucid.json" metadata property), or "".
    virtual std::string embeddedMetadata() const = 0;
    /// The network's outputs and those of `nodes` (same order) for a float input [N, ...]; throws Error
    /// (ModelError: the runtime refused the input) with one line. `reduced`: in the precision enableReduced took.
    virtual void run(const TensorValue &input, const std::vector<std::string> &nodes, bool reduced, std::vector<TensorValue> &outputs,
                     std::vector<TensorValue> &taps) = 0;
    virtual void setThreads(int threads) = 0;
    /// Prepares forward passes in `p` (not Float32); throws Error(BadInput) saying why the runtime cannot.
    virtual void enableReduced(Precision p) = 0;
};

/// Opens a file of the backend's format; throws Error naming the file and what is wrong in one line.
using BackendOpener = std::unique_ptr<ModelBackend> (*)(const std::string &path);
/// Files whose name ends with `extension` (".onnx") open through `open` (Model::load). Call once at start-up.
void registerModelBackend(const std::string &extension, BackendOpener open);
/// The opener for `path`'s extension, or nullptr.
BackendOpener modelBackendFor(const std::string &path);
/// Extensions with a backend in this build besides TorchScript's ".pt" (for file dialogs and messages).
std::vector<std::string> modelBackendExtensions();

/// Throws Error(BadInput) when `model` is not TorchScript: "<what> needs a TorchScript model; <file> is ONNX
/// (OpenCV DNN runs forward passes only)".
class Model;
void requireTorchScript(const Model &model, const std::string &what);

}   // namespace pellucid
