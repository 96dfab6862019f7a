#include <torch/script.h>
#include <torch/torch.h>

#include "engine/core/errors.h"
#include "engine/runtime/modelimpl.h"
#include "engine/recommender/recommender.h"

#include <filesystem>
#include <map>

namespace pellucid {

MFModel loadMF(Model &model)
{
    Model::Impl &d = model.impl();
    const std::string file = d.summary.path;
    const Json *rec = d.summary.metadata.raw.find("recommender");
    if (!rec || !rec->isObject())
        throw Error(ErrorCode::BadMetadata,
                    file
                        + " has no \"recommender\" section in its metadata naming the embedding tables "
                          "(user_factors, item_factors, user_bias, item_bias, global_bias)");
    std::map<std::string, at::Tensor> tensors;
    for (const auto &p : d.torchModule().named_parameters(true)) tensors[p.name] = p.value;
    for (const auto &b : d.torchModule().named_buffers(true)) tensors[b.name] = b.value;
    auto get = [&](const char *key, bool required) -> at::Tensor {
        const Json *name = rec->find(key);
        if (!name) {
            if (required) throw Error(ErrorCode::BadMetadata, file + ": the recommender metadata does not name \"" + std::string(key) + "\"");
            return {};
        }
        const auto it = tensors.find(name->asString());
        if (it == tensors.end())
            throw Error(ErrorCode::BadMetadata, file + ": the model has no parameter '" + name->asString() + "' (named as " + key + ")");
        return it->second.detach().to(torch::kCPU, torch::kFloat).contiguous();
    };
    const at::Tensor P = get("user_factors", true), Q = get("item_factors", true);
    if (P.dim() != 2 || Q.dim() != 2) throw Error(ErrorCode::BadInput, file + ": embedding tables must be 2-D (users × dim, items × dim)");
    if (P.size(1) != Q.size(1))
        throw Error(ErrorCode::BadInput,
                    file + ": embedding sizes disagree: user factors have dimension " + std::to_string(P.size(1)) + ", item factors "
                        + std::to_string(Q.size(1)));
    MFModel m;
    m.users = P.size(0);
    m.items = Q.size(0);
    m.dim = P.size(1);
    m.P.assign(P.data_ptr<float>(), P.data_ptr<float>() + P.numel());
    m.Q.assign(Q.data_ptr<float>(), Q.data_ptr<float>() + Q.numel());
    auto bias = [&](const char *key, int64_t n) {
        const at::Tensor t = get(key, false);
        if (!t.defined()) return std::vector<float>(size_t(n), 0.0f);
        if (t.numel() != n)
            throw Error(ErrorCode::BadInput,
                        file + ": " + std::string(key) + " has " + std::to_string(t.numel()) + " values for " + std::to_string(n) + " rows");
        return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + n);
    };
    m.bu = bias("user_bias", m.users);
    m.bi = bias("item_bias", m.items);
    const at::Tensor mu = get("global_bias", false);
    m.mu = mu.defined() ? mu.view({-1})[0].item<float>() : 0.0f;
    if (const Json *l = rec->find("lambda")) m.lambda = l->asNumber();
    const std::filesystem::path dir = std::filesystem::path(file).parent_path();
    auto resolve = [&](const char *key) -> std::string {
        const Json *v = rec->find(key);
        if (!v) return {};
        const std::filesystem::path p(v->asString());
        return (p.is_absolute() ? p : dir / p).lexically_normal().string();
    };
    m.dataPath = resolve("data");
    m.heldoutPath = resolve("heldout");
    m.itemsPath = resolve("items");
    return m;
}

}   // namespace pellucid
