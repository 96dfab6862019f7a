#pragma once
#include <torch/script.h>
#include <torch/torch.h>

// Internal to the attribution capability: the shared forward/backward mechanism every method is a variant
// of, the pieces several methods use, and the method implementations the registry rows point to
// (methods.cpp). Each method's computation lives in engine/attribution/methods/<name>.cpp.
#include "engine/attribution/attribution.h"
#include "engine/core/errors.h"
#include "engine/core/files.h"
#include "engine/runtime/modelimpl.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace pellucid::detail {

/// Free memory of the current CUDA device via libcudart's cudaMemGetInfo, looked up at run time so the
/// engine needs no CUDA headers or link dependency; -1 when it cannot be asked.
inline int64_t cudaFreeBytes()
{
    using MemGetInfo = int (*)(size_t *, size_t *);
    static MemGetInfo fn = []() -> MemGetInfo {
        for (const char *lib : {"libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"}) {
            void *h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD);   // the one torch already loaded, if any
            if (!h) h = dlopen(lib, RTLD_LAZY);
            if (void *f = h ? dlsym(h, "cudaMemGetInfo") : nullptr) return reinterpret_cast<MemGetInfo>(f);
        }
        return nullptr;
    }();
    size_t free = 0, total = 0;
    return fn && fn(&free, &total) == 0 ? int64_t(free) : -1;
}

/// The shared forward/backward mechanism every method is a variant of.
class Runner {
public:
    Runner(Model &model, const AttributionParams &p, const AttributionSink &sink)
        : model(model), d(model.impl()), p(p), sink(sink),
          // Forward-only methods follow the model's precision (Model::setPrecision); gradient methods stay fp32.
          reduced(model.precision() != Precision::Float32 && isForwardOnlyMethod(p.method))
    { }

    Model &model;
    Model::Impl &d;
    const AttributionParams &p;
    const AttributionSink &sink;
    const bool reduced;
    int64_t passes = 0, chunks = 0;
    bool fastUsed = false;   // a pass ran through the fast kernels (AttributionParams::fastKernels)

    /// Why the fast kernels were not used although asked for.
    std::string fastUnavailable() const
    {
        if (d.backend) return "fast kernels need a TorchScript model";
        if (!isFastKernelMethod(p.method))
            return std::string("fast kernels do not apply to ") + methodName(p.method) + " (it needs a layer)";
        if (reduced) return "fast kernels are not used in reduced precision";
        if (!d.fastKernelsNote.empty()) return d.fastKernelsNote;
        if (p.method == AttributionMethod::GuidedBackprop || p.method == AttributionMethod::Deconvnet) {
            const std::string &relus = d.fastReluNotes[p.method == AttributionMethod::Deconvnet ? 1 : 0];
            if (!relus.empty()) return relus;
        }
        return "fast kernels were not used";
    }
    static bool isFastKernelMethod(AttributionMethod m) { return methodInfo(m).outputOnly; }

