#pragma once
// Internal to the engine (includes torch): the state behind Model, shared by the engine's torch files.
#include <torch/script.h>
#include <torch/torch.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include "engine/core/errors.h"
#include "engine/runtime/backend.h"
#include "engine/runtime/graphtaps.h"
#include "engine/runtime/model.h"
#include "engine/runtime/threads.h"

#include <list>
#include <memory>
#include <string>
#include <vector>

namespace pellucid {

void flattenTensors(const c10::IValue &v, std::vector<at::Tensor> &out);
TensorValue tensorToValue(const at::Tensor &t);
std::vector<TensorValue> toValues(const c10::IValue &v);   // every tensor in v, flattened, as float copies

struct Model::Impl {
    torch::jit::Module module;   // TorchScript models; empty when `backend` runs the model
    // Another format's runtime (ONNX through OpenCV DNN): forward passes only, always on the CPU.
    std::shared_ptr<ModelBackend> backend;
    torch::Device device = torch::kCPU;
    ModelSummary summary;
    std::vector<std::string> calledPaths;
    // Compiled tap clones, most recently used first.
    std::list<std::pair<std::string, std::shared_ptr<detail::TappedForward>>> cache;
    // The attention clone (built on first use).
    std::shared_ptr<detail::AttentionForward> attention;
    // The editable attention clone (diffusion: capture and prompt-to-prompt edits; built on first use).
    std::shared_ptr<detail::AttentionForward> editableAttention;
    // Forward-only work in reduced precision: a converted copy of the module, its own tap clones.
    Precision precision = Precision::Float32;
    torch::jit::Module reduced;
    std::list<std::pair<std::string, std::shared_ptr<detail::TappedForward>>> reducedCache;
    // Fast kernels (AttributionParams::fastKernels): a frozen copy, BatchNorm folded into the convolutions,
    // 4-D weights channels-last; built on first use, checked against the module on the dry run's input.
    torch::jit::Module fast;
    bool fastTried = false, fastReady = false;
    std::string fastKernelsNote;   // why there is none
    torch::jit::Module *fastModule();
    // The fast copy's clones with guided / deconvnet ReLUs (guided backprop, deconvnet), built on first use and
    // kept only where they hold no ReLU-like operation the module's own clones lack (should a freezing pass fuse
    // a ReLU into a convolution, that ReLU would keep its plain backward) and modify ReLUs where those do.
    std::shared_ptr<detail::TappedForward> fastReluClones[2];
    bool fastReluTried[2] = {false, false};
    std::string fastReluNotes[2];   // why one could not be kept: [0] guided, [1] deconvnet
    detail::TappedForward *fastRelus(detail::ReluMode relu);
    // The BLAS pool's threads for this model's work (Model::blasThreads).
    BlasChoice blas;
    double convolutionShare = -1;
    // CUDA: a page-locked staging buffer for inputs (asynchronous copies on the engine's stream).
    at::Tensor staging;

    std::shared_ptr<detail::TappedForward> tapped(const std::vector<std::string> &paths, detail::ReluMode relu = detail::ReluMode::Keep,
                                                  bool inReduced = false)
    {
        if (backend) throw Error(ErrorCode::BadInput, backendRefusal("This view"));
        auto &c = inReduced ? reducedCache : cache;
        std::string key = std::to_string(int(relu)) + '\n';
        for (const auto &p : paths) key += p + '\n';
        for (auto it = c.begin(); it != c.end(); ++it) {
            if (it->first == key) {
                c.splice(c.begin(), c, it);
                return it->second;
            }
        }
        std::shared_ptr<detail::TappedForward> tf = detail::buildTappedForward(inReduced ? reduced : module, paths, relu);
        c.emplace_front(key, tf);
        if (c.size() > 16) c.pop_back();
        return tf;
    }

    /// The clone with the output of `path` replaced by an extra input (ending at cutAt's output when given),
    /// cached beside the tap clones.
    std::shared_ptr<detail::TappedForward> replaced(const std::string &path, const std::string &cutAt = {})
    {
        if (backend) throw Error(ErrorCode::BadInput, backendRefusal("Editing a layer's output"));
        const std::string key = "replace\n" + path + '\n' + cutAt;
        for (auto it = cache.begin(); it != cache.end(); ++it) {
            if (it->first == key) {
                cache.splice(cache.begin(), cache, it);
                return it->second;
            }
        }
        std::shared_ptr<detail::TappedForward> tf = detail::buildReplacedForward(module, path, cutAt);
        cache.emplace_front(key, tf);
        if (cache.size() > 16) cache.pop_back();
        return tf;
    }

