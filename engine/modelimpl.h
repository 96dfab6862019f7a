#pragma once
// Internal to the engine (includes torch): the state behind Model, shared by the engine's torch files.
#include <torch/script.h>
#include <torch/torch.h>

#include "engine/graphtaps.h"
#include "engine/model.h"

#include <list>
#include <memory>
#include <string>
#include <vector>

namespace pellucid {

void flattenTensors(const c10::IValue &v, std::vector<at::Tensor> &out);
TensorValue tensorToValue(const at::Tensor &t);
std::vector<TensorValue> toValues(const c10::IValue &v);   // every tensor in v, flattened, as float copies

struct Model::Impl {
    torch::jit::Module module;
    torch::Device device = torch::kCPU;
    ModelSummary summary;
    std::vector<std::string> calledPaths;
    // Compiled tap clones, most recently used first.
    std::list<std::pair<std::string, std::shared_ptr<detail::TappedForward>>> cache;
    // The attention clone (built on first use).
    std::shared_ptr<detail::AttentionForward> attention;

    std::shared_ptr<detail::TappedForward> tapped(const std::vector<std::string> &paths,
                                                  detail::ReluMode relu = detail::ReluMode::Keep)
    {
        std::string key = std::to_string(int(relu)) + '\n';
        for (const auto &p : paths) key += p + '\n';
        for (auto it = cache.begin(); it != cache.end(); ++it) {
            if (it->first == key) {
                cache.splice(cache.begin(), cache, it);
                return it->second;
            }
        }
        std::shared_ptr<detail::TappedForward> tf = detail::buildTappedForward(module, paths, relu);
        cache.emplace_front(key, tf);
        if (cache.size() > 16)
            cache.pop_back();
        return tf;
    }

    at::Tensor toTorch(const TensorValue &input) const
    {
        at::Tensor t = torch::from_blob(const_cast<float *>(input.data()), input.shape(), torch::kFloat).clone();
        if (summary.metadata.input.dtype == "int64")
            t = t.to(torch::kLong);
        return t.to(device);
    }

    /// Module path of a layer reference, checked (throws Error(UnknownLayer) with suggestions).
    std::string checkedPath(const Model &owner, const std::string &name) const { return owner.resolveLayer(name).path; }

    std::vector<c10::IValue> runTapped(const at::Tensor &x, const std::vector<std::string> &paths)
    {
        torch::NoGradGuard noGrad;
        return tapped(paths)->run(module, {x});
    }

    void dryRun();
};


} // namespace pellucid
