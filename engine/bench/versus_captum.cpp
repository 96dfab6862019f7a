// pellucid-bench --versus-captum: each attribution method in Pellucid and in Captum 0.8.0 on the same
// TorchScript file, input, target, settings and thread count, run after one another in rounds (so the
// machine's drift hits both alike), with the time, the samples pushed through the model and how far the
// two maps agree. Captum runs in a Python helper (packaging/bench/captum_methods.py) started once, over
// pipes; where Python or Captum is missing the bench says so in one line and times Pellucid alone.
#include "engine/bench/versus_captum.h"

#include "engine/bench/benchutil.h"

#include "engine/attribution/attribution.h"
#include "engine/core/json.h"
#include "engine/core/npy.h"
#include "engine/runtime/memory.h"
#include "engine/runtime/threads.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <signal.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace pellucid {
namespace {

using Clock = std::chrono::steady_clock;

/// The Python helper: one JSON request per line in, one JSON answer per line out.
class CaptumHelper {
public:
    /// blasThreads ≥ 1: the helper's OPENBLAS_NUM_THREADS; 0: none set (OpenBLAS's own count).
    CaptumHelper(const std::string &python, const std::string &script, int blasThreads)
    {
        if (access(script.c_str(), R_OK) != 0) {
            mWhy = script + ": not found (set --captum-script)";
            return;
        }
        if (access(python.c_str(), X_OK) != 0) {
            mWhy = python + ": no Python there (set PELLUCID_PYTHON)";
            return;
        }
        // The helper's environment, made before fork (the child only calls what is safe after a fork).
        std::vector<std::string> env;
        for (char **e = environ; *e; ++e)
            if (std::strncmp(*e, "OPENBLAS_NUM_THREADS=", 21) != 0) env.emplace_back(*e);
        if (blasThreads > 0) env.push_back("OPENBLAS_NUM_THREADS=" + std::to_string(blasThreads));
        std::vector<char *> envp;
        for (std::string &e : env) envp.push_back(e.data());
        envp.push_back(nullptr);
        int toChild[2], fromChild[2];
        if (pipe(toChild) != 0 || pipe(fromChild) != 0) {
            mWhy = "cannot create pipes";
            return;
        }
        mPid = fork();
        if (mPid == 0) {
            dup2(toChild[0], 0);
            dup2(fromChild[1], 1);
            close(toChild[0]);
            close(toChild[1]);
            close(fromChild[0]);
            close(fromChild[1]);
            execle(python.c_str(), python.c_str(), script.c_str(), static_cast<char *>(nullptr), envp.data());
            _exit(127);
        }
        close(toChild[0]);
        close(fromChild[1]);
        mOut = fdopen(toChild[1], "w");
        mIn = fdopen(fromChild[0], "r");
        const Json hello = receive();
        if (hello.isObject() && hello.find("ready") && hello.find("ready")->asBool()) {
            mReady = true;
            mVersion = hello.find("captum") ? hello.find("captum")->asString() : "?";
        } else {
            mWhy = hello.isObject() && hello.find("why") ? hello.find("why")->asString() : "the helper did not start";
        }
    }
    ~CaptumHelper()
    {
        if (mOut) fclose(mOut);
        if (mIn) fclose(mIn);
        if (mPid > 0) {
            kill(mPid, SIGTERM);
            waitpid(mPid, nullptr, 0);
        }
    }
    bool ready() const { return mReady; }
    const std::string &why() const { return mWhy; }
    const std::string &version() const { return mVersion; }

    Json request(const Json &req)
    {
        const std::string line = req.dump() + "\n";
        if (std::fwrite(line.data(), 1, line.size(), mOut) != line.size() || std::fflush(mOut) != 0) return failure("the helper stopped");
        return receive();
    }

private:
    Json receive()
    {
        if (!mIn) return failure("no helper");
        char *buf = nullptr;
        size_t cap = 0;
        const ssize_t n = getline(&buf, &cap, mIn);
        std::string line = n > 0 ? std::string(buf, size_t(n)) : std::string();
        std::free(buf);
        if (line.empty()) return failure("the helper exited");
        try {
            return Json::parse(line);
        } catch (const std::exception &) {
            return failure("the helper's answer is not JSON: " + line.substr(0, 80));
        }
    }
    static Json failure(const std::string &why)
    {
        Json j = Json::object();
        j["ok"] = false;
        j["ready"] = false;
        j["why"] = why;
        return j;
    }

    pid_t mPid = -1;
    FILE *mOut = nullptr, *mIn = nullptr;
    bool mReady = false;
    std::string mWhy, mVersion;
};

bool randomMethod(AttributionMethod m)
{
    return m == AttributionMethod::SmoothGrad || m == AttributionMethod::Lime || m == AttributionMethod::KernelShap;
}

bool perturbationMethod(AttributionMethod m)
{
    return m == AttributionMethod::Occlusion || m == AttributionMethod::Lime || m == AttributionMethod::KernelShap;
}

}   // namespace

