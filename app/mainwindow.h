#pragma once
// The main window: a wiring table between the engine bridge and the dock panels.
#include "engine/jobs.h"
#include "widgets/figure.h"

#include <QMainWindow>

#include <memory>

class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;
class QToolButton;

namespace pellucid {

class ActivationPanel;
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

    /// Panels that export figures: "attribution", "activations", "prediction".
    QStringList figurePanels() const;
    const FigureSource *figureSource(const QString &panel) const;
    /// Exports a panel's figure (and, with `rawData`, its numbers beside it). Throws FigureError.
    QStringList exportPanel(const QString &panel, const QString &path, const FigureSettings &settings, bool rawData);

    EngineBridge *bridge() const { return mBridge; }
    LayerTree *layerTree() const { return mLayers; }
    ActivationPanel *activationPanel() const { return mActivations; }
    PredictionChart *predictionChart() const { return mPrediction; }
    AttributionPanel *attributionPanel() const { return mAttribution; }
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

protected:
    void closeEvent(QCloseEvent *) override;
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

    EngineBridge *mBridge;
    LayerTree *mLayers;
    InputPanel *mInput;
    ActivationPanel *mActivations;
    PredictionChart *mPrediction;
    AttributionPanel *mAttribution;
    QDockWidget *mModelDock, *mInputDock, *mActivationsDock, *mPredictionDock, *mAttributionDock;
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
    DevicePreference mDevice = DevicePreference::Auto;
};

} // namespace pellucid
