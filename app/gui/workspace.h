#pragma once
// What every feature of the window shares and reacts to: the models loaded in the engine (the main one and
// the one compared with it), the current input with its id, the selected layer, the open dataset, the
// attribution parameters of the Attribution dock, and the results several docks show (activations and
// attributions). Features never call each other; they call the workspace and listen to its signals.
#include "engine/attribution/attribution.h"
#include "engine/runtime/jobs.h"

#include <QImage>
#include <QObject>
#include <QStringList>

#include <functional>
#include <memory>

namespace pellucid {

class Dataset;
class EngineBridge;

/// Where an input came from: features decide what to recompute (live frames have their own job; a text's
/// explanation is the Attention dock's token attributions, not the Attribution dock's).
enum class InputOrigin { File, Tensor, Drawing, Text, Live };

class Workspace : public QObject {
    Q_OBJECT
public:
    explicit Workspace(EngineBridge *bridge, QObject *parent = nullptr);
    EngineBridge *bridge() const { return mBridge; }

    // Models. Loading options apply to every later load (and reload the current model when changed).
    void openModel(const QString &path);
    void reloadModel();
    std::shared_ptr<const ModelSummary> model() const { return mModel; }
    bool hasModel() const { return mModel != nullptr; }
    /// The main model's role: generator / decoder / conditional_generator models take codes, not images.
    bool isGenerator() const;
    bool isRecommender() const;
    LoadOptions loadOptions() const { return mOptions; }
    void setLoadOptions(const LoadOptions &options, bool reload);
    void openCompareModel(const QString &path);
    void closeCompareModel();
    std::shared_ptr<const ModelSummary> compareModel() const { return mCompare; }

    // The current input.
    /// `name` is what the Input dock shows for a tensor without a file (a dataset item's name).
    void setInput(const TensorValue &tensor, InputOrigin origin, const QString &imagePath = {}, const QStringList &tokens = {},
                  const QString &name = {});
    /// A picture that is not the model's input (a generator's: the input of its encoder and counterfactual).
    void setImagePath(const QString &path) { mImagePath = path; }
    QString inputName() const { return mInputName; }
    const TensorValue &input() const { return mInput; }
    quint64 inputId() const { return mInputId; }
    quint64 nextInputId() const { return mInputId + 1; }
    InputOrigin inputOrigin() const { return mOrigin; }
    QString imagePath() const { return mImagePath; }
    QStringList tokens() const { return mTokens; }
    /// The picture of the current live frame (overlays of live results are drawn on it).
    void setLiveFrame(const QImage &frame) { mLiveFrame = frame; }
    QImage liveFrame() const { return mLiveFrame; }

    /// `force`: announce it even when unchanged (a new model's default layer).
    void setLayer(const QString &layer, bool force = false);
    QString layer() const { return mLayer; }

    void setDataset(std::shared_ptr<const Dataset> data);
    std::shared_ptr<const Dataset> dataset() const { return mDataset; }

    /// The Attribution dock's current parameters (dataset workflows and the comparison use them), and its
    /// views' requests (empty while the dock is hidden).
    using Requests = std::vector<std::pair<std::string, AttributionParams>>;
    void setAttributionSources(std::function<AttributionParams()> params, std::function<Requests()> requests)
    {
        mParams = std::move(params);
        mRequests = std::move(requests);
    }
    AttributionParams attributionParams() const { return mParams ? mParams() : AttributionParams(); }
    Requests attributionRequests() const { return mRequests ? mRequests() : Requests(); }
    /// Asks the docks to recompute for the current input (live mode's superpixel methods, its extra views).
    void requestActivations() { emit activationsWanted(); }
    void requestAttributions(bool skipMainView = false) { emit attributionsWanted(skipMainView); }

    // Results several docks show.
    void publishActivations(std::shared_ptr<const ActivationOutput> out) { emit activationsArrived(std::move(out)); }
    void publishAttribution(const std::string &view, std::shared_ptr<const AttributionResult> r) { emit attributionArrived(view, std::move(r)); }

    /// Live mode holds results until its timer shows them all together: `show` runs now, or later when a
    /// presenter (the live feature) takes it. `panel` names the result's place; newer results replace older.
    using Presenter = std::function<bool(const QString &panel, quint64 inputId, bool final, std::function<void()> show)>;
    void setPresenter(Presenter p) { mPresenter = std::move(p); }
    void present(const QString &panel, quint64 inputId, bool final, std::function<void()> show);
    bool live() const { return mLive; }
    void setLive(bool on) { mLive = on; }

    void showError(const QString &message) { emit errorRaised(message); }
    void clearError() { emit errorCleared(); }
    void showStatus(const QString &message, int ms = 5000) { emit statusMessage(message, ms); }
    /// Presentation keys: the Activations dock moves its channel selection.
    void stepChannel(int delta) { emit channelStepRequested(delta); }

    // Going back to an annotated item (the Feedback dock): the Input dock opens the image, the Attribution
    // dock takes the parameters.
    void requestImage(const QString &path) { emit imageRequested(path); }
    void requestAttributionParams(const AttributionParams &params) { emit attributionParamsRequested(params); }
    /// A rating (1–5) of the generated sample on show: `source` "latent" or "generation", `sample` what it
    /// is as JSON (the code, the prompt and text); the Feedback dock stores it.
    void rateSample(const QString &source, int rating, const QString &sample) { emit sampleRated(source, rating, sample); }

signals:
    void modelLoading(const QString &path);
    /// Loading `path` failed (the engine bridge reported `message`); the previous model, if any, stays.
    void modelLoadFailed(const QString &path, const QString &message);
    void modelChanged(std::shared_ptr<const pellucid::ModelSummary> summary);
    void compareModelChanged(std::shared_ptr<const pellucid::ModelSummary> summary);   // nullptr: closed
    void inputChanged(pellucid::InputOrigin origin);
    void layerChanged(const QString &layer);
    void datasetChanged();
    void activationsArrived(std::shared_ptr<const pellucid::ActivationOutput> out);
    void attributionArrived(const std::string &view, std::shared_ptr<const pellucid::AttributionResult> result);
    void errorRaised(const QString &message);
    void errorCleared();
    void statusMessage(const QString &message, int ms);
    void channelStepRequested(int delta);
    void activationsWanted();
    void attributionsWanted(bool skipMainView);
    void imageRequested(const QString &path);
    void attributionParamsRequested(const pellucid::AttributionParams &params);
    void sampleRated(const QString &source, int rating, const QString &sample);

private:
    EngineBridge *mBridge;
    LoadOptions mOptions;
    std::shared_ptr<const ModelSummary> mModel, mCompare;
    TensorValue mInput;
    quint64 mInputId = 0;
    InputOrigin mOrigin = InputOrigin::File;
    QString mImagePath, mLayer, mInputName;
    QStringList mTokens;
    QImage mLiveFrame;
    std::shared_ptr<const Dataset> mDataset;
    std::function<AttributionParams()> mParams;
    std::function<Requests()> mRequests;
    Presenter mPresenter;
    bool mLive = false;
};

}   // namespace pellucid
