#pragma once
// The main window: a list of features (app/gui/features/), each owning its docks, menu actions, session
// state and engine tasks, around one Workspace. The window lays the features' docks out, builds the menus
// and the View menu from them, saves and opens sessions through them, and shows status and errors. Its
// public methods are the application's scripting surface (main, the GUI tests, pellucid-bench), each
// forwarding to the feature that does the work.
#include "app/figures/composer.h"
#include "app/figures/session.h"
#include "app/gui/features/livefeature.h"
#include "engine/runtime/jobs.h"
#include "widgets/common/figure.h"

#include <QMainWindow>

#include <memory>
#include <vector>

class QLabel;
class QProgressBar;
class QToolButton;

namespace pellucid {

class ActivationPanel;
class AttentionPanel;
class AttributionPanel;
class DatasetPanel;
class EngineBridge;
class Feature;
class InputPanel;
class LatentPanel;
class LayerTree;
class LiveSource;
class PredictionChart;
class RecommenderPanel;
class Workspace;
class ModelFeature;
class InputFeature;
class ActivationsFeature;
class AttributionFeature;
class RecommenderFeature;
class DatasetFeature;
class LatentFeature;
class AttentionFeature;
class GenerationFeature;
class DiffusionFeature;
class CompareFeature;
class PresentationFeature;
class FiguresFeature;
class FeedbackFeature;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    Workspace *workspace() const { return mWorkspace; }
    EngineBridge *bridge() const;
    const std::vector<Feature *> &features() const { return mFeatures; }
    void resetLayout();

    // Models and inputs.
    void openModel(const QString &path);
    void openCompareModel(const QString &path);
    void openImage(const QString &path);
    void selectLayer(const QString &path);
    void setSampleFolder(const QString &folder);
    void setText(const QString &text);   // tokenized with the model's tokenizer, made the current input
    void setInputTensor(const TensorValue &input, const QString &name);
    void setDrawing(const QImage &image);      // as the same picture saved as PNG would be
    void setDevice(DevicePreference device);   // these reload the current model
    void setModelRole(const QString &role);
    void setThreads(int threads);
    int threads() const;
    void setPrecision(Precision p);
    Precision precision() const;
    std::shared_ptr<const ModelSummary> modelSummary() const;
    TensorValue inputTensor() const;
    QString currentLayer() const;
    QStringList currentTokens() const;
    QString lastError() const { return mLastError; }

    // Figures and sessions.
    QStringList figurePanels() const;
    const FigureSource *figureSource(const QString &panel) const;
    /// Exports a panel's figure (and, with `rawData`, its numbers beside it). Throws FigureError.
    QStringList exportPanel(const QString &panel, const QString &path, const FigureSettings &settings, bool rawData);
    Session currentSession() const;
    void saveSessionTo(const QString &path);   // throws SessionError
    void openSession(const QString &path);     // problems are shown; what can open, opens
    void openExample(const QString &path);     // Help → Examples: a bundled session
    quint64 compose(const ComposerSpec &spec);
    ComposerSpec composerSpec() const;
    AttributionParams attributionPanelParams() const;

    // Datasets and generators.
    void openDataset(const QString &path);
    quint64 evaluateDataset();
    quint64 projectDataset(const QString &method);
    bool exportLatentAnimation(const QString &which, const QString &path);

    // Live input and presentation mode.
    bool startLive(const QString &source, bool loop = false);
    bool startLive(std::unique_ptr<LiveSource> source);
    void stopLive();
    void chooseCamera();
    void setCameraSize(const QSize &size);
    QSize cameraSize() const;
    using LiveStats = LiveFeature::Stats;
    LiveStats liveStats() const;
    bool liveRunning() const;
    void setPresentationMode(bool on);
    bool presenting() const;
    void stepLayer(int delta);
    void stepChannel(int delta);
    void scalePresentationFont(double factor);
    QWidget *pointerHighlight() const;

    // The docks' panels.
    LayerTree *layerTree() const;
    InputPanel *inputPanel() const;
    ActivationPanel *activationPanel() const;
    PredictionChart *predictionChart() const;
    AttributionPanel *attributionPanel() const;
    QDockWidget *attributionDock() const;
    RecommenderPanel *recommenderPanel() const;
    DatasetPanel *datasetPanel() const;
    LatentPanel *latentPanel() const;
    ActivationsFeature *activations() const { return mActivations; }
    AttentionPanel *attentionPanel() const;
    CompareFeature *compareFeature() const { return mCompare; }
    FiguresFeature *figures() const { return mFigures; }
    FeedbackFeature *feedback() const { return mFeedback; }
    GenerationFeature *generation() const { return mGeneration; }
    DiffusionFeature *diffusion() const { return mDiffusion; }

signals:
    void modelReady();
    void activationsShown();
    void classifierUnitsShown();
    void attributionShown(const QString &kind, bool partial);
    void errorShown(const QString &message);
    void sessionOpened();
    void recommenderShown(const QString &what);   // "loaded", "top", "influence"
    void datasetShown(const QString &what);       // "evaluated", "projected", "faithfulness", "sanity"
    void latentShown(const QString &what);        // "decoded", "traversal", "interpolation", …
    void attentionShown(const QString &what);     // "sites", "attention", "tokens"
    void compareShown();
    void drawingApplied();
    void liveFrameShown(quint64 frameIndex);
    void liveEnded();
    void presentationChanged(bool on);
    void composed(std::shared_ptr<const pellucid::ComposedFigure> figure);

protected:
    void closeEvent(QCloseEvent *) override;
    void dragEnterEvent(QDragEnterEvent *) override;
    void dropEvent(QDropEvent *) override;

private:
    template <class F, class... Args>
    F *add(Args &&...args);
    void buildMenus();
    void buildStatusBar();
    void showError(const QString &message);
    void onModel(std::shared_ptr<const ModelSummary> summary);
    void applyPendingSession();

    EngineBridge *mBridge;
    Workspace *mWorkspace;
    std::vector<Feature *> mFeatures;
    ModelFeature *mModel;
    InputFeature *mInput;
    ActivationsFeature *mActivations;
    AttributionFeature *mAttribution;
    RecommenderFeature *mRecommender;
    DatasetFeature *mDataset;
    LatentFeature *mLatent;
    AttentionFeature *mAttention;
    GenerationFeature *mGeneration;
    DiffusionFeature *mDiffusion;
    CompareFeature *mCompare;
    LiveFeature *mLive;
    PresentationFeature *mPresentation;
    FiguresFeature *mFigures;
    FeedbackFeature *mFeedback;
    QLabel *mDeviceLabel, *mModelLabel, *mErrorLabel;
    QProgressBar *mProgress;
    QToolButton *mCancel;
    QString mLastError;
    std::unique_ptr<Session> mPendingSession;
};

}   // namespace pellucid
