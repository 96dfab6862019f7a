#pragma once
// The main window: a wiring table between the engine bridge and the dock panels.
#include "app/figures/composer.h"
#include "app/figures/session.h"
#include "engine/runtime/jobs.h"
#include "engine/recommender/recommender.h"
#include "widgets/common/figure.h"

#include <QFont>
#include <QMainWindow>
#include <functional>
#include <map>
#include <chrono>
#include <QElapsedTimer>
#include <QSize>

#include <memory>

class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;
class QToolButton;

class QTimer;

namespace pellucid {

class LiveSource;
struct AttentionOutput;

class ActivationPanel;
class DatasetPanel;
class LatentPanel;
class AttentionPanel;
struct LatentCompanions;
class Dataset;
class RecommenderPanel;
class AttributionPanel;
class EngineBridge;
class InputPanel;
class LayerTree;
class PredictionChart;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    void openModel(const QString &path);
    void openImage(const QString &path);
    void selectLayer(const QString &path);
    void resetLayout();
    void setSampleFolder(const QString &folder);
    /// Where models run; reloads the current model on the new device.
    void setDevice(DevicePreference device);
    /// The model's role as the user chose it ("" follows the metadata); reloads the current model.
    void setModelRole(const QString &role);
    /// CPU threads for torch (0: every core); reloads the current model.
    void setThreads(int threads);
    int threads() const { return mThreads; }

    /// Panels that export figures: "attribution" (main view or compare grid), "activations", "channel",
    /// "histogram", "prediction".
    QStringList figurePanels() const;
    const FigureSource *figureSource(const QString &panel) const;
    /// Exports a panel's figure (and, with `rawData`, its numbers beside it). Throws FigureError.
    QStringList exportPanel(const QString &panel, const QString &path, const FigureSettings &settings, bool rawData);

    /// Everything a figure depends on, and back. Opening loads the model, then applies the rest.
    Session currentSession() const;
    void saveSessionTo(const QString &path);   // throws SessionError
    void openSession(const QString &path);     // problems are shown; what can open, opens
    /// The composer: runs in the engine; `composed` delivers the figure.
    quint64 compose(const ComposerSpec &spec);
    ComposerSpec composerSpec() const { return mComposer; }
    AttributionParams attributionPanelParams() const;

    EngineBridge *bridge() const { return mBridge; }
    LayerTree *layerTree() const { return mLayers; }
    ActivationPanel *activationPanel() const { return mActivations; }
    PredictionChart *predictionChart() const { return mPrediction; }
    AttributionPanel *attributionPanel() const { return mAttribution; }
    RecommenderPanel *recommenderPanel() const { return mRecommender; }
    DatasetPanel *datasetPanel() const { return mDataset; }
    LatentPanel *latentPanel() const { return mLatent; }
    AttentionPanel *attentionPanel() const { return mAttentionPanel; }
    /// Tokenizes a text with the model's tokenizer and makes it the current input.
    void setText(const QString &text);
    QStringList currentTokens() const { return mTokens; }
    /// Opens a labelled dataset (class folders, IDX or CSV) in the Dataset dock; problems are shown.
    void openDataset(const QString &path);
    quint64 evaluateDataset();
    quint64 projectDataset(const QString &method);
    /// Makes a tensor the current input of every panel (a dataset item, a drawn image, ...).
    void setInputTensor(const TensorValue &input, const QString &name);
    /// A drawing from the Input dock's canvas becomes the input (as the same picture saved as PNG would).
    void setDrawing(const QImage &image);
    /// Writes the Latent dock's traversal (one frame per step, dimensions stacked) or interpolation as a GIF
    /// or MP4; false with the problem shown when there is nothing to write or the writer fails.
    bool exportLatentAnimation(const QString &which, const QString &path);
    /// Live input (app/livemode.cpp): "camera:N" or a video file; false with the problem shown.
    bool startLive(const QString &source, bool loop = false);
    /// Any live source (tests: a camera stand-in that disappears mid-stream).
    bool startLive(std::unique_ptr<LiveSource> source);
    /// The capture size asked of cameras (empty: the camera's default); File → Live input → Camera… sets it.
    void setCameraSize(const QSize &size) { mCameraSize = size; }
    /// Precision of forward-only work (remembered); reloads the current model, which checks it.
    void setPrecision(Precision p);
    Precision precision() const { return mPrecision; }
    void chooseCamera();   // the camera dialog, then startLive
    QSize cameraSize() const { return mCameraSize; }
    void stopLive();
    struct LiveStats {
        quint64 produced = 0, dropped = 0, shown = 0, lastShownFrame = 0;
        double fps = 0, latencyMs = 0;
    };
    LiveStats liveStats() const { return mLiveStats; }
    bool liveRunning() const { return mLive != nullptr; }
    /// Presentation mode (app/presentation.cpp): full screen, large fonts, the presenter's panels, keys for
    /// layers and channels, a pointer highlight; its layout is kept apart from the working one.
    void setPresentationMode(bool on);
    bool presenting() const { return mPresenting; }
    void stepLayer(int delta);
    void stepChannel(int delta);
    void scalePresentationFont(double factor);
    QWidget *pointerHighlight() const { return mPointer; }
    TensorValue inputTensor() const { return mInputTensor; }
    QDockWidget *attributionDock() const { return mAttributionDock; }
    InputPanel *inputPanel() const { return mInput; }
    QString lastError() const { return mLastError; }
    std::shared_ptr<const ModelSummary> modelSummary() const { return mSummary; }
    QString currentLayer() const { return mLayer; }

signals:
    void modelReady();
    void activationsShown();
    void attributionShown(const QString &kind, bool partial);
    void errorShown(const QString &message);
    void sessionOpened();
    void recommenderShown(const QString &what);   // "loaded", "top", "influence"
    void datasetShown(const QString &what);       // "evaluated", "projected", "faithfulness", "sanity"
    void latentShown(const QString &what);        // "decoded", "traversal", "interpolation"
    void attentionShown(const QString &what);     // "sites", "attention", "tokens"
    void drawingApplied();
    void liveFrameShown(quint64 frameIndex);
    void liveEnded();
    void presentationChanged(bool on);
    void composed(std::shared_ptr<const pellucid::ComposedFigure> figure);

protected:
    void closeEvent(QCloseEvent *) override;
    bool eventFilter(QObject *watched, QEvent *event) override;
    void dragEnterEvent(QDragEnterEvent *) override;
    void dropEvent(QDropEvent *) override;

private:
    QDockWidget *addPanel(const QString &title, const QString &objectName, QWidget *content);
    void buildMenus();
    void updateRecentMenu();
    void showError(const QString &message);
    void requestActivations();
    void requestAttributions();
    void onModelLoaded(std::shared_ptr<const ModelSummary> summary);
    void onActivations(std::shared_ptr<const ActivationOutput> out);
    void showActivations(std::shared_ptr<const ActivationOutput> out);
    std::shared_ptr<const ActivationOutput> mHiddenActivations;   // for the Activations dock when it shows again

