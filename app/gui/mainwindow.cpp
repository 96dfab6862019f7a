#include "app/gui/mainwindow.h"

#include "app/gui/enginebridge.h"
#include "app/gui/exportdialog.h"
#include "app/gui/feature.h"
#include "app/gui/features/activationsfeature.h"
#include "app/gui/features/attentionfeature.h"
#include "app/gui/features/diffusionfeature.h"
#include "app/gui/features/generationfeature.h"
#include "app/gui/features/attributionfeature.h"
#include "app/gui/features/comparefeature.h"
#include "app/gui/features/datasetfeature.h"
#include "app/gui/features/feedbackfeature.h"
#include "app/gui/features/figuresfeature.h"
#include "app/gui/features/inputfeature.h"
#include "app/gui/features/latentfeature.h"
#include "app/gui/features/modelfeature.h"
#include "app/gui/features/presentationfeature.h"
#include "app/gui/features/recommenderfeature.h"
#include "app/gui/workspace.h"
#include "app/io/livesource.h"
#include "widgets/activations/activationgrid.h"
#include "widgets/attribution/attributionpanel.h"
#include "widgets/input/inputpanel.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QStatusBar>
#include <QToolButton>

namespace pellucid {

template <class F, class... Args>
F *MainWindow::add(Args &&...args)
{
    F *f = new F(mWorkspace, this, std::forward<Args>(args)...);
    mFeatures.push_back(f);
    return f;
}

MainWindow::MainWindow(QWidget *parent) : QMainWindow(parent)
{
    setWindowTitle(tr("Pellucid"));
    setObjectName("PellucidMainWindow");
    setAcceptDrops(true);
    setDockNestingEnabled(true);
    resize(1280, 820);
    setCentralWidget(nullptr);
    mBridge = new EngineBridge(this);
    mWorkspace = new Workspace(mBridge, this);
    // The features, in the order they react to a new model (the input is re-read before the default layer
    // is chosen) and appear in the layout, the menus and sessions.
    mInput = add<InputFeature>();
    mModel = add<ModelFeature>();
    mActivations = add<ActivationsFeature>();
    mAttribution = add<AttributionFeature>();
    mRecommender = add<RecommenderFeature>();
    mDataset = add<DatasetFeature>();
    mLatent = add<LatentFeature>();
    mAttention = add<AttentionFeature>();
    mGeneration = add<GenerationFeature>();
    mDiffusion = add<DiffusionFeature>();
    mCompare = add<CompareFeature>();
    mLive = add<LiveFeature>(mInput->panel());
    mPresentation = add<PresentationFeature>();
    mFigures = add<FiguresFeature>(mInput->panel());
    mFeedback = add<FeedbackFeature>();
    resetLayout();
    buildStatusBar();
    buildMenus();

    // The window's signals: what the features show.
    connect(mActivations, &ActivationsFeature::activationsShown, this, &MainWindow::activationsShown);
    connect(mActivations, &ActivationsFeature::unitsShown, this, &MainWindow::classifierUnitsShown);
    connect(mAttribution, &AttributionFeature::attributionShown, this, &MainWindow::attributionShown);
    connect(mRecommender, &RecommenderFeature::recommenderShown, this, &MainWindow::recommenderShown);
    connect(mDataset, &DatasetFeature::datasetShown, this, &MainWindow::datasetShown);
    connect(mLatent, &LatentFeature::latentShown, this, &MainWindow::latentShown);
    connect(mAttention, &AttentionFeature::attentionShown, this, &MainWindow::attentionShown);
    connect(mCompare, &CompareFeature::compareShown, this, &MainWindow::compareShown);
    connect(mInput, &InputFeature::drawingApplied, this, &MainWindow::drawingApplied);
    connect(mLive, &LiveFeature::frameShown, this, &MainWindow::liveFrameShown);
    connect(mLive, &LiveFeature::ended, this, &MainWindow::liveEnded);
    connect(mPresentation, &PresentationFeature::presentationChanged, this, &MainWindow::presentationChanged);
    connect(mFigures, &FiguresFeature::composed, this, &MainWindow::composed);
    // Connected after every feature: they have reacted to the model when the window announces it.
    connect(mWorkspace, &Workspace::modelChanged, this, &MainWindow::onModel);

    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    // The saved layout is versioned by the set of docks: a layout saved before a dock existed is ignored
    // (restoring it would float or stack the docks it does not know).
    if (settings.value("window/docks").toInt() == kDockLayoutVersion) restoreState(settings.value("window/state").toByteArray());
}

MainWindow::~MainWindow() { mLive->stop(); }

void MainWindow::resetLayout()
{
    for (Feature *f : mFeatures)
        for (QDockWidget *d : f->docks()) {
            d->setFloating(false);
            d->show();
            removeDockWidget(d);
        }
    DockLayout layout(this);
    for (Feature *f : mFeatures) f->placeDocks(layout);
    for (Feature *f : mFeatures)
        for (QDockWidget *d : f->docks()) d->show();
    if (QDockWidget *first = layout.firstTab()) {
        first->raise();
        if (layout.firstLeft()) resizeDocks({layout.firstLeft(), first}, {380, 900}, Qt::Horizontal);
        if (layout.firstBelow()) resizeDocks({first, layout.firstBelow()}, {560, 220}, Qt::Vertical);
    }
}

void MainWindow::buildStatusBar()
{
    mDeviceLabel = new QLabel(tr("device: —"));
    mModelLabel = new QLabel(tr("no model"));
    mErrorLabel = new QLabel;
    mErrorLabel->setObjectName("errorLabel");
    mErrorLabel->setStyleSheet("color: #b00020;");
    mProgress = new QProgressBar;
    mProgress->setMaximumWidth(160);
    mProgress->setRange(0, 0);
    mProgress->hide();
    mCancel = new QToolButton;
    mCancel->setText(tr("Cancel"));
    mCancel->hide();
    statusBar()->addWidget(mErrorLabel, 1);
    statusBar()->addPermanentWidget(mModelLabel);
    statusBar()->addPermanentWidget(mDeviceLabel);
    statusBar()->addPermanentWidget(mProgress);
    statusBar()->addPermanentWidget(mCancel);
    connect(mCancel, &QToolButton::clicked, mBridge, &EngineBridge::cancelAll);
    connect(mBridge, &EngineBridge::busyChanged, this, [this](bool busy) {
        busy = busy && !mLive->running();   // live frames come and go many times a second: no flickering progress bar
        mProgress->setVisible(busy);
        mCancel->setVisible(busy);
    });
    connect(mBridge, &EngineBridge::progress, this, [this](qint64 done, qint64 total, const QString &stage) {
        mProgress->setRange(0, int(total));
        mProgress->setValue(int(done));
        if (!stage.isEmpty()) statusBar()->showMessage(stage, 3000);
    });
    connect(mBridge, &EngineBridge::failed, this, &MainWindow::showError);
    connect(mWorkspace, &Workspace::errorRaised, this, &MainWindow::showError);
    connect(mWorkspace, &Workspace::errorCleared, mErrorLabel, &QLabel::clear);
    connect(mWorkspace, &Workspace::statusMessage, this, [this](const QString &m, int ms) { statusBar()->showMessage(m, ms); });
    connect(mWorkspace, &Workspace::modelLoading, this,
            [this](const QString &path) { mModelLabel->setText(tr("loading %1…").arg(QFileInfo(path).fileName())); });
    // A failed load leaves the model that was there (or none), and the field says so.
    connect(mWorkspace, &Workspace::modelLoadFailed, this, [this](const QString &, const QString &) {
        const auto current = mWorkspace->model();
        mModelLabel->setText(current ? QString::fromStdString(current->fileName) : tr("no model"));
    });
}

void MainWindow::buildMenus()
{
    Menus menus;
    menus.file = menuBar()->addMenu(tr("&File"));
    menus.view = menuBar()->addMenu(tr("&View"));
    menus.help = menuBar()->addMenu(tr("&Help"));
    for (Feature *f : mFeatures) f->addActions(menus);
    QMenu *file = menus.file;
    file->addSeparator();
    file->addAction(tr("&Export figure…"), QKeySequence(tr("Ctrl+E")), this, [this] {
        ExportDialog dlg(figurePanels(), this);
        if (dlg.exec() != QDialog::Accepted || dlg.path().isEmpty()) return;
        try {
            const QStringList files = exportPanel(dlg.panel(), dlg.path(), dlg.settings(), dlg.rawData());
            statusBar()->showMessage(tr("Wrote %1").arg(files.join(", ")), 5000);
        } catch (const std::exception &e) {
            showError(QString::fromStdString(e.what()));
        }
    });
    file->addAction(tr("&Save session…"), QKeySequence::Save, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save session"), QString(), tr("Pellucid session (*.json)"));
        if (path.isEmpty()) return;
        try {
            saveSessionTo(path);
            statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
        } catch (const std::exception &e) {
            showError(QString::fromStdString(e.what()));
        }
    });
    file->addAction(tr("Open sess&ion…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open session"), QString(), tr("Pellucid session (*.json)"));
        if (!path.isEmpty()) openSession(path);
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    QList<QAction *> toggles;
    for (Feature *f : mFeatures)
        for (QDockWidget *d : f->docks()) toggles << d->toggleViewAction();
    menus.view->insertActions(menus.view->actions().value(0), toggles);
    menus.view->insertSeparator(menus.view->actions().value(toggles.size()));
    QAction *reset = menus.view->addAction(tr("&Reset layout"), this, &MainWindow::resetLayout);
    reset->setObjectName("resetLayoutAction");
    // Help → Examples: one session per bundled demo (model, inputs, panels and a composed figure).
    QMenu *examples = menus.help->addMenu(tr("&Examples"));
    examples->setObjectName("examplesMenu");
    for (const QString &path : exampleSessions()) {
        QString name = QFileInfo(path).completeBaseName();
        try {
            const Session s = loadSession(path);
            if (!s.name.isEmpty()) name = s.name;
        } catch (const std::exception &) {
            // listed by file name; opening it names the problem
        }
        QAction *a = examples->addAction(name, this, [this, path] { openExample(path); });
        a->setData(path);
    }
    if (examples->isEmpty()) examples->addAction(tr("(no example sessions found)"))->setEnabled(false);
    menus.help->addSeparator();
    menus.help->addAction(tr("&About Pellucid"), this, [this] {
        QMessageBox::about(this, tr("About Pellucid"), tr("Pellucid %1 — see inside neural networks.").arg(QApplication::applicationVersion()));
    });
}

