// The engine's worker thread: generation ids, cancellation, newest-wins superseding, progress and
// partial results, errors as values, and the activations job end to end.
#include "engine/attribution/attribution.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/jobs.h"
#include "engine/runtime/memory.h"
#include "engine/runtime/threads.h"
#include "engine/runtime/model.h"
#include "engine/core/npy.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <random>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

using namespace pellucid;
using namespace std::chrono_literals;

namespace {

struct Recorder {
    std::mutex m;
    std::vector<JobEvent> events;
    void operator()(const JobEvent &e)
    {
        std::lock_guard<std::mutex> l(m);
        events.push_back(e);
    }
    std::vector<JobEvent> of(uint64_t gen)
    {
        std::lock_guard<std::mutex> l(m);
        std::vector<JobEvent> out;
        for (const auto &e : events)
            if (e.generation == gen) out.push_back(e);
        return out;
    }
    JobEvent last(uint64_t gen)
    {
        auto v = of(gen);
        return v.empty() ? JobEvent{} : v.back();
    }
};

struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false, entered = false;
    void waitOpen()
    {
        std::unique_lock<std::mutex> l(m);
        entered = true;
        cv.notify_all();
        cv.wait(l, [&] { return open; });
    }
    void waitEntered()
    {
        std::unique_lock<std::mutex> l(m);
        cv.wait(l, [&] { return entered; });
    }
    void release()
    {
        std::lock_guard<std::mutex> l(m);
        open = true;
        cv.notify_all();
    }
};

struct Value : JobOutput {
    explicit Value(int v) : v(v) { }
    int v;
};

}   // namespace

TEST(generation_ids_increase)
{
    Recorder rec;
    Engine engine([&](const JobEvent &e) { rec(e); });
    uint64_t prev = 0;
    for (int i = 0; i < 5; ++i) {
        Job j{"noop", false, [](JobContext &) { return std::make_shared<Value>(1); }};
        const uint64_t g = engine.submit(j);
        CHECK(g > prev);
        prev = g;
    }
    CHECK(engine.waitIdle(5000));
    for (uint64_t g = prev - 4; g <= prev; ++g) CHECK(rec.last(g).type == JobEvent::Type::Finished);
}

TEST(cancel_running_job)
{
    Recorder rec;
    Engine engine([&](const JobEvent &e) { rec(e); });
    Gate gate;
    Job j{"long", true, [&](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
              gate.waitOpen();
              for (int i = 0; i < 1000 && !ctx.cancelled(); ++i) std::this_thread::sleep_for(1ms);
              ctx.throwIfCancelled();
              return std::make_shared<Value>(1);
          }};
    const uint64_t g = engine.submit(j);
    gate.waitEntered();
    engine.cancel(g);
    gate.release();
    CHECK(engine.waitIdle(5000));
    CHECK(rec.last(g).type == JobEvent::Type::Cancelled);
}

TEST(cancel_queued_job_never_runs)
{
    Recorder rec;
    Engine engine([&](const JobEvent &e) { rec(e); });
    Gate gate;
    std::atomic<bool> ran{false};
    engine.submit(Job{"block", false, [&](JobContext &) {
                          gate.waitOpen();
                          return std::make_shared<Value>(0);
                      }});
    gate.waitEntered();
    const uint64_t g = engine.submit(Job{"other", false, [&](JobContext &) {
                                             ran = true;
                                             return std::make_shared<Value>(0);
                                         }});
    engine.cancel(g);
    gate.release();
    CHECK(engine.waitIdle(5000));
    CHECK(!ran.load());
    CHECK(rec.last(g).type == JobEvent::Type::Cancelled);
}

