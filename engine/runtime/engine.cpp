#include "engine/runtime/engine.h"
#include "engine/runtime/memory.h"

#include <chrono>
#include <cstdlib>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace pellucid {

const char *jobEventTypeName(JobEvent::Type t)
{
    switch (t) {
    case JobEvent::Type::Started: return "started";
    case JobEvent::Type::Progress: return "progress";
    case JobEvent::Type::Partial: return "partial";
    case JobEvent::Type::Finished: return "finished";
    case JobEvent::Type::Failed: return "failed";
    case JobEvent::Type::Cancelled: return "cancelled";
    }
    return "?";
}

void JobContext::throwIfCancelled() const
{
    if (cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
}

void JobContext::progress(int64_t done, int64_t total, const std::string &stage)
{
    JobEvent e;
    e.type = JobEvent::Type::Progress;
    e.generation = mGeneration;
    e.kind = mKind;
    e.done = done;
    e.total = total;
    e.message = stage;
    mEngine.publish(std::move(e));
}

void JobContext::partial(std::shared_ptr<const JobOutput> output)
{
    if (cancelled()) return;
    JobEvent e;
    e.type = JobEvent::Type::Partial;
    e.generation = mGeneration;
    e.kind = mKind;
    e.output = std::move(output);
    mEngine.publish(std::move(e));
}

Model &JobContext::model()
{
    auto it = mEngine.mModels.find(kMainModel);
    if (it == mEngine.mModels.end()) throw Error(ErrorCode::NoModel, "No model is loaded");
    it->second->useBlasThreads();   // the BLAS pool's threads for this model's work (runtime/threads.h)
    return *it->second;
}

bool JobContext::hasModel() const { return hasModel(kMainModel); }

Model &JobContext::model(const std::string &id)
{
    if (id == kMainModel) return model();
    auto it = mEngine.mModels.find(id);
    if (it == mEngine.mModels.end()) throw Error(ErrorCode::NoModel, "No " + id + " model is loaded");
    it->second->useBlasThreads();
    return *it->second;
}

bool JobContext::hasModel(const std::string &id) const { return mEngine.mModels.count(id) > 0; }

Model &JobContext::companion(const std::string &path)
{
    const std::string id = "companion:" + path;
    if (!hasModel(id)) setModel(Model::load(path, LoadOptions()), id);
    return model(id);
}

void JobContext::setModel(std::shared_ptr<Model> model, const std::string &id)
{
    std::shared_ptr<const ModelSummary> summary;
    if (model) summary = std::make_shared<const ModelSummary>(model->summary());
    if (model)
        mEngine.mModels[id] = std::move(model);
    else
        mEngine.mModels.erase(id);
    std::lock_guard<std::mutex> lock(mEngine.mMutex);
    if (summary)
        mEngine.mSummaries[id] = std::move(summary);
    else
        mEngine.mSummaries.erase(id);
}

namespace {

/// glibc gives each thread that allocates its own malloc arena (up to 8 per core). Tensors made on the
/// worker and LibTorch's pool threads and freed on the GUI thread leave every arena fragmented: a GUI
/// soak grew ~15 MB resident in 150 s of model and image switches with the heap in use flat, ~3 MB with
/// two arenas (README, Notes). Two arenas: the GUI thread's and one the engine's threads share.
/// MALLOC_ARENA_MAX in the environment still decides when set.
void limitMallocArenas()
{
#ifdef __GLIBC__
    static const bool once = [] {
        if (!std::getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);
        return true;
    }();
    (void)once;
#endif
}

}   // namespace

Engine::Engine(Listener listener) : mListener(std::move(listener))
{
    limitMallocArenas();
    mThread = std::thread([this] { run(); });
}

Engine::~Engine()
{
    {
        std::lock_guard<std::mutex> lock(mMutex);
        mStop = true;
        for (auto &p : mQueue) p.cancel->store(true);
        if (mCurrent) mCurrent->cancel->store(true);
    }
    mWake.notify_all();
    mThread.join();
}

uint64_t Engine::submit(Job job)
{
    const uint64_t gen = mNextGeneration.fetch_add(1);
    std::vector<JobEvent> dropped;
    {
        std::lock_guard<std::mutex> lock(mMutex);
        if (job.supersede) {
            for (auto it = mQueue.begin(); it != mQueue.end();) {
                if (it->job.kind == job.kind) {
                    JobEvent e;
                    e.type = JobEvent::Type::Cancelled;
                    e.generation = it->generation;
                    e.kind = it->job.kind;
                    e.code = ErrorCode::Cancelled;
                    e.message = "superseded by job " + std::to_string(gen);
                    dropped.push_back(std::move(e));
                    it = mQueue.erase(it);
                } else {
                    ++it;
                }
            }
            if (mCurrent && mCurrent->job.kind == job.kind) mCurrent->cancel->store(true);
        }
        mQueue.push_back(Pending{gen, std::move(job), std::make_shared<std::atomic<bool>>(false)});
    }
    mWake.notify_one();
    for (auto &e : dropped) publish(std::move(e));
    return gen;
}

void Engine::cancel(uint64_t generation)
{
    std::lock_guard<std::mutex> lock(mMutex);
    for (auto &p : mQueue)
        if (p.generation == generation) p.cancel->store(true);
    if (mCurrent && mCurrent->generation == generation) mCurrent->cancel->store(true);
}

void Engine::cancelKind(const std::string &kind)
{
    std::lock_guard<std::mutex> lock(mMutex);
    for (auto &p : mQueue)
        if (p.job.kind == kind) p.cancel->store(true);
    if (mCurrent && mCurrent->job.kind == kind) mCurrent->cancel->store(true);
}

void Engine::cancelAll()
{
    std::lock_guard<std::mutex> lock(mMutex);
    for (auto &p : mQueue) p.cancel->store(true);
    if (mCurrent) mCurrent->cancel->store(true);
}

bool Engine::waitIdle(int timeoutMs)
{
    std::unique_lock<std::mutex> lock(mMutex);
    return mIdle.wait_for(lock, std::chrono::milliseconds(timeoutMs), [this] { return mQueue.empty() && !mRunning; });
}

std::shared_ptr<const ModelSummary> Engine::modelSummary(const std::string &id) const
{
    std::lock_guard<std::mutex> lock(mMutex);
    auto it = mSummaries.find(id);
    return it == mSummaries.end() ? nullptr : it->second;
}

void Engine::publish(JobEvent e)
{
    if (mListener) mListener(e);
}

void Engine::run()
{
#ifdef __linux__
    // Below the GUI: a model's threads (OpenMP's team is created by, and inherits the niceness of, this
    // thread) must not starve the thread that paints, on a laptop with two cores.
    (void)setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), 5);
