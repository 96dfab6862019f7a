#include "engine/attribution/runner.h"
#include "engine/runtime/memory.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <cmath>
#include <optional>

namespace pellucid {

namespace {

const std::pair<IntegrationRule, const char *> kRules[] = {
    {IntegrationRule::GaussLegendre, "gauss-legendre"},       {IntegrationRule::RiemannLeft, "riemann-left"},
    {IntegrationRule::RiemannRight, "riemann-right"},         {IntegrationRule::RiemannMiddle, "riemann-middle"},
    {IntegrationRule::RiemannTrapezoid, "riemann-trapezoid"},
};

}   // namespace

using detail::attributeOne;
using detail::camFromGradients;
using detail::Runner;
using detail::spatialLayer;

bool isCamLayer(const LayerInfo &l)
{
    if (l.calls <= 0 || l.outputShapes.empty()) return false;
    const Shape &o = l.outputShapes[0];
    auto square = [](int64_t n) {
        const auto g = int64_t(std::llround(std::sqrt(double(n))));
        return n > 0 && g * g == n;
    };
    return o.size() == 4 || (o.size() == 3 && (square(o[1]) || square(o[1] - 1)));
}

std::string suggestedCamLayer(const ModelSummary &summary)
{
    std::string last, lastWide;
    for (const auto &l : summary.layers) {
        if (!isCamLayer(l)) continue;
        last = l.path;
        const Shape &o = l.outputShapes[0];
        const int64_t cells = o.size() == 4 ? o[2] * o[3] : o[1];
        if (cells > 1) lastWide = l.path;
    }
    if (lastWide.empty()) return last;
    // From a leaf inside a block (a ResNet's layer4.1.bn2) up to the block itself (layer4.1: the residual sum
    // after its ReLU), pytorch-grad-cam's model.layer4[-1]; plain Sequential containers are not climbed.
    for (;;) {
        const size_t dot = lastWide.rfind('.');
        if (dot == std::string::npos) break;
        const std::string parent = lastWide.substr(0, dot);
        const auto it = std::find_if(summary.layers.begin(), summary.layers.end(), [&](const LayerInfo &l) { return l.path == parent; });
        if (it == summary.layers.end() || !isCamLayer(*it) || it->op == "Sequential" || it->op == "ModuleList") break;
        lastWide = parent;
    }
    return lastWide;
}

const char *integrationName(IntegrationRule r)
{
    for (const auto &k : kRules)
        if (k.first == r) return k.second;
    return "?";
}

bool parseIntegration(const std::string &name, IntegrationRule &out)
{
    for (const auto &k : kRules)
        if (name == k.second) {
            out = k.first;
            return true;
        }
    return false;
}

void integrationPoints(IntegrationRule rule, int n, std::vector<double> &alphas, std::vector<double> &weights)
{
    alphas.assign(size_t(n), 0.0);
    weights.assign(size_t(n), 1.0 / n);
    switch (rule) {
    case IntegrationRule::RiemannLeft:
        for (int i = 0; i < n; ++i) alphas[size_t(i)] = n == 1 ? 0.0 : (1.0 - 1.0 / n) * i / (n - 1);
        break;
    case IntegrationRule::RiemannRight:
        for (int i = 0; i < n; ++i) alphas[size_t(i)] = n == 1 ? 1.0 : 1.0 / n + (1.0 - 1.0 / n) * i / (n - 1);
        break;
    case IntegrationRule::RiemannMiddle:
        for (int i = 0; i < n; ++i) alphas[size_t(i)] = n == 1 ? 0.5 : 0.5 / n + (1.0 - 1.0 / n) * i / (n - 1);
        break;
    case IntegrationRule::RiemannTrapezoid:
        // Captum's placement: linspace(0, 1, n) with weights 1/n, halved at both ends.
        if (n < 2) throw Error(ErrorCode::BadInput, "The trapezoid rule needs at least 2 steps (got " + std::to_string(n) + ")");
        for (int i = 0; i < n; ++i) {
            alphas[size_t(i)] = double(i) / (n - 1);
            weights[size_t(i)] = (i == 0 || i == n - 1) ? 0.5 / n : 1.0 / n;
        }
        break;
    case IntegrationRule::GaussLegendre:
        // Nodes and weights on [-1, 1] by Newton's method on the Legendre polynomial, mapped to [0, 1].
        for (int i = 0; i < n; ++i) {
            double x = std::cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 0;
            for (int it = 0; it < 100; ++it) {
                double p0 = 1, p1 = x;
                for (int k = 2; k <= n; ++k) {
                    const double pk = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
                    p0 = p1;
                    p1 = pk;
                }
                if (n == 1) {
                    p1 = x;
                    p0 = 1;
                }
                dp = n * (x * p1 - p0) / (x * x - 1);
                const double dx = p1 / dp;
                x -= dx;
                if (std::fabs(dx) < 1e-15) break;
            }
            alphas[size_t(n - 1 - i)] = 0.5 * (x + 1);
            weights[size_t(n - 1 - i)] = 0.5 * 2 / ((1 - x * x) * dp * dp);
        }
        break;
    }
}

std::shared_ptr<AttributionResult> computeAttribution(Model &model, const TensorValue &input, const AttributionParams &params,
                                                      const AttributionSink &sink)
{
    const auto t0 = std::chrono::steady_clock::now();
    const CpuBlockReuse reuse;   // the passes' activations keep their pages (runtime/memory.h)
    // Every numeric parameter within the registry's range (the CLI, the panel and sessions alike).
    auto inRange = [](const char *name, double v) {
        const ParameterInfo &p = parameterInfo(name);
        if (!(v >= p.minimum && v <= p.maximum)) {
            std::ostringstream s;
            s << name << " must be " << p.minimum << " to " << p.maximum << ", not " << v;
            throw Error(ErrorCode::BadInput, s.str());
        }
    };
    inRange("steps", params.steps);
    inRange("samples", params.samples);
    inRange("stdev", params.stdev);
    inRange("fill", params.fill);
    for (int64_t w : params.window) inRange("window", double(w));
    if (params.gridCells < 1 || params.gridCells > 256)
        throw Error(ErrorCode::BadInput, "grid must be 1 to 256 cells a side, not " + std::to_string(params.gridCells));
    model.checkInput(input);
    if (model.impl().backend && !isForwardOnlyMethod(params.method)) {
        std::string forwardOnly;
        for (const MethodInfo &m : methodRegistry())
            if (m.forwardOnly) forwardOnly += std::string(forwardOnly.empty() ? "" : ", ") + m.name;
        throw Error(ErrorCode::BadInput,
                    std::string(methodName(params.method)) + " needs gradients; " + model.summary().fileName + " is " + model.summary().format + " ("
                        + model.summary().runtime + " has no gradients): use a forward-only method (" + forwardOnly + ")");
    }
    if (needsLayer(params.method)) {
        if (params.layer.empty()) throw Error(ErrorCode::BadInput, std::string(methodName(params.method)) + " needs a layer (--layer PATH)");
        model.resolveLayer(params.layer);
    }
    if (usesSuperpixels(params.method) && params.samples < 2)
        throw Error(ErrorCode::BadInput, std::string(methodName(params.method)) + " needs at least 2 samples");
    Runner r(model, params, sink);
    const at::Tensor all = model.impl().toTorch(input);
    if (!all.is_floating_point())
        throw Error(ErrorCode::BadInput, "Attribution to the input needs a floating-point input; use a layer method for token ids");
    auto result = std::make_shared<AttributionResult>();
    result->method = params.method;
    result->layer = params.layer;
    result->convergenceDelta = params.method == AttributionMethod::IntegratedGradients ? 0.0 : std::nan("");
    std::vector<at::Tensor> maps;
    for (int64_t b = 0; b < all.size(0); ++b) {
        const at::Tensor x = all.narrow(0, b, 1);
        const AttributionTarget t = r.resolveTarget(x);
        if (b == 0) result->targetClass = t.classIndex;
        double delta = 0;
        maps.push_back(attributeOne(r, params.method, x, t, delta).detach());
        // Over a batch, report the delta of largest magnitude (with its sign).
        if (params.method == AttributionMethod::IntegratedGradients && std::fabs(delta) >= std::fabs(result->convergenceDelta))
            result->convergenceDelta = delta;
    }
    result->map = tensorToValue(at::cat(maps));
    result->modelPasses = r.passes;
    result->chunks = r.chunks;
    if (r.fastUsed) result->kernels = "fast";
    if (params.fastKernels && !r.fastUsed) result->fastKernelsNote = r.fastUnavailable();
    result->elapsedMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

double rawPassMs(Model &model, const TensorValue &input, int64_t samples, int64_t chunk, bool backward)
{
    Model::Impl &d = model.impl();
    const at::Tensor x = d.toTorch(input).narrow(0, 0, 1);
    const CpuBlockReuse reuse;   // as computeAttribution's passes
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t done = 0; done < samples; done += chunk) {
        const int64_t k = std::min(chunk, samples - done);
        std::vector<int64_t> rep(size_t(x.dim()), 1);
        rep[0] = k;
        const at::Tensor xs = x.repeat(rep);
        if (backward) {
            torch::AutoGradMode enable(true);
            const at::Tensor xg = xs.detach().requires_grad_(true);
            std::vector<at::Tensor> ts;
            flattenTensors(d.tapped({})->run(d.torchModule(), {xg}).at(0), ts);
            const at::Tensor y = ts.at(0).select(1, 0).sum();
            (void)torch::autograd::grad({y}, {xg});
        } else {
            torch::NoGradGuard ng;
            std::vector<at::Tensor> ts;
            flattenTensors(d.backend ? d.runBackend(xs, {}, false).at(0) : d.tapped({})->run(d.module, {xs}).at(0), ts);
            (void)ts.at(0).sum().item<float>();
        }
    }
    d.syncStream();   // CUDA runs the backward asynchronously: the clock stops when it is done, as a method's does
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

/// A job's context as an attribution's sink: its cancel flag, progress, and partial maps tagged with the input id.
static AttributionSink jobSink(JobContext &ctx, uint64_t inputId)
{
    AttributionSink sink;
    sink.cancelled = [&ctx] { return ctx.cancelled(); };
    sink.progress = [&ctx](int64_t done, int64_t total) { ctx.progress(done, total, "attribution"); };
    sink.partial = [&ctx, inputId](std::shared_ptr<const AttributionResult> r) {
        auto copy = std::make_shared<AttributionResult>(*r);
        copy->inputId = inputId;
        ctx.partial(copy);
    };
    return sink;
}

Job attributionJob(TensorValue input, uint64_t inputId, AttributionParams params)
{
    Job job;
    job.kind = "attribution";
    job.work = [input = std::move(input), inputId, params = std::move(params)](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        const AttributionSink sink = jobSink(ctx, inputId);
        auto r = computeAttribution(ctx.model(), input, params, sink);
        r->inputId = inputId;
        return r;
    };
    return job;
}

std::shared_ptr<AttributionResult> computeLiveFrame(Model &model, const TensorValue &input, uint64_t inputId, const std::string &activationLayer,
                                                    int topK, int histogramBins, const AttributionParams *attribution, const AttributionSink &sink,
                                                    const std::function<void(std::shared_ptr<ActivationOutput>)> &onActivations)
{
    const AttributionMethod m = attribution ? attribution->method : AttributionMethod::Saliency;
    const bool gradCam = m == AttributionMethod::GradCam || m == AttributionMethod::GradCamPlusPlus || m == AttributionMethod::LayerCam;
    const bool inputGradient = m == AttributionMethod::Saliency || m == AttributionMethod::InputXGradient;
    const bool shared = attribution && !model.impl().backend && input.shape().size() >= 1 && input.dim(0) == 1
        && ((gradCam && !attribution->layer.empty()) || inputGradient);
    if (!shared) {
        onActivations(computeActivations(model, input, inputId, activationLayer, topK, histogramBins));
        if (!attribution) return nullptr;
        if (sink.cancelled && sink.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
        auto r = computeAttribution(model, input, *attribution, sink);
        r->inputId = inputId;
        return r;
    }
    const auto t0 = std::chrono::steady_clock::now();
    model.checkInput(input);
    Model::Impl &d = model.impl();
    const std::string camPath = gradCam ? model.resolveLayer(attribution->layer).path : std::string();
    std::vector<std::string> paths;
    if (gradCam) paths.push_back(camPath);
    std::string actPath;
    if (!activationLayer.empty()) {
        actPath = model.resolveLayer(activationLayer).path;
        if (actPath != camPath) paths.push_back(actPath);
    }
    const at::Tensor x = d.toTorch(input);
    if (!x.is_floating_point())
        throw Error(ErrorCode::BadInput, "Attribution to the input needs a floating-point input; use a layer method for token ids");
    torch::AutoGradMode enable(true);
    const at::Tensor xg = x.detach().requires_grad_(true);   // so the graph reaches the CAM layer
    std::vector<c10::IValue> outs;
    try {
        outs = d.tapped(paths)->run(d.torchModule(), {xg});
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::ModelError,
                    "The model's forward failed on input " + shapeToString(input.shape()) + ": " + summarizeTorchError(e.what()));
    }
    for (size_t i = 0; i < paths.size(); ++i)
        if (outs.at(1 + i).isNone())
            throw Error(ErrorCode::BadInput, "Layer '" + paths[i] + "' was not executed for this input (it sits in a branch the model did not take)");
    const double forwardMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::vector<at::Tensor> logitsOut, camOut;
    flattenTensors(outs.at(0), logitsOut);
    if (gradCam) flattenTensors(outs.at(1), camOut);
    if (logitsOut.empty()) throw Error(ErrorCode::ModelError, "The model returned no tensor");
    if (gradCam && camOut.empty()) throw Error(ErrorCode::BadInput, "Layer '" + camPath + "' returns no tensor");
    {
        ForwardResult fr;
        fr.outputs = toValues(outs.at(0));
        if (!actPath.empty()) fr.taps[actPath] = toValues(outs.at(actPath == camPath || !gradCam ? 1 : 2));
        onActivations(activationOutputFrom(model, std::move(fr), inputId, activationLayer, topK, histogramBins, forwardMs));
    }
    if (sink.cancelled && sink.cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");

    Runner r(model, *attribution, sink);
    const at::Tensor &logits = logitsOut[0];
    AttributionTarget t = attribution->target;
    if (t.kind == AttributionTarget::Kind::Predicted) {   // read from the same forward pass
        r.classes(logits);
        t.kind = AttributionTarget::Kind::Class;
        t.classIndex = int(logits[0].argmax().item<int64_t>());
    }
    const at::Tensor y = r.scores(logits, t).sum();
    at::Tensor map;
    if (gradCam) {
        const at::Tensor A = spatialLayer(camPath, camOut[0]);
        const at::Tensor g = spatialLayer(camPath, torch::autograd::grad({y}, {camOut[0]})[0].detach());
        map = camFromGradients(m, g, A.detach());
    } else {   // as gradientMethod: |∂y/∂x| or x · ∂y/∂x
        const at::Tensor g = torch::autograd::grad({y}, {xg})[0].detach();
        map = m == AttributionMethod::Saliency ? g.abs() : x * g;
    }
    auto result = std::make_shared<AttributionResult>();
    result->inputId = inputId;
    result->method = m;
    result->layer = attribution->layer;
    result->targetClass = t.classIndex;
    result->convergenceDelta = std::nan("");
    result->map = tensorToValue(map);
    result->modelPasses = 1;
    result->chunks = 1;
    result->elapsedMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

Job liveFrameJob(TensorValue input, uint64_t inputId, std::string activationLayer, const AttributionParams *attribution, std::string kind, int topK,
                 int histogramBins)
{
    Job job;
    job.kind = std::move(kind);
    std::optional<AttributionParams> params;
    if (attribution) params = *attribution;
    job.work = [input = std::move(input), inputId, activationLayer = std::move(activationLayer), params, topK,
                histogramBins](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        const AttributionSink sink = jobSink(ctx, inputId);
        std::shared_ptr<ActivationOutput> activations;
        auto r = computeLiveFrame(ctx.model(), input, inputId, activationLayer, topK, histogramBins, params ? &*params : nullptr, sink,
                                  [&](std::shared_ptr<ActivationOutput> a) {
                                      activations = a;
                                      if (params) ctx.partial(std::move(a));
                                  });
        if (r) return r;
        return activations;
    };
    return job;
}

}   // namespace pellucid

namespace pellucid {

Json attributionParamsToJson(const AttributionParams &p, const std::string &baselinePath)
{
    Json j = Json::object();
    j["method"] = methodName(p.method);
    Json t = Json::object();
    t["kind"] = p.target.kind == AttributionTarget::Kind::Predicted ? "predicted"
        : p.target.kind == AttributionTarget::Kind::Class           ? "class"
                                                                    : "contrast";
    t["class"] = p.target.classIndex;
    t["other"] = p.target.otherClass;
    j["target"] = t;
    j["layer"] = p.layer;
    j["steps"] = p.steps;
    j["integration"] = integrationName(p.integration);
    j["baseline"] = p.baseline == BaselineKind::Zero ? "zero"
        : p.baseline == BaselineKind::Blur           ? "blur"
        : p.baseline == BaselineKind::Uniform        ? "uniform"
                                                     : "file";
    if (!baselinePath.empty()) j["baseline_file"] = baselinePath;
    j["blur_sigma"] = double(p.blurSigma);
    j["noise_base"] = methodName(p.noiseBase);
    j["noise"] = p.noise == NoiseType::SmoothGrad ? "smoothgrad" : p.noise == NoiseType::SmoothGradSquared ? "smoothgrad-sq" : "vargrad";
    j["samples"] = p.samples;
    j["stdev"] = double(p.stdev);
    j["seed"] = int64_t(p.seed);
    Json w = Json::array(), st = Json::array();
    for (int64_t v : p.window) w.push(Json(v));
    for (int64_t v : p.stride) st.push(Json(v));
    j["window"] = w;
    j["stride"] = st;
    j["fill"] = double(p.fill);
    j["grid"] = p.gridCells;
    if (p.fastKernels) j["fast_kernels"] = true;
    return j;
}

AttributionParams attributionParamsFromJson(const Json &j, std::string *baselinePath)
{
    AttributionParams p;
    try {
        if (!parseMethod(j.find("method") ? j.find("method")->asString() : "", p.method)) throw std::runtime_error("unknown method");
        if (const Json *t = j.find("target")) {
            const std::string kind = t->find("kind") ? t->find("kind")->asString() : "predicted";
            p.target.kind = kind == "class" ? AttributionTarget::Kind::Class
                : kind == "contrast"        ? AttributionTarget::Kind::Contrast
                                            : AttributionTarget::Kind::Predicted;
            if (const Json *c = t->find("class")) p.target.classIndex = int(c->asInt());
            if (const Json *c = t->find("other")) p.target.otherClass = int(c->asInt());
        }
        if (const Json *v = j.find("layer")) p.layer = v->asString();
        if (const Json *v = j.find("steps")) p.steps = int(v->asInt());
        if (const Json *v = j.find("integration"); v && !parseIntegration(v->asString(), p.integration))
            throw std::runtime_error("unknown integration rule " + v->asString());
        if (const Json *v = j.find("baseline")) {
            const std::string b = v->asString();
            p.baseline = b == "blur" ? BaselineKind::Blur
                : b == "uniform"     ? BaselineKind::Uniform
                : b == "file"        ? BaselineKind::Tensor
                                     : BaselineKind::Zero;
        }
        if (const Json *v = j.find("baseline_file"); v && baselinePath) *baselinePath = v->asString();
        if (const Json *v = j.find("blur_sigma")) p.blurSigma = float(v->asNumber());
        if (const Json *v = j.find("noise_base"); v && !parseMethod(v->asString(), p.noiseBase))
            throw std::runtime_error("unknown noise base " + v->asString());
        if (const Json *v = j.find("noise")) {
            const std::string n = v->asString();
            p.noise = n == "smoothgrad-sq" ? NoiseType::SmoothGradSquared : n == "vargrad" ? NoiseType::VarGrad : NoiseType::SmoothGrad;
        }
        if (const Json *v = j.find("samples")) p.samples = int(v->asInt());
        if (const Json *v = j.find("stdev")) p.stdev = float(v->asNumber());
        if (const Json *v = j.find("seed")) p.seed = uint64_t(v->asInt());
        if (const Json *v = j.find("window"))
            for (const Json &x : v->asArray()) p.window.push_back(x.asInt());
        if (const Json *v = j.find("stride"))
            for (const Json &x : v->asArray()) p.stride.push_back(x.asInt());
        if (const Json *v = j.find("fill")) p.fill = float(v->asNumber());
        if (const Json *v = j.find("grid")) p.gridCells = int(v->asInt());
        if (const Json *v = j.find("fast_kernels")) p.fastKernels = v->asBool();
    } catch (const std::exception &e) {
        throw Error(ErrorCode::BadInput, std::string("Invalid attribution parameters: ") + e.what());
    }
    return p;
}

}   // namespace pellucid