TEST(newest_request_wins)
{
    Recorder rec;
    Engine engine([&](const JobEvent &e) { rec(e); });
    Gate gate;
    std::atomic<int> runs{0};
    auto work = [&](int v) {
        return [&, v](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
            ++runs;
            if (v == 0) {
                gate.waitOpen();
                ctx.throwIfCancelled();
            }
            return std::make_shared<Value>(v);
        };
    };
    const uint64_t g0 = engine.submit(Job{"slider", true, work(0)});
    gate.waitEntered();
    std::vector<uint64_t> gens;
    for (int v = 1; v <= 4; ++v) gens.push_back(engine.submit(Job{"slider", true, work(v)}));
    gate.release();
    CHECK(engine.waitIdle(5000));
    CHECK(rec.last(g0).type == JobEvent::Type::Cancelled);   // running one was cancelled
    for (size_t i = 0; i + 1 < gens.size(); ++i) {
        CHECK(rec.last(gens[i]).type == JobEvent::Type::Cancelled);   // queued ones were dropped
        CHECK(rec.last(gens[i]).message.find("superseded") != std::string::npos);
    }
    const JobEvent fin = rec.last(gens.back());
    CHECK(fin.type == JobEvent::Type::Finished);
    CHECK(fin.output && std::static_pointer_cast<const Value>(fin.output)->v == 4);
    CHECK_EQ(runs.load(), 2);   // only the first (cancelled mid-way) and the newest ran
}

TEST(other_kinds_are_not_superseded)
{
    Recorder rec;
    Engine engine([&](const JobEvent &e) { rec(e); });
    Gate gate;
    engine.submit(Job{"a", true, [&](JobContext &) {
                          gate.waitOpen();
                          return std::make_shared<Value>(0);
                      }});
    gate.waitEntered();
    const uint64_t b = engine.submit(Job{"b", true, [](JobContext &) { return std::make_shared<Value>(2); }});
    gate.release();
    CHECK(engine.waitIdle(5000));
    CHECK(rec.last(b).type == JobEvent::Type::Finished);
}

TEST(progress_and_partial_results_stream_in_order)
{
    Recorder rec;
    Engine engine([&](const JobEvent &e) { rec(e); });
    const uint64_t g = engine.submit(Job{"chunks", true, [](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
                                             for (int i = 1; i <= 3; ++i) {
                                                 ctx.partial(std::make_shared<Value>(i));
                                                 ctx.progress(i, 3, "chunk");
                                             }
                                             return std::make_shared<Value>(99);
                                         }});
    CHECK(engine.waitIdle(5000));
    const auto ev = rec.of(g);
    std::vector<JobEvent::Type> types;
    for (const auto &e : ev) types.push_back(e.type);
    const std::vector<JobEvent::Type> want = {JobEvent::Type::Started,  JobEvent::Type::Partial, JobEvent::Type::Progress, JobEvent::Type::Partial,
                                              JobEvent::Type::Progress, JobEvent::Type::Partial, JobEvent::Type::Progress, JobEvent::Type::Finished};
    CHECK(types == want);
    CHECK_EQ(ev.size() > 6 ? ev[6].done : -1, int64_t(3));
}

TEST(errors_come_back_as_values)
{
    Recorder rec;
    Engine engine([&](const JobEvent &e) { rec(e); });
    const uint64_t noModel = engine.submit(activationsJob(TensorValue({1, 1, 28, 28}, std::vector<float>(784, 0.f)), 1, "features.0"));
    const uint64_t badLoad = engine.submit(loadModelJob("/nonexistent.pt", {}));
    CHECK(engine.waitIdle(10000));
    CHECK(rec.last(noModel).type == JobEvent::Type::Failed);
    CHECK(rec.last(noModel).code == ErrorCode::NoModel);
    CHECK(rec.last(badLoad).type == JobEvent::Type::Failed);
    CHECK(rec.last(badLoad).message.find("/nonexistent.pt") != std::string::npos);
    // The engine keeps working after errors.
    const uint64_t ok = engine.submit(Job{"noop", true, [](JobContext &) { return std::make_shared<Value>(1); }});
    CHECK(engine.waitIdle(5000));
    CHECK(rec.last(ok).type == JobEvent::Type::Finished);
}