    /// The TorchScript module, for work that needs one (gradients, weights, the graph); Error(BadInput) for
    /// a model another backend runs.
    torch::jit::Module &torchModule()
    {
        if (backend) throw Error(ErrorCode::BadInput, backendRefusal("This view"));
        return module;
    }
    std::string backendRefusal(const std::string &what) const
    {
        return what + " needs a TorchScript model; " + summary.fileName + " is " + backend->format() + " (" + backend->runtime()
            + " runs forward passes only: no gradients, weights or graph rewriting)";
    }
    /// A forward pass through the backend in the tapped clones' form: [outputs, tap 1, tap 2, ...].
    std::vector<c10::IValue> runBackend(const at::Tensor &x, const std::vector<std::string> &paths, bool reducedPass);

    at::ScalarType reducedType() const { return precision == Precision::Float16 ? at::kHalf : at::kBFloat16; }

    at::Tensor toTorch(const TensorValue &input)
    {
        const at::Tensor src = torch::from_blob(const_cast<float *>(input.data()), input.shape(), torch::kFloat);
        at::Tensor t;
        if (device.is_cuda()) {
            // Through a reused page-locked buffer, copied asynchronously on the engine's stream. The previous
            // copy out of it is waited for first (normally long done: its job copied results back).
            syncStream();
            if (!staging.defined() || staging.sizes() != src.sizes())
                staging = at::empty(src.sizes(), at::TensorOptions().dtype(at::kFloat).pinned_memory(true));
            staging.copy_(src);
            t = staging.to(device, /*non_blocking=*/true);
        } else {
            t = src.clone();
        }
        if (inputIsLong(summary.metadata.input, input)) t = t.to(torch::kLong);
        return t;
    }

    /// CUDA: waits for the engine stream's queued work (no-op on the CPU).
    void syncStream() const
    {
        if (!device.is_cuda()) return;
        const auto *impl = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA);
        impl->synchronizeStream(impl->getStream(device));
    }

    /// Module path of a layer reference, checked (throws Error(UnknownLayer) with suggestions).
    std::string checkedPath(const Model &owner, const std::string &name) const { return owner.resolveLayer(name).path; }

    std::vector<c10::IValue> runTapped(const at::Tensor &x, const std::vector<std::string> &paths)
    {
        if (backend) return runBackend(x, paths, false);
        torch::NoGradGuard noGrad;
        return tapped(paths)->run(module, {x});
    }

    /// Forward-only with taps, in the model's precision.
    std::vector<c10::IValue> runForwardOnly(const at::Tensor &x, const std::vector<std::string> &paths)
    {
        if (precision == Precision::Float32) return runTapped(x, paths);
        if (backend) return runBackend(x, paths, true);
        torch::NoGradGuard noGrad;   // token ids stay integers; the embeddings they index are reduced
        return tapped(paths, detail::ReluMode::Keep, true)->run(reduced, {x.is_floating_point() ? x.to(reducedType()) : x});
    }

    void readMetadata(ModelSummary &s, const std::string &embedded);
    void warmUp();
    /// A seeded random input of `shape` on the model's device: uniform [0, 1) floats, or token ids 0/1.
    at::Tensor sampleInput(const Shape &shape, uint64_t seed) const
    {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
        const at::Tensor x =
            summary.metadata.input.dtype == "int64" ? at::randint(0, 2, shape, gen, torch::kLong) : at::rand(shape, gen, torch::kFloat);
        return x.to(device);
    }
    static constexpr uint64_t kDryRunSeed = 1234;

    void dryRun();
};

/// The input size of the module's first Linear layer (0 when it has none): a decoder's latent size.
int64_t firstLinearInput(const torch::jit::Module &module);
/// The share of convolutions in the multiply-adds of its convolutions and matrix products (Model::convolutionShare),
/// and the convolutions' multiply-adds a pass by the dry run's shapes (0 without one).
double convolutionShareOf(const ModelSummary &s, double *convolutionMacs = nullptr);

}   // namespace pellucid
