// Diffusion sampling, cross-attention capture and edits, per-word maps, the trajectory lens and word
// gradients (engine/diffusion/diffusion.h).
#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "engine/diffusion/diffusion.h"

#include "engine/attention/attention.h"
#include "engine/core/errors.h"
#include "engine/runtime/modelimpl.h"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

namespace pellucid {

namespace {

const Json *diffusionBlock(const Model &model)
{
    const Json &raw = model.summary().metadata.raw;
    return raw.isObject() ? raw.find("diffusion") : nullptr;
}

[[noreturn]] void badField(const Model &model, const std::string &field, const std::string &what)
{
    throw Error(ErrorCode::BadMetadata, model.summary().fileName + ": metadata \"" + field + "\" " + what);
}

double number(const Model &m, const Json &block, const char *key, double def, bool required = false)
{
    const Json *v = block.find(key);
    if (!v) {
        if (required) badField(m, std::string("diffusion.") + key, "is missing");
        return def;
    }
    if (!v->isNumber() || !std::isfinite(v->asNumber())) badField(m, std::string("diffusion.") + key, "must be a number");
    return v->asNumber();
}

std::string lower(std::string s)
{
    for (char &ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

at::Tensor toTorch(const TensorValue &t) { return torch::from_blob(const_cast<float *>(t.data()), t.shape(), torch::kFloat).clone(); }

TensorValue toValue(const at::Tensor &t) { return tensorToValue(t.detach().to(torch::kCPU).to(torch::kFloat).contiguous()); }

at::Tensor firstTensor(const c10::IValue &v)
{
    std::vector<at::Tensor> ts;
    flattenTensors(v, ts);
    if (ts.empty()) throw Error(ErrorCode::ModelError, "The denoiser returned no tensor");
    return ts[0];
}

/// The state of one sampling run shared by sampling and the word gradients.
struct Loop {
    Model &model;
    Model::Impl &d;
    DiffusionConfig c;
    const DiffusionRequest &r;
    std::vector<double> acp;
    std::vector<int64_t> ts;
    int64_t ratio = 1;
    at::Tensor cond, null;   // [1, K] int64 on the model's device
    at::Generator gen;
    bool batched = false;

    Loop(Model &m, const DiffusionRequest &req) : model(m), d(m.impl()), c(diffusionConfig(m)), r(req)
    {
        requireTorchScript(m, "Diffusion sampling");
        checkCondIds(c, r.cond);
        if (r.steps < 1 || r.steps > c.trainSteps)
            throw Error(ErrorCode::BadInput,
                        "Steps must be 1–" + std::to_string(c.trainSteps) + " (the schedule's train_steps), not " + std::to_string(r.steps));
        if (!std::isfinite(r.guidance)) throw Error(ErrorCode::BadInput, "The guidance scale must be a finite number");
        acp = alphasCumprod(c);
        ts = samplingTimesteps(c, r.steps);
        ratio = c.trainSteps / r.steps;
        const int64_t K = int64_t(r.cond.size());
        cond = at::tensor(r.cond, at::kLong).view({1, K}).to(d.device);
        null = at::full({1, K}, c.nullId, at::kLong).to(d.device);
        gen = at::make_generator<at::CPUGeneratorImpl>(r.seed);
        batched = r.guidance != 1.0;
    }

    at::Tensor randn() { return at::randn(c.sampleShape, gen, at::TensorOptions().dtype(at::kFloat)).to(d.device); }

    /// The denoiser's inputs for one step: (x, t, cond), both passes in one batch [∅, c] under guidance.
    std::vector<c10::IValue> inputs(const at::Tensor &x, int64_t t) const
    {
        if (!batched) return {x, at::full({1}, t, at::kLong).to(d.device), cond};
        return {at::cat({x, x}), at::full({2}, t, at::kLong).to(d.device), at::cat({null, cond})};
    }

    at::Tensor guided(const at::Tensor &out) const
    {
        if (!batched) return out;
        const at::Tensor u = out.narrow(0, 0, 1), v = out.narrow(0, 1, 1);
        return u + (v - u) * r.guidance;
    }

    void checkFinite(const at::Tensor &out, int k) const
    {
        if (!at::isfinite(out).all().item<bool>())
            throw Error(ErrorCode::ModelError,
                        "The denoiser's output at step " + std::to_string(k + 1) + " (t = " + std::to_string(ts[size_t(k)]) + ") holds NaN or ±inf");
        const auto want = c.sampleShape;
        if (out.dim() != int64_t(want.size()) || out.size(0) != 1 || !std::equal(want.begin() + 1, want.end(), out.sizes().begin() + 1))
            throw Error(ErrorCode::ModelError,
                        "The denoiser returned " + shapeToString(Shape(out.sizes().begin(), out.sizes().end())) + ", not the sample's shape "
                            + shapeToString(want));
    }

    /// One update from the model's (guided) output: returns x_{prev} and sets x0.
    at::Tensor update(const at::Tensor &x, const at::Tensor &out, int k, at::Tensor &x0)
    {
        const int64_t t = ts[size_t(k)], prev = t - ratio;
        const double ab = acp[size_t(t)], abp = prev >= 0 ? acp[size_t(prev)] : 1.0;
        at::Tensor eps;
        if (c.prediction == "v") {
            x0 = x * std::sqrt(ab) - out * std::sqrt(1 - ab);
            eps = out * std::sqrt(ab) + x * std::sqrt(1 - ab);
        } else {
            eps = out;
            x0 = (x - eps * std::sqrt(1 - ab)) / std::sqrt(ab);
        }
        if (r.clipX0) x0 = x0.clamp(c.rangeLo, c.rangeHi);
        if (r.sampler == Sampler::Ddim) return x0 * std::sqrt(abp) + eps * std::sqrt(1 - abp);
        const double beta = 1 - ab / abp;
        const double c0 = std::sqrt(abp) * beta / (1 - ab), ct = std::sqrt(1 - beta) * (1 - abp) / (1 - ab);
        const at::Tensor mean = x0 * c0 + x * ct;
        if (prev < 0) return mean;
        const double var = std::max((1 - abp) / (1 - ab) * beta, 1e-20);
        return mean + randn() * std::sqrt(var);
    }
};

detail::AttentionForward &editableAttention(Model &model)
{
    Model::Impl &d = model.impl();
    if (!d.editableAttention) {
        try {
            d.editableAttention = detail::buildAttentionForward(d.torchModule(), /*editable=*/true);
        } catch (const std::exception &e) {
            throw Error(ErrorCode::ModelError, "Cannot rewrite the attention of " + d.summary.fileName + ": " + e.what());
        }
    }
    return *d.editableAttention;
}

std::vector<DenoiserSite> sitesOf(const detail::AttentionForward &af)
{
    std::vector<DenoiserSite> out;
    for (size_t i = 0; i < af.kinds.size(); ++i) {
        const unsigned keys = i < af.keyInputs.size() ? af.keyInputs[i] : 0u;
        // forward(x_t, t, cond): bit 0 is x_t, bit 2 cond.
        out.push_back({af.kinds[i], (keys & 4u) != 0 && (keys & 1u) == 0});
    }
    return out;
}

std::string modelRaised(const std::exception &e) { return "The denoiser raised: " + summarizeTorchError(e.what()); }

}   // namespace

bool isDenoiser(const Model &model)
{
    const Json &raw = model.summary().metadata.raw;
    if (!raw.isObject()) return false;
    const Json *role = raw.find("role");
    return (role && role->isString() && role->asString() == "denoiser") || raw.find("diffusion");
}

DiffusionConfig diffusionConfig(const Model &model)
{
    const Json *b = diffusionBlock(model);
    if (!isDenoiser(model) || !b)
        throw Error(ErrorCode::BadInput,
                    model.summary().fileName
                        + " is not a denoiser: its metadata needs role \"denoiser\" and a \"diffusion\" block "
                          "(train_steps, beta_schedule, sample_shape, …)");
    if (!b->isObject()) badField(model, "diffusion", "must be an object");
    DiffusionConfig c;
    const double T = number(model, *b, "train_steps", 1000);
    if (T < 1 || T > 1e6 || T != std::floor(T)) badField(model, "diffusion.train_steps", "must be a whole number 1–1000000");
    c.trainSteps = int64_t(T);
    if (const Json *s = b->find("beta_schedule")) {
        if (!s->isString()) badField(model, "diffusion.beta_schedule", "must be a string");
        c.betaSchedule = s->asString();
    }
    if (c.betaSchedule != "linear" && c.betaSchedule != "scaled_linear" && c.betaSchedule != "cosine")
        badField(model, "diffusion.beta_schedule", "names an unknown schedule '" + c.betaSchedule + "' (linear, scaled_linear or cosine)");
    c.betaStart = number(model, *b, "beta_start", 1e-4);
    c.betaEnd = number(model, *b, "beta_end", 0.02);
    if (c.betaSchedule != "cosine" && !(c.betaStart > 0 && c.betaStart <= c.betaEnd && c.betaEnd < 1))
        badField(model, "diffusion.beta_start/beta_end", "must satisfy 0 < beta_start ≤ beta_end < 1");
    if (const Json *p = b->find("prediction")) {
        if (!p->isString() || (p->asString() != "epsilon" && p->asString() != "v"))
            badField(model, "diffusion.prediction", "must be \"epsilon\" or \"v\"");
        c.prediction = p->asString();
    }
    const Json *shape = b->find("sample_shape");
    if (!shape || !shape->isArray() || shape->size() != 4) badField(model, "diffusion.sample_shape", "must be [1, C, H, W]");
    for (const Json &v : shape->asArray()) {
        if (!v.isNumber() || v.asNumber() < 1 || v.asNumber() > 65536 || v.asNumber() != std::floor(v.asNumber()))
            badField(model, "diffusion.sample_shape", "must hold positive whole numbers");
        c.sampleShape.push_back(v.asInt());
    }
    c.sampleShape[0] = 1;
    c.nullId = int64_t(number(model, *b, "null_id", 0));
    if (const Json *r = b->find("image_range")) {
        if (!r->isArray() || r->size() != 2 || !r->asArray()[0].isNumber() || !r->asArray()[1].isNumber()
            || !(r->asArray()[0].asNumber() < r->asArray()[1].asNumber()))
            badField(model, "diffusion.image_range", "must be [low, high] with low < high");
        c.rangeLo = r->asArray()[0].asNumber();
        c.rangeHi = r->asArray()[1].asNumber();
    }
    const Json &raw = model.summary().metadata.raw;
    if (const Json *v = raw.find("vocab")) {
        if (v->isArray()) {
            for (const Json &w : v->asArray()) {
                if (!w.isString()) badField(model, "vocab", "must hold strings");
                c.vocab.push_back(w.asString());
            }
        } else if (v->isObject()) {
            for (const auto &[key, w] : v->asObject()) {
                char *end = nullptr;
                const long id = std::strtol(key.c_str(), &end, 10);
                if (key.empty() || *end || id < 0 || id > 10000000 || !w.isString()) badField(model, "vocab", "must map ids to words");
                if (size_t(id) >= c.vocab.size()) c.vocab.resize(size_t(id) + 1);
                c.vocab[size_t(id)] = w.asString();
            }
        } else {
            badField(model, "vocab", "must be a list of words or an {\"id\": \"word\"} object");
        }
    }
    if (c.vocab.empty()) badField(model, "vocab", "is missing (cond ids → words)");
    if (c.nullId < 0 || c.nullId >= int64_t(c.vocab.size())) badField(model, "diffusion.null_id", "is outside the vocabulary");
    if (const Json *p = raw.find("prompt_length"); p && p->isNumber()) c.promptLength = p->asInt();
    if (const Json *rs = raw.find("regions")) {
        if (!rs->isArray()) badField(model, "regions", "must be a list");
        for (const Json &r : rs->asArray()) {
            const Json *box = r.find("box");
            if (!r.isObject() || !box || !box->isArray() || box->size() != 4) badField(model, "regions", "entries need \"box\": [y0, x0, y1, x1]");
            DiffusionRegion reg;
            if (const Json *n = r.find("name"); n && n->isString()) reg.name = n->asString();
            if (const Json *t = r.find("token"); t && t->isNumber()) reg.token = int(t->asInt());
            const auto &a = box->asArray();
            for (const Json &v : a)
                if (!v.isNumber()) badField(model, "regions", "boxes hold numbers");
            reg.y0 = a[0].asInt(), reg.x0 = a[1].asInt(), reg.y1 = a[2].asInt(), reg.x1 = a[3].asInt();
            const int64_t H = c.sampleShape[2], W = c.sampleShape[3];
            if (!(0 <= reg.y0 && reg.y0 < reg.y1 && reg.y1 <= H && 0 <= reg.x0 && reg.x0 < reg.x1 && reg.x1 <= W))
                badField(model, "regions", "box of '" + reg.name + "' is outside the sample");
            c.regions.push_back(reg);
        }
    }
    if (const Json *cc = raw.find("companion_classifier"); cc && cc->isString()) c.companionClassifier = cc->asString();
    c.embeddingLayer = embeddingLayer(model);
    return c;
}

TensorValue toUnitRange(const DiffusionConfig &c, const TensorValue &images)
{
    std::vector<float> v(size_t(images.numel()));
    const double span = c.rangeHi - c.rangeLo;
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(std::clamp((double(images.at(int64_t(i))) - c.rangeLo) / span, 0.0, 1.0));
    return TensorValue(images.shape(), std::move(v));
}

std::vector<double> alphasCumprod(const DiffusionConfig &c)
{
    const int64_t T = c.trainSteps;
    at::Tensor betas;
    if (c.betaSchedule == "linear") {
        betas = at::linspace(c.betaStart, c.betaEnd, T, at::TensorOptions().dtype(at::kDouble));
    } else if (c.betaSchedule == "scaled_linear") {
        betas = at::linspace(std::sqrt(c.betaStart), std::sqrt(c.betaEnd), T, at::TensorOptions().dtype(at::kDouble)).pow(2);
    } else {
        std::vector<double> b(static_cast<size_t>(T));
        auto f = [](double u) { return std::pow(std::cos((u + 0.008) / 1.008 * M_PI / 2), 2); };
        for (int64_t i = 0; i < T; ++i) b[size_t(i)] = std::min(1 - f(double(i + 1) / double(T)) / f(double(i) / double(T)), 0.999);
        betas = at::tensor(b, at::kDouble);
    }
    const at::Tensor acp = at::cumprod(1.0 - betas, 0).contiguous();
    return std::vector<double>(acp.data_ptr<double>(), acp.data_ptr<double>() + T);
}

std::vector<int64_t> samplingTimesteps(const DiffusionConfig &c, int steps)
{
    if (steps < 1 || steps > c.trainSteps)
        throw Error(ErrorCode::BadInput, "Steps must be 1–" + std::to_string(c.trainSteps) + ", not " + std::to_string(steps));
    const int64_t ratio = c.trainSteps / steps;
    std::vector<int64_t> ts;
    for (int64_t k = steps - 1; k >= 0; --k) ts.push_back(k * ratio);
    return ts;
}

std::vector<int64_t> promptToIds(const DiffusionConfig &c, const std::string &prompt)
{
    std::vector<std::string> words;
    std::string cur;
    for (char ch : prompt) {
        if (std::isspace(static_cast<unsigned char>(ch)) || ch == ',') {
            if (!cur.empty()) words.push_back(cur);
            cur.clear();
        } else {
            cur += ch;
        }
    }
    if (!cur.empty()) words.push_back(cur);
    if (words.empty()) throw Error(ErrorCode::BadInput, "The prompt is empty");
    std::vector<int64_t> ids;
    for (const std::string &w : words) {
        const std::string lw = lower(w);
        int64_t found = -1;
        for (size_t i = 0; i < c.vocab.size() && found < 0; ++i)
            if (!c.vocab[i].empty() && lower(c.vocab[i]) == lw) found = int64_t(i);
        if (found < 0 && !w.empty() && std::all_of(w.begin(), w.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); }))
            found = std::stoll(w.size() > 9 ? std::string("999999999") : w);
        if (found < 0) {
            std::string known;
            for (size_t i = 0; i < c.vocab.size() && i < 24; ++i)
                if (!c.vocab[i].empty() && int64_t(i) != c.nullId) known += (known.empty() ? "" : ", ") + c.vocab[i];
            throw Error(ErrorCode::BadInput, "The word '" + w + "' is not in the denoiser's vocabulary (" + known + ")");
        }
        ids.push_back(found);
    }
    checkCondIds(c, ids);
    return ids;
}

void checkCondIds(const DiffusionConfig &c, const std::vector<int64_t> &ids)
{
    if (ids.empty()) throw Error(ErrorCode::BadInput, "The prompt holds no ids");
    for (int64_t id : ids)
        if (id < 0 || id >= int64_t(c.vocab.size()))
            throw Error(ErrorCode::BadInput,
                        "cond id " + std::to_string(id) + " is outside the vocabulary (ids 0–" + std::to_string(c.vocab.size() - 1) + ")");
    if (c.promptLength > 0 && int64_t(ids.size()) != c.promptLength)
        throw Error(ErrorCode::BadInput,
                    "The denoiser takes prompts of " + std::to_string(c.promptLength) + " words, not " + std::to_string(ids.size()));
}

std::vector<std::string> idsToWords(const DiffusionConfig &c, const std::vector<int64_t> &ids)
{
    std::vector<std::string> out;
    for (int64_t id : ids)
        out.push_back(id >= 0 && id < int64_t(c.vocab.size()) && !c.vocab[size_t(id)].empty() ? c.vocab[size_t(id)] : "#" + std::to_string(id));
    return out;
}

std::string companionClassifierPath(const Model &denoiser)
{
    const DiffusionConfig c = diffusionConfig(denoiser);
    if (c.companionClassifier.empty()) return "";
    std::string dir = denoiser.summary().path;
    const size_t slash = dir.find_last_of('/');
    dir = slash == std::string::npos ? std::string(".") : dir.substr(0, slash);
    const std::string p = c.companionClassifier[0] == '/' ? c.companionClassifier : dir + "/" + c.companionClassifier;
    return std::ifstream(p).good() ? p : std::string();
}

std::vector<DenoiserSite> denoiserSites(Model &model)
{
    requireTorchScript(model, "Cross-attention");
    return sitesOf(editableAttention(model));
}

const char *samplerName(Sampler s) { return s == Sampler::Ddim ? "ddim" : "ddpm"; }

bool parseSampler(const std::string &name, Sampler &out)
{
    if (name == "ddim")
        out = Sampler::Ddim;
    else if (name == "ddpm")
        out = Sampler::Ddpm;
    else
        return false;
    return true;
}

DiffusionResult sampleDiffusion(Model &model, const DiffusionRequest &r)
{
    Loop L(model, r);
    Model::Impl &d = L.d;
    const int64_t K = int64_t(r.cond.size());
    if (r.reweightToken >= K)
        throw Error(ErrorCode::BadInput,
                    "Token " + std::to_string(r.reweightToken) + " is outside the prompt (positions 0–" + std::to_string(K - 1) + ")");
    if (!std::isfinite(r.reweightFactor)) throw Error(ErrorCode::BadInput, "The re-weighting factor must be a finite number");
    const bool edit = r.reweightToken >= 0 || r.inject;
    const bool clone = r.captureAttention || edit;
    DiffusionResult out;
    out.timesteps = L.ts;
    out.cond = r.cond;
    detail::AttentionForward *af = nullptr;
    detail::AttentionEdit editState;
    if (clone) {
        af = &editableAttention(model);
        out.sites = sitesOf(*af);
        for (size_t i = 0; i < out.sites.size(); ++i)
            if (out.sites[i].cross) out.crossSites.push_back(int(i));
        if (out.crossSites.empty())
            throw Error(ErrorCode::BadInput, d.summary.fileName + " has no cross-attention site (no attention whose keys are computed from cond)");
        editState.sites.resize(out.sites.size());
        editState.batch = L.batched ? 2 : 1;
        editState.fromItem = L.batched ? 1 : 0;
        if (r.reweightToken >= 0) {
            at::Tensor w = at::ones({K}, at::kFloat);
            w[r.reweightToken] = float(r.reweightFactor);
            for (int s : out.crossSites) editState.sites[size_t(s)].weight = w.to(d.device);
        }
        if (r.inject) {
            if (r.inject->maps.size() != out.crossSites.size() || int64_t(r.inject->keys.size()) != K)
                throw Error(ErrorCode::BadInput,
                            "The maps to inject are for " + std::to_string(r.inject->maps.size()) + " cross-attention sites and "
                                + std::to_string(r.inject->keys.size()) + " words; this run has " + std::to_string(out.crossSites.size()) + " and "
                                + std::to_string(K));
            for (const TensorValue &m : r.inject->maps)
                if (m.shape().size() != 4 || m.dim(0) != r.steps || m.dim(3) != K)
                    throw Error(ErrorCode::BadInput,
                                "The maps to inject must be [steps, heads, Q, K] for " + std::to_string(r.steps) + " steps, not "
                                    + shapeToString(m.shape()));
        }
    }
    std::vector<at::Tensor> injectMaps;
    at::Tensor injectKeys;
    if (r.inject) {
        for (const TensorValue &m : r.inject->maps) injectMaps.push_back(toTorch(m));
        std::vector<uint8_t> keys(r.inject->keys.begin(), r.inject->keys.end());
        injectKeys = at::tensor(at::ArrayRef<uint8_t>(keys)).to(at::kBool);
    }
    std::vector<std::vector<at::Tensor>> captured(out.crossSites.size());
    std::vector<at::Tensor> x0s, xts;
    torch::NoGradGuard ng;
    const auto start = std::chrono::steady_clock::now();
    at::Tensor x = L.randn();
    for (int k = 0; k < r.steps; ++k) {
        if (r.cancelled && r.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
        const int64_t t = L.ts[size_t(k)];
        at::Tensor raw;
        try {
            if (!clone) {
                raw = firstTensor(d.module.forward(L.inputs(x, t)));
            } else {
                if (r.inject)
                    for (size_t i = 0; i < out.crossSites.size(); ++i) {
                        auto &site = editState.sites[size_t(out.crossSites[i])];
                        site.replace = injectMaps[i][k];
                        site.replaceKeys = injectKeys;
                    }
                detail::AttentionEditScope scope(edit ? &editState : nullptr);
                const std::vector<c10::IValue> res = af->forward->run(d.module, L.inputs(x, t));
                raw = firstTensor(res.at(0));
                const size_t n = af->forward->originalOutputs;
                if (r.captureAttention) {
                    for (size_t i = 0; i < out.crossSites.size(); ++i) {
                        const c10::IValue &v = res.at(n + size_t(out.crossSites[i]));
                        if (v.isNone()) throw Error(ErrorCode::ModelError, "Cross-attention site " + std::to_string(i) + " did not run");
                        at::Tensor p = v.toTensor();
                        const int64_t B = L.batched ? 2 : 1;
                        if (p.dim() == 3 && p.size(0) % B == 0) p = p.view({B, p.size(0) / B, p.size(1), p.size(2)});
                        if (p.dim() != 4)
                            throw Error(ErrorCode::ModelError, "Cross-attention site " + std::to_string(i) + " is not [B, heads, Q, K]");
                        captured[i].push_back(p[B - 1].to(at::kCPU).to(at::kFloat));
                    }
                }
            }
        } catch (const Error &) {
            throw;
        } catch (const std::exception &e) {
            throw Error(ErrorCode::ModelError, modelRaised(e));
        }
        ++out.denoiserCalls;
        const at::Tensor o = L.guided(raw);
        L.checkFinite(o, k);
        at::Tensor x0;
        x = L.update(x, o, k, x0);
        x0s.push_back(x0);
        xts.push_back(x);
        if (r.onStep && !r.onStep(k, t, toValue(x), toValue(x0))) throw Error(ErrorCode::Cancelled, "cancelled");
    }
    d.syncStream();
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.sample = toValue(x);
    out.trajectory = toValue(at::cat(x0s));
    out.states = toValue(at::cat(xts));
    if (r.captureAttention)
        for (auto &steps : captured) out.crossAttention.push_back(toValue(at::stack(steps)));
    return out;
}

std::pair<int64_t, int64_t> queryGrid(int64_t Q, int64_t H, int64_t W)
{
    const int64_t h = int64_t(std::llround(std::sqrt(double(Q) * double(H) / double(W))));
    if (h < 1 || Q % h != 0 || h * W != (Q / h) * H)
        throw Error(ErrorCode::BadInput,
                    "An attention site's " + std::to_string(Q) + " queries are no grid in the sample's " + std::to_string(H) + "×" + std::to_string(W)
                        + " aspect");
    return {h, Q / h};
}

TensorValue wordHeatMaps(const DiffusionResult &r, const HeatMapFilter &f)
{
    if (r.crossAttention.empty()) throw Error(ErrorCode::BadInput, "The run holds no cross-attention (sample with the attention captured)");
    const int64_t H = r.sample.dim(2), W = r.sample.dim(3);
    const int64_t N = r.crossAttention[0].dim(0);
    const int64_t from = std::max(0, f.stepFrom), to = f.stepTo < 0 ? N - 1 : std::min<int64_t>(f.stepTo, N - 1);
    if (from > to) throw Error(ErrorCode::BadInput, "The step range " + std::to_string(f.stepFrom) + "–" + std::to_string(f.stepTo) + " is empty");
    if (f.site >= int(r.crossAttention.size()))
        throw Error(ErrorCode::BadInput,
                    "Cross-attention site " + std::to_string(f.site) + " does not exist (0–" + std::to_string(r.crossAttention.size() - 1) + ")");
    torch::NoGradGuard ng;
    at::Tensor total;
    int64_t count = 0;
    for (size_t s = 0; s < r.crossAttention.size(); ++s) {
        if (f.site >= 0 && size_t(f.site) != s) continue;
        at::Tensor p = toTorch(r.crossAttention[s]).narrow(0, from, to - from + 1).to(at::kDouble);   // [n, heads, Q, K]
        if (f.head >= 0) {
            if (f.head >= p.size(1))
                throw Error(ErrorCode::BadInput,
                            "Head " + std::to_string(f.head) + " does not exist at site " + std::to_string(s) + " (0–" + std::to_string(p.size(1) - 1)
                                + ")");
            p = p.narrow(1, f.head, 1);
        }
        const int64_t n = p.size(0), heads = p.size(1), Q = p.size(2), K = p.size(3);
        const auto [h, w] = queryGrid(Q, H, W);
        const at::Tensor maps = p.reshape({n * heads, Q, K}).permute({0, 2, 1}).reshape({n * heads, K, h, w});
        const at::Tensor up = at::upsample_bicubic2d(maps, {H, W}, /*align_corners=*/false).clamp_min(0).sum(0);
        total = total.defined() ? total + up : up;
        count += n * heads;
    }
    return toValue(total / double(count));
}

std::vector<double> mapIoU(const TensorValue &maps, const std::vector<TensorValue> &masks, double threshold, bool minMax)
{
    if (maps.shape().size() != 3) throw Error(ErrorCode::BadInput, "Word maps must be [K, H, W], not " + shapeToString(maps.shape()));
    const int64_t K = maps.dim(0), HW = maps.dim(1) * maps.dim(2);
    std::vector<double> out;
    for (int64_t k = 0; k < K; ++k) {
        if (size_t(k) >= masks.size() || masks[size_t(k)].numel() == 0) {
            out.push_back(std::nan(""));
            continue;
        }
        if (masks[size_t(k)].numel() != HW)
            throw Error(ErrorCode::BadInput,
                        "Mask " + std::to_string(k) + " has " + std::to_string(masks[size_t(k)].numel()) + " pixels, the map " + std::to_string(HW));
        const float *m = maps.data() + k * HW, *g = masks[size_t(k)].data();
        float mx = 0, mn = minMax ? m[0] : 0.0f;
        for (int64_t i = 0; i < HW; ++i) mx = std::max(mx, m[i]), mn = std::min(mn, m[i]);
        int64_t inter = 0, uni = 0;
        for (int64_t i = 0; i < HW; ++i) {
            const bool p = mx > mn && (m[i] - mn) / (mx - mn) >= threshold, t = g[i] != 0;
            inter += p && t;
            uni += p || t;
        }
        out.push_back(uni ? double(inter) / double(uni) : 0.0);
    }
    return out;
}

std::vector<TensorValue> regionMasks(const DiffusionConfig &c, int64_t promptLength)
{
    const int64_t H = c.sampleShape[2], W = c.sampleShape[3];
    std::vector<TensorValue> out(static_cast<size_t>(promptLength));
    for (const DiffusionRegion &reg : c.regions) {
        if (reg.token < 0 || reg.token >= promptLength) continue;
        std::vector<float> m(size_t(H * W), 0.0f);
        for (int64_t y = reg.y0; y < reg.y1; ++y)
            for (int64_t x = reg.x0; x < reg.x1; ++x) m[size_t(y * W + x)] = 1.0f;
        out[size_t(reg.token)] = TensorValue({H, W}, std::move(m));
    }
    return out;
}

namespace {

at::Tensor classifierInputTorch(const Model &classifier, const DiffusionConfig &c, const at::Tensor &images, const DiffusionRegion &box)
{
    const InputSpec &spec = classifier.summary().metadata.input;
    const Shape &want = classifier.summary().inputShape;
    if (want.size() != 4)
        throw Error(ErrorCode::BadInput,
                    classifier.summary().fileName + " does not take images [N, C, H, W] (its input is " + shapeToString(want) + ")");
    at::Tensor x = images;
    if (box.y1 > box.y0 && box.x1 > box.x0) x = x.narrow(2, box.y0, box.y1 - box.y0).narrow(3, box.x0, box.x1 - box.x0);
    x = (x - c.rangeLo) / (c.rangeHi - c.rangeLo) * double(spec.rangeHi - spec.rangeLo) + double(spec.rangeLo);
    if (x.size(1) != want[1]) {
        if (x.size(1) == 1)
            x = x.expand({x.size(0), want[1], x.size(2), x.size(3)});
        else if (want[1] == 1)
            x = x.mean(1, true);
        else
            throw Error(ErrorCode::BadInput,
                        "The samples' " + std::to_string(x.size(1)) + " channels do not fit the classifier's " + std::to_string(want[1]));
    }
    if (x.size(2) != want[2] || x.size(3) != want[3]) x = at::upsample_bilinear2d(x, {want[2], want[3]}, /*align_corners=*/false);
    if (!spec.mean.empty()) {
        std::vector<float> mean(spec.mean), sd(spec.std);
        mean.resize(size_t(want[1]), mean.back());
        sd.resize(size_t(want[1]), sd.back());
        const at::Tensor mt = at::tensor(mean).view({1, -1, 1, 1}).to(x.device()), st = at::tensor(sd).view({1, -1, 1, 1}).to(x.device());
        x = (x - mt) / st;
    }
    return x;
}

}   // namespace

TensorValue classifierInput(const Model &classifier, const DiffusionConfig &c, const TensorValue &images, const DiffusionRegion &box)
{
    torch::NoGradGuard ng;
    return toValue(classifierInputTorch(classifier, c, toTorch(images), box));
}

TrajectoryLens trajectoryLens(Model &classifier, const DiffusionConfig &c, const TensorValue &trajectory)
{
    if (trajectory.shape().size() != 4)
        throw Error(ErrorCode::BadInput, "The trajectory must be [N, C, H, W], not " + shapeToString(trajectory.shape()));
    TrajectoryLens out;
    out.labels = classifier.summary().metadata.labels;
    std::vector<DiffusionRegion> regions = c.regions;
    if (regions.empty()) regions.push_back({"image", -1, 0, 0, trajectory.dim(2), trajectory.dim(3)});
    std::vector<at::Tensor> probs;
    for (const DiffusionRegion &reg : regions) {
        out.regions.push_back(reg.name);
        const TensorValue in = classifierInput(classifier, c, trajectory, reg);
        const std::vector<TensorValue> o = classifier.plainForward(in);
        if (o.empty() || o[0].shape().size() != 2 || o[0].dim(0) != trajectory.dim(0))
            throw Error(ErrorCode::BadInput, classifier.summary().fileName + " does not return class scores [N, classes]");
        probs.push_back(at::softmax(toTorch(o[0]).to(at::kDouble), 1).to(at::kFloat));
    }
    out.probabilities = toValue(at::stack(probs, 1));
    return out;
}

WordGradient wordGradients(Model &model, const DiffusionRequest &r, int lastSteps, const DiffusionRegion &region, Model *classifier, int classIndex)
{
    Loop L(model, r);
    Model::Impl &d = L.d;
    if (L.c.embeddingLayer.empty())
        throw Error(ErrorCode::BadInput,
                    d.summary.fileName + " has no word-embedding layer (no Embedding module; name one: metadata \"embedding_layer\")");
    if (lastSteps < 1 || lastSteps > r.steps)
        throw Error(ErrorCode::BadInput, "The gradient runs through 1–" + std::to_string(r.steps) + " last steps, not " + std::to_string(lastSteps));
    if (classifier) {
        requireTorchScript(*classifier, "The gradient of a class probability");
        if (classIndex < 0) throw Error(ErrorCode::BadInput, "The gradient of a class probability needs a class");
    }
    const std::string path = d.checkedPath(model, L.c.embeddingLayer);
    std::shared_ptr<detail::TappedForward> tap, rep;
    try {
        tap = d.tapped({path});
        rep = d.replaced(path);
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::BadInput, "Cannot take gradients at " + path + ": " + e.what());
    }
    at::Tensor x;
    {
        torch::NoGradGuard ng;
        x = L.randn();
        for (int k = 0; k < r.steps - lastSteps; ++k) {
            if (r.cancelled && r.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
            at::Tensor o;
            try {
                o = L.guided(firstTensor(d.module.forward(L.inputs(x, L.ts[size_t(k)]))));
            } catch (const std::exception &e) {
                throw Error(ErrorCode::ModelError, modelRaised(e));
            }
            L.checkFinite(o, k);
            at::Tensor x0;
            x = L.update(x, o, k, x0);
        }
    }
    // The embeddings of the prompt (and of the null prompt), the former a leaf the score is differentiated by.
    at::Tensor E, En;
    {
        torch::NoGradGuard ng;
        std::vector<at::Tensor> taps;
        const auto in = L.inputs(x, L.ts[size_t(r.steps - lastSteps)]);
        flattenTensors(tap->run(d.module, {in[0].toTensor().narrow(0, 0, 1), in[1].toTensor().narrow(0, 0, 1), L.cond}).at(1), taps);
        if (taps.empty()) throw Error(ErrorCode::BadInput, path + " returns no tensor");
        E = taps[0].detach().clone();
        if (E.dim() < 2 || E.size(0) != 1) throw Error(ErrorCode::BadInput, path + "'s output is not one embedding per word [1, K, D]");
        taps.clear();
        flattenTensors(tap->run(d.module, {in[0].toTensor().narrow(0, 0, 1), in[1].toTensor().narrow(0, 0, 1), L.null}).at(1), taps);
        En = taps[0].detach();
    }
    torch::AutoGradMode on(true);
    E.requires_grad_(true);
    for (int k = r.steps - lastSteps; k < r.steps; ++k) {
        std::vector<c10::IValue> in = L.inputs(x, L.ts[size_t(k)]);
        in.push_back(L.batched ? at::cat({En, E}) : E);
        at::Tensor o;
        try {
            std::vector<at::Tensor> outs;
            flattenTensors(rep->run(d.module, in).at(0), outs);
            o = L.guided(outs.at(0));
        } catch (const std::exception &e) {
            throw Error(ErrorCode::ModelError, modelRaised(e));
        }
        L.checkFinite(o.detach(), k);
        at::Tensor x0;
        x = L.update(x, o, k, x0);
    }
    at::Tensor score;
    if (classifier) {
        const at::Tensor in = classifierInputTorch(*classifier, L.c, x, region);
        std::vector<at::Tensor> outs;
        flattenTensors(classifier->impl().torchModule().forward({in}), outs);
        if (outs.empty() || outs[0].dim() != 2) throw Error(ErrorCode::BadInput, "The classifier does not return class scores [1, classes]");
        if (classIndex >= outs[0].size(1))
            throw Error(ErrorCode::BadInput,
                        "Class " + std::to_string(classIndex) + " is outside the classifier's 0–" + std::to_string(outs[0].size(1) - 1));
        score = at::softmax(outs[0], 1)[0][classIndex];
    } else {
        at::Tensor crop = x;
        if (region.y1 > region.y0 && region.x1 > region.x0)
            crop = crop.narrow(2, region.y0, region.y1 - region.y0).narrow(3, region.x0, region.x1 - region.x0);
        score = crop.mean();
    }
    const at::Tensor g = torch::autograd::grad({score}, {E}, {}, false, false, true)[0];
    WordGradient out;
    out.layer = path;
    out.words = idsToWords(L.c, r.cond);
    out.score = score.item<double>();
    const at::Tensor gd = g.defined() ? g.detach().to(at::kDouble).to(at::kCPU) : at::zeros(E.sizes(), at::kDouble);
    const at::Tensor e = E.detach().to(at::kDouble).to(at::kCPU);
    const int64_t K = int64_t(r.cond.size());
    const at::Tensor g2 = gd.reshape({K, -1}), e2 = e.reshape({K, -1});
    for (int64_t k = 0; k < K; ++k) {
        out.norm.push_back(g2[k].norm().item<double>());
        out.gradTimesInput.push_back((g2[k] * e2[k]).sum().item<double>());
    }
    return out;
}

}   // namespace pellucid

namespace pellucid {

double rawDenoiserPasses(Model &model, const DiffusionRequest &r, int passes)
{
    Loop L(model, r);
    torch::NoGradGuard ng;
    const at::Tensor x = L.randn();
    (void)firstTensor(L.d.module.forward(L.inputs(x, L.ts.front())));   // warm
    const auto start = std::chrono::steady_clock::now();
    for (int k = 0; k < passes; ++k) {
        const at::Tensor e = firstTensor(L.d.module.forward(L.inputs(x, L.ts[size_t(k) % L.ts.size()])));
        if (e.is_cuda()) (void)e.sum().item<float>();
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}   // namespace pellucid