TEST(activations_job_end_to_end)
{
    Recorder rec;
    Engine engine([&](const JobEvent &e) { rec(e); });
    const uint64_t load = engine.submit(loadModelJob(fixtures::resources("models/fashion_mnist_cnn.pt"), fixtures::cpuOptions()));
    const TensorValue input({1, 1, 28, 28}, std::vector<float>(784, 0.25f));
    const uint64_t act = engine.submit(activationsJob(input, 7, "features.5", 3));
    const uint64_t bad = engine.submit(
        Job{"activations2", true, [](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
                return computeActivations(ctx.model(), TensorValue({1, 1, 28, 28}, std::vector<float>(784, 0.f)), 1, "features.55", 3, 8);
            }});
    CHECK(engine.waitIdle(30000));
    CHECK(rec.last(load).type == JobEvent::Type::Finished);
    CHECK(engine.modelSummary() != nullptr);
    const JobEvent e = rec.last(act);
    CHECK(e.type == JobEvent::Type::Finished);
    auto out = std::dynamic_pointer_cast<const ActivationOutput>(e.output);
    CHECK(out != nullptr);
    if (out) {
        CHECK_EQ(out->inputId, uint64_t(7));
        CHECK(out->activation.shape() == (Shape{1, 32, 28, 28}));
        CHECK_EQ(out->channels.size(), size_t(32));
        CHECK_EQ(out->topK.size(), size_t(3));
        CHECK(out->topK[0].probability >= out->topK[1].probability);
        int64_t total = 0;
        for (auto c : out->histogram.counts) total += c;
        CHECK_EQ(total, out->activation.numel());
    }
    CHECK(rec.last(bad).type == JobEvent::Type::Failed);
    CHECK(rec.last(bad).message.find("Did you mean") != std::string::npos);
}

TEST(a_slider_storm_leaves_no_backlog_and_the_newest_result_last)
{
    // 1,000 requests within a second (a slider dragged through its range): each supersedes the one before,
    // so the queue never holds more than one waiting job, every request ends with exactly one terminal event,
    // and the last result is the newest request's. Size configurable (PELLUCID_STORM_REQUESTS).
    const int requests = std::getenv("PELLUCID_STORM_REQUESTS") ? std::atoi(std::getenv("PELLUCID_STORM_REQUESTS")) : 1000;
    Recorder rec;
    Engine engine([&](const JobEvent &e) { rec(e); });
    engine.submit(loadModelJob(fixtures::resources("models/fashion_mnist_cnn.pt"), fixtures::cpuOptions()));
    CHECK(engine.waitIdle(30000));
    std::vector<uint64_t> gens;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < requests; ++i) {
        const TensorValue input({1, 1, 28, 28}, std::vector<float>(784, float(i) / float(requests)));
        gens.push_back(engine.submit(activationsJob(input, uint64_t(i), "features.5", 3)));
        std::this_thread::sleep_until(start + std::chrono::microseconds(int64_t(1000000) * (i + 1) / requests));
    }
    const auto submitted = std::chrono::steady_clock::now();
    CHECK(engine.waitIdle(10000));
    const double drainMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - submitted).count();
    int started = 0, finished = 0, cancelled = 0, terminalTwice = 0;
    for (uint64_t g : gens) {
        int terminal = 0;
        for (const JobEvent &e : rec.of(g)) {
            started += e.type == JobEvent::Type::Started;
            finished += e.type == JobEvent::Type::Finished;
            cancelled += e.type == JobEvent::Type::Cancelled;
            terminal += e.type == JobEvent::Type::Finished || e.type == JobEvent::Type::Cancelled || e.type == JobEvent::Type::Failed;
        }
        terminalTwice += terminal != 1;
    }
    std::printf("  %d requests in %.0f ms: %d ran, %d finished, %d superseded; idle %.0f ms after the last\n", requests,
                std::chrono::duration<double, std::milli>(submitted - start).count(), started, finished, cancelled, drainMs);
    CHECK_EQ(terminalTwice, 0);
    CHECK_EQ(finished + cancelled, requests);
    // No backlog: once the last request is in, what is left is at most the running job and the newest one
    // (one forward each, well under a second on this model).
    CHECK(drainMs < 2000);
    const JobEvent last = rec.last(gens.back());
    CHECK(last.type == JobEvent::Type::Finished);
    auto out = std::dynamic_pointer_cast<const ActivationOutput>(last.output);
    CHECK(out != nullptr);
    if (out) CHECK_EQ(out->inputId, uint64_t(requests - 1));
    // No result of an older request arrives after the newest one's.
    bool afterNewest = false, stale = false;
    {
        std::lock_guard<std::mutex> l(rec.m);
        for (const JobEvent &e : rec.events) {
            if (e.generation == gens.back() && e.type == JobEvent::Type::Finished)
                afterNewest = true;
            else if (afterNewest && e.type == JobEvent::Type::Finished)
                stale = true;
        }
    }
    CHECK(!stale);
}