void MainWindow::showError(const QString &message)
{
    mLastError = message;
    statusBar()->clearMessage();   // a temporary message ("loading …") would hide the error behind it
    mErrorLabel->setText(message);
    mErrorLabel->setToolTip(message);
    emit errorShown(message);
}

void MainWindow::onModel(std::shared_ptr<const ModelSummary> s)
{
    mModelLabel->setText(QString::fromStdString(s->fileName));
    mModelLabel->setToolTip(QString::fromStdString(s->path + "\n" + s->runtime));
    if (s->format != "torchscript")   // ONNX through OpenCV DNN: forward-only work
        mModelLabel->setText(tr("%1 (%2, forward only)").arg(QString::fromStdString(s->fileName), QString::fromStdString(s->format).toUpper()));
    mDeviceLabel->setText(s->precision == "fp32" ? tr("device: %1").arg(QString::fromStdString(s->device))
                                                 : tr("device: %1, %2").arg(QString::fromStdString(s->device), QString::fromStdString(s->precision)));
    setWindowTitle(tr("Pellucid — %1").arg(QString::fromStdString(s->fileName)));
    if (!s->precisionNote.empty()) showError(QString::fromStdString(s->precisionNote));
    emit modelReady();
    applyPendingSession();
}

QStringList MainWindow::figurePanels() const
{
    QStringList names;
    for (Feature *f : mFeatures)
        for (const auto &[name, source] : f->figures()) names << name;
    return names;
}