#endif
    while (true) {
        Pending current;
        {
            std::unique_lock<std::mutex> lock(mMutex);
            mWake.wait(lock, [this] { return mStop || !mQueue.empty(); });
            if (mStop) break;
            current = std::move(mQueue.front());
            mQueue.pop_front();
            mCurrent = &current;
            mRunning = true;
        }
        JobEvent done;
        done.generation = current.generation;
        done.kind = current.job.kind;
        if (current.cancel->load()) {
            done.type = JobEvent::Type::Cancelled;
            done.code = ErrorCode::Cancelled;
            done.message = "cancelled before it started";
        } else {
            JobContext ctx(*this, current.generation, current.job.kind, current.cancel);
            const CpuBlockReuse reuse;   // a job's passes keep their pages; freed when it ends (memory.h)
            JobEvent started;
            started.type = JobEvent::Type::Started;
            started.generation = current.generation;
            started.kind = current.job.kind;
            publish(std::move(started));
            try {
                auto out = current.job.work(ctx);
                if (current.cancel->load()) {
                    done.type = JobEvent::Type::Cancelled;
                    done.code = ErrorCode::Cancelled;
                    done.message = "cancelled";
                } else {
                    done.type = JobEvent::Type::Finished;
                    done.output = std::move(out);
                }
            } catch (const Error &e) {
                done.type = e.code() == ErrorCode::Cancelled ? JobEvent::Type::Cancelled : JobEvent::Type::Failed;
                done.code = e.code();
                done.message = e.what();
            } catch (const std::exception &e) {
                done.type = JobEvent::Type::Failed;
                done.code = ErrorCode::Internal;
                done.message = std::string("Internal error: ") + e.what();
            }
        }
        {
            std::lock_guard<std::mutex> lock(mMutex);
            mCurrent = nullptr;
        }
        publish(std::move(done));
        {
            std::lock_guard<std::mutex> lock(mMutex);
            mRunning = false;
            if (mQueue.empty()) mIdle.notify_all();
        }
    }
    std::lock_guard<std::mutex> lock(mMutex);
    mRunning = false;
    mIdle.notify_all();
}

}   // namespace pellucid