namespace {

/// float → bfloat16 → float, round to nearest even (what at::kBFloat16 conversion does).
float roundBf16(float f)
{
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7FFF + ((u >> 16) & 1);
    u &= 0xFFFF0000u;
    std::memcpy(&f, &u, 4);
    return f;
}

int argmax(const TensorValue &logits)
{
    int best = 0;
    for (int64_t k = 1; k < logits.numel(); ++k)
        if (logits.at(k) > logits.at(best)) best = int(k);
    return best;
}

}   // namespace

TEST(reduced_precision_keeps_the_prediction_or_says_why)
{
    auto m = fixtures::loadCpu("seqcnn_scripted.pt");
    const TensorValue batch = readNpy(fixtures::path("seqcnn_input.npy"));
    const ForwardResult full = m->forward(batch, {"features.3"});
    const PrecisionCheck c = m->setPrecision(Precision::BFloat16, {batch});
    CHECK_EQ(c.inputs, 2);   // the dry run's input and the batch
    CHECK_EQ(c.agreeing, 2);
    CHECK(c.maxAbsLogitDiff > 0);
    CHECK(m->precision() == Precision::BFloat16);
    const ForwardResult low = m->forward(batch, {"features.3"});
    const double outDiff = fixtures::maxAbsDiff(low.outputs.at(0), full.outputs.at(0));
    const double tapDiff = fixtures::maxAbsDiff(low.taps.at("features.3").at(0), full.taps.at("features.3").at(0));
    CHECK_MSG(outDiff > 0 && tapDiff > 0, "not computed in bf16");
    CHECK_MSG(outDiff < 0.02 * std::max(1.0, fixtures::maxAbs(full.outputs.at(0))), outDiff);
    CHECK_MSG(tapDiff < 0.02 * std::max(1.0, fixtures::maxAbs(full.taps.at("features.3").at(0))), tapDiff);
    // fp16 either works with the same check or is refused by name, the model as it was.
    try {
        m->setPrecision(Precision::Float16, {batch});
        CHECK(m->precision() == Precision::Float16);
    } catch (const Error &e) {
        CHECK_MSG(std::string(e.what()).find("fp16") != std::string::npos, e.what());
        CHECK(m->precision() == Precision::BFloat16);
    }
    // Forward-only attribution methods follow it; gradient methods stay float32.
    m->setPrecision(Precision::BFloat16, {batch});
    const TensorValue x = fixtures::firstItem(batch);
    AttributionParams occ;
    occ.method = AttributionMethod::Occlusion;
    occ.target.kind = AttributionTarget::Kind::Class;
    occ.target.classIndex = 3;
    AttributionParams sal = occ;
    sal.method = AttributionMethod::Saliency;
    const auto occLow = computeAttribution(*m, x, occ), salLow = computeAttribution(*m, x, sal);
    m->setPrecision(Precision::Float32);
    CHECK(m->precision() == Precision::Float32);
    const auto occFull = computeAttribution(*m, x, occ), salFull = computeAttribution(*m, x, sal);
    const double occDiff = fixtures::maxAbsDiff(occLow->map, occFull->map);
    CHECK_MSG(occDiff > 0 && occDiff < 0.05 * std::max(0.1, fixtures::maxAbs(occFull->map)), occDiff);
    CHECK_EQ(fixtures::maxAbsDiff(salLow->map, salFull->map), 0.0);
    CHECK_EQ(fixtures::maxAbsDiff(m->forward(batch, {"features.3"}).outputs.at(0), full.outputs.at(0)), 0.0);

    // Two inputs a hair either side of the boundary between two classes of a linear model: float32 tells
    // them apart, bfloat16 (which rounds both to the same input) cannot — one prediction must change.
    auto lin = fixtures::loadCpu("linear_traced.pt");
    const TensorValue x0 = readNpy(fixtures::path("linear_input.npy"));
    auto f = [&](const std::vector<float> &x) { return lin->forward(TensorValue(x0.shape(), x), {}).outputs.at(0); };
    std::vector<float> base(x0.data(), x0.data() + x0.numel());
    const int i = argmax(f(base));
    std::mt19937 rng(7);
    std::normal_distribution<float> g;
    bool found = false;
    for (int trial = 0; trial < 200 && !found; ++trial) {
        std::vector<float> u(base.size());
        for (auto &v : u) v = 3 * g(rng);
        std::vector<float> x1(base.size());
        for (size_t k = 0; k < base.size(); ++k) x1[k] = base[k] + u[k];
        const TensorValue f0 = f(base), f1 = f(x1);
        for (int j = 0; j < int(f0.numel()) && !found; ++j) {
            if (j == i) continue;
            const double d0 = f0.at(i) - f0.at(j), d1 = f1.at(i) - f1.at(j);
            if (d1 >= 0) continue;
            const double t = d0 / (d0 - d1), e = 2e-6;
            std::vector<float> xa(base.size()), xb(base.size());
            bool sameInBf16 = true;
            for (size_t k = 0; k < base.size(); ++k) {
                xa[k] = float(base[k] + (t - e) * u[k]);
                xb[k] = float(base[k] + (t + e) * u[k]);
                sameInBf16 = sameInBf16 && roundBf16(xa[k]) == roundBf16(xb[k]);
            }
            if (!sameInBf16 || argmax(f(xa)) != i || argmax(f(xb)) != j) continue;   // a third class at the boundary
            found = true;
            const std::vector<TensorValue> inputs{TensorValue(x0.shape(), xa), TensorValue(x0.shape(), xb)};
            CHECK_THROWS_WITH(lin->setPrecision(Precision::BFloat16, inputs), Error, "bf16 changes the prediction on 1 of");
            CHECK(lin->precision() == Precision::Float32);
            CHECK_EQ(argmax(lin->forward(inputs[1], {}).outputs.at(0)), j);   // still float32
        }
    }
    CHECK_MSG(found, "no boundary pair found");
    Precision p;
    CHECK(parsePrecision("bf16", p) && p == Precision::BFloat16);
    CHECK(!parsePrecision("fp8", p));
}

