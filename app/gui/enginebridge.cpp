#include "app/gui/enginebridge.h"

#include <QMetaObject>

#include <atomic>

namespace pellucid {

TaskSlot::TaskSlot(const std::string &name) : mName(name)
{
    static std::atomic<uint64_t> next{1};
    mKey = name + "#" + std::to_string(next++);
}

EngineBridge::EngineBridge(QObject *parent) : QObject(parent)
{
    mEngine = std::make_unique<Engine>([this](const JobEvent &e) {
        // Worker thread: hand the event to the GUI thread. Dropped by Qt if the bridge is gone.
        QMetaObject::invokeMethod(
            this, [this, e] { onEvent(e); }, Qt::QueuedConnection);
    });
}

EngineBridge::~EngineBridge()
{
    mEngine.reset();   // joins the worker before the QObject goes away
}

quint64 EngineBridge::submit(Job job, Pending pending)
{
    const std::string kind = job.kind;
    const bool slotted = job.supersede;
    const uint64_t g = mEngine->submit(std::move(job));
    if (slotted) mLatest[kind] = g;
    mPending[g] = std::move(pending);
    return g;
}

quint64 EngineBridge::loadModel(const QString &path, const LoadOptions &options, const std::string &id, QObject *context,
                                std::function<void(std::shared_ptr<const ModelSummary>)> done, std::function<void(const QString &)> failed)
{
    // One load slot per workspace id: a newer load of the same id supersedes the older one.
    auto &slot = mLoadSlots[id];
    if (!slot) slot = std::make_unique<TaskSlot>("load:" + id);
    TaskHooks<ModelLoadedOutput> hooks;
    hooks.failed = std::move(failed);
    return runJob<ModelLoadedOutput>(
        slot.get(), context, loadModelJob(path.toStdString(), options, id),
        [done = std::move(done)](std::shared_ptr<const ModelLoadedOutput> out) { done(out->summary); }, std::move(hooks));
}

void EngineBridge::cancel(quint64 generation) { mEngine->cancel(generation); }
void EngineBridge::cancelAll() { mEngine->cancelAll(); }

void EngineBridge::onEvent(const JobEvent &e)
{
    auto it = mPending.find(e.generation);
    const auto latest = mLatest.find(e.kind);
    const bool stale = latest != mLatest.end() && e.generation < latest->second;
    // A completion whose context object was destroyed is skipped.
    const bool contextGone = it != mPending.end() && it->second.hasContext && it->second.context.isNull();
    switch (e.type) {
    case JobEvent::Type::Started:
        mRunning.insert(e.generation);
        if (mRunning.size() == 1) emit busyChanged(true);
        return;
    case JobEvent::Type::Progress:
        if (!stale) emit progress(e.done, e.total, QString::fromStdString(e.message));
        return;
    case JobEvent::Type::Partial:
        if (!stale && e.output && it != mPending.end() && it->second.partial && !contextGone) it->second.partial(e.output);
        return;
    case JobEvent::Type::Finished:
    case JobEvent::Type::Failed:
    case JobEvent::Type::Cancelled: break;
    }
    // Jobs dropped from the queue never started and were never counted.
    if (mRunning.erase(e.generation) && mRunning.empty()) emit busyChanged(false);
    Pending p;
    if (it != mPending.end()) {
        p = std::move(it->second);
        mPending.erase(it);
    }
    if (contextGone) return;
    if (e.type == JobEvent::Type::Cancelled) {
        if (p.cancelled) p.cancelled();
        return;
    }
    if (stale) return;
    if (e.type == JobEvent::Type::Failed) {
        const QString message = QString::fromStdString(e.message);
        if (p.failed) p.failed(message);
        emit failed(message);
        return;
    }
    if (p.done) p.done(e.output);
}

}   // namespace pellucid