int runVersusCaptum(Model &model, const TensorValue &input, const VersusCaptumOptions &o)
{
    if (o.rounds < 1) throw std::runtime_error("--rounds must be at least 1");
    if (o.settleMs < 0) throw std::runtime_error("--settle-ms must be 0 or more");
    const ModelSummary &s = model.summary();
    const std::string dir = o.workDir;
    const std::string inputPath = dir + "/versus_captum_input.npy";
    writeNpy(inputPath, input);
    const BlasInfo blas = blasInfo();
    const int captumBlas = o.captumBlasThreads >= 0 ? o.captumBlasThreads : blas.adjustable ? blas.threads : 0;
    CaptumHelper captum(o.python, o.script, captumBlas);
    bool useCaptum = captum.ready();
    if (useCaptum) {
        Json load = Json::object();
        load["op"] = "load";
        load["model"] = s.path;
        load["input"] = inputPath;
        load["threads"] = int64_t(s.threads);
        if (!o.eager.empty()) load["eager"] = o.eager;
        load["device"] = s.device;         // "cpu", "cuda:0": Captum runs where Pellucid's model is
        load["precision"] = s.precision;   // forward-only methods: a converted copy on Captum's side too
        const Json r = captum.request(load);
        if (!r.find("ok") || !r.find("ok")->asBool()) {
            std::printf("captum: skipped — %s\n", r.find("why") ? r.find("why")->asString().c_str() : "cannot load the model");
            useCaptum = false;
        } else if (!r.find("precision") || r.find("precision")->asString() != s.precision) {
            // A helper that does not say which precision it runs (an older captum_methods.py) would run float32.
            std::printf("captum: skipped — the helper does not run forward-only methods in %s (%s)\n", s.precision.c_str(), o.script.c_str());
            useCaptum = false;
        }
    } else {
        std::printf("captum: skipped — %s\n", captum.why().c_str());
    }
    const char *policy = std::getenv("OMP_WAIT_POLICY");
    const std::string pellucidBlas = blas.adjustable ? std::to_string(blas.threads) : std::string("its own");
    const std::string captumBlasText = captumBlas > 0 ? std::to_string(captumBlas) : std::string("OpenBLAS's own count");
    std::printf("BLAS threads: Pellucid %s (%s), Captum %s\n", pellucidBlas.c_str(), blas.policy.c_str(), captumBlasText.c_str());
    std::printf("\n[versus Captum %s] %s on %s, input %s, target class %d, %d threads each (OMP_WAIT_POLICY=%s), %d rounds, compute only, "
                "Pellucid's CPU block reuse %s (kept %d ms after a computation)\n",
                useCaptum ? captum.version().c_str() : "(not run)", s.fileName.c_str(), s.device.c_str(), shapeToString(input.shape()).c_str(), o.target, s.threads,
                policy ? policy : "unset", o.rounds, cpuBlockReuse() ? "on" : "off", cpuBlockLingerMs());
    std::printf("forward-only precision %s%s (occlusion, LIME, KernelSHAP; gradient methods float32)%s%s\n", s.precision.c_str(),
                useCaptum ? " on both sides" : "", s.precisionNote.empty() ? "" : " — ", s.precisionNote.c_str());
    std::printf("  %-22s %11s %8s %13s %8s %6s %9s  %s\n", "method", "Pellucid ms", "passes", "Captum ms", "passes", "ppe", "Captum/P.", "agreement");

    Json report = Json::object(), methods = Json::object();
    report["model"] = s.path;
    report["threads"] = int64_t(s.threads);
    report["device"] = s.device;
    report["precision"] = s.precision;
    report["captum"] = useCaptum ? captum.version() : std::string();
    report["rounds"] = int64_t(o.rounds);
    report["block_reuse"] = cpuBlockReuse();
    report["block_linger_ms"] = int64_t(cpuBlockLingerMs());
    report["blas"] = blas.library;
    report["blas_threads"] = int64_t(blas.adjustable ? blas.threads : 0);
    report["captum_blas_threads"] = int64_t(captumBlas);
    for (const std::string &name : o.methods) {
        AttributionMethod method;
        if (!parseMethod(name, method)) {
            std::printf("  %-22s unknown method\n", name.c_str());
            continue;
        }
        AttributionParams ap;
        ap.method = method;
        ap.target.kind = AttributionTarget::Kind::Class;
        ap.target.classIndex = o.target;
        ap.steps = o.igSteps;
        ap.integration = IntegrationRule::GaussLegendre;
        ap.samples = method == AttributionMethod::SmoothGrad ? o.tunnelSamples : o.surrogateSamples;
        ap.noiseBase = AttributionMethod::Saliency;
        ap.gridCells = o.grid;
        ap.internalBatch = o.internalBatch;
        if (needsLayer(method)) ap.layer = o.layer.empty() ? suggestedCamLayer(s) : o.layer;
        const Shape &sh = input.shape();
        if (method == AttributionMethod::Occlusion) {
            ap.window = {sh[1], o.window, o.window};
            ap.stride = {sh[1], o.stride, o.stride};
        }
        Json req = Json::object();
        req["op"] = "run";
        req["method"] = name;
        req["target"] = int64_t(o.target);
        req["steps"] = int64_t(o.igSteps);
        req["samples"] = int64_t(ap.samples);
        req["stdev"] = double(ap.stdev);
        req["grid"] = int64_t(o.grid);
        req["fill"] = double(ap.fill);
        req["layer"] = ap.layer;
        Json window = Json::array(), stride = Json::array();
        for (int64_t v : ap.window) window.push(v);
        for (int64_t v : ap.stride) stride.push(v);
        req["window"] = window;
        req["stride"] = stride;
        const std::vector<int> ppes = perturbationMethod(method) ? o.perturbationsPerEval : std::vector<int>{0};

        // Warm-up on both sides (clones compiled, Captum's first pass), then rounds one after the other.
        std::shared_ptr<AttributionResult> last;
        try {
            last = computeAttribution(model, input, ap);
        } catch (const std::exception &e) {
            std::printf("  %-22s Pellucid: %s\n", name.c_str(), e.what());
            continue;
        }
        bool captumOk = useCaptum;
        std::string captumWhy;
        std::vector<std::vector<double>> captumMs(ppes.size());
        std::vector<int64_t> captumPasses(ppes.size(), 0);
        // One map file per perturbations_per_eval, so the best one's map is there to compare afterwards.
        auto mapPath = [&](size_t k) { return dir + "/versus_captum_" + name + "_" + std::to_string(ppes[k]) + ".npy"; };
        const auto settle = [&] { std::this_thread::sleep_for(std::chrono::milliseconds(o.settleMs)); };
        auto runCaptum = [&](size_t k, bool keep) {
            if (!captumOk) return;
            if (keep) settle();
            if (ppes[k] > 0) req["ppe"] = int64_t(ppes[k]);
            req["out"] = mapPath(k);
            const Json r = captum.request(req);
            if (!r.find("ok") || !r.find("ok")->asBool()) {
                captumOk = false;
                captumWhy = r.find("why") ? r.find("why")->asString() : "failed";
                return;
            }
            if (keep) captumMs[k].push_back(r.at("ms").asNumber());
            captumPasses[k] = r.at("passes").asInt();
        };
        for (size_t k = 0; k < ppes.size(); ++k) runCaptum(k, false);
        // Fast kernels where they apply: the frozen copy built in the warm-up, then timed in the same rounds.
        AttributionParams fp = ap;
        fp.fastKernels = true;
        std::shared_ptr<AttributionResult> fastLast;
        if (o.fastKernels && methodInfo(method).outputOnly) {
            try {
                fastLast = computeAttribution(model, input, fp);
                if (fastLast->kernels != "fast") {
                    std::printf("  %-22s fast kernels: %s\n", name.c_str(), fastLast->fastKernelsNote.c_str());
                    fastLast.reset();
                }
            } catch (const std::exception &e) {
                std::printf("  %-22s fast kernels: %s\n", name.c_str(), e.what());
                fastLast.reset();
            }
        }
        std::vector<double> pellucidMs, fastMs;
        for (int round = 0; round < o.rounds; ++round) {
            settle();
            const auto t0 = Clock::now();
            last = computeAttribution(model, input, ap);
            pellucidMs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            if (fastLast) {
                settle();
                const auto t1 = Clock::now();
                fastLast = computeAttribution(model, input, fp);
                fastMs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
            }
            for (size_t k = 0; k < ppes.size(); ++k) runCaptum(k, true);
        }
        const double pm = median(pellucidMs);
        size_t best = 0;
        for (size_t k = 1; k < ppes.size(); ++k)
            if (median(captumMs[k]) < median(captumMs[best])) best = k;
        const double cm = captumOk ? median(captumMs[best]) : NAN;
        // Agreement: the largest difference of the two maps relative to the largest |value| of the second (random
        // samples differ between the two, so no figure there). Captum's map is its last run's at the best ppe.
        auto agreement = [&](const TensorValue &p, const TensorValue &c, double &relDiff) -> std::string {
            relDiff = NAN;
            if (c.numel() != p.numel()) return "shapes differ";
            double diff = 0, scale = 0;
            for (int64_t i = 0; i < p.numel(); ++i) {
                diff = std::max(diff, std::abs(double(p.at(i)) - double(c.at(i))));
                scale = std::max(scale, std::abs(double(c.at(i))));
            }
            relDiff = scale > 0 ? diff / scale : diff;
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.1e of max", relDiff);
            return buf;
        };
        TensorValue captumMap;
        std::string captumMapWhy = "-";
        if (captumOk && !randomMethod(method)) try {
                captumMap = readNpy(mapPath(best));
            } catch (const std::exception &e) {
                captumMapWhy = e.what();
            }
        else if (captumOk)
            captumMapWhy = "n/a (random samples)";
        auto agreementWith = [&](const TensorValue &p, double &relDiff) -> std::string {
            relDiff = NAN;
            return captumMap.numel() ? agreement(p, captumMap, relDiff) : captumMapWhy;
        };
        double relDiff = NAN, fastRelDiff = NAN;
        const std::string agreementText = agreementWith(last->map, relDiff);
        const std::string fastAgreement = fastLast ? agreementWith(fastLast->map, fastRelDiff) : std::string();
        // Against float64: Captum's method on a float64 copy of the model and input (deterministic methods), the
        // reference Pellucid's maps (exact and fast) and Captum's map (float32, or the forward-only methods' reduced precision) are each measured against.
        Json reference = Json::object();
        std::string referenceLine;
        if (o.float64Reference && captumMap.numel()) {
            Json rr = req;
            rr["op"] = "reference";
            if (ppes[best] > 0) rr["ppe"] = int64_t(ppes[best]);
            rr["out"] = dir + "/versus_captum_" + name + "_float64.npy";
            const Json r = captum.request(rr);
            if (r.find("ok") && r.find("ok")->asBool()) {
                try {
                    const TensorValue ref = readNpy(rr.at("out").asString());
                    double d = NAN;
                    referenceLine = "Pellucid " + agreement(last->map, ref, d);
                    reference["pellucid"] = d;
                    if (fastLast) {
                        referenceLine += ", fast " + agreement(fastLast->map, ref, d);
                        reference["fast"] = d;
                    }
                    referenceLine += ", Captum " + agreement(captumMap, ref, d);
                    reference["captum"] = d;
                } catch (const std::exception &e) {
                    referenceLine = e.what();
                }
            } else {
                referenceLine = r.find("why") ? r.find("why")->asString() : "failed";
            }
        }
        Json j = Json::object();
        j["pellucid_ms"] = pm;
        j["pellucid_passes"] = last->modelPasses;
        if (captumOk) {
            j["captum_ms"] = cm;
            j["captum_passes"] = captumPasses[best];
            j["ratio"] = cm / pm;
            if (ppes[best] > 0) {
                j["captum_best_ppe"] = int64_t(ppes[best]);
                Json all = Json::object();
                for (size_t k = 0; k < ppes.size(); ++k) all[std::to_string(ppes[k])] = median(captumMs[k]);
                j["captum_ms_by_ppe"] = all;
            }
            if (!std::isnan(relDiff)) j["max_difference_relative"] = relDiff;
            std::printf("  %-22s %11.1f %8lld %13.1f %8lld %6s %8.2fx  %s\n", name.c_str(), pm, (long long)last->modelPasses, cm,
                        (long long)captumPasses[best], ppes[best] > 0 ? std::to_string(ppes[best]).c_str() : "-", cm / pm, agreementText.c_str());
            if (fastLast) {
                const double fm = median(fastMs);
                j["fast_ms"] = fm;
                j["fast_ratio"] = cm / fm;
                if (!std::isnan(fastRelDiff)) j["fast_max_difference_relative"] = fastRelDiff;
                std::printf("  %-22s %11.1f %8lld %13s %8s %6s %8.2fx  %s\n", (name + " (fast)").c_str(), fm, (long long)fastLast->modelPasses, "",
                            "", "", cm / fm, fastAgreement.c_str());
            }
            if (!referenceLine.empty()) {
                if (reference.find("pellucid")) j["float64_max_difference_relative"] = reference;
                std::printf("  %-22s vs float64: %s\n", "", referenceLine.c_str());
            }
        } else {
            const std::string why = !captumWhy.empty() ? captumWhy : !captum.why().empty() ? captum.why() : "not run";
            j["captum_skipped"] = why;
            std::printf("  %-22s %11.1f %8lld %13s  Captum: %s\n", name.c_str(), pm, (long long)last->modelPasses, "-", why.c_str());
            if (fastLast) {
                j["fast_ms"] = median(fastMs);
                std::printf("  %-22s %11.1f %8lld\n", (name + " (fast)").c_str(), median(fastMs), (long long)fastLast->modelPasses);
            }
        }
        methods[name] = j;
    }
    report["methods"] = methods;
    if (!o.jsonOut.empty()) std::ofstream(o.jsonOut) << report.dump(2) << "\n";
    return 0;
}

}   // namespace pellucid
