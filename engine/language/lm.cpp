#include "engine/language/lm.h"

#include "engine/attention/attention.h"
#include "engine/attribution/attribution.h"
#include "engine/core/errors.h"
#include "engine/core/npy.h"
#include "engine/runtime/modelimpl.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>
#include <set>

namespace pellucid {
namespace {

const Json *lmMetadata(const Model &model) { return model.summary().metadata.raw.find("lm"); }

std::string metaString(const Json *lm, const char *key)
{
    const Json *v = lm ? lm->find(key) : nullptr;
    return v && v->isString() ? v->asString() : std::string();
}

const LayerInfo *findLayer(const ModelSummary &s, const std::string &path)
{
    for (const LayerInfo &l : s.layers)
        if (l.path == path) return &l;
    return nullptr;
}

std::string firstCalled(const ModelSummary &s, std::initializer_list<const char *> names)
{
    for (const char *n : names)
        if (const LayerInfo *l = findLayer(s, n); l && l->calls > 0) return n;
    return "";
}

/// Direct children of `prefix` named 0, 1, 2, … that forward calls, in index order.
std::vector<std::string> numberedChildren(const ModelSummary &s, const std::string &prefix)
{
    std::vector<std::string> out;
    for (int i = 0;; ++i) {
        const std::string p = prefix + "." + std::to_string(i);
        const LayerInfo *l = findLayer(s, p);
        if (!l || l->calls == 0) break;
        out.push_back(p);
    }
    return out;
}

std::string listOf(const std::vector<std::string> &v)
{
    std::string out;
    for (size_t i = 0; i < v.size() && i < 8; ++i) out += (i ? ", " : "") + v[i];
    if (v.size() > 8) out += ", …";
    return out.empty() ? "none" : out;
}

torch::jit::Module submodule(const torch::jit::Module &root, const std::string &path)
{
    torch::jit::Module m = root;
    size_t start = 0;
    while (start <= path.size()) {
        const size_t dot = path.find('.', start);
        const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        m = m.attr(part).toModule();
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return m;
}

at::Tensor firstOutput(const c10::IValue &v)
{
    std::vector<at::Tensor> outs;
    flattenTensors(v, outs);
    if (outs.empty()) throw Error(ErrorCode::BadInput, "The model returned no tensor");
    return outs[0];
}

/// Logits [B, L, V] of a batch of ids [B, L], checked.
at::Tensor checkedLogits(Model::Impl &d, const at::Tensor &y, const at::Tensor &ids)
{
    if (y.dim() != 3 || y.size(0) != ids.size(0) || y.size(1) != ids.size(1))
        throw Error(ErrorCode::BadInput,
                    d.summary.fileName + " is not a causal language model: its output is " + shapeToString(Shape(y.sizes().begin(), y.sizes().end()))
                        + " for ids " + shapeToString(Shape(ids.sizes().begin(), ids.sizes().end())) + ", not logits [B, L, V]");
    return y;
}

at::Tensor logitsOf(Model::Impl &d, const at::Tensor &ids)
{
    torch::NoGradGuard ng;
    return checkedLogits(d, firstOutput(d.torchModule().forward({ids})), ids);
}

at::Tensor idsTensor(Model::Impl &d, const std::vector<int64_t> &ids, int64_t rows = 1)
{
    at::Tensor t = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).view({1, int64_t(ids.size())});
    if (rows > 1) t = t.repeat({rows, 1});
    return t.to(d.device);
}

void checkIds(const Model::Impl &d, const std::vector<int64_t> &ids, int64_t vocab, const char *what)
{
    for (int64_t id : ids)
        if (id < 0 || (vocab > 0 && id >= vocab))
            throw Error(ErrorCode::BadInput,
                        std::string(what) + " holds the id " + std::to_string(id) + ", outside the vocabulary 0–" + std::to_string(vocab - 1) + " of "
                            + d.summary.fileName);
}

int64_t vocabularyOf(Model::Impl &d, const LanguageModelParts &parts)
{
    try {
        const at::Tensor w = submodule(d.torchModule(), parts.embedding).attr("weight").toTensor();
        return w.size(0);
    } catch (const std::exception &) {
        return 0;
    }
}

/// The lens of one block output h [N, L, D] (or [N, D]): the final norm (its statistics recomputed), then
/// the unembedding as a linear map (the head's weight and bias, else the tied embedding's weight).
struct Unembedding {
    mutable std::optional<torch::jit::Module> norm;
    at::Tensor weight, bias;
    Unembedding(Model::Impl &d, const LanguageModelParts &parts)
    {
        if (!parts.finalNorm.empty()) norm = submodule(d.torchModule(), parts.finalNorm);
        // A traced tied head takes its weight as an argument, so its forward is not called.
        if (!parts.unembed.empty()) {
            const torch::jit::Module head = submodule(d.torchModule(), parts.unembed);
            if (head.hasattr("weight") && head.attr("weight").isTensor()) weight = head.attr("weight").toTensor();
            if (head.hasattr("bias") && head.attr("bias").isTensor()) bias = head.attr("bias").toTensor();
        }
        if (!weight.defined()) weight = submodule(d.torchModule(), parts.embedding).attr("weight").toTensor();
    }
    at::Tensor operator()(const at::Tensor &h) const
    {
        at::Tensor z = norm ? firstOutput(norm->forward({h})) : h;
        z = at::matmul(z, weight.t());
        return bias.defined() ? z + bias : z;
    }
};

}   // namespace

LanguageModelParts languageModelParts(const Model &model)
{
    const ModelSummary &s = model.summary();
    const Json *lm = lmMetadata(model);
    LanguageModelParts p;
    p.embedding = metaString(lm, "embedding");
    if (p.embedding.empty())
        p.embedding = firstCalled(s, {"transformer.wte", "model.embed_tokens", "embed_tokens", "wte", "tok_embeddings", "token_embedding"});
    if (p.embedding.empty()) {
        std::vector<std::string> embeddings;
        for (const LayerInfo &l : s.layers)
            if (l.op == "Embedding" && l.calls > 0) embeddings.push_back(l.path);
        if (embeddings.size() == 1) p.embedding = embeddings[0];
        if (p.embedding.empty())
            throw Error(ErrorCode::BadInput,
                        s.fileName + ": no token embedding found (Embedding modules called: " + listOf(embeddings)
                            + "); name it in metadata \"lm\": {\"embedding\": PATH}");
    }
    if (!findLayer(s, p.embedding))
        throw Error(ErrorCode::BadInput, s.fileName + ": the metadata's lm.embedding '" + p.embedding + "' is not a module of the model");
    std::string blocks = metaString(lm, "blocks");
    if (const Json *b = lm ? lm->find("blocks") : nullptr; b && b->isArray()) {
        for (const Json &x : b->asArray()) p.blocks.push_back(x.asString());
    } else {
        if (blocks.empty())
            for (const char *c : {"transformer.h", "model.layers", "layers", "h", "blocks", "transformer.layers", "decoder.layers"})
                if (!numberedChildren(s, c).empty()) {
                    blocks = c;
                    break;
                }
        if (!blocks.empty()) p.blocks = numberedChildren(s, blocks);
    }
    if (p.blocks.empty()) {
        std::set<std::string> lists;
        for (const LayerInfo &l : s.layers)
            if (l.op == "ModuleList" || l.op == "Sequential") lists.insert(l.path);
        throw Error(ErrorCode::BadInput,
                    s.fileName + ": no transformer blocks found (module lists: " + listOf({lists.begin(), lists.end()})
                        + "); name them in metadata \"lm\": {\"blocks\": PREFIX}");
    }
    for (const std::string &b : p.blocks)
        if (!findLayer(s, b)) throw Error(ErrorCode::BadInput, s.fileName + ": the block '" + b + "' is not a module of the model");
    p.finalNorm = metaString(lm, "final_norm");
    if (p.finalNorm.empty()) p.finalNorm = firstCalled(s, {"transformer.ln_f", "model.norm", "ln_f", "norm", "final_norm", "transformer.norm"});
    p.unembed = metaString(lm, "unembed");
    if (p.unembed.empty()) p.unembed = firstCalled(s, {"lm_head", "output", "head", "unembed"});
    if (const Json *v = lm ? lm->find("context") : nullptr) p.context = v->asInt();
    if (p.context == 0)
        for (const char *pos : {"transformer.wpe", "wpe", "pos_embedding", "position_embedding"})
            if (const LayerInfo *l = findLayer(s, pos); l && l->op == "Embedding") {
                try {
                    p.context = submodule(const_cast<Model &>(model).impl().module, pos).attr("weight").toTensor().size(0);
                } catch (const std::exception &) { }
                if (p.context) break;
            }
    if (const Json *v = lm ? lm->find("bos_id") : nullptr) p.bos = v->asInt();
    if (const Json *v = lm ? lm->find("eos_id") : nullptr) p.eos = v->asInt();
    return p;
}

bool isLanguageModel(const Model &model)
{
    if (model.summary().metadata.task == "language_model") return true;
    try {
        const LanguageModelParts p = languageModelParts(model);
        return !p.unembed.empty() && !p.blocks.empty();
    } catch (const Error &) {
        return false;
    }
}

Generation generateImpl(Model &model, const std::vector<int64_t> &prompt, const GenerationOptions &o,
                        const std::function<void(const GenerationStep &)> &onStep)
{
    Model::Impl &d = model.impl();
    const LanguageModelParts parts = languageModelParts(model);
    if (prompt.empty()) throw Error(ErrorCode::BadInput, "The prompt is empty: give at least one token");
    if (o.maxNew < 0 || o.maxNew > 4096) throw Error(ErrorCode::BadInput, "--max-new must be 0 to 4096, not " + std::to_string(o.maxNew));
    if (!(o.temperature >= 0) || o.temperature > 100) throw Error(ErrorCode::BadInput, "The temperature must be 0 to 100");
    if (!(o.topP > 0 && o.topP <= 1)) throw Error(ErrorCode::BadInput, "top-p must be in (0, 1]");
    if (o.topK < 0) throw Error(ErrorCode::BadInput, "top-k must be ≥ 0");
    const int64_t vocab = vocabularyOf(d, parts);
    checkIds(d, prompt, vocab, "The prompt");
    std::vector<int64_t> stops = o.stopIds;
    if (o.stopAtEos && parts.eos >= 0 && std::find(stops.begin(), stops.end(), parts.eos) == stops.end()) stops.push_back(parts.eos);
    Generation g;
    g.ids = prompt;
    g.promptLength = int64_t(prompt.size());
    g.stopReason = "max_new";
    std::mt19937_64 rng(o.seed);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (int step = 0; step < o.maxNew; ++step) {
        if (o.cancelled && o.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
        // The last `context` tokens (a sliding window once the sequence outgrows the model's positions).
        const size_t window = parts.context > 0 ? size_t(std::min<int64_t>(parts.context, int64_t(g.ids.size()))) : g.ids.size();
        const std::vector<int64_t> in(g.ids.end() - long(window), g.ids.end());
        const at::Tensor logits = logitsOf(d, idsTensor(d, in))[0][int64_t(in.size()) - 1].to(at::kCPU).to(at::kDouble);
        const int64_t V = logits.size(0);
        const at::Tensor logp = at::log_softmax(logits, 0);
        const at::Tensor prob = logp.exp();
        const double *p = prob.data_ptr<double>();
        const double *lp = logp.data_ptr<double>();
        double entropy = 0;
        for (int64_t v = 0; v < V; ++v)
            if (p[v] > 0) entropy -= p[v] * lp[v];
        if (!std::isfinite(entropy))
            throw Error(ErrorCode::BadInput, "The model's logits are not finite (NaN or Inf) at step " + std::to_string(step));
        std::vector<int64_t> order(static_cast<size_t>(V));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });   // ties: lower id first
        int64_t chosen = order[0];
        if (o.temperature > 0) {
            // Tempered distribution over the top-k, then the nucleus, renormalised.
            std::vector<double> w(static_cast<size_t>(V));
            const double maxL = logits.max().item<double>();
            const double *l = logits.data_ptr<double>();
            size_t keep = o.topK > 0 ? std::min<size_t>(size_t(o.topK), size_t(V)) : size_t(V);
            double total = 0;
            for (size_t k = 0; k < keep; ++k) total += (w[size_t(order[k])] = std::exp((l[order[k]] - maxL) / o.temperature));
            if (o.topP < 1) {
                double mass = 0;
                size_t k = 0;
                for (; k < keep; ++k) {
                    mass += w[size_t(order[k])] / total;
                    if (mass >= o.topP) break;
                }
                keep = std::min(keep, k + 1);
                total = 0;
                for (size_t j = 0; j < keep; ++j) total += w[size_t(order[j])];
            }
            double u = uniform(rng) * total, acc = 0;
            chosen = order[keep - 1];
            for (size_t k = 0; k < keep; ++k) {
                acc += w[size_t(order[k])];
                if (u < acc) {
                    chosen = order[k];
                    break;
                }
            }
        }
        GenerationStep s;
        s.id = chosen;
        s.probability = p[chosen];
        s.entropy = entropy;
        for (int k = 0; k < o.alternatives && k < V; ++k) {
            s.topIds.push_back(order[size_t(k)]);
            s.topProbabilities.push_back(p[order[size_t(k)]]);
        }
        g.ids.push_back(chosen);
        g.steps.push_back(s);
        if (onStep) onStep(s);
        if (std::find(stops.begin(), stops.end(), chosen) != stops.end()) {
            g.stopReason = "stop_id";
            break;
        }
    }
    return g;
}

