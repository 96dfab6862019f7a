#include "app/gui/enginebridge.h"

#include <QMetaObject>

namespace pellucid {

EngineBridge::EngineBridge(QObject *parent) : QObject(parent)
{
    mEngine = std::make_unique<Engine>([this](const JobEvent &e) {
        // Worker thread: hand the event to the GUI thread. Dropped by Qt if the bridge is gone.
        QMetaObject::invokeMethod(this, [this, e] { onEvent(e); }, Qt::QueuedConnection);
    });
}

EngineBridge::~EngineBridge()
{
    mEngine.reset();   // joins the worker before the QObject goes away
}

quint64 EngineBridge::loadModel(const QString &path, DevicePreference device, const QString &role, int threads, Precision precision)
{
    LoadOptions o;
    o.precision = precision;
    o.device = device;
    o.threads = threads;
    o.role = role.toStdString();
    const uint64_t g = mEngine->submit(loadModelJob(path.toStdString(), o));
    mLatest["load"] = g;
    return g;
}

quint64 EngineBridge::requestActivations(const TensorValue &input, quint64 inputId, const QString &layer)
{
    const uint64_t g = mEngine->submit(activationsJob(input, inputId, layer.toStdString()));
    mLatest["activations"] = g;
    return g;
}

quint64 EngineBridge::requestAttribution(const TensorValue &input, quint64 inputId, const AttributionParams &params,
                                         const std::string &kind)
{
    Job job = attributionJob(input, inputId, params);
    job.kind = kind;
    const uint64_t g = mEngine->submit(std::move(job));
    mLatest[kind] = g;
    return g;
}

quint64 EngineBridge::submit(Job job)
{
    const std::string kind = job.kind;
    const uint64_t g = mEngine->submit(std::move(job));
    mLatest[kind] = g;
    return g;
}

void EngineBridge::cancel(quint64 generation) { mEngine->cancel(generation); }
void EngineBridge::cancelAll() { mEngine->cancelAll(); }

void EngineBridge::onEvent(const JobEvent &e)
{
    const QString kind = QString::fromStdString(e.kind);
    const bool stale = e.generation < mLatest[e.kind];
    switch (e.type) {
    case JobEvent::Type::Started:
        mRunning.insert(e.generation);
        if (mRunning.size() == 1) emit busyChanged(true);
        return;
    case JobEvent::Type::Progress:
        if (!stale) emit progress(e.generation, kind, e.done, e.total, QString::fromStdString(e.message));
        return;
    case JobEvent::Type::Partial:
        if (auto r = std::dynamic_pointer_cast<const AttributionResult>(e.output); r && !stale)
            emit attributionReady(e.kind, r);
        else if (auto a = std::dynamic_pointer_cast<const ActivationOutput>(e.output); a && !stale)
            emit activationsReady(a);   // a live frame's activations, ahead of its attribution
        else if (!stale && e.output)
            emit partialResult(e.generation, kind, e.output);
        return;
    case JobEvent::Type::Finished:
    case JobEvent::Type::Failed:
    case JobEvent::Type::Cancelled:
        break;
    }
    // Jobs dropped from the queue never started and were never counted.
    if (mRunning.erase(e.generation) && mRunning.empty()) emit busyChanged(false);
    if (e.type == JobEvent::Type::Cancelled) {
        emit jobCancelled(e.generation, kind);
        return;
    }
    if (e.type == JobEvent::Type::Failed) {
        if (!stale) emit jobFailed(e.generation, kind, QString::fromStdString(e.message));
        return;
    }
    if (stale) return;
    emit jobFinished(e.generation, kind, e.output);
    if (auto m = std::dynamic_pointer_cast<const ModelLoadedOutput>(e.output))
        emit modelLoaded(m->summary);
    else if (auto a = std::dynamic_pointer_cast<const ActivationOutput>(e.output))
        emit activationsReady(a);
    else if (auto r = std::dynamic_pointer_cast<const AttributionResult>(e.output))
        emit attributionReady(e.kind, r);
}

} // namespace pellucid