    EngineBridge *mBridge;
    LayerTree *mLayers;
    InputPanel *mInput;
    ActivationPanel *mActivations;
    PredictionChart *mPrediction;
    AttributionPanel *mAttribution;
    RecommenderPanel *mRecommender;
    DatasetPanel *mDataset;
    LatentPanel *mLatent;
    QDockWidget *mLatentDock;
    QDockWidget *mDatasetDock;
    std::shared_ptr<const Dataset> mDatasetData;
    QDockWidget *mModelDock, *mInputDock, *mActivationsDock, *mPredictionDock, *mAttributionDock, *mRecommenderDock;
    std::shared_ptr<const MFModel> mMF;
    std::shared_ptr<const InteractionData> mRecData;
    QMenu *mRecentMenu = nullptr;
    QMenu *mViewMenu = nullptr;
    QLabel *mDeviceLabel, *mModelLabel, *mErrorLabel;
    QProgressBar *mProgress;
    QToolButton *mCancel;

    std::shared_ptr<const ModelSummary> mSummary;
    TensorValue mInputTensor;
    QString mImagePath;
    QString mLayer;
    quint64 mInputId = 0;
    QString mLastError;
    QByteArray mDefaultState;
    ComposerSpec mComposer;
    std::unique_ptr<Session> mPendingSession;
    void applyPendingSession();
    // The Latent dock's tabs (app/latenttabs.cpp).
    void wireLatentTabs();
    void findLatentCompanions();
    std::shared_ptr<LatentCompanions> mCompanions;
    QString mCompanionClassifier, mCompanionEncoder;
    // The Attention dock (app/attentionwiring.cpp).
    void wireAttention();
    void checkAttention();
    void requestAttention();
    void showAttention(std::shared_ptr<const AttentionOutput> r);
    AttentionPanel *mAttentionPanel;
    QDockWidget *mAttentionDock;
    bool mHasAttention = false;
    quint64 mAttentionFor = ~quint64(0);
    QStringList mTokens;   // the current text input's tokens (empty for images)
    // Live mode (app/livemode.cpp).
    void liveTick();
    void wireLive();
    void liveResultShown(quint64 inputId);
    /// In live mode results wait for the live timer, newest per panel replacing older ones, so panels
    /// repaint on one timer rather than on every result signal; false (show now) when not live.
    bool deferToLiveTimer(const QString &panel, quint64 inputId, bool final, std::function<void()> show);
    bool applyLiveResults();   // false when nothing was waiting
    void submitLiveFrame();
    struct LivePending {
        quint64 inputId;
        bool final;
        std::function<void()> show;
    };
    std::map<QString, LivePending> mLivePending;
    QString mLiveKind;        // the job kind whose final result completes a frame ("activations" or an attribution kind)
    quint64 mLiveGeneration = 0;
    QSize mCameraSize;
    QImage mLiveImage;   // the frame now in the panels (the attention overlay's picture)
    Precision mPrecision = Precision::Float32;
    std::unique_ptr<LiveSource> mLive;
    QTimer *mLiveTimer = nullptr;
    quint64 mLiveInFlight = 0;
    struct LiveFrameInfo {
        quint64 index;
        std::chrono::steady_clock::time_point captured;
    };
    std::map<quint64, LiveFrameInfo> mLiveFrames;
    LiveStats mLiveStats;
    QElapsedTimer mLiveClock;
    // Presentation mode.
    bool mPresenting = false;
    QByteArray mWorkingState;
    QFont mWorkingFont;
    QWidget *mPointer = nullptr;
    static int kDockLayoutVersionForPresentation();
    DevicePreference mDevice = DevicePreference::Auto;
    QString mRole;
    int mThreads = 0;
};

} // namespace pellucid