bool parseGenerationMethod(const std::string &name, GenerationMethod &out)
{
    static const std::pair<const char *, GenerationMethod> names[] = {
        {"saliency", GenerationMethod::Saliency}, {"inputxgrad", GenerationMethod::InputXGradient}, {"ig", GenerationMethod::IntegratedGradients},
        {"ablation", GenerationMethod::Ablation}, {"attention", GenerationMethod::Attention},       {"rollout", GenerationMethod::Rollout}};
    for (const auto &[n, m] : names)
        if (name == n) {
            out = m;
            return true;
        }
    return false;
}

const char *generationMethodName(GenerationMethod m)
{
    switch (m) {
    case GenerationMethod::Saliency: return "saliency";
    case GenerationMethod::InputXGradient: return "inputxgrad";
    case GenerationMethod::IntegratedGradients: return "ig";
    case GenerationMethod::Ablation: return "ablation";
    case GenerationMethod::Attention: return "attention";
    case GenerationMethod::Rollout: return "rollout";
    }
    return "?";
}

GenerationAttribution attributeGenerationImpl(Model &model, const std::vector<int64_t> &ids, int64_t P, const GenerationAttributionOptions &o)
{
    Model::Impl &d = model.impl();
    const LanguageModelParts parts = languageModelParts(model);
    const int64_t L = int64_t(ids.size()), G = L - P;
    if (P < 1) throw Error(ErrorCode::BadInput, "The prompt must hold at least one token");
    if (G < 1) throw Error(ErrorCode::BadInput, "Nothing to explain: no token follows the prompt");
    if (parts.context > 0 && L > parts.context)
        throw Error(ErrorCode::BadInput,
                    "Prompt and continuation are " + std::to_string(L) + " tokens; the model reads at most " + std::to_string(parts.context));
    if (o.method == GenerationMethod::IntegratedGradients && (o.steps < 2 || o.steps > 1000))
        throw Error(ErrorCode::BadInput, "Integrated gradients need 2 to 1000 steps, not " + std::to_string(o.steps));
    const int64_t vocab = vocabularyOf(d, parts);
    checkIds(d, ids, vocab, "The sequence");
    if (o.contrastId >= 0) checkIds(d, {o.contrastId}, vocab, "--contrast-id");
    if (o.method == GenerationMethod::Ablation) checkIds(d, {o.baselineId}, vocab, "--baseline-id");

    GenerationAttribution out;
    std::vector<float> scores(static_cast<size_t>(G * L), 0.f);
    // Row r explains ids[P + step[r]] from the logits at position P + step[r] − 1: one gather for the whole
    // batch (selecting rows one by one would make autograd materialise the full logits once per row).
    const at::TensorOptions longOpt = at::TensorOptions().dtype(at::kLong).device(d.device);
    // rowLogits [n, V]: the logits that predict ids[P + steps[r]].
    auto targetsOfRows = [&](const at::Tensor &rowLogits, const std::vector<int64_t> &steps) {
        std::vector<int64_t> tgt;
        for (int64_t i : steps) tgt.push_back(ids[size_t(P + i)]);
        const int64_t n = int64_t(steps.size());
        const at::Tensor lp = at::log_softmax(rowLogits.to(at::kDouble), -1);   // [n, V]
        at::Tensor t = lp.gather(1, at::tensor(tgt, at::kLong).to(d.device).view({n, 1})).view({n});
        if (o.contrastId >= 0) t = t - lp.select(1, o.contrastId);
        return t;   // [n]
    };
    auto targetsOf = [&](const at::Tensor &logits, const std::vector<int64_t> &steps) {
        std::vector<int64_t> pos;
        for (int64_t i : steps) pos.push_back(P + i - 1);
        const int64_t n = int64_t(steps.size());
        const at::Tensor rows = logits.size(0) == 1 ? at::zeros({n}, longOpt) : at::arange(n, longOpt);
        return targetsOfRows(logits.index({rows, at::tensor(pos, at::kLong).to(d.device)}), steps);
    };
    std::vector<int64_t> allSteps;
    for (int64_t i = 0; i < G; ++i) allSteps.push_back(i);
    auto values = [](const at::Tensor &t) {
        const at::Tensor c = t.detach().to(at::kCPU).to(at::kDouble).contiguous();
        return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    };
    const at::Tensor x1 = idsTensor(d, ids);
    const bool gradientMethod =
        o.method == GenerationMethod::Saliency || o.method == GenerationMethod::InputXGradient || o.method == GenerationMethod::IntegratedGradients;
    if (!gradientMethod) out.targets = values(targetsOf(logitsOf(d, x1), allSteps));   // (gradient methods: from their first forward)
    // Rows per batched pass: at most 16k token-rows and 32 M logits (128 MB in float32) at a time.
    const int64_t chunkRows = std::max<int64_t>(1, std::min<int64_t>(16384 / L, (int64_t(1) << 25) / (L * std::max<int64_t>(vocab, 1))));

    if (o.method == GenerationMethod::Attention || o.method == GenerationMethod::Rollout) {
        const TensorValue ids1 = TensorValue({1, L}, std::vector<float>(ids.begin(), ids.end())).withDtype("int64");
        const AttentionResult r = computeAttention(model, ids1);
        TensorValue m;
        if (o.method == GenerationMethod::Rollout) {
            m = attentionRollout(r.layers);   // [1, L, L]
        } else {
            const TensorValue &a = r.layers.back();   // [1, H, L, L]
            const int64_t H = a.dim(1);
            std::vector<float> mean(static_cast<size_t>(L * L), 0.f);
            for (int64_t h = 0; h < H; ++h)
                for (int64_t q = 0; q < L * L; ++q) mean[size_t(q)] += a.at(h * L * L + q) / float(H);
            m = TensorValue({1, L, L}, std::move(mean));
        }
        if (m.dim(1) != L)
            throw Error(ErrorCode::BadInput,
                        "The attention covers " + std::to_string(m.dim(1)) + " positions, not the " + std::to_string(L) + " tokens");
        for (int64_t i = 0; i < G; ++i)
            for (int64_t j = 0; j < P + i; ++j) scores[size_t(i * L + j)] = m.at((P + i - 1) * L + j);
    } else if (o.method == GenerationMethod::Ablation) {
        // Token j replaced by the baseline id: one forward row per j, every generated target read from it.
        std::vector<int64_t> rows;
        for (int64_t j = 0; j < L - 1; ++j) rows.push_back(j);
        for (size_t start = 0; start < rows.size(); start += size_t(chunkRows)) {
            if (o.cancelled && o.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
            const int64_t n = std::min<int64_t>(chunkRows, int64_t(rows.size() - start));
            at::Tensor x = x1.repeat({n, 1});
            for (int64_t r = 0; r < n; ++r) x[r][rows[start + size_t(r)]] = o.baselineId;
            const at::Tensor logits = logitsOf(d, x);
            for (int64_t r = 0; r < n; ++r) {
                const int64_t j = rows[start + size_t(r)];
                const std::vector<double> t = values(targetsOf(logits.narrow(0, r, 1), allSteps));
                for (int64_t i = std::max<int64_t>(0, j - P + 1); i < G; ++i)
                    scores[size_t(i * L + j)] = float(out.targets[size_t(i)] - t[size_t(i)]);
            }
        }
    } else {
        // Gradient methods through the clone with the embedding's output replaced.
        std::shared_ptr<detail::TappedForward> tf;
        try {
            tf = d.replaced(parts.embedding);
        } catch (const std::exception &e) {
            throw Error(ErrorCode::BadInput, "Cannot attribute at the embedding " + parts.embedding + ": " + e.what());
        }
        const std::string lastBlock = parts.blocks.empty() ? std::string() : parts.blocks.back();
        at::Tensor E, hLast;
        {
            std::vector<std::string> paths{parts.embedding};
            if (!lastBlock.empty()) paths.push_back(lastBlock);
            const auto r = d.runTapped(x1, paths);
            out.targets = values(targetsOf(checkedLogits(d, firstOutput(r.at(0)), x1), allSteps));
            std::vector<at::Tensor> taps;
            flattenTensors(r.at(1), taps);
            E = taps.at(0).detach();   // [1, L, D]
            if (r.size() > 2 && !r[2].isNone()) hLast = firstOutput(r[2]).detach();
        }
        if (E.dim() != 3 || E.size(1) != L)
            throw Error(ErrorCode::BadInput,
                        "The embedding's output " + shapeToString(Shape(E.sizes().begin(), E.sizes().end())) + " is not [1, L, D]");
        const int64_t D = E.size(2);
        // Faster exact route, used only where it gives the model's own numbers: each row's forward ends at the
        // last block and the final norm and unembedding run at that row's one target position (not the head
        // over every position of every row), and rows of early steps are cut to their prefix (a causal model's
        // logits at position p do not depend on later tokens).
        std::optional<Unembedding> head;
        std::shared_ptr<detail::TappedForward> cutTf;
        bool truncate = false;
        auto close = [](const at::Tensor &a, const at::Tensor &b) {
            const double scale = std::max(1.0, b.abs().max().item<double>());
            return a.sizes() == b.sizes()
                && (a.to(at::kCPU).to(at::kDouble) - b.to(at::kCPU).to(at::kDouble)).abs().max().item<double>() <= 1e-4 * scale;
        };
        if (hLast.defined() && hLast.dim() == 3 && hLast.size(0) == 1 && hLast.size(1) == L) {
            try {
                torch::NoGradGuard ng;
                head.emplace(d, parts);
                const at::Tensor pos = at::arange(P - 1, L - 1, longOpt);
                const at::Tensor viaHead = targetsOfRows((*head)(hLast[0].index({pos}).unsqueeze(1)).squeeze(1), allSteps);
                if (close(viaHead, at::tensor(out.targets, at::kDouble))) {
                    cutTf = d.replaced(parts.embedding, lastBlock);
                    // A prefix's hidden states equal the whole sequence's there: both the cut forward and the
                    // prefix rows are exact. Else the cut forward alone, where it matches.
                    if (G > 1) {
                        const int64_t Ls = P + G / 2;
                        const at::Tensor part = firstOutput(cutTf->run(d.torchModule(), {x1.narrow(1, 0, Ls), E.narrow(1, 0, Ls)}).at(0));
                        truncate = close(part, hLast.narrow(1, 0, Ls));
                    }
                    if (!truncate && !close(firstOutput(cutTf->run(d.torchModule(), {x1, E}).at(0)), hLast)) cutTf.reset();
                }
            } catch (const std::exception &) {
                cutTf.reset();   // the plain route below
                truncate = false;
            }
        }
        std::vector<double> alphas{1.0}, weights{1.0};
        if (o.method == GenerationMethod::IntegratedGradients) integrationPoints(IntegrationRule::GaussLegendre, o.steps, alphas, weights);
        const int64_t K = int64_t(alphas.size());
        // Rows: (alpha k, generated step i); each row's target is its own step's. Steps are split into runs
        // [a, b] of rows K·(b − a + 1) at length P + b (L when rows are not cut), chosen to minimise the token
        // rows computed plus a per-pass cost.
        auto lengthOf = [&](int64_t b) { return truncate ? P + b : L; };
        auto rowsPerPass = [&](int64_t len) {
            return std::max<int64_t>(1, std::min<int64_t>(16384 / len, (int64_t(1) << 25) / (len * std::max<int64_t>(cutTf ? D : vocab, 1))));
        };
        auto costOf = [&](int64_t a, int64_t b) {
            const int64_t rows = K * (b - a + 1), len = lengthOf(b), passes = (rows + rowsPerPass(len) - 1) / rowsPerPass(len);
            return double(passes) * 64.0 + double(rows * len);   // a pass costs about 64 token rows more (2-core CPU)
        };
        std::vector<double> best(size_t(G + 1), 0.0);
        std::vector<int64_t> from(size_t(G + 1), 0);
        for (int64_t e = 1; e <= G; ++e) {
            best[size_t(e)] = 1e300;
            for (int64_t s0 = 0; s0 < e; ++s0) {
                const double c = best[size_t(s0)] + costOf(s0, e - 1);
                if (c < best[size_t(e)]) {
                    best[size_t(e)] = c;
                    from[size_t(e)] = s0;
                }
            }
        }
        std::vector<std::pair<int64_t, int64_t>> runs;   // [a, b] step ranges
        for (int64_t e = G; e > 0; e = from[size_t(e)]) runs.push_back({from[size_t(e)], e - 1});
        std::reverse(runs.begin(), runs.end());

        out.headAtTargets = bool(cutTf);
        out.prefixRows = truncate;
        at::Tensor integrated = at::zeros({G, L, D}, E.options().dtype(at::kDouble));
        for (const auto &[a, b] : runs) {
            const int64_t nb = b - a + 1, rowsTotal = K * nb, len = lengthOf(b), chunk = rowsPerPass(len);
            const at::Tensor ids = x1.narrow(1, 0, len), Eb = E.narrow(1, 0, len);
            for (int64_t start = 0; start < rowsTotal; start += chunk) {
                if (o.cancelled && o.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
                const int64_t n = std::min(chunk, rowsTotal - start);
                std::vector<double> rowAlpha(static_cast<size_t>(n));
                std::vector<int64_t> steps;
                for (int64_t r = 0; r < n; ++r) {
                    rowAlpha[size_t(r)] = alphas[size_t((start + r) / nb)];
                    steps.push_back(a + (start + r) % nb);
                }
                const at::Tensor al = at::tensor(rowAlpha, E.options().dtype(at::kDouble)).to(E.scalar_type()).view({n, 1, 1});
                torch::AutoGradMode on(true);
                const at::Tensor emb = (Eb.expand({n, len, D}) * al).detach().requires_grad_(true);
                at::Tensor total;
                if (cutTf) {
                    const at::Tensor h = firstOutput(cutTf->run(d.torchModule(), {ids.repeat({n, 1}), emb}).at(0));   // [n, len, D]
                    std::vector<int64_t> pos;
                    for (int64_t i : steps) pos.push_back(P + i - 1);
                    const at::Tensor hs = h.index({at::arange(n, longOpt), at::tensor(pos, at::kLong).to(d.device)});   // [n, D]
                    total = targetsOfRows((*head)(hs.unsqueeze(1)).squeeze(1), steps).sum();
                } else {
                    total = targetsOf(firstOutput(tf->run(d.torchModule(), {ids.repeat({n, 1}), emb}).at(0)), steps).sum();
                }
                const at::Tensor grad = torch::autograd::grad({total}, {emb})[0].to(at::kDouble);   // [n, len, D]
                ++out.passes;
                out.tokenRows += n * len;
                // Rows of one alpha are contiguous runs of steps: add each run at once.
                for (int64_t r = 0; r < n;) {
                    const int64_t k = (start + r) / nb, i = a + (start + r) % nb, run = std::min(n - r, b - i + 1);
                    integrated.narrow(0, i, run).narrow(1, 0, len).add_(grad.narrow(0, r, run), weights[size_t(k)]);
                    r += run;
                }
            }
        }
        const at::Tensor e = E[0].to(at::kDouble);   // [L, D]
        at::Tensor s;
        if (o.method == GenerationMethod::Saliency)
            s = integrated.norm(2, {2});
        else
            s = (integrated * e.unsqueeze(0)).sum(2);   // input × gradient; IG: e · ∫ ∇ (baseline 0)
        s = s.to(at::kCPU).contiguous();
        const double *sp = s.data_ptr<double>();
        for (int64_t i = 0; i < G; ++i)
            for (int64_t j = 0; j < P + i; ++j) scores[size_t(i * L + j)] = float(sp[i * L + j]);
        if (o.method == GenerationMethod::IntegratedGradients) {
            // Completeness against the all-zero token embeddings (positions kept).
            torch::NoGradGuard ng;
            const std::vector<double> t0 = values(targetsOf(firstOutput(tf->run(d.torchModule(), {x1, at::zeros_like(E)}).at(0)), allSteps));
            for (int64_t i = 0; i < G; ++i) {
                double sum = 0;
                for (int64_t j = 0; j < L; ++j) sum += sp[i * L + j];
                out.completeness.push_back(sum - (out.targets[size_t(i)] - t0[size_t(i)]));
            }
        }
    }
    out.scores = TensorValue({G, L}, std::move(scores));
    return out;
}

LmPassCosts languageModelPassCosts(Model &model, const std::vector<int64_t> &ids, int64_t P, int reps, int warmUp, bool withBatchedPass)
{
    Model::Impl &d = model.impl();
    const LanguageModelParts parts = languageModelParts(model);
    const int64_t L = int64_t(ids.size()), G = L - P;
    if (P < 1 || G < 1) throw Error(ErrorCode::BadInput, "The sequence needs a prompt and a continuation");
    const std::shared_ptr<detail::TappedForward> tf = d.replaced(parts.embedding);
    const at::Tensor x1 = idsTensor(d, ids);
    at::Tensor E;
    {
        std::vector<at::Tensor> taps;
        flattenTensors(d.runTapped(x1, {parts.embedding}).at(1), taps);
        E = taps.at(0).detach();
    }
    const at::Tensor xs = x1.repeat({G, 1});
    std::vector<int64_t> pos, tgt;
    for (int64_t i = 0; i < G; ++i) {
        pos.push_back(P + i - 1);
        tgt.push_back(ids[size_t(P + i)]);
    }
    const at::Tensor rows = at::arange(G, at::TensorOptions().dtype(at::kLong).device(d.device));
    const at::Tensor posT = at::tensor(pos, at::kLong).to(d.device), tgtT = at::tensor(tgt, at::kLong).to(d.device);
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v.empty() ? 0.0 : v[v.size() / 2];
    };
    std::vector<double> fb, fw;
    // Warm-up runs first (the executor specialises on the first runs of a shape), then each kind timed in
    // its own loop.
    for (int r = 0; withBatchedPass && r < reps + warmUp; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        {
            torch::AutoGradMode on(true);
            const at::Tensor emb = E.expand({G, L, E.size(2)}).contiguous().detach().requires_grad_(true);
            const at::Tensor logits = firstOutput(tf->run(d.torchModule(), {xs, emb}).at(0));
            const at::Tensor lp = at::log_softmax(logits.index({rows, posT}).to(at::kDouble), -1).gather(1, tgtT.view({G, 1})).sum();
            torch::autograd::grad({lp}, {emb});
        }
        d.syncStream();
        if (r >= warmUp) fb.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    for (int r = 0; r < reps + warmUp; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        logitsOf(d, x1);
        d.syncStream();
        if (r >= warmUp) fw.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return {median(fb), median(fw)};
}

bool parsePatchSite(const std::string &name, PatchSite &out)
{
    if (name == "block")
        out = PatchSite::Block;
    else if (name == "attn")
        out = PatchSite::Attention;
    else if (name == "mlp")
        out = PatchSite::Mlp;
    else if (name == "head")
        out = PatchSite::Head;
    else
        return false;
    return true;
}

namespace {

double pearson(const std::vector<float> &x, const std::vector<float> &y)
{
    const size_t n = x.size();
    if (n == 0) return 0;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; ++i) {
        mx += x[i] / double(n);
        my += y[i] / double(n);
    }
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; ++i) {
        const double a = x[i] - mx, b = y[i] - my;
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0;
}

/// p(target) at the last position of row `row` of logits [B, L, V].
at::Tensor lastProbability(const at::Tensor &logits, int64_t row, int64_t target)
{
    return at::softmax(logits[row][logits.size(1) - 1].to(at::kDouble), 0)[target];
}

/// The patching target (given, else the clean run's top next token), checked against the vocabulary, and
/// its probability in both runs.
void resolvePatchTarget(PatchingResult &out, const std::string &fileName, const at::Tensor &logitsClean, const at::Tensor &logitsCorrupt,
                        int64_t target)
{
    if (logitsClean.dim() != 3) throw Error(ErrorCode::BadInput, fileName + " does not return logits [B, L, V]");
    const int64_t V = logitsClean.size(2), L = logitsClean.size(1);
    out.target = target >= 0 ? target : logitsClean[0][L - 1].argmax().item<int64_t>();
    if (out.target >= V)
        throw Error(ErrorCode::BadInput, "--target-id " + std::to_string(out.target) + " is outside the vocabulary 0–" + std::to_string(V - 1));
    out.pClean = lastProbability(logitsClean, 0, out.target).item<double>();
    out.pCorrupt = lastProbability(logitsCorrupt, 0, out.target).item<double>();
}

/// Per-head patching. out.sites holds each block's attention output projection. The projection is linear
/// (nn.Linear: y = x Wᵀ + b; GPT-2's Conv1D: y = x W + b), so restoring head h's slice of its input x at
/// position p adds (x_clean − x_corrupt)[p, slice h] through W's matching columns to its output there: the
/// corrupted run is replayed with that output, one batched forward of heads × L rows per block.
PatchingResult patchHeads(Model &model, PatchingResult out, const std::vector<int64_t> &clean, const std::vector<int64_t> &corrupt, int64_t target)
{
    Model::Impl &d = model.impl();
    const int64_t L = int64_t(clean.size()), S = int64_t(out.sites.size());
    const at::Tensor xc = idsTensor(d, clean), xk = idsTensor(d, corrupt);
    std::vector<std::string> taps;
    for (const std::string &p : out.sites) {
        taps.push_back(p + "#input");
        taps.push_back(p);
    }
    const auto rc = d.runTapped(xc, taps), rk = d.runTapped(xk, taps);
    resolvePatchTarget(out, d.summary.fileName, firstOutput(rc.at(0)), firstOutput(rk.at(0)), target);
    auto prob = [&](const at::Tensor &logits, int64_t row) { return lastProbability(logits, row, out.target); };
    // Heads per block: the attention probabilities [1, H, L, L] of the clean run.
    const TensorValue ids1 = TensorValue({1, L}, std::vector<float>(clean.begin(), clean.end())).withDtype("int64");
    std::vector<TensorValue> attention;
    try {
        attention = computeAttention(model, ids1).layers;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::BadInput, std::string("Heads cannot be counted: ") + e.what());
    }
    if (int64_t(attention.size()) != S)
        throw Error(ErrorCode::BadInput,
                    "Heads cannot be counted: " + std::to_string(attention.size()) + " attention sites for " + std::to_string(S) + " blocks");
    std::vector<std::string> rows;
    std::vector<float> patched, estimate;
    for (int64_t k = 0; k < S; ++k) {
        const std::string &site = out.sites[size_t(k)];
        const at::Tensor in_c = firstOutput(rc.at(size_t(1 + 2 * k))).detach(), in_k = firstOutput(rk.at(size_t(1 + 2 * k))).detach();
        const at::Tensor y_k = firstOutput(rk.at(size_t(2 + 2 * k))).detach();
        if (in_c.dim() != 3 || in_c.size(1) != L || y_k.dim() != 3) throw Error(ErrorCode::BadInput, site + "'s input or output is not [1, L, D]");
        const int64_t H = attention[size_t(k)].dim(1), Din = in_c.size(2);
        if (H < 1 || Din % H != 0)
            throw Error(ErrorCode::BadInput, site + ": " + std::to_string(Din) + " input features do not split into " + std::to_string(H) + " heads");
        if (out.heads && out.heads != H) throw Error(ErrorCode::BadInput, "Blocks have different numbers of heads");
        out.heads = H;
        const torch::jit::Module proj = submodule(d.torchModule(), site);
        if (!proj.hasattr("weight") || !proj.attr("weight").isTensor())
            throw Error(ErrorCode::BadInput, "Heads of " + site + " are not separable: the projection has no weight");
        at::Tensor W = proj.attr("weight").toTensor().detach();   // as y = x · Wt
        const std::string type = proj.type()->name() ? proj.type()->name()->name() : "";
        if (type == "Linear" && W.dim() == 2 && W.size(1) == Din)
            W = W.t();
        else if (!(type == "Conv1D" && W.dim() == 2 && W.size(0) == Din))
            throw Error(ErrorCode::BadInput, "Heads of " + site + " are not separable: the projection is a " + type + ", not a Linear or Conv1D");
        if (W.size(1) != y_k.size(2)) throw Error(ErrorCode::BadInput, site + "'s weight does not match its output");
        const int64_t dh = Din / H;
        // delta[h, p, :] = (x_clean − x_corrupt)[p, head h] · Wt[head h, :]
        const at::Tensor dx = (in_c - in_k)[0];   // [L, Din]
        std::vector<at::Tensor> deltas;
        for (int64_t h = 0; h < H; ++h) deltas.push_back(at::matmul(dx.narrow(1, h * dh, dh), W.narrow(0, h * dh, dh)));
        const at::Tensor delta = at::stack(deltas);   // [H, L, Dout]
        std::shared_ptr<detail::TappedForward> tf;
        try {
            tf = d.replaced(site);
        } catch (const std::exception &e) {
            throw Error(ErrorCode::BadInput, "Cannot patch " + site + ": " + e.what());
        }
        std::vector<float> pk(static_cast<size_t>(H * L));
        {
            torch::NoGradGuard ng;
            const int64_t total = H * L, chunk = std::max<int64_t>(1, 4096 / L);
            for (int64_t start = 0; start < total; start += chunk) {
                const int64_t n = std::min(chunk, total - start);
                at::Tensor rep = y_k.repeat({n, 1, 1});
                for (int64_t r = 0; r < n; ++r) {
                    const int64_t h = (start + r) / L, p = (start + r) % L;
                    rep[r][p] += delta[h][p];
                }
                const at::Tensor logits = firstOutput(tf->run(d.torchModule(), {xk.repeat({n, 1}), rep}).at(0));
                for (int64_t r = 0; r < n; ++r) pk[size_t(start + r)] = float(prob(logits, r).item<double>());
            }
        }
        at::Tensor g;
        {
            torch::AutoGradMode on(true);
            const at::Tensor y = y_k.clone().requires_grad_(true);
            g = torch::autograd::grad({prob(firstOutput(tf->run(d.torchModule(), {xk, y}).at(0)), 0)}, {y})[0][0].to(at::kDouble);   // [L, Dout]
        }
        const at::Tensor est = (delta.to(at::kDouble) * g.unsqueeze(0)).sum(-1).to(at::kCPU).contiguous();   // [H, L]
        for (int64_t h = 0; h < H; ++h) {
            rows.push_back(site + " head " + std::to_string(h));
            for (int64_t p = 0; p < L; ++p) {
                patched.push_back(pk[size_t(h * L + p)]);
                estimate.push_back(float(out.pCorrupt + est[h][p].item<double>()));
            }
        }
    }
    out.sites = rows;
    out.agreement = pearson(patched, estimate);
    out.probability = TensorValue({S * out.heads, L}, std::move(patched));
    out.estimate = TensorValue({S * out.heads, L}, std::move(estimate));
    return out;
}

}   // namespace

PatchingResult activationPatchingImpl(Model &model, const std::vector<int64_t> &clean, const std::vector<int64_t> &corrupt, int64_t target,
                                      PatchSite site)
{
    Model::Impl &d = model.impl();
    const LanguageModelParts parts = languageModelParts(model);
    if (clean.empty() || clean.size() != corrupt.size())
        throw Error(ErrorCode::BadInput,
                    "The clean and corrupted prompts must have the same number of tokens (" + std::to_string(clean.size()) + " and "
                        + std::to_string(corrupt.size()) + ")");
    const int64_t L = int64_t(clean.size());
    if (parts.context > 0 && L > parts.context)
        throw Error(ErrorCode::BadInput,
                    "The prompts are " + std::to_string(L) + " tokens; the model reads at most " + std::to_string(parts.context));
    const int64_t vocab = vocabularyOf(d, parts);
    checkIds(d, clean, vocab, "The clean prompt");
    checkIds(d, corrupt, vocab, "The corrupted prompt");
    // The sites: the blocks, or their attention / MLP submodule by the usual names.
    PatchingResult out;
    const ModelSummary &s = d.summary;
    for (const std::string &b : parts.blocks) {
        if (site == PatchSite::Block) {
            out.sites.push_back(b);
            continue;
        }
        const auto names = site != PatchSite::Mlp ? std::vector<const char *>{"attn", "self_attn", "attention", "self_attention"}
                                                  : std::vector<const char *>{"mlp", "feed_forward", "ffn", "mlp_block"};
        std::string found;
        for (const char *n : names)
            if (const LayerInfo *l = findLayer(s, b + "." + n); l && l->calls > 0) {
                found = b + "." + n;
                break;
            }
        if (found.empty())
            throw Error(ErrorCode::BadInput,
                        "Block " + b + " has no " + (site != PatchSite::Mlp ? "attention (attn, self_attn)" : "MLP (mlp, feed_forward)")
                            + " module to patch");
        if (site == PatchSite::Head) {
            // Heads are separable where the attention ends in a linear output projection of the heads side
            // by side.
            std::string proj;
            for (const char *n : {"c_proj", "o_proj", "out_proj", "proj", "dense", "wo"})
                if (const LayerInfo *l = findLayer(s, found + "." + n); l && l->calls > 0) {
                    proj = found + "." + n;
                    break;
                }
            if (proj.empty())
                throw Error(ErrorCode::BadInput,
                            "Heads of " + found + " are not separable: it has no output projection (c_proj, o_proj, out_proj) to patch");
            found = proj;
        }
        out.sites.push_back(found);
    }
    if (site == PatchSite::Head) return patchHeads(model, out, clean, corrupt, target);
    const at::Tensor xc = idsTensor(d, clean), xk = idsTensor(d, corrupt);
    std::vector<at::Tensor> hClean, hCorrupt;
    at::Tensor logitsClean, logitsCorrupt;
    {
        const auto rc = d.runTapped(xc, out.sites), rk = d.runTapped(xk, out.sites);
        logitsClean = firstOutput(rc.at(0));
        logitsCorrupt = firstOutput(rk.at(0));
        for (size_t k = 0; k < out.sites.size(); ++k) {
            hClean.push_back(firstOutput(rc.at(k + 1)).detach());
            hCorrupt.push_back(firstOutput(rk.at(k + 1)).detach());
        }
    }
    resolvePatchTarget(out, s.fileName, logitsClean, logitsCorrupt, target);
    auto prob = [&](const at::Tensor &logits, int64_t row) { return lastProbability(logits, row, out.target); };
    const int64_t S = int64_t(out.sites.size());
    std::vector<float> patched(static_cast<size_t>(S * L)), estimate(static_cast<size_t>(S * L));
    for (int64_t k = 0; k < S; ++k) {
        std::shared_ptr<detail::TappedForward> tf;
        try {
            tf = d.replaced(out.sites[size_t(k)]);
        } catch (const std::exception &e) {
            throw Error(ErrorCode::BadInput, "Cannot patch " + out.sites[size_t(k)] + ": " + e.what());
        }
        const at::Tensor &hc = hClean[size_t(k)], &hk = hCorrupt[size_t(k)];
        if (hc.dim() != 3 || hc.size(1) != L) throw Error(ErrorCode::BadInput, out.sites[size_t(k)] + "'s output is not [1, L, D]");
        {
            // Row p: the corrupted output with position p from the clean run (one batched forward of L rows).
            torch::NoGradGuard ng;
            at::Tensor rep = hk.repeat({L, 1, 1});
            for (int64_t p = 0; p < L; ++p) rep[p][p] = hc[0][p];
            const at::Tensor logits = firstOutput(tf->run(d.torchModule(), {xk.repeat({L, 1}), rep}).at(0));
            for (int64_t p = 0; p < L; ++p) patched[size_t(k * L + p)] = float(prob(logits, p).item<double>());
        }
        {
            torch::AutoGradMode on(true);
            const at::Tensor h = hk.clone().requires_grad_(true);
            const at::Tensor y = prob(firstOutput(tf->run(d.torchModule(), {xk, h}).at(0)), 0);
            const at::Tensor g = torch::autograd::grad({y}, {h})[0];
            const at::Tensor delta = ((hc - hk).to(at::kDouble) * g.to(at::kDouble)).sum(-1)[0].to(at::kCPU).contiguous();   // [L]
            for (int64_t p = 0; p < L; ++p) estimate[size_t(k * L + p)] = float(out.pCorrupt + delta[p].item<double>());
        }
    }
    out.agreement = pearson(patched, estimate);
    out.probability = TensorValue({S, L}, std::move(patched));
    out.estimate = TensorValue({S, L}, std::move(estimate));
    return out;
}

namespace {

/// Every block's output [1, L, D] for ids, and the final logits.
std::vector<at::Tensor> blockOutputs(Model::Impl &d, const LanguageModelParts &parts, const at::Tensor &x, at::Tensor *logits = nullptr)
{
    const auto r = d.runTapped(x, parts.blocks);
    if (logits) *logits = firstOutput(r.at(0));
    std::vector<at::Tensor> taps;
    for (size_t k = 1; k < r.size(); ++k) {
        const at::Tensor h = firstOutput(r[k]);
        if (h.dim() != 3)
            throw Error(ErrorCode::BadInput,
                        "The block " + parts.blocks[k - 1] + "'s output is " + shapeToString(Shape(h.sizes().begin(), h.sizes().end()))
                            + ", not [B, L, D]");
        taps.push_back(h);
    }
    if (taps.size() != parts.blocks.size()) throw Error(ErrorCode::BadInput, "A block produced no output");
    return taps;
}

}   // namespace

TunedLens trainTunedLensImpl(Model &model, const std::vector<std::vector<int64_t>> &sequences, const TunedLensOptions &o)
{
    Model::Impl &d = model.impl();
    const LanguageModelParts parts = languageModelParts(model);
    if (o.steps < 0 || o.steps > 100000) throw Error(ErrorCode::BadInput, "Tuned-lens steps must be 0 to 100000");
    const int64_t vocab = vocabularyOf(d, parts);
    std::vector<std::vector<at::Tensor>> hs(parts.blocks.size());
    std::vector<at::Tensor> finals;
    int64_t tokens = 0;
    for (const auto &seq : sequences) {
        if (seq.empty()) continue;
        if (parts.context > 0 && int64_t(seq.size()) > parts.context)
            throw Error(ErrorCode::BadInput,
                        "A corpus sequence has " + std::to_string(seq.size()) + " tokens; the model reads at most " + std::to_string(parts.context));
        checkIds(d, seq, vocab, "The corpus");
        torch::NoGradGuard ng;
        at::Tensor logits;
        const auto taps = blockOutputs(d, parts, idsTensor(d, seq), &logits);
        for (size_t b = 0; b < taps.size(); ++b) hs[b].push_back(taps[b][0].detach());
        finals.push_back(at::log_softmax(logits[0].to(at::kDouble), -1));
        tokens += int64_t(seq.size());
    }
    if (tokens == 0) throw Error(ErrorCode::BadInput, "The tuned lens needs a corpus: no tokens were given");
    const Unembedding unembed(d, parts);
    const at::Tensor target = at::cat(finals);   // [N, V] log-probabilities
    const at::Tensor pTarget = target.exp();
    const int64_t D = hs[0][0].size(-1), B = int64_t(parts.blocks.size());
    TunedLens out;
    out.blocks = parts.blocks;
    std::vector<float> W, C;
    auto kl = [&](const at::Tensor &logits) { return (pTarget * (target - at::log_softmax(logits.to(at::kDouble), -1))).sum(-1).mean(); };
    for (int64_t b = 0; b < B; ++b) {
        const at::Tensor h = at::cat(hs[size_t(b)]);   // [N, D]
        at::Tensor A = at::eye(D, h.options()), c = at::zeros({D}, h.options());
        {
            torch::NoGradGuard ng;
            out.klLogit.push_back(kl(unembed(h)).item<double>());
        }
        if (b < B - 1 && o.steps > 0) {
            A.requires_grad_(true);
            c.requires_grad_(true);
            torch::optim::Adam opt({A, c}, torch::optim::AdamOptions(o.learningRate));
            for (int step = 0; step < o.steps; ++step) {
                if (o.cancelled && o.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
                torch::AutoGradMode on(true);
                opt.zero_grad();
                const at::Tensor loss = kl(unembed(at::matmul(h, A.t()) + c));
                loss.backward();
                opt.step();
            }
        }
        torch::NoGradGuard ng;
        out.klTuned.push_back(kl(unembed(at::matmul(h, A.t()) + c)).item<double>());
        const at::Tensor At = A.detach().t().contiguous().to(at::kCPU).to(at::kFloat), cc = c.detach().contiguous().to(at::kCPU).to(at::kFloat);
        W.insert(W.end(), At.data_ptr<float>(), At.data_ptr<float>() + D * D);
        C.insert(C.end(), cc.data_ptr<float>(), cc.data_ptr<float>() + D);
    }
    out.weights = TensorValue({B, D, D}, std::move(W));
    out.biases = TensorValue({B, D}, std::move(C));
    return out;
}

void saveTunedLens(const TunedLens &lens, const std::string &path)
{
    const int64_t B = lens.weights.dim(0), D = lens.weights.dim(1);
    std::vector<float> all;
    for (int64_t b = 0; b < B; ++b) {
        all.insert(all.end(), lens.weights.data() + b * D * D, lens.weights.data() + (b + 1) * D * D);
        all.insert(all.end(), lens.biases.data() + b * D, lens.biases.data() + (b + 1) * D);
    }
    writeNpy(path, TensorValue({B, D + 1, D}, std::move(all)));
}

TunedLens loadTunedLens(const Model &model, const std::string &path)
{
    const LanguageModelParts parts = languageModelParts(model);
    const TensorValue t = readNpy(path);
    const int64_t B = int64_t(parts.blocks.size());
    if (t.shape().size() != 3 || t.dim(0) != B || t.dim(1) != t.dim(2) + 1)
        throw Error(ErrorCode::BadInput,
                    "The tuned lens " + path + " holds " + shapeToString(t.shape()) + "; this model needs [" + std::to_string(B) + ", D + 1, D]");
    const int64_t D = t.dim(2);
    TunedLens lens;
    lens.blocks = parts.blocks;
    std::vector<float> W, C;
    for (int64_t b = 0; b < B; ++b) {
        const float *base = t.data() + b * (D + 1) * D;
        W.insert(W.end(), base, base + D * D);
        C.insert(C.end(), base + D * D, base + (D + 1) * D);
    }
    for (float v : W)
        if (!std::isfinite(v)) throw Error(ErrorCode::BadInput, "The tuned lens " + path + " holds a non-finite value");
    lens.weights = TensorValue({B, D, D}, std::move(W));
    lens.biases = TensorValue({B, D}, std::move(C));
    return lens;
}

LogitLens logitLensImpl(Model &model, const std::vector<int64_t> &ids, int topK, const TunedLens *tuned)
{
    Model::Impl &d = model.impl();
    const LanguageModelParts parts = languageModelParts(model);
    if (ids.empty()) throw Error(ErrorCode::BadInput, "The sequence is empty");
    if (parts.context > 0 && int64_t(ids.size()) > parts.context)
        throw Error(ErrorCode::BadInput,
                    "The sequence is " + std::to_string(ids.size()) + " tokens; the model reads at most " + std::to_string(parts.context));
    checkIds(d, ids, vocabularyOf(d, parts), "The sequence");
    torch::NoGradGuard ng;
    const at::Tensor x = idsTensor(d, ids);
    const std::vector<at::Tensor> taps = blockOutputs(d, parts, x);
    const Unembedding unembed(d, parts);
    if (tuned && (tuned->weights.dim(0) != int64_t(taps.size()) || tuned->weights.dim(1) != taps[0].size(-1)))
        throw Error(ErrorCode::BadInput,
                    "The tuned lens was trained for " + std::to_string(tuned->weights.dim(0)) + " blocks of width "
                        + std::to_string(tuned->weights.dim(1)) + ", not this model");
    // Every block's output through the lens at once ([B, L, D] → [B, L, V]), in the model's precision;
    // a norm that only takes one sequence at a time is run block by block.
    std::vector<at::Tensor> hs;
    for (size_t b = 0; b < taps.size(); ++b) {
        at::Tensor h = taps[b][0];   // [L, D]
        if (tuned) {
            const int64_t D = h.size(-1);
            const at::Tensor At = torch::from_blob(const_cast<float *>(tuned->weights.data()) + int64_t(b) * D * D, {D, D}, at::kFloat)
                                      .to(h.device())
                                      .to(h.scalar_type());
            const at::Tensor c =
                torch::from_blob(const_cast<float *>(tuned->biases.data()) + int64_t(b) * D, {D}, at::kFloat).to(h.device()).to(h.scalar_type());
            h = at::matmul(h, At) + c;
        }
        hs.push_back(h);
    }
    at::Tensor logits;
    try {
        logits = unembed(at::stack(hs));   // [B, L, V]
    } catch (const std::exception &) {
        std::vector<at::Tensor> each;
        for (const at::Tensor &h : hs) each.push_back(unembed(h.unsqueeze(0))[0]);
        logits = at::stack(each);
    }
    logits = logits.to(at::kFloat);
    const at::Tensor logP = at::log_softmax(logits, -1), P = logP.exp();   // [B, L, V]
    const int64_t B = P.size(0), L = P.size(1), V = P.size(2);
    const at::Tensor entropy = -(P * logP).sum(-1);
    // KL to the model's own final distribution (the untranslated last block).
    const at::Tensor finalLogits = tuned ? unembed(taps.back())[0].to(at::kFloat) : logits[B - 1];
    const at::Tensor finalLog = at::log_softmax(finalLogits, -1), finalP = finalLog.exp();
    const at::Tensor kl = (finalP.unsqueeze(0) * (finalLog.unsqueeze(0) - logP)).sum(-1);
    const at::Tensor finalTop = finalLogits.argmax(-1);   // [L]
    const at::Tensor top1 = logits.gather(2, finalTop.view({1, L, 1}).expand({B, L, 1}));
    const at::Tensor rank = (logits > top1).sum(-1);   // tokens strictly more probable (softmax keeps the order)
    LogitLens out;
    out.blocks = parts.blocks;
    out.probabilities = tensorToValue(P.to(at::kFloat).to(at::kCPU).contiguous());
    out.entropy = tensorToValue(entropy.to(at::kFloat).to(at::kCPU).contiguous());
    out.klToFinal = tensorToValue(kl.clamp_min(0).to(at::kFloat).to(at::kCPU).contiguous());
    out.finalRank = tensorToValue(rank.to(at::kFloat).to(at::kCPU).contiguous());
    const at::Tensor top = std::get<1>(logits.topk(std::min<int64_t>(std::max(1, topK), V), -1)).to(at::kCPU).contiguous();
    const int64_t k = top.size(2);
    for (int64_t c = 0; c < B * L; ++c) out.topIds.emplace_back(top.data_ptr<int64_t>() + c * k, top.data_ptr<int64_t>() + (c + 1) * k);
    return out;
}

// ---- Public entry points: torch's exceptions (TorchScript tracebacks, c10 backtraces) become one line.

namespace {

template <class F>
auto guarded(const char *what, F &&f) -> decltype(f())
{
    try {
        return f();
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::ModelError, std::string(what) + ": " + summarizeTorchError(e.what()));
    }
}

}   // namespace

Generation generate(Model &model, const std::vector<int64_t> &prompt, const GenerationOptions &o,
                    const std::function<void(const GenerationStep &)> &onStep)
{
    return guarded("The model's forward failed while generating", [&] { return generateImpl(model, prompt, o, onStep); });
}

GenerationAttribution attributeGeneration(Model &model, const std::vector<int64_t> &ids, int64_t P, const GenerationAttributionOptions &o)
{
    return guarded("The model failed while explaining the generated tokens", [&] { return attributeGenerationImpl(model, ids, P, o); });
}

TunedLens trainTunedLens(Model &model, const std::vector<std::vector<int64_t>> &sequences, const TunedLensOptions &o)
{
    return guarded("The model failed while training the tuned lens", [&] { return trainTunedLensImpl(model, sequences, o); });
}

PatchingResult activationPatching(Model &model, const std::vector<int64_t> &clean, const std::vector<int64_t> &corrupt, int64_t target,
                                  PatchSite site)
{
    return guarded("The model failed while patching", [&] { return activationPatchingImpl(model, clean, corrupt, target, site); });
}

LogitLens logitLens(Model &model, const std::vector<int64_t> &ids, int topK, const TunedLens *tuned)
{
    return guarded("The model failed in the logit lens", [&] { return logitLensImpl(model, ids, topK, tuned); });
}

}   // namespace pellucid