const FigureSource *MainWindow::figureSource(const QString &panel) const
{
    for (Feature *f : mFeatures)
        for (const auto &[name, source] : f->figures())
            if (name == panel) return source;
    return nullptr;
}

QStringList MainWindow::exportPanel(const QString &panel, const QString &path, const FigureSettings &settings, bool rawData)
{
    const FigureSource *source = figureSource(panel);
    if (!source) throw FigureError("Unknown panel '" + panel.toStdString() + "'");
    exportFigure(*source, path, settings);
    QStringList files{path};
    if (rawData) {
        const QFileInfo fi(path);
        files += source->writeRawData(fi.absolutePath() + "/" + fi.completeBaseName());
    }
    return files;
}

Session MainWindow::currentSession() const
{
    Session s;
    if (const auto m = mWorkspace->model()) s.modelPath = QString::fromStdString(m->path);
    for (Feature *f : mFeatures) f->saveSession(s);
    s.windowState = saveState();
    return s;
}

void MainWindow::saveSessionTo(const QString &path) { saveSession(currentSession(), path); }

void MainWindow::openSession(const QString &path)
{
    try {
        auto s = std::make_unique<Session>(loadSession(path));
        if (!s->warnings.isEmpty()) showError(s->warnings.join("; "));
        if (!QFileInfo::exists(s->modelPath)) {
            // The model is named in the warning; apply what does not need it.
            mFigures->restoreSession(*s);
            restoreState(s->windowState);
            emit sessionOpened();
            return;
        }
        mPendingSession = std::move(s);
        openModel(mPendingSession->modelPath);
    } catch (const std::exception &e) {
        showError(QString::fromStdString(e.what()));
    }
}

