#pragma once
// The QObject bridge: engine events (worker thread) become queued signals on the GUI thread. Results of
// superseded generations are dropped here, so panels only ever see the newest request's results.
#include "engine/attribution/attribution.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/jobs.h"

#include <QObject>
#include <QString>

#include <map>
#include <memory>
#include <set>

namespace pellucid {

class EngineBridge : public QObject {
    Q_OBJECT
public:
    explicit EngineBridge(QObject *parent = nullptr);
    ~EngineBridge() override;

    quint64 loadModel(const QString &path, DevicePreference device = DevicePreference::Auto, const QString &role = {}, int threads = 0,
                      Precision precision = Precision::Float32);
    quint64 requestActivations(const TensorValue &input, quint64 inputId, const QString &layer);
    /// `kind` names the request's slot: a newer request of the same kind supersedes it.
    quint64 requestAttribution(const TensorValue &input, quint64 inputId, const AttributionParams &params,
                               const std::string &kind);
    /// Any job (e.g. the composer's); its output arrives through jobFinished.
    quint64 submit(Job job);
    void cancel(quint64 generation);
    void cancelAll();
    bool busy() const { return !mRunning.empty(); }
    Engine &engine() { return *mEngine; }

signals:
    void modelLoaded(std::shared_ptr<const pellucid::ModelSummary> summary);
    void activationsReady(std::shared_ptr<const pellucid::ActivationOutput> output);
    /// Partial (refining) and final attribution results of the newest request of `kind`.
    void attributionReady(const std::string &kind, std::shared_ptr<const pellucid::AttributionResult> result);
    void jobFinished(quint64 generation, const QString &kind, std::shared_ptr<const pellucid::JobOutput> output);
    /// Partial results of other job kinds (e.g. a projection's embedding while it iterates).
    void partialResult(quint64 generation, const QString &kind, std::shared_ptr<const pellucid::JobOutput> output);
    void jobFailed(quint64 generation, const QString &kind, const QString &message);
    void jobCancelled(quint64 generation, const QString &kind);
    void progress(quint64 generation, const QString &kind, qint64 done, qint64 total, const QString &stage);
    void busyChanged(bool busy);

private:
    void onEvent(const JobEvent &e);   // GUI thread
    std::map<std::string, uint64_t> mLatest;   // newest submitted generation per kind
    std::set<uint64_t> mRunning;              // generations that started and have not ended
    std::unique_ptr<Engine> mEngine;
};

} // namespace pellucid