TEST(workspace_holds_several_models_by_id)
{
    // Two models loaded at once under their ids; a job names the models it uses; reloading one id keeps the other.
    Recorder rec;
    Engine engine([&](const JobEvent &e) { rec(e); });
    const uint64_t a = engine.submit(loadModelJob(fixtures::resources("models/fashion_mnist_cnn.pt"), fixtures::cpuOptions()));
    const uint64_t b = engine.submit(loadModelJob(fixtures::path("seqcnn_scripted.pt"), fixtures::cpuOptions(), kCompareModel));
    struct Both : JobOutput {
        std::string main, compare;
        bool hasOther = true;
    };
    const uint64_t use = engine.submit(Job{"both", true, [](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
                                               auto out = std::make_shared<Both>();
                                               out->main = ctx.model().summary().fileName;
                                               out->compare = ctx.model(kCompareModel).summary().fileName;
                                               out->hasOther = ctx.hasModel("encoder");
                                               return out;
                                           }});
    const uint64_t missing = engine.submit(Job{"missing", true, [](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
                                                   ctx.model("encoder");
                                                   return nullptr;
                                               }});
    CHECK(engine.waitIdle(30000));
    CHECK(rec.last(a).type == JobEvent::Type::Finished && rec.last(b).type == JobEvent::Type::Finished);
    CHECK_EQ(std::static_pointer_cast<const ModelLoadedOutput>(rec.last(b).output)->id, std::string(kCompareModel));
    const auto both = std::static_pointer_cast<const Both>(rec.last(use).output);
    CHECK_EQ(both->main, std::string("fashion_mnist_cnn.pt"));
    CHECK_EQ(both->compare, std::string("seqcnn_scripted.pt"));
    CHECK(!both->hasOther);
    CHECK(rec.last(missing).type == JobEvent::Type::Failed);
    CHECK_MSG(rec.last(missing).message.find("No encoder model is loaded") != std::string::npos, rec.last(missing).message);
    CHECK_EQ(engine.modelSummary()->fileName, std::string("fashion_mnist_cnn.pt"));
    CHECK_EQ(engine.modelSummary(kCompareModel)->fileName, std::string("seqcnn_scripted.pt"));
    CHECK(engine.modelSummary("encoder") == nullptr);
    // Loading the main model again leaves the compared one in place; the two loads do not supersede each other.
    engine.submit(loadModelJob(fixtures::path("seqcnn_traced.pt"), fixtures::cpuOptions()));
    CHECK(engine.waitIdle(30000));
    CHECK_EQ(engine.modelSummary()->fileName, std::string("seqcnn_traced.pt"));
    CHECK_EQ(engine.modelSummary(kCompareModel)->fileName, std::string("seqcnn_scripted.pt"));
}

