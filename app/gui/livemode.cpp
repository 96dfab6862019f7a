// Live mode: a camera or video file streams into every open panel. One GUI timer drives it: when the
// previous frame's results are on screen it takes the newest frame (older ones are dropped by the source,
// never queued), makes it the input of every panel, and shows frame rate and capture-to-screen latency.
#include "app/gui/mainwindow.h"

#include "app/gui/enginebridge.h"
#include "app/io/imageinput.h"
#include "app/io/livesource.h"
#include "engine/attribution/attribution.h"
#include "engine/core/errors.h"
#include "widgets/attribution/attributionpanel.h"
#include "widgets/input/cameradialog.h"
#include "widgets/input/inputpanel.h"

#include <QDockWidget>
#include <QLabel>
#include <QSettings>
#include <QStatusBar>
#include <QTimer>

namespace pellucid {

bool MainWindow::startLive(const QString &source, bool loop)
{
    if (!mSummary) {
        showError(tr("Open a model before starting live input"));
        return false;
    }
    std::unique_ptr<LiveSource> live;
    try {
        if (source.startsWith("camera:")) live = LiveSource::openCamera(source.mid(7).toInt(), mCameraSize.width(), mCameraSize.height());
        else live = LiveSource::openVideo(source.toStdString(), loop);
    } catch (const std::exception &e) {
        showError(QString::fromStdString(e.what()));
        return false;
    }
    return startLive(std::move(live));
}

bool MainWindow::startLive(std::unique_ptr<LiveSource> source)
{
    stopLive();
    if (!mSummary || !source) {
        showError(tr("Open a model before starting live input"));
        return false;
    }
    mLive = std::move(source);
    // The model's input tensor is made on the capture thread: the GUI thread only shows results.
    mLive->setPrepare([spec = mSummary->metadata.input, shape = mSummary->inputShape](LiveFrame &f) {
        f.tensor = bgrToTensor(f.bgr.data(), f.width, f.height, spec, shape);
    });
    mLiveStats = LiveStats();
    mLiveInFlight = 0;
    mLiveFrames.clear();
    mLiveClock.start();
    if (!mLiveTimer) {
        mLiveTimer = new QTimer(this);
        mLiveTimer->setInterval(5);
        connect(mLiveTimer, &QTimer::timeout, this, &MainWindow::liveTick);
    }
    mLiveTimer->start();
    mInput->setLiveControls(true, mLive->seekable());
    statusBar()->showMessage(tr("live: %1").arg(QString::fromStdString(mLive->description())));
    return true;
}

void MainWindow::chooseCamera()
{
    QList<CameraDialog::Device> devices;
    for (const CameraInfo &c : LiveSource::cameras()) devices.push_back({c.index, QString::fromStdString(c.name)});
    QSettings settings;
    CameraDialog dialog(devices, settings.value("live/camera", 0).toInt(), settings.value("live/cameraSize").toSize(), this);
    if (dialog.exec() != QDialog::Accepted || !dialog.acceptable()) return;
    settings.setValue("live/camera", dialog.device());
    settings.setValue("live/cameraSize", dialog.size());
    mCameraSize = dialog.size();
    startLive(QString("camera:%1").arg(dialog.device()));
}

void MainWindow::stopLive()
{
    if (mLiveTimer) mLiveTimer->stop();
    if (mLive) {
        mLiveStats.produced = mLive->produced();
        mLiveStats.dropped = mLive->dropped();
    }
    mLive.reset();
    mLiveInFlight = 0;
    applyLiveResults();   // what arrived for the last frame is shown
    mInput->setLiveControls(false, false);
}

void MainWindow::wireLive()
{
    mCameraSize = QSettings().value("live/cameraSize").toSize();
    connect(mInput, &InputPanel::livePauseToggled, this, [this](bool p) { if (mLive) mLive->setPaused(p); });
    connect(mInput, &InputPanel::liveSeekRequested, this, [this](double f) { if (mLive) mLive->seek(f); });
    connect(mInput, &InputPanel::liveStopRequested, this, [this] { stopLive(); });
    connect(mBridge, &EngineBridge::jobCancelled, this, [this](quint64 generation, const QString &) {
        if (mLive && generation == mLiveGeneration) mLiveInFlight = 0;   // superseded (e.g. a new method): the next frame goes on
    });
}

void MainWindow::liveTick()
{
    if (!mLive) return;
    // One piece of GUI work per tick, so a paint comes between them: either the newest results go to the
    // panels, or the next frame goes to the engine.
    if (applyLiveResults()) return;
    mLiveStats.produced = mLive->produced();
    mLiveStats.dropped = mLive->dropped();
    if (mLiveInFlight) return;   // the previous frame's results are not on screen yet
    LiveFrame f;
    if (!mLive->take(f)) {
        if (mLive->finished()) {
            const std::string err = mLive->error();
            if (!err.empty()) showError(QString::fromStdString(err));   // e.g. a camera unplugged mid-stream
            statusBar()->showMessage(tr("live input ended: %1 frames, %2 shown, %3 dropped").arg(mLiveStats.produced).arg(mLiveStats.shown).arg(mLiveStats.dropped));
            stopLive();
            emit liveEnded();
        }
        return;
    }
    try {
        if (!f.prepareError.empty()) throw std::runtime_error(f.prepareError);
        const TensorValue t = f.tensor.numel() ? std::move(f.tensor)   // made on the capture thread
                                               : bgrToTensor(f.bgr.data(), f.width, f.height, mSummary->metadata.input, mSummary->inputShape);
        mInputTensor = t;
        mImagePath.clear();
        mTokens.clear();
        ++mInputId;
        mLiveFrames[mInputId] = {f.index, f.captured};
        while (mLiveFrames.size() > 64) mLiveFrames.erase(mLiveFrames.begin());
        mLiveInFlight = mInputId;
        submitLiveFrame();   // first: the engine starts while the GUI shows the frame
        mAttribution->setInput(t, mInputId);
        const QImage frame = QImage(f.bgr.data(), f.width, f.height, f.width * 3, QImage::Format_RGB888).rgbSwapped();
        mInput->setLivePosition(mLive->position());
        mInput->showImage(QString::fromStdString(mLive->description()), frame);
        mLiveImage = frame;
    } catch (const std::exception &e) {
        showError(QString::fromStdString(e.what()));
        stopLive();
    }
}

void MainWindow::submitLiveFrame()
{
    // One engine job per frame: activations and prediction, and the main attribution view's map from the
    // same forward pass where the method allows (engine/attribution.h, computeLiveFrame). Comparison views
    // and LIME / KernelSHAP (which need superpixels) go through the usual requests.
    auto requests = mAttributionDock->isVisible() ? mAttribution->requests() : std::vector<std::pair<std::string, AttributionParams>>{};
    const bool surrogate = !requests.empty() && usesSuperpixels(requests.front().second.method);
    if (surrogate) {
        mLiveKind = QString::fromStdString(requests.front().first);
        mLiveGeneration = 0;
        requestActivations();
        requestAttributions();
        return;
    }
    const AttributionParams *main = requests.empty() ? nullptr : &requests.front().second;
    mLiveKind = requests.empty() ? QStringLiteral("activations") : QString::fromStdString(requests.front().first);
    mLiveGeneration = mBridge->submit(liveFrameJob(mInputTensor, mInputId, mLayer.toStdString(), main, mLiveKind.toStdString()));
    for (size_t i = 1; i < requests.size(); ++i) mBridge->requestAttribution(mInputTensor, mInputId, requests[i].second, requests[i].first);
    requestAttention();
}

bool MainWindow::deferToLiveTimer(const QString &panel, quint64 inputId, bool final, std::function<void()> show)
{
    if (!mLive) return false;
    mLivePending[panel] = {inputId, final, std::move(show)};   // a newer result replaces one not yet shown
    return true;
}

bool MainWindow::applyLiveResults()
{
    if (mLivePending.empty()) return false;
    std::map<QString, LivePending> pending;
    pending.swap(mLivePending);
    const QString finalPanel = mLiveKind == "activations" ? mLiveKind : "attribution:" + mLiveKind;
    quint64 completed = 0;
    for (auto &[panel, p] : pending) {
        p.show();
        if (panel == finalPanel && p.final) completed = p.inputId;
    }
    if (completed) liveResultShown(completed);
    return true;
}

void MainWindow::liveResultShown(quint64 inputId)
{
    if (!mLive || inputId != mLiveInFlight) return;
    mLiveInFlight = 0;
    const auto it = mLiveFrames.find(inputId);
    if (it == mLiveFrames.end()) return;
    const auto now = std::chrono::steady_clock::now();
    mLiveStats.latencyMs = std::chrono::duration<double, std::milli>(now - it->second.captured).count();
    ++mLiveStats.shown;
    mLiveStats.lastShownFrame = it->second.index;
    const double seconds = mLiveClock.elapsed() / 1000.0;
    mLiveStats.fps = seconds > 0 ? mLiveStats.shown / seconds : 0;
    statusBar()->showMessage(tr("live %1: %2 frames/s, capture → screen %3 ms, %4 dropped")
                                 .arg(QString::fromStdString(mLive->description()))
                                 .arg(mLiveStats.fps, 0, 'f', 1)
                                 .arg(mLiveStats.latencyMs, 0, 'f', 1)
                                 .arg(mLive->dropped()));
    emit liveFrameShown(it->second.index);
}

} // namespace pellucid