    void checkCancel() const
    {
        if (sink.cancelled && sink.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
    }

    struct Out {
        at::Tensor logits, layer;
    };

    Out forward(const at::Tensor &x, const std::string &layer, detail::ReluMode relu = detail::ReluMode::Keep)
    {
        std::vector<std::string> paths;
        if (!layer.empty()) paths.push_back(layer);
        std::vector<c10::IValue> outs;
        const bool low = reduced && x.is_floating_point() && !torch::GradMode::is_enabled() && relu == detail::ReluMode::Keep;
        // Fast kernels: the model's output only, through the frozen, folded, channels-last copy (its clone with
        // guided or deconvnet ReLUs for those methods).
        torch::jit::Module *fast =
            p.fastKernels && layer.empty() && !reduced && !d.backend && isFastKernelMethod(p.method) ? d.fastModule() : nullptr;
        detail::TappedForward *fastRelus = fast && relu != detail::ReluMode::Keep ? d.fastRelus(relu) : nullptr;
        if (relu != detail::ReluMode::Keep && !fastRelus) fast = nullptr;
        try {
            if (fast) {
                const at::Tensor xf = x.dim() == 4 ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
                outs = fastRelus ? fastRelus->run(*fast, {xf}) : std::vector<c10::IValue>{fast->forward({xf})};
                fastUsed = true;
            } else if (d.backend)
                outs = d.runBackend(x, paths, reduced);
            else
                outs = low ? d.tapped(paths, relu, true)->run(d.reduced, {x.to(d.reducedType())}) : d.tapped(paths, relu)->run(d.module, {x});
        } catch (const Error &) {
            throw;
        } catch (const std::exception &e) {
            throw Error(ErrorCode::ModelError, "The model's forward failed: " + summarizeTorchError(e.what()));
        }
        Out o;
        std::vector<at::Tensor> ts;
        flattenTensors(outs.at(0), ts);
        if (ts.empty()) throw Error(ErrorCode::ModelError, "The model returned no tensor");
        o.logits = low && !d.backend ? ts[0].to(at::kFloat) : ts[0];
        if (!layer.empty()) {
            if (outs.at(1).isNone()) throw Error(ErrorCode::BadInput, "Layer '" + layer + "' was not executed for this input");
            std::vector<at::Tensor> ls;
            flattenTensors(outs.at(1), ls);
            if (ls.empty()) throw Error(ErrorCode::BadInput, "Layer '" + layer + "' returns no tensor");
            o.layer = low && !d.backend ? ls[0].to(at::kFloat) : ls[0];
        }
        passes += x.size(0);
        return o;
    }

    int classes(const at::Tensor &logits) const
    {
        if (logits.dim() != 2)
            throw Error(ErrorCode::BadInput,
                        "Attribution needs a model output of shape [N, classes]; this model returns "
                            + shapeToString(Shape(logits.sizes().begin(), logits.sizes().end())));
        return int(logits.size(1));
    }

    void checkTarget(int k, int n) const
    {
        if (k < 0 || k >= n)
            throw Error(ErrorCode::BadInput,
                        "Target class " + std::to_string(k) + " is outside the model's " + std::to_string(n) + " classes (0–" + std::to_string(n - 1)
                            + ")");
    }

    /// Resolves the target for one input item (batch 1): the class index whose score is explained.
    AttributionTarget resolveTarget(const at::Tensor &x)
    {
        AttributionTarget t = p.target;
        if (t.kind == AttributionTarget::Kind::Predicted) {
            torch::NoGradGuard ng;
            const at::Tensor logits = forward(x, "").logits;
            classes(logits);
            t.kind = AttributionTarget::Kind::Class;
            t.classIndex = int(logits[0].argmax().item<int64_t>());
        }
        return t;
    }

    at::Tensor scores(const at::Tensor &logits, const AttributionTarget &t) const
    {
        const int n = classes(logits);
        checkTarget(t.classIndex, n);
        at::Tensor s = logits.select(1, t.classIndex);
        if (t.kind == AttributionTarget::Kind::Contrast) {
            checkTarget(t.otherClass, n);
            s = s - logits.select(1, t.otherClass);
        }
        return s;
    }

    /// ∂score/∂input for a batch of inputs.
    at::Tensor grads(const at::Tensor &xs, const AttributionTarget &t, detail::ReluMode relu = detail::ReluMode::Keep)
    {
        torch::AutoGradMode enable(true);
        at::Tensor x = xs.detach().requires_grad_(true);
        const at::Tensor y = scores(forward(x, "", relu).logits, t).sum();
        ++chunks;
        return torch::autograd::grad({y}, {x})[0].detach();
    }

    /// Samples per chunk: from the internal batch, else from the memory budget and the layers' sizes.
    int64_t chunkSize(const at::Tensor &x) const
    {
        if (p.internalBatch > 0) return p.internalBatch;
        int64_t perSample = x.numel() * 4 * 4;
        for (const auto &l : d.summary.layers)
            if (l.leaf && l.calls > 0)
                for (const auto &s : l.outputShapes) perSample += shapeNumel(s) / std::max<int64_t>(1, s.empty() ? 1 : s[0]) * 4 * 3;
        int64_t budget = p.memoryBudgetBytes;
        if (budget <= 0) {
            // Default: half the device's free memory on CUDA (2 GiB if it cannot be asked), a quarter of the
            // available RAM (at most 4 GiB) on the CPU.
            const int64_t cudaFree = d.device.is_cuda() ? cudaFreeBytes() : -1;
            budget = d.device.is_cuda() ? (cudaFree > 0 ? cudaFree / 2 : (int64_t(2) << 30))
                                        : std::min<int64_t>(availableMemoryBytes() / 4, int64_t(4) << 30);
        }
        int64_t n = std::clamp<int64_t>(budget / std::max<int64_t>(1, perSample), 1, 256);
        // Forward-only work on the CPU runs fastest in small batches: measured on ResNet-18 224², 2 cores
        // (occlusion, 170 forwards): 8–16 per pass 3.2–3.6 s, 32 4.5 s, 64 5.2 s, the budget's 170 5.2–6.1 s —
        // as Captum's own best perturbations_per_eval is 16 there (README, Performance).
        if (!d.device.is_cuda() && isForwardOnlyMethod(p.method)) n = std::min<int64_t>(n, kCpuForwardChunk);
        // Gradient batches on the CPU: about kCpuGradientChunkBytes of estimated activations a chunk, so that
        // later chunks reuse the first one's blocks (runtime/memory.h) instead of faulting in fresh pages for one
        // large batch. IG with 16 points, 2 cores: ResNet-50 224² 1.7–2.0 s in chunks of 2, 2.0–2.4 s of 4,
        // 2.6–3.0 s of 8, 3.6–4.4 s in one batch of 12; ResNet-18 IG-32 1.24 s in chunks of 8, 1.88 s in one
        // (README, Performance). A small model still passes everything at once.
        if (!d.device.is_cuda() && !isForwardOnlyMethod(p.method))
            n = std::min<int64_t>(n, std::max<int64_t>(1, kCpuGradientChunkBytes / std::max<int64_t>(1, perSample)));
        return n;
    }
    static constexpr int64_t kCpuForwardChunk = 16;
    static constexpr int64_t kCpuGradientChunkBytes = int64_t(768) << 20;

    void progress(int64_t done, int64_t total) const
    {
        if (sink.progress) sink.progress(done, total);
    }

    void partial(const at::Tensor &map, int64_t done, int64_t total) const
    {
        if (!sink.partial || done >= total) return;
        auto r = std::make_shared<AttributionResult>();
        r->method = p.method;
        r->layer = p.layer;
        r->map = tensorToValue(map);
        r->partial = true;
        r->done = done;
        r->total = total;
        sink.partial(r);
    }
};

/// A method's computation for one input item (batch 1) and a resolved target; IG sets `delta`.
using MethodFn = at::Tensor (*)(Runner &r, AttributionMethod m, const at::Tensor &x, const AttributionTarget &t, double &delta);
struct MethodImpl {
    MethodFn compute;
};

/// The registry row's computation for `m` (what computeAttribution runs per input item).
at::Tensor attributeOne(Runner &r, AttributionMethod m, const at::Tensor &x, const AttributionTarget &t, double &delta);

at::Tensor makeBaseline(Runner &r, const at::Tensor &x);
/// Plain gradient methods (saliency, input × gradient, guided backprop, deconvnet) on a batch of inputs.
at::Tensor gradientMethod(Runner &r, AttributionMethod m, const at::Tensor &xs, const AttributionTarget &t);
bool isPlainGradientMethod(AttributionMethod m);
/// Transformer tokens [B, T, C] as their patch grid [B, C, g, g] (undefined when T is not square, plus one).
at::Tensor tokensToGrid(const at::Tensor &a);
/// Spatial [N, C, H, W] as is; tokens reshaped to their patch grid; Error(BadInput) otherwise.
at::Tensor spatialLayer(const std::string &layer, const at::Tensor &a);
/// The gradient CAMs from a layer's activation A and the score's gradient g at it (both spatial).
at::Tensor camFromGradients(AttributionMethod m, const at::Tensor &g, const at::Tensor &Ad);
at::Tensor camMethod(Runner &r, AttributionMethod m, const at::Tensor &x, const AttributionTarget &t);

}   // namespace pellucid::detail
