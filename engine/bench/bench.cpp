// pellucid-bench: the project's speed figures (see README, "Performance").
//   pellucid-bench [--model M] [--input-shape 1,3,64,64] [--layer PATH] [--iterations N] [--threads N]
//                  [--attribution-reps N] [--generator G.pt] [--gui-seconds S] [--json OUT]
//                  [--projector IDX-IMAGES.gz]  (only the projector's interactivity over that dataset)
//                  [--attention-views TOKENS]   (only the Attention dock with 12 layers × 12 heads of TOKENS)
//                  [--live-frames N]            (also: N live frames, activations + Grad-CAM each, fps and memory)
//                  [--device auto|cpu|cuda]
//                  [--precision fp32|bf16|fp16] (forward-only work; checked at load)
//                  [--live-gui-seconds S]       (GUI builds: S seconds of live video in the main window, GUI-thread stalls)
//                  [--live-only]                (skip the attribution and evaluation sections, e.g. for big models)
//                  [--lm M.pt [--lm-prompt P] [--lm-new G] [--lm-ids P.npy [--lm-continuation C.npy]]]  (only language models: per-step attribution of G
//                                               generated tokens against one batched forward + backward, the
//                                               logit lens against one forward)
//   pellucid-bench --diffusion D.pt [--diffusion-steps N] [--gui-seconds S] [--device …] [--json OUT]
//                                               (only: DDIM-N of a denoiser against N raw denoiser passes,
//                                               guidance 1 and 3, with and without cross-attention capture;
//                                               GUI builds: S seconds of the Diffusion dock streaming, GUI-thread stalls)
//   pellucid-bench --tsne FEATURES.npy [--tsne-repulsion auto|bh|fft] [--tsne-iterations 1000] [--tsne-limit N] [--tsne-perplexity 30]
//                  [--threads N] [--json OUT]
//                                               (only: t-SNE of the rows of FEATURES ([N, D] .npy): wall time of the
//                                               nearest neighbours and of the whole projection, its final KL and
//                                               its 10-nearest-neighbour preservation)
//   any of them: [--no-block-reuse]            (CPU blocks freed and faulted in again on every pass, as
//                                               LibTorch's default allocator does: engine/runtime/memory.h)
//                [--blas-threads N]            (the BLAS library's own threads, fixed: 0 its own count, as LibTorch
//                                               leaves it; default each model's choice where the BLAS runs a pool
//                                               of its own: engine/runtime/threads.h)
//   pellucid-bench --versus-captum [--model M] [--input-shape S] [--threads N] [--rounds R] [--methods a,b,...]
//                  [--fast-kernels]  (also Pellucid with AttributionParams::fastKernels, in the same rounds)
//                  [--target T] [--ig-steps K] [--samples N] [--window W] [--stride S] [--ppe 1,16,64]
//                  [--captum-script P] [--json OUT] [--no-float64-reference]
//                  [--precision bf16|fp16]   (forward-only methods on both sides: Captum runs a converted copy too)
//                  [--captum-blas-threads N]   (Captum's process: OPENBLAS_NUM_THREADS=N; 0 OpenBLAS's own count,
//                                               as a user runs it; default: the same count as Pellucid's)
//                  [--device cpu|cuda|auto]    (both sides on that device; default the CPU; Captum's calls are
//                                               timed up to torch.cuda.synchronize())
//                                               (only: each method beside Captum 0.8.0 on the same file, input,
//                                               target, settings and threads; PELLUCID_PYTHON picks the Python;
//                                               deterministic methods' maps, both sides', also measured against
//                                               Captum's on a float64 copy of the model and input)
// 1. Tap overhead: a forward with one layer tapped (the rewritten graph) against the module's own forward.
// 2. Activation updates per second through the engine (job queue, worker thread, statistics, top-k).
// 3. Attribution methods against the raw cost of their model passes.
// 4. (GUI builds) GUI-thread stall while activations stream into the main window.
#ifdef PELLUCID_HAVE_ONNX
#include "engine/onnx/onnxbackend.h"
#endif
#include "engine/attribution/attribution.h"
#include "engine/bench/benchutil.h"
#include "engine/bench/versus_captum.h"
#include "engine/diffusion/diffusionmetrics.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/memory.h"
#include "engine/evaluation/evaluation.h"
#include "engine/generative/generative.h"
#include "engine/language/lm.h"
#include "engine/runtime/jobs.h"
#include "engine/core/files.h"
#include "engine/core/json.h"
#include "engine/core/npy.h"
#include "engine/projection/projection.h"
#include "engine/runtime/threads.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <type_traits>
#include <unistd.h>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#ifdef PELLUCID_BENCH_GUI
pellucid::Json runGuiStallBench(const std::string &model, double seconds);
pellucid::Json runDiffusionStallBench(const std::string &model, const std::string &prompt, int steps, double seconds);
pellucid::Json runLiveStallBench(const std::string &model, double seconds);
pellucid::Json runProjectorBench(const std::string &dataset);
pellucid::Json runAttentionViewBench(int tokens);
#endif

using namespace pellucid;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

TensorValue randomInput(const Shape &shape, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.f, 1.f);
    std::vector<float> v(size_t(shapeNumel(shape)));
    for (auto &x : v) x = n(rng);
    return TensorValue(shape, std::move(v));
}

}   // namespace