void MainWindow::openExample(const QString &path)
{
    openSession(path);
    statusBar()->showMessage(tr("Example %1 opened: File → Figure composer draws its figure").arg(QFileInfo(path).completeBaseName()), 8000);
}

void MainWindow::applyPendingSession()
{
    const std::unique_ptr<Session> s = std::move(mPendingSession);
    if (!s) return;
    if (!s->windowState.isEmpty()) restoreState(s->windowState);
    for (Feature *f : mFeatures) f->restoreSession(*s);
    emit sessionOpened();
}

void MainWindow::closeEvent(QCloseEvent *e)
{
    for (Feature *f : mFeatures) f->windowClosing();   // e.g. presentation mode ends: the working layout is saved
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    settings.setValue("window/docks", kDockLayoutVersion);
    QMainWindow::closeEvent(e);
}

void MainWindow::dragEnterEvent(QDragEnterEvent *e)
{
    if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent *e)
{
    for (const QUrl &url : e->mimeData()->urls()) {
        if (!url.isLocalFile()) continue;
        const QString p = url.toLocalFile();
        const QString suffix = QFileInfo(p).suffix().toLower();
        if (suffix == "pt" || suffix == "pth" || suffix == "ptl" || suffix == "zip")
            openModel(p);
        else
            openImage(p);
    }
}

