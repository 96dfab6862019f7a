#pragma once
// The engine: one worker thread that owns the model and runs jobs from a queue.
//
// Every job gets a generation id (increasing). A job of a superseding kind cancels the queued and
// running jobs of the same kind (newest wins). Jobs can be cancelled, report progress and stream partial
// results; errors come back as events with a human message. Events are delivered on the worker thread
// to one listener (the GUI bridge re-posts them to its own thread). Outputs are immutable and shared.
#include "engine/core/errors.h"
#include "engine/runtime/model.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace pellucid {

/// Ids of the engine's workspace of models. Jobs name the models they use; other ids (companions such as a
/// generator's classifier or encoder) are free-form.
inline constexpr const char *kMainModel = "main";
inline constexpr const char *kCompareModel = "compare";

/// Base of every job's (partial or final) output.
struct JobOutput {
    virtual ~JobOutput() = default;
};

struct JobEvent {
    enum class Type { Started, Progress, Partial, Finished, Failed, Cancelled };
    Type type = Type::Started;
    uint64_t generation = 0;
    std::string kind;
    int64_t done = 0, total = 0;   // progress
    std::string message;           // error / cancellation reason / progress stage
    ErrorCode code = ErrorCode::Internal;
    std::shared_ptr<const JobOutput> output;   // Partial and Finished
};

const char *jobEventTypeName(JobEvent::Type t);

class Engine;

/// What a running job sees: its cancellation flag, progress/partial reporting and the model.
class JobContext {
public:
    uint64_t generation() const { return mGeneration; }
    bool cancelled() const { return mCancel->load(); }
    void throwIfCancelled() const;
    void progress(int64_t done, int64_t total, const std::string &stage = {});
    void partial(std::shared_ptr<const JobOutput> output);

    /// The workspace's main model; throws Error(NoModel) when none is loaded.
    Model &model();
    bool hasModel() const;
    /// A model of the workspace by id (kMainModel, kCompareModel, a companion's id); throws Error(NoModel)
    /// naming the id when none is loaded under it.
    Model &model(const std::string &id);
    bool hasModel(const std::string &id) const;
    /// Puts a model into the workspace under `id` (nullptr removes it): the load job.
    void setModel(std::shared_ptr<Model> model, const std::string &id = kMainModel);
    /// A companion of the main model (its classifier, its encoder) from its file, loaded once under the id
    /// "companion:PATH" with default options and kept with the workspace's models.
    Model &companion(const std::string &path);

private:
    friend class Engine;
    JobContext(Engine &engine, uint64_t generation, std::string kind, std::shared_ptr<std::atomic<bool>> cancel)
        : mEngine(engine), mGeneration(generation), mKind(std::move(kind)), mCancel(std::move(cancel))
    { }
    Engine &mEngine;
    uint64_t mGeneration;
    std::string mKind;
    std::shared_ptr<std::atomic<bool>> mCancel;
};

struct Job {
    std::string kind;        // "load", "activations", ...
    bool supersede = true;   // a newer job of this kind cancels older ones
    std::function<std::shared_ptr<const JobOutput>(JobContext &)> work;
};

class Engine {
public:
    using Listener = std::function<void(const JobEvent &)>;

    explicit Engine(Listener listener);
    ~Engine();   // cancels everything, joins the worker
    Engine(const Engine &) = delete;
    Engine &operator=(const Engine &) = delete;

    /// Queues a job and returns its generation id. Never blocks on running work.
    uint64_t submit(Job job);
    void cancel(uint64_t generation);
    void cancelKind(const std::string &kind);
    void cancelAll();

    /// Blocks until the queue is empty and no job runs (tests, CLI, benchmarks). False on timeout.
    bool waitIdle(int timeoutMs);

    /// A snapshot of a loaded model's summary (nullptr when none); safe from any thread.
    std::shared_ptr<const ModelSummary> modelSummary(const std::string &id = kMainModel) const;
    uint64_t latestGeneration() const { return mNextGeneration.load() - 1; }

private:
    friend class JobContext;
    struct Pending {
        uint64_t generation;
        Job job;
        std::shared_ptr<std::atomic<bool>> cancel;
    };
    void run();
    void publish(JobEvent e);

    Listener mListener;
    mutable std::mutex mMutex;
    std::condition_variable mWake, mIdle;
    std::deque<Pending> mQueue;
    bool mRunning = false;         // a job is executing
    Pending *mCurrent = nullptr;   // guarded by mMutex
    bool mStop = false;
    std::atomic<uint64_t> mNextGeneration{1};
    std::map<std::string, std::shared_ptr<Model>> mModels;                   // only the worker touches models
    std::map<std::string, std::shared_ptr<const ModelSummary>> mSummaries;   // guarded by mMutex
    std::thread mThread;
};

}   // namespace pellucid