int main(int argc, char **argv)
{
#ifdef PELLUCID_HAVE_ONNX
    registerOnnxBackend();
#endif
    std::string model = resourcesPath() + "/models/fashion_mnist_cnn.pt";
    std::string layer, jsonOut;
    int iterations = 300, threads = 0, attrReps = 11;
    Precision precision = Precision::Float32;
    DevicePreference device = DevicePreference::Auto;
    bool deviceGiven = false;   // --versus-captum runs on the CPU unless --device says otherwise
    Shape userShape;
    std::string generator;
    double guiSeconds = 5, liveGuiSeconds = 0;
    std::string projector;
    int attentionTokens = 0;
    int liveFrames = 0;
    int64_t blasThreads64 = -1;   // --blas-threads; -1: Pellucid's default (applyBlasDefault)
    bool liveOnly = false;
    bool versusCaptum = false;
    VersusCaptumOptions versus;
    versus.script = PELLUCID_CAPTUM_SCRIPT;
    if (const char *py = std::getenv("PELLUCID_PYTHON")) versus.python = py;
    std::string lmModel, lmIds, lmContinuation;
    int lmPrompt = 16, lmNew = 32;
    std::string diffusionModel;
    int diffusionSteps = 50;
    std::string tsneFeatures, tsneRepulsion = "auto";
    int tsneIterations = 1000;
    double tsnePerplexity = 30;
    int64_t tsneLimit = 0;
    // The options as data: each name with what it sets (flags take no value).
    using Setter = std::function<bool(const std::string &)>;
    const auto text = [](std::string &out) -> Setter { return [&out](const std::string &v) { return out = v, true; }; };
    const auto whole = [](auto &out) -> Setter {
        return [&out](const std::string &v) {
            int64_t x = 0;
            if (!parseInteger(v, x)) return false;
            out = static_cast<std::remove_reference_t<decltype(out)>>(x);
            return true;
        };
    };
    const auto real = [](double &out) -> Setter {
        return [&out](const std::string &v) {
            char *end = nullptr;
            out = std::strtod(v.c_str(), &end);
            return !v.empty() && *end == '\0';
        };
    };
    const auto integers = [](auto &out) -> Setter {
        return [&out](const std::string &v) {
            out.clear();
            for (const std::string &part : splitList(v)) {
                int64_t x = 0;
                if (!parseInteger(part, x)) return false;
                out.push_back(static_cast<typename std::remove_reference_t<decltype(out)>::value_type>(x));
            }
            return !out.empty();
        };
    };
    const std::map<std::string, std::function<void()>> flags = {
        {"--live-only", [&] { liveOnly = true; }},
        {"--versus-captum", [&] { versusCaptum = true; }},
        {"--fast-kernels", [&] { versus.fastKernels = true; }},
        {"--no-block-reuse", [] { setCpuBlockReuse(false); }},
        {"--no-float64-reference", [&] { versus.float64Reference = false; }},
    };
    const std::map<std::string, Setter> options = {
        {"--model", text(model)},
        {"--layer", text(layer)},
        {"--iterations", whole(iterations)},
        {"--threads", whole(threads)},
        {"--gui-seconds", real(guiSeconds)},
        {"--live-gui-seconds", real(liveGuiSeconds)},
        {"--device",
         [&](const std::string &v) {
             if (v != "cpu" && v != "cuda" && v != "auto") return false;
             device = v == "cpu" ? DevicePreference::Cpu : v == "cuda" ? DevicePreference::Cuda : DevicePreference::Auto;
             deviceGiven = true;
             return true;
         }},
        {"--precision", [&](const std::string &v) { return parsePrecision(v, precision); }},
        {"--json", text(jsonOut)},
        {"--attribution-reps", whole(attrReps)},
        {"--diffusion", text(diffusionModel)},
        {"--diffusion-steps", whole(diffusionSteps)},
        {"--lm", text(lmModel)},
        {"--lm-prompt", whole(lmPrompt)},
        {"--lm-new", whole(lmNew)},
        {"--lm-ids", text(lmIds)},
        {"--lm-continuation", text(lmContinuation)},
        {"--generator", text(generator)},
        {"--tsne", text(tsneFeatures)},
        {"--tsne-repulsion", text(tsneRepulsion)},
        {"--tsne-iterations", whole(tsneIterations)},
        {"--tsne-perplexity", real(tsnePerplexity)},
        {"--tsne-limit", whole(tsneLimit)},
        {"--projector", text(projector)},
        {"--attention-views", whole(attentionTokens)},
        {"--live-frames", whole(liveFrames)},
        {"--rounds", whole(versus.rounds)},
        {"--settle-ms", whole(versus.settleMs)},
        {"--block-linger-ms", [](const std::string &v) {
             int64_t ms = 0;
             if (!parseInteger(v, ms) || ms < 0 || ms > 600000) return false;
             setCpuBlockLinger(int(ms));
             return true;
         }},
        {"--internal-batch", whole(versus.internalBatch)},
        {"--blas-threads", [&](const std::string &v) { return parseInteger(v, blasThreads64) && blasThreads64 >= 0 && blasThreads64 <= 256; }},
        {"--captum-blas-threads", [&](const std::string &v) {
             int64_t n = 0;
             if (!parseInteger(v, n) || n < 0 || n > 256) return false;
             versus.captumBlasThreads = int(n);
             return true;
         }},
        {"--methods", [&](const std::string &v) { return !(versus.methods = splitList(v)).empty(); }},
        {"--target", whole(versus.target)},
        {"--ig-steps", whole(versus.igSteps)},
        {"--samples", whole(versus.surrogateSamples)},
        {"--window", whole(versus.window)},
        {"--stride", whole(versus.stride)},
        {"--ppe", integers(versus.perturbationsPerEval)},
        {"--captum-script", text(versus.script)},
        {"--captum-eager", text(versus.eager)},
        {"--input-shape", integers(userShape)},
    };
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (const auto f = flags.find(k); f != flags.end()) {
            f->second();
            continue;
        }
        const auto o = options.find(k);
        if (o == options.end()) {
            std::cerr << "unknown option " << k << "\n";
            return 1;
        }
        if (i + 1 >= argc) {
            std::cerr << k << " needs a value\n";
            return 1;
        }
        const std::string v = argv[++i];
        if (!o->second(v)) {
            std::cerr << k << ": '" << v << "' is not a valid value"
                      << (k == "--device"          ? " (auto, cpu or cuda)"
                              : k == "--precision" ? " (fp32, fp16 or bf16)"
                                                   : "")
                      << "\n";
            return 1;
        }
    }
    try {
        if (blasThreads64 >= 0)
            setBlasThreads(int(blasThreads64));
        else
            applyBlasDefault();
    } catch (const std::exception &e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    {
        const BlasInfo blas = blasInfo();
        std::printf("[BLAS] %s: %s\n", blas.library.c_str(),
                    blas.adjustable ? (std::to_string(blas.threads) + " thread" + (blas.threads == 1 ? "" : "s") + " (" + blas.policy + "; it started with "
                                       + std::to_string(blas.defaultThreads) + ")")
                                          .c_str()
                                    : "threads left as they are");
    }
    if (!tsneFeatures.empty()) {
        try {
            setCpuThreads(threads);
            TensorValue X = readNpy(tsneFeatures);
            if (X.shape().size() != 2) throw std::runtime_error(tsneFeatures + " must hold a matrix [N, D], not " + shapeToString(X.shape()));
            if (tsneLimit > 0 && tsneLimit < X.dim(0))
                X = TensorValue({tsneLimit, X.dim(1)}, std::vector<float>(X.data(), X.data() + tsneLimit * X.dim(1)));
            TsneOptions o;
            o.iterations = tsneIterations;
            o.perplexity = tsnePerplexity;
            if (tsneRepulsion == "bh")
                o.repulsion = TsneRepulsion::BarnesHut;
            else if (tsneRepulsion == "fft")
                o.repulsion = TsneRepulsion::Interpolation;
            else if (tsneRepulsion != "auto")
                throw std::runtime_error("--tsne-repulsion must be auto, bh or fft");
            const int64_t n = X.dim(0);
            const char *method = tsneRepulsionFor(n, o.repulsion) == TsneRepulsion::Interpolation ? "FFT interpolation" : "Barnes–Hut";
            std::printf("[t-SNE] %lld × %lld features of %s, %s repulsion, %d iterations, %d threads\n", (long long)n, (long long)X.dim(1),
                        tsneFeatures.c_str(), method, o.iterations, cpuThreads());
            const auto t0 = Clock::now();
            const int neighbours = int(std::min<int64_t>(n - 1, int64_t(3 * o.perplexity)));
            (void)nearestNeighbours(X, neighbours);
            const double knnS = ms(Clock::now() - t0) / 1000;
            double kl = 0, firstReport = 0;
            const auto t1 = Clock::now();
            o.progress = [&](int it, double k, const TensorValue &) {
                kl = k;
                if (it == 50) firstReport = ms(Clock::now() - t1) / 1000;
            };
            const TensorValue y = tsne(X, o);
            const double totalS = ms(Clock::now() - t1) / 1000;
            const double iterS = (totalS - firstReport) / std::max(1, o.iterations - 50);
            const auto t2 = Clock::now();
            const double keep = neighbourhoodPreservation(X, y, 10);
            const double keepS = ms(Clock::now() - t2) / 1000;
            std::printf("  nearest neighbours (%d, alone) %.1f s; whole t-SNE %.1f s wall (%.1f ms per iteration after the 50th); KL %.4f\n",
                        neighbours, knnS, totalS, 1000 * iterS, kl);
            std::printf("  10-NN preservation %.4f (scored in %.1f s)\n", keep, keepS);
            Json j = Json::object();
            j["features"] = tsneFeatures;
            j["points"] = n;
            j["repulsion"] = std::string(method);
            j["iterations"] = o.iterations;
            j["threads"] = cpuThreads();
            j["knn_seconds"] = knnS;
            j["tsne_seconds"] = totalS;
            j["ms_per_iteration"] = 1000 * iterS;
            j["kl"] = kl;
            j["preservation_10nn"] = keep;
            if (!jsonOut.empty()) std::ofstream(jsonOut) << j.dump(2) << "\n";
            return 0;
        } catch (const std::exception &e) {
            std::cerr << "pellucid-bench: " << e.what() << "\n";
            return 2;
        }
    }
    if (versusCaptum) {
        try {
            LoadOptions opts;
            opts.threads = threads;
            opts.device = deviceGiven ? device : DevicePreference::Cpu;
            opts.inputShape = userShape;
            opts.precision = precision;   // forward-only methods (occlusion, LIME, KernelSHAP); Captum's get the same
            auto m = Model::load(model, opts);
            char tmpl[] = "/tmp/pellucid-versus-XXXXXX";
            if (!mkdtemp(tmpl)) throw std::runtime_error("cannot create a folder in /tmp");
            versus.workDir = tmpl;
            versus.jsonOut = jsonOut;
            versus.layer = layer;
            // A seeded input in [0, 1), as an image, the same file for both.
            const Shape shape = m->summary().inputShape;
            std::mt19937 rng(1);
            std::uniform_real_distribution<float> uniform(0.f, 1.f);
            std::vector<float> values(size_t(shapeNumel(shape)));
            for (float &v : values) v = uniform(rng);
            const TensorValue x(shape, std::move(values));
            const int rc = runVersusCaptum(*m, x, versus);
            std::filesystem::remove_all(versus.workDir);
            return rc;
        } catch (const std::exception &e) {
            std::cerr << "pellucid-bench: " << e.what() << "\n";
            return 2;
        }
    }
    if (!diffusionModel.empty()) {
        try {
            LoadOptions opts;
            opts.threads = threads;
            opts.device = device;
            auto m = Model::load(diffusionModel, opts);
            const DiffusionConfig c = diffusionConfig(*m);
            // A prompt of the first words of the vocabulary (not the null word), DDIM for N steps.
            DiffusionRequest r;
            for (int64_t id = 0; int64_t(r.cond.size()) < std::max<int64_t>(1, c.promptLength) && id < int64_t(c.vocab.size()); ++id)
                if (id != c.nullId) r.cond.push_back(id);
            r.steps = diffusionSteps;
            Json j = Json::object(), rows = Json::array();
            j["model"] = diffusionModel;
            j["device"] = m->summary().device;
            j["steps"] = diffusionSteps;
            std::printf("[diffusion] %s on %s: DDIM-%d against %d raw denoiser passes (medians of 7, each beside its own raw measure)\n",
                        diffusionModel.c_str(), m->summary().device.c_str(), diffusionSteps, diffusionSteps);
            for (const double g : {1.0, 3.0})
                for (const bool capture : {false, true}) {
                    r.guidance = g;
                    r.captureAttention = capture;
                    (void)sampleDiffusion(*m, r);   // warm (the editable clone is built once)
                    std::vector<double> raw, run, ratio;
                    for (int k = 0; k < 7; ++k) {
                        raw.push_back(rawDenoiserPasses(*m, r, diffusionSteps));
                        run.push_back(sampleDiffusion(*m, r).seconds);
                        ratio.push_back(run.back() / raw.back());
                    }
                    Json e = Json::object();
                    e["guidance"] = g;
                    e["capture"] = capture;
                    e["sampler_ms"] = 1000 * median(run);
                    e["raw_passes_ms"] = 1000 * median(raw);
                    e["ratio"] = median(ratio);
                    rows.push(e);
                    std::printf("  guidance %.0f%s  %8.1f ms  raw passes %8.1f ms  ratio %.3f×\n", g,
                                capture ? ", cross-attention captured" : "                           ", 1000 * median(run), 1000 * median(raw),
                                median(ratio));
                }
            j["runs"] = rows;
#ifdef PELLUCID_BENCH_GUI
            if (guiSeconds > 0) {
                std::string prompt;
                for (int64_t id : r.cond) prompt += (prompt.empty() ? "" : ",") + std::to_string(id);
                Json gui = runDiffusionStallBench(diffusionModel, prompt, diffusionSteps, guiSeconds);
                std::printf("[GUI-thread stall while the Diffusion dock streams] %.0f s: %lld runs of %d steps shown\n", guiSeconds,
                            (long long)gui.find("runs")->asInt(), diffusionSteps);
                std::printf("  max stall %.1f ms (target < 16 ms), p99 %.1f ms\n", gui.find("max_stall_ms")->asNumber(),
                            gui.find("p99_stall_ms")->asNumber());
                j["gui_stall"] = gui;
            }
#endif
            if (!jsonOut.empty()) std::ofstream(jsonOut) << j.dump(2) << "\n";
            return 0;
        } catch (const std::exception &e) {
            std::cerr << "pellucid-bench: " << e.what() << "\n";
            return 2;
        }
    }
    if (!lmModel.empty()) {
        try {
            LoadOptions opts;
            opts.threads = threads;
            opts.device = device;
            auto m = Model::load(lmModel, opts);
            // A seeded prompt (BOS first when the metadata names one), then G greedy tokens.
            const LanguageModelParts parts = languageModelParts(*m);
            std::mt19937 rng(5);
            std::vector<int64_t> prompt;
            if (parts.bos >= 0) prompt.push_back(parts.bos);
            while (int(prompt.size()) < lmPrompt) prompt.push_back(int64_t(4 + rng() % 500));
            GenerationOptions go;
            go.maxNew = lmNew;
            go.stopAtEos = false;
            if (!lmIds.empty()) {   // a given prompt (and continuation) instead
                const TensorValue t = readNpy(lmIds);
                prompt.clear();
                for (int64_t i = 0; i < t.numel(); ++i) prompt.push_back(int64_t(t.at(i)));
            }
            std::vector<int64_t> ids = prompt;
            if (!lmContinuation.empty()) {
                const TensorValue c = readNpy(lmContinuation);
                for (int64_t i = 0; i < c.numel(); ++i) ids.push_back(int64_t(c.at(i)));
            } else {
                ids = generate(*m, prompt, go).ids;
            }
            const int64_t P = int64_t(prompt.size()), G = int64_t(ids.size()) - P;
            const LmPassCosts base = languageModelPassCosts(*m, ids, P, iterations > 20 ? 9 : iterations);
            Json j = Json::object(), methods = Json::object();
            j["model"] = lmModel;
            j["device"] = m->summary().device;
            j["prompt"] = P;
            j["generated"] = G;
            j["batched_forward_backward_ms"] = base.batchedForwardBackwardMs;
            j["forward_ms"] = base.forwardMs;
            std::printf("[language model] %s on %s: prompt %lld + %lld generated tokens; one batched forward+backward of %lld rows %.2f ms, "
                        "one forward %.2f ms\n",
                        lmModel.c_str(), m->summary().device.c_str(), (long long)P, (long long)G, (long long)G, base.batchedForwardBackwardMs,
                        base.forwardMs);
            for (const char *name : {"saliency", "inputxgrad", "ig", "ablation", "attention"}) {
                GenerationAttributionOptions o;
                parseGenerationMethod(name, o.method);
                o.steps = 32;
                // Each run beside a fresh measure of the batched pass (this VM's speed drifts by 2× and more in
                // bursts): the ratio of the two medians.
                const bool ig = o.method == GenerationMethod::IntegratedGradients;
                const int runs = ig ? 3 : 7;
                std::vector<double> t, units;
                GenerationAttribution last;
                attributeGeneration(*m, ids, P, o);
                for (int r = 0; r < runs; ++r) {
                    units.push_back((ig ? 32 : 1) * languageModelPassCosts(*m, ids, P, 1, 0).batchedForwardBackwardMs);
                    const auto t0 = Clock::now();
                    last = attributeGeneration(*m, ids, P, o);
                    t.push_back(ms(Clock::now() - t0));
                }
                const double fastest = *std::min_element(t.begin(), t.end()), unit = median(units);
                Json e = Json::object();
                e["ms"] = median(t);
                e["fastest_ms"] = fastest;
                e["ratio_to_batched_passes"] = median(t) / unit;
                e["passes"] = last.passes;
                e["token_rows"] = last.tokenRows;
                e["head_at_targets"] = last.headAtTargets;
                e["prefix_rows"] = last.prefixRows;
                methods[name] = e;
                std::printf("  %-11s %9.2f ms  (%.2f× %s; fastest %.2f ms)", name, median(t), median(t) / unit,
                            ig ? "32 batched passes" : "one batched pass", fastest);
                if (last.passes)
                    std::printf("  [%lld passes, %lld token rows against %lld%s%s]", (long long)last.passes, (long long)last.tokenRows,
                                (long long)((ig ? 32 : 1) * G * int64_t(ids.size())), last.headAtTargets ? ", head at targets" : "",
                                last.prefixRows ? ", prefix rows" : "");
                std::printf("\n");
            }
            j["methods"] = methods;
            std::vector<double> lt, fwd;
            logitLens(*m, ids, 1);
            for (int r = 0; r < 9; ++r) {
                fwd.push_back(languageModelPassCosts(*m, ids, P, 1, 0, false).forwardMs);
                const auto t0 = Clock::now();
                logitLens(*m, ids, 1);
                lt.push_back(ms(Clock::now() - t0));
            }
            const double lensFastest = *std::min_element(lt.begin(), lt.end()), fwdFastest = *std::min_element(fwd.begin(), fwd.end());
            // The lens unembeds every block's output (blocks × L × V logits): by multiply-adds per token, blocks'
            // weights + (blocks + 1) unembeddings against the forward's blocks' weights + one.
            double blockWeights = 0, unembedding = 0;
            for (const LayerInfo &l : m->summary().layers) {
                if (std::find(parts.blocks.begin(), parts.blocks.end(), l.path) != parts.blocks.end()) blockWeights += double(l.parameters);
                if (l.path == parts.embedding) unembedding = double(l.parameters);
            }
            const double nb = double(parts.blocks.size()), floorRatio = (blockWeights + (nb + 1) * unembedding) / (blockWeights + unembedding);
            j["logit_lens_ms"] = median(lt);
            j["logit_lens_ratio_to_forward"] = median(lt) / median(fwd);
            j["logit_lens_arithmetic_floor"] = floorRatio;
            std::printf("  logit lens  %9.2f ms  (%.2f× one forward, fastest %.2f against %.2f ms; target <= 1.2×; its multiply-adds alone are %.2f× "
                        "a forward's)\n",
                        median(lt), median(lt) / median(fwd), lensFastest, fwdFastest, floorRatio);
            if (!jsonOut.empty()) std::ofstream(jsonOut) << j.dump(2) << "\n";
        } catch (const std::exception &e) {
            std::cerr << "pellucid-bench: " << e.what() << "\n";
            return 2;
        }
        return 0;
    }
#ifdef PELLUCID_BENCH_GUI
    if (attentionTokens > 0) {
        const Json j = runAttentionViewBench(attentionTokens);
        std::printf("%s\n", j.dump(2).c_str());
        if (!jsonOut.empty()) std::ofstream(jsonOut) << j.dump(2) << "\n";
        return 0;
    }
    if (!projector.empty()) {
        try {
            const Json j = runProjectorBench(projector);
            std::printf("%s\n", j.dump(2).c_str());
            if (!jsonOut.empty()) std::ofstream(jsonOut) << j.dump(2) << "\n";
        } catch (const std::exception &e) {
            std::cerr << "pellucid-bench: " << e.what() << "\n";
            return 2;
        }
        return 0;
    }
#endif
    try {
        LoadOptions opts;
        opts.threads = threads;
        opts.precision = precision;
        opts.device = device;
        opts.inputShape = userShape;
        auto m = Model::load(model, opts);
        const ModelSummary &s = m->summary();
        if (layer.empty()) layer = !s.metadata.suggestedLayers.empty() ? s.metadata.suggestedLayers.front() : s.layers.front().path;
        Shape shape = s.inputShape;
        Json report = Json::object();
        report["model"] = model;
        report["device"] = s.device;
        report["torch"] = s.torchVersion;
        report["layer"] = layer;
        report["iterations"] = iterations;
        std::printf("model %s on %s (LibTorch %s, %d threads), input %s, layer %s, forward-only precision %s, warm-up at load %.0f ms\n",
                    s.fileName.c_str(), s.device.c_str(), s.torchVersion.c_str(), s.threads, shapeToString(shape).c_str(), layer.c_str(),
                    s.precision.c_str(), s.warmupMs);
        if (!s.precisionNote.empty()) std::printf("  (%s)\n", s.precisionNote.c_str());

        // 1. Tap overhead, interleaved so drift hits both alike.
        const TensorValue x = randomInput(shape, 1);
        for (int i = 0; i < 30; ++i) {
            m->plainForward(x);
            m->forward(x, {layer});
        }
        std::vector<double> plain, tapped, allTaps;
        std::vector<std::string> every;
        for (const auto &l : s.layers)
            if (l.calls > 0) every.push_back(l.path);
        for (int i = 0; i < iterations; ++i) {
            auto t0 = Clock::now();
            m->plainForward(x);
            auto t1 = Clock::now();
            m->forward(x, {layer});
            auto t2 = Clock::now();
            m->forward(x, every);
            auto t3 = Clock::now();
            plain.push_back(ms(t1 - t0));
            tapped.push_back(ms(t2 - t1));
            allTaps.push_back(ms(t3 - t2));
        }
        const double p = median(plain), t = median(tapped), a = median(allTaps);
        std::printf("\n[tap overhead] median over %d runs\n", iterations);
        std::printf("  plain forward (module.forward)        %8.3f ms\n", p);
        std::printf("  forward + 1 tap (%-12s)        %8.3f ms   overhead %+.1f%%  (target <= 5%%)\n", layer.c_str(), t, 100 * (t / p - 1));
        std::printf("  forward + all %2zu taps                  %8.3f ms   overhead %+.1f%%\n", every.size(), a, 100 * (a / p - 1));
        Json tap = Json::object();
        tap["plain_ms"] = p;
        tap["one_tap_ms"] = t;
        tap["all_taps_ms"] = a;
        tap["one_tap_overhead"] = t / p - 1;
        report["tap_overhead"] = tap;
        // 2. Attribution methods: time, model passes, and the ratio to the raw cost of the same passes
        //    (the same samples pushed through the model in the same chunks, measured in this run).
        std::printf("\n[attribution] median of %d runs; raw = the same samples through the model, same chunks\n", attrReps);
        std::printf("  %-16s %9s %7s %9s %7s %7s  %s\n", "method", "ms", "passes", "raw ms", "ratio", "min/min", "raw cost");
        Json attr = Json::object();
        const int classesOut = s.outputShapes.empty() || s.outputShapes[0].size() != 2 ? 0 : int(s.outputShapes[0][1]);
        const std::string camLayer = suggestedCamLayer(s);
        for (AttributionMethod method : allMethods()) {
            if (attrReps <= 0 || liveOnly) break;   // --attribution-reps 0 or --live-only skips this section
            if ((isCamMethod(method) || method == AttributionMethod::GuidedGradCam) && camLayer.empty()) continue;
            AttributionParams ap;
            ap.method = method;
            ap.target.kind = classesOut > 0 ? AttributionTarget::Kind::Class : AttributionTarget::Kind::Predicted;
            ap.target.classIndex = 0;
            ap.layer = camLayer;
            ap.steps = 50;
            ap.samples = methodInfo(method).defaultSamples > 0 && methodInfo(method).minSamples > 1 ? methodInfo(method).defaultSamples : 50;
            ap.internalBatch = 64;
            if (method == AttributionMethod::Occlusion && shape.size() == 4) {
                const int64_t side = std::max<int64_t>(1, shape[2] / 7);
                ap.window = {shape[1], side, side};
                ap.stride = {shape[1], std::max<int64_t>(1, side / 2), std::max<int64_t>(1, side / 2)};
            }
            // Raw cost: gradient methods pay forward+backward per sample, perturbation methods forwards.
            const bool backward = !isForwardOnlyMethod(method);
            const int64_t passes = computeAttribution(*m, x, ap)->modelPasses;   // warm-up (compiles the clone)
            int64_t rawSamples = passes;
            if (method == AttributionMethod::IntegratedGradients) rawSamples = ap.steps;   // + delta's 2 forwards
            if (method == AttributionMethod::GuidedGradCam) rawSamples = 2;
            rawPassMs(*m, x, rawSamples, ap.internalBatch, backward);   // warm-up
            // Alternate method and raw runs so machine noise hits both alike.
            std::vector<double> times, raws;
            for (int i = 0; i < attrReps; ++i) {
                times.push_back(computeAttribution(*m, x, ap)->elapsedMs);
                raws.push_back(rawPassMs(*m, x, rawSamples, ap.internalBatch, backward));
            }
            const double tm = median(times), raw = median(raws);
            const double best = *std::min_element(times.begin(), times.end()), bestRaw = *std::min_element(raws.begin(), raws.end());
            std::printf("  %-16s %9.2f %7lld %9.2f %6.2fx %6.2fx  %lld x %s\n", methodName(method), tm, (long long)passes, raw, tm / raw,
                        best / bestRaw, (long long)rawSamples, backward ? "fwd+bwd" : "fwd");
            Json j = Json::object();
            j["ms"] = tm;
            j["passes"] = passes;
            j["raw_ms"] = raw;
            j["ratio"] = tm / raw;
            j["ratio_of_minimums"] = best / bestRaw;
            attr[methodName(method)] = j;
        }
        report["attribution"] = attr;

        // 3. Evaluation throughput: forward + the evaluator's bookkeeping against the raw batched forward.
        if (classesOut > 0 && !liveOnly) {
            const int64_t batchN = 256, batches = 8;
            Shape bs = shape;
            bs[0] = batchN;
            const TensorValue xb = randomInput(bs, 99);
            std::vector<int> labels(static_cast<size_t>(batchN));
            for (int64_t i = 0; i < batchN; ++i) labels[size_t(i)] = int(i % classesOut);
            m->forward(xb, {});   // warm-up
            std::vector<double> evalMs, rawMs;
            for (int rep = 0; rep < 5; ++rep) {
                auto t0 = Clock::now();
                Evaluator ev(classesOut, 5);
                for (int64_t b = 0; b < batches; ++b) ev.add(m->forward(xb, {}).outputs.at(0), labels);
                (void)ev.finish();
                auto t1 = Clock::now();
                for (int64_t b = 0; b < batches; ++b) (void)m->forward(xb, {});
                auto t2 = Clock::now();
                evalMs.push_back(ms(t1 - t0));
                rawMs.push_back(ms(t2 - t1));
            }
            const double e = median(evalMs), rr = median(rawMs), images = double(batchN * batches);
            std::printf("\n[evaluation throughput] %lld images in batches of %lld\n", (long long)(batchN * batches), (long long)batchN);
            std::printf("  evaluate %.0f images/s, raw batched forward %.0f images/s: %.2fx (target <= 1.15x)\n", images / (e / 1000),
                        images / (rr / 1000), e / rr);
            Json ej = Json::object();
            ej["images_per_second"] = images / (e / 1000);
            ej["raw_images_per_second"] = images / (rr / 1000);
            ej["ratio"] = e / rr;
            report["evaluation"] = ej;
        }
        m.reset();

        // 3. Activation updates per second through the engine.
        std::mutex mu;
        std::condition_variable cv;
        uint64_t finished = 0, failed = 0;
        Engine engine([&](const JobEvent &e) {
            if (e.type == JobEvent::Type::Finished || e.type == JobEvent::Type::Failed || e.type == JobEvent::Type::Cancelled) {
                std::lock_guard<std::mutex> l(mu);
                finished += e.type == JobEvent::Type::Finished;
                failed += e.type == JobEvent::Type::Failed;
                cv.notify_all();
            }
        });
        engine.submit(loadModelJob(model, opts));
        engine.waitIdle(120000);
        std::vector<TensorValue> inputs;
        for (unsigned i = 0; i < 16; ++i) inputs.push_back(randomInput(shape, 10 + i));
        for (int i = 0; i < 20; ++i) engine.submit(activationsJob(inputs[size_t(i) % 16], uint64_t(i), layer));
        engine.waitIdle(60000);
        {
            std::lock_guard<std::mutex> l(mu);
            finished = 0;
        }
        std::vector<double> latency;
        const auto start = Clock::now();
        for (int i = 0; i < iterations; ++i) {
            const auto t0 = Clock::now();
            engine.submit(activationsJob(inputs[size_t(i) % 16], uint64_t(i), layer));
            std::unique_lock<std::mutex> l(mu);
            cv.wait(l, [&] { return finished + failed >= uint64_t(i + 1); });
            latency.push_back(ms(Clock::now() - t0));
        }
        const double secs = ms(Clock::now() - start) / 1000.0;
        const double rate = iterations / secs;
        std::printf("\n[activation updates through the engine] %d requests, one at a time\n", iterations);
        std::printf("  %.0f updates/s (target >= 100/s), median latency %.2f ms, failed %llu\n", rate, median(latency), (unsigned long long)failed);
        Json upd = Json::object();
        upd["updates_per_second"] = rate;
        upd["median_latency_ms"] = median(latency);
        upd["failed"] = int64_t(failed);
        report["activation_updates"] = upd;

        // 5b. Live mode: every frame gets activations and Grad-CAM (the live panels), one frame at a time as
        //     the live timer sends them; frames per second and resident memory growth over the stream.
        if (liveFrames > 0 && !camLayer.empty()) {
            auto rssMb = [] {
                std::ifstream st("/proc/self/statm");
                long pages = 0, resident = 0;
                st >> pages >> resident;
                return resident * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
            };
            AttributionParams gc;
            gc.method = AttributionMethod::GradCam;
            gc.layer = camLayer;
            gc.target.kind = AttributionTarget::Kind::Predicted;
            auto runFrames = [&](int n, uint64_t base) {
                const CpuBlockReuse stream;   // held while frames stream, as the GUI's LiveFeature does
                for (int i = 0; i < n; ++i) {
                    const TensorValue &frame = inputs[size_t(i) % 16];
                    uint64_t want = 0;
                    {
                        std::lock_guard<std::mutex> l(mu);   // counted before submitting
                        want = finished + failed + 1;
                    }
                    engine.submit(liveFrameJob(frame, base + uint64_t(i), layer, &gc, "attribution"));   // as the GUI's live timer does
                    std::unique_lock<std::mutex> l(mu);
                    cv.wait(l, [&] { return finished + failed >= want; });
                }
            };
            runFrames(200, 1000000);   // warm-up (allocator pools, caches)
            const double before = rssMb();
            const auto l0 = Clock::now();
            runFrames(liveFrames, 2000000);
            const double liveSecs = ms(Clock::now() - l0) / 1000.0;
            const double after = rssMb();
            std::printf("\n[live frames] %d frames, activations + Grad-CAM (%s) each: %.0f frames/s (target >= 60 on 2 cores); "
                        "resident memory %+.1f MB (target < 20 MB over 10,000 frames)\n",
                        liveFrames, camLayer.c_str(), liveFrames / liveSecs, after - before);
            // The model's own forward + backward at batch 1 (to the input, no taps): what a frame cannot beat.
            const int rawReps = std::max(10, std::min(200, liveFrames / 10));
            auto own = Model::load(model, opts);
            (void)rawPassMs(*own, inputs[0], 5, 1, true);
            const double rawMs = rawPassMs(*own, inputs[0], rawReps, 1, true) / rawReps, frameMs = liveSecs * 1000.0 / liveFrames;
            std::printf("  per frame %.2f ms vs the model's own forward + backward %.2f ms: %.2fx (GPU target <= 1.2x)\n", frameMs, rawMs,
                        frameMs / rawMs);
            const BlasInfo blas = blasInfo();
            std::printf("  BLAS threads %d (%s)\n", blas.threads, blas.policy.c_str());
            Json lj = Json::object();
            lj["frames"] = liveFrames;
            lj["frames_per_second"] = liveFrames / liveSecs;
            lj["rss_growth_mb"] = after - before;
            lj["frame_ms"] = frameMs;
            lj["forward_backward_ms"] = rawMs;
            lj["gradcam_layer"] = camLayer;
            lj["blas_threads"] = int64_t(blas.threads);
            report["live"] = lj;
        }

        // 5. Decoded frames per second of a generator through the engine (the Latent dock's slider path).
        if (!generator.empty()) {
            std::mutex gm;
            std::condition_variable gcv;
            uint64_t decoded = 0;
            Engine genEngine([&](const JobEvent &e) {
                if (e.type == JobEvent::Type::Finished || e.type == JobEvent::Type::Failed) {
                    std::lock_guard<std::mutex> l(gm);
                    ++decoded;
                    gcv.notify_all();
                }
            });
            genEngine.submit(loadModelJob(generator, opts));
            genEngine.waitIdle(120000);
            {
                std::lock_guard<std::mutex> l(gm);
                decoded = 0;
            }
            const int frames = 200;
            const auto g0 = Clock::now();
            for (int i = 0; i < frames; ++i) {
                Job job;
                job.kind = "latent-decode";
                const float t = float(i) / frames;
                job.work = [t](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
                    Model &m = ctx.model();
                    std::vector<float> z(size_t(latentDim(m)), 0.f);
                    z[0] = 6 * t - 3;   // a slider sweeping ±3σ
                    (void)decodeCodes(m, TensorValue({1, int64_t(z.size())}, z));
                    return std::make_shared<JobOutput>();
                };
                genEngine.submit(std::move(job));
                std::unique_lock<std::mutex> l(gm);
                gcv.wait(l, [&] { return decoded >= uint64_t(i + 1); });
            }
            const double fps = frames / (ms(Clock::now() - g0) / 1000.0);
            std::printf("\n[generator] %s: %.0f decoded frames/s through the engine (target >= 30/s)\n", generator.c_str(), fps);
            Json gj = Json::object();
            gj["model"] = generator;
            gj["decoded_frames_per_second"] = fps;
            report["generator"] = gj;
        }

#ifdef PELLUCID_BENCH_GUI
        if (guiSeconds > 0) {
            Json gui = runGuiStallBench(model, guiSeconds);
            std::printf("\n[GUI-thread stall while streaming] %.0f s, %lld results shown\n", guiSeconds,
                        (long long)gui.find("results_shown")->asInt());
            std::printf("  max stall %.1f ms (target < 30 ms), p99 %.1f ms\n", gui.find("max_stall_ms")->asNumber(),
                        gui.find("p99_stall_ms")->asNumber());
            report["gui_stall"] = gui;
        }
        if (liveGuiSeconds > 0) {
            Json live = runLiveStallBench(model, liveGuiSeconds);
            std::printf("\n[GUI-thread stall in live mode] %.0f s of a 640x480 video through Input, Activations, Prediction and "
                        "Attribution (Grad-CAM): %lld frames shown (%.1f /s), %lld dropped, median capture -> screen %.1f ms\n",
                        liveGuiSeconds, (long long)live.find("frames_shown")->asInt(), live.find("frames_per_second")->asNumber(),
                        (long long)live.find("frames_dropped")->asInt(), live.find("median_latency_ms")->asNumber());
            std::printf("  max stall %.1f ms (target < 16 ms), p99 %.1f ms\n", live.find("max_stall_ms")->asNumber(),
                        live.find("p99_stall_ms")->asNumber());
            report["live_gui_stall"] = live;
        }
#endif
        if (!jsonOut.empty()) std::ofstream(jsonOut) << report.dump(2) << "\n";
    } catch (const std::exception &e) {
        std::cerr << "pellucid-bench: " << e.what() << "\n";
        return 2;
    }
    return 0;
}