// The scripting surface: each call goes to the workspace or the feature that owns it.
EngineBridge *MainWindow::bridge() const { return mBridge; }
void MainWindow::openModel(const QString &path) { mWorkspace->openModel(path); }
void MainWindow::openCompareModel(const QString &path) { mWorkspace->openCompareModel(path); }
void MainWindow::openImage(const QString &path) { mInput->openImage(path); }
void MainWindow::selectLayer(const QString &path) { mWorkspace->setLayer(path); }
void MainWindow::setSampleFolder(const QString &folder) { mInput->panel()->setSampleFolder(folder); }
void MainWindow::setText(const QString &text) { mInput->setText(text); }
void MainWindow::setDrawing(const QImage &image) { mInput->setDrawing(image); }
void MainWindow::setInputTensor(const TensorValue &input, const QString &name)
{
    mErrorLabel->clear();
    mWorkspace->setInput(input, InputOrigin::Tensor, QString(), {}, name);
}
void MainWindow::setDevice(DevicePreference device) { mModel->setDevice(device); }
void MainWindow::setModelRole(const QString &role) { mModel->setRole(role); }
void MainWindow::setThreads(int threads) { mModel->setThreads(threads); }
int MainWindow::threads() const { return mWorkspace->loadOptions().threads; }
void MainWindow::setPrecision(Precision p) { mModel->setPrecision(p); }
Precision MainWindow::precision() const { return mWorkspace->loadOptions().precision; }
std::shared_ptr<const ModelSummary> MainWindow::modelSummary() const { return mWorkspace->model(); }
TensorValue MainWindow::inputTensor() const { return mWorkspace->input(); }
QString MainWindow::currentLayer() const { return mWorkspace->layer(); }
QStringList MainWindow::currentTokens() const { return mWorkspace->tokens(); }
quint64 MainWindow::compose(const ComposerSpec &spec) { return mFigures->compose(spec); }
ComposerSpec MainWindow::composerSpec() const { return mFigures->spec(); }
AttributionParams MainWindow::attributionPanelParams() const { return mWorkspace->attributionParams(); }
void MainWindow::openDataset(const QString &path) { mDataset->openDataset(path); }
quint64 MainWindow::evaluateDataset() { return mDataset->evaluate(); }
quint64 MainWindow::projectDataset(const QString &method) { return mDataset->project(method); }
bool MainWindow::exportLatentAnimation(const QString &which, const QString &path) { return mLatent->exportAnimation(which, path); }
bool MainWindow::startLive(const QString &source, bool loop) { return mLive->start(source, loop); }
bool MainWindow::startLive(std::unique_ptr<LiveSource> source) { return mLive->start(std::move(source)); }
void MainWindow::stopLive() { mLive->stop(); }
void MainWindow::chooseCamera() { mLive->chooseCamera(); }
void MainWindow::setCameraSize(const QSize &size) { mLive->setCameraSize(size); }
QSize MainWindow::cameraSize() const { return mLive->cameraSize(); }
MainWindow::LiveStats MainWindow::liveStats() const { return mLive->stats(); }
bool MainWindow::liveRunning() const { return mLive->running(); }
void MainWindow::setPresentationMode(bool on) { mPresentation->setPresenting(on); }
bool MainWindow::presenting() const { return mPresentation->presenting(); }
void MainWindow::stepLayer(int delta) { mPresentation->stepLayer(delta); }
void MainWindow::stepChannel(int delta) { mWorkspace->stepChannel(delta); }
void MainWindow::scalePresentationFont(double factor) { mPresentation->scaleFont(factor); }
QWidget *MainWindow::pointerHighlight() const { return mPresentation->pointer(); }
LayerTree *MainWindow::layerTree() const { return mModel->tree(); }
InputPanel *MainWindow::inputPanel() const { return mInput->panel(); }
ActivationPanel *MainWindow::activationPanel() const { return mActivations->panel(); }
PredictionChart *MainWindow::predictionChart() const { return mActivations->prediction(); }
AttributionPanel *MainWindow::attributionPanel() const { return mAttribution->panel(); }
QDockWidget *MainWindow::attributionDock() const { return mAttribution->dock(); }
RecommenderPanel *MainWindow::recommenderPanel() const { return mRecommender->panel(); }
DatasetPanel *MainWindow::datasetPanel() const { return mDataset->panel(); }
LatentPanel *MainWindow::latentPanel() const { return mLatent->panel(); }
AttentionPanel *MainWindow::attentionPanel() const { return mAttention->panel(); }

}   // namespace pellucid