// Large CPU blocks are reused inside a computation (runtime/memory.h) and the free list is freed a linger
// after it (in a forked child too); the map is the same bit for bit with reuse off.
TEST(cpu_blocks_are_reused_within_a_computation_and_freed_after_a_linger)
{
    auto model = Model::load(fixtures::resources("models/fashion_mnist_cnn.pt"), fixtures::cpuOptions());
    std::vector<float> pixels(784);
    for (int i = 0; i < 784; ++i) pixels[size_t(i)] = float((i * 37) % 101) / 101.0f;
    const TensorValue x({1, 1, 28, 28}, pixels);
    AttributionParams p;
    p.method = AttributionMethod::Occlusion;
    p.target.kind = AttributionTarget::Kind::Class;
    p.target.classIndex = 2;
    p.window = {1, 3, 3};
    p.stride = {1, 1, 1};
    setCpuBlockReuse(false);
    const auto off = computeAttribution(*model, x, p);
    CHECK(!cpuBlockReuse());
    setCpuBlockReuse(true);
    const CpuBlockStats before = cpuBlockStats();
    const auto on = computeAttribution(*model, x, p);
    const CpuBlockStats after = cpuBlockStats();
    CHECK(fixtures::maxAbsDiff(off->map, on->map) == 0.0);
    CHECK_EQ(after.scopes, 0);
    if (!cpuBlockReuseAvailable()) {
        CHECK(!cpuBlockReuse());
        CHECK(after.reused == before.reused);
        CHECK(after.cachedBytes == 0);
        return;
    }
    CHECK(cpuBlockReuse());
    CHECK(after.kept > before.kept);
    CHECK(after.reused > before.reused);
    CHECK(after.peakCachedBytes >= kMinReusedBytes);
    // The list outlives the computation by the linger: the next call finds every block it needs there (no
    // fresh one), and the list is freed once no computation has run for that long.
    CHECK(after.cachedBytes > 0);
    (void)computeAttribution(*model, x, p);
    const CpuBlockStats again = cpuBlockStats();
    CHECK_EQ(again.fresh, after.fresh);
    CHECK(again.reused > after.reused);
    const auto closed = std::chrono::steady_clock::now();
    while (cpuBlockStats().cachedBytes > 0 && std::chrono::steady_clock::now() - closed < std::chrono::seconds(10))
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(cpuBlockStats().cachedBytes == 0);
    CHECK(std::chrono::steady_clock::now() - closed >= std::chrono::milliseconds(kCpuBlockLingerMs - 50));
    {
        (void)computeAttribution(*model, x, p);   // the list lingers again, the reaper thread waits
        CHECK(cpuBlockStats().cachedBytes > 0);
        // A fork while the list lingers (the model's first load runs in a child): the child has no reaper thread
        // of the parent's, so it starts its own and frees its list after the linger too.
        const pid_t child = fork();
        if (child == 0) {
            setCpuThreads(1);
            (void)computeAttribution(*model, x, p);
            std::this_thread::sleep_for(std::chrono::milliseconds(kCpuBlockLingerMs + 1500));
            _exit(cpuBlockStats().cachedBytes == 0 ? 0 : 1);
        }
        CHECK(child > 0);
        int status = 0;
        pid_t got = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while ((got = waitpid(child, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (got != child) {   // hung: not left behind
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
        }
        CHECK_MSG(got == child && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's list was not freed after the linger (status " << status << ")");
    }
    // Without the linger the list goes when the last scope closes; a nested scope leaves it to the outer one.
    setCpuBlockLinger(0);
    (void)computeAttribution(*model, x, p);
    CHECK(cpuBlockStats().cachedBytes == 0);
    {
        const CpuBlockReuse outer;
        (void)computeAttribution(*model, x, p);   // its own scope nests: the outer one keeps the list
        CHECK(cpuBlockStats().cachedBytes > 0);
        CHECK_EQ(cpuBlockStats().scopes, 1);
    }
    CHECK(cpuBlockStats().cachedBytes == 0);
    setCpuBlockLinger(kCpuBlockLingerMs);
}

// OpenBLAS built with its own threads (Debian's libopenblas0-pthread) runs a second pool beside LibTorch's
// OpenMP team; each model picks its count (engine/runtime/threads.h): 1 where convolutions make most of its
// multiply-adds (the demo CNN) or LibTorch's threads spin, the library's own where matrix products do and
// LibTorch's threads sleep (the demo language model under OMP_WAIT_POLICY=PASSIVE); the environment or
// setBlasThreads fix it instead. A BLAS on OpenMP, or not OpenBLAS, is left with what it started with.
TEST(the_blas_pool_gets_each_models_choice_unless_told)
{
    const char *wait = std::getenv("OMP_WAIT_POLICY");
    const bool passive = wait && strcasecmp(wait, "PASSIVE") == 0;
    CHECK_EQ(blasChoiceFor(0.9, 2e9).threads, 1);
    CHECK_EQ(blasChoiceFor(0.9, 2e6).threads, passive ? 0 : 1);
    CHECK_EQ(blasChoiceFor(0.1, 2e9).threads, passive ? 0 : 1);
    CHECK_EQ(blasChoiceFor(-1, 0).threads, passive ? 0 : 1);
    if (passive) CHECK(blasChoiceFor(0.9, 2e9).why.find("convolutions make 90 %") != std::string::npos);

    auto cnn = Model::load(fixtures::resources("models/fashion_mnist_cnn.pt"), fixtures::cpuOptions());
    CHECK(cnn->convolutionShare() > 0.75 && cnn->convolutionShare() < 1.0);   // its classifier's products are the rest
    CHECK_EQ(cnn->blasThreads(), passive ? 0 : 1);                             // small convolutions
    auto lm = Model::load(fixtures::resources("models/fortune_gpt.pt"), fixtures::cpuOptions());
    CHECK(lm->convolutionShare() >= 0 && lm->convolutionShare() < 0.05);   // linear layers only
    CHECK_EQ(lm->blasThreads(), passive ? 0 : 1);

    const BlasInfo b = blasInfo();
    const char *chosen = std::getenv("PELLUCID_BLAS_THREADS");
    const bool envChose = (chosen && *chosen) || std::getenv("OPENBLAS_NUM_THREADS") || std::getenv("GOTO_NUM_THREADS");
    if (!b.adjustable) {   // not OpenBLAS, or OpenBLAS without a pool of its own: left as it started
        CHECK(b.library.find("not OpenBLAS") != std::string::npos || b.library.find("(own threads)") == std::string::npos);
        CHECK_EQ(b.threads, b.defaultThreads);
        return;
    }
    CHECK(b.library.find("OpenBLAS") != std::string::npos && b.library.find("(own threads)") != std::string::npos);
    CHECK(b.defaultThreads >= 1);
    if (!envChose) {
        const int cnnThreads = cnn->blasThreads() == 1 ? 1 : b.defaultThreads;
        cnn->useBlasThreads();
        CHECK_EQ(blasInfo().threads, cnnThreads);
        CHECK(blasInfo().policy == cnn->blasThreadsWhy());
        lm->useBlasThreads();
        CHECK_EQ(blasInfo().threads, lm->blasThreads() == 1 ? 1 : b.defaultThreads);
        CHECK(blasInfo().policy == lm->blasThreadsWhy());
        // An engine job that takes a model applies its choice.
        Recorder rec;
        Engine engine([&](const JobEvent &e) { rec(e); });
        engine.submit(loadModelJob(fixtures::resources("models/fashion_mnist_cnn.pt"), fixtures::cpuOptions()));
        CHECK(engine.waitIdle(30000));
        useBlasChoice({cnnThreads == 1 ? 2 : 1, "the other count"});
        CHECK(blasInfo().policy == "the other count");
        engine.submit(activationsJob(TensorValue({1, 1, 28, 28}, std::vector<float>(784, 0.5f)), 1, ""));
        CHECK(engine.waitIdle(30000));
        CHECK_EQ(blasInfo().threads, cnnThreads);
        CHECK(blasInfo().policy == cnn->blasThreadsWhy());
    }
    setBlasThreads(2);
    CHECK_EQ(blasInfo().threads, 2);
    CHECK(blasInfo().policy == "set to 2");
    setBlasThreads(0);   // what it started with
    CHECK_EQ(blasInfo().threads, b.defaultThreads);
    CHECK_THROWS_WITH(setBlasThreads(-1), Error, "BLAS threads must be 0");
    CHECK_THROWS_WITH(setBlasThreads(257), Error, "BLAS threads must be 0");
    // The demo's classifier (its linear layers are BLAS products) computes the same with either count.
    auto model = Model::load(fixtures::resources("models/fashion_mnist_cnn.pt"), fixtures::cpuOptions());
    std::vector<float> pixels(784);
    for (int i = 0; i < 784; ++i) pixels[size_t(i)] = float((i * 53) % 97) / 97.0f;
    const TensorValue x({1, 1, 28, 28}, pixels);
    setBlasThreads(1);
    const TensorValue one = model->forward(x, {}).outputs.at(0);
    setBlasThreads(2);
    const TensorValue two = model->forward(x, {}).outputs.at(0);
    CHECK(one.numel() == two.numel() && one.numel() == 10);
    for (int64_t i = 0; i < one.numel(); ++i) CHECK(std::abs(one.data()[i] - two.data()[i]) <= 1e-5f * (1.0f + std::abs(one.data()[i])));
    setBlasThreads(b.threads);
    CHECK_EQ(blasInfo().threads, b.threads);
}

TESTKIT_MAIN
