#pragma once
// The bridge from the engine's worker thread to the GUI thread, as typed tasks: a feature runs work on the
// engine and hands the completion that receives its result, on the GUI thread:
//
//     mBridge->run<GalleryOutput>(&mGallerySlot, this, [=](JobContext &ctx) { … return out; },
//                                 [this](std::shared_ptr<const GalleryOutput> r) { mPanel->showGallery(…); });
//
// A task run in a TaskSlot supersedes the slot's earlier tasks (newest wins: they are cancelled, and a result
// that still arrives from one is dropped, so panels only see the newest request's results). Tasks without a
// slot are independent. Completions are skipped when their context object is gone. No string job kinds and
// no casts in feature code: the completion's type is the work's.
#include "engine/attribution/attribution.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/jobs.h"

#include <QObject>
#include <QPointer>
#include <QString>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace pellucid {

/// A newest-wins slot: a feature owns one per kind of request (decode, traversal, the main attribution…).
class TaskSlot {
public:
    explicit TaskSlot(const std::string &name);
    TaskSlot(const TaskSlot &) = delete;
    TaskSlot &operator=(const TaskSlot &) = delete;
    /// The engine's supersede key: the name made unique per slot object.
    const std::string &key() const { return mKey; }
    const std::string &name() const { return mName; }

private:
    std::string mName, mKey;
};

/// Optional parts of a task: partial results, failure and cancellation, all on the GUI thread.
template <class P>
struct TaskHooks {
    std::function<void(std::shared_ptr<const P>)> partial;
    std::function<void(const QString &message)> failed;   // besides the bridge's failed() signal (status bar)
    std::function<void()> cancelled;                      // superseded or cancelled
};

class EngineBridge : public QObject {
    Q_OBJECT
public:
    explicit EngineBridge(QObject *parent = nullptr);
    ~EngineBridge() override;

    /// Runs `work` on the engine thread; `done` gets its result on the GUI thread (see the file comment).
    template <class R, class P = R>
    quint64 run(TaskSlot *slot, QObject *context, std::function<std::shared_ptr<const R>(JobContext &)> work,
                std::function<void(std::shared_ptr<const R>)> done, TaskHooks<P> hooks = {})
    {
        Job job;
        job.work = [work = std::move(work)](JobContext &ctx) -> std::shared_ptr<const JobOutput> { return work(ctx); };
        return runJob<R, P>(slot, context, std::move(job), std::move(done), std::move(hooks));
    }

    /// An engine job made by one of the engine's factories (activationsJob, attributionJob, liveFrameJob…)
    /// whose final output is an R and whose partial outputs are P.
    template <class R, class P = R>
    quint64 runJob(TaskSlot *slot, QObject *context, Job job, std::function<void(std::shared_ptr<const R>)> done, TaskHooks<P> hooks = {})
    {
        Pending p;
        p.context = context;
        p.hasContext = context != nullptr;
        p.slotName = slot ? slot->name() : std::string();
        if (done)
            p.done = [this, done = std::move(done), name = p.slotName](const std::shared_ptr<const JobOutput> &o) {
                auto r = std::static_pointer_cast<const R>(o);
                if constexpr (std::is_same_v<R, AttributionResult>) emit attributionReady(name, r);
                done(r);
            };
        if (hooks.partial)
            p.partial = [this, partial = std::move(hooks.partial), name = p.slotName](const std::shared_ptr<const JobOutput> &o) {
                auto r = std::static_pointer_cast<const P>(o);
                if constexpr (std::is_same_v<P, AttributionResult>) emit attributionReady(name, r);
                partial(r);
            };
        p.failed = std::move(hooks.failed);
        p.cancelled = std::move(hooks.cancelled);
        job.kind = slot ? slot->key() : "task";
        job.supersede = slot != nullptr;
        return submit(std::move(job), std::move(p));
    }

    /// Loads a model into the engine's workspace under `id`; `done` gets its summary.
    quint64 loadModel(const QString &path, const LoadOptions &options, const std::string &id, QObject *context,
                      std::function<void(std::shared_ptr<const ModelSummary>)> done, std::function<void(const QString &)> failed = {});

    void cancel(quint64 generation);
    void cancelAll();
    bool busy() const { return !mRunning.empty(); }
    Engine &engine() { return *mEngine; }

signals:
    /// Every attribution result (partial or final) of a current task, before its completion runs; `slot` is
    /// the slot's name.
    void attributionReady(const std::string &slot, std::shared_ptr<const pellucid::AttributionResult> result);
    /// A current task failed: the message for the status bar.
    void failed(const QString &message);
    void progress(qint64 done, qint64 total, const QString &stage);
    void busyChanged(bool busy);

private:
    struct Pending {
        QPointer<QObject> context;
        bool hasContext = false;
        std::string slotName;
        std::function<void(const std::shared_ptr<const JobOutput> &)> done, partial;
        std::function<void(const QString &)> failed;
        std::function<void()> cancelled;
    };
    quint64 submit(Job job, Pending pending);
    void onEvent(const JobEvent &e);                               // GUI thread
    std::map<std::string, uint64_t> mLatest;                       // newest submitted generation per slot key
    std::map<uint64_t, Pending> mPending;                          // by generation
    std::set<uint64_t> mRunning;                                   // generations that started and have not ended
    std::map<std::string, std::unique_ptr<TaskSlot>> mLoadSlots;   // one per workspace model id
    std::unique_ptr<Engine> mEngine;
};

}   // namespace pellucid
