#include "app/gui/features/livefeature.h"

#include "app/io/imageinput.h"
#include "app/io/livesource.h"
#include "engine/core/errors.h"
#include "engine/runtime/memory.h"
#include "widgets/input/cameradialog.h"
#include "widgets/input/inputpanel.h"

#include <QFileDialog>
#include <QSettings>
#include <QTimer>

namespace pellucid {

LiveFeature::LiveFeature(Workspace *workspace, QMainWindow *window, InputPanel *input) : Feature(workspace, window), mInput(input)
{
    mCameraSize = QSettings().value("live/cameraSize").toSize();
    connect(mInput, &InputPanel::livePauseToggled, this, [this](bool p) {
        if (mLive) mLive->setPaused(p);
    });
    connect(mInput, &InputPanel::liveSeekRequested, this, [this](double f) {
        if (mLive) mLive->seek(f);
    });
    connect(mInput, &InputPanel::liveStopRequested, this, [this] { stop(); });
    mWorkspace->setPresenter([this](const QString &panel, quint64 inputId, bool final, std::function<void()> show) {
        return defer(panel, inputId, final, std::move(show));
    });
}

LiveFeature::~LiveFeature()
{
    if (mTimer) mTimer->stop();
    mLive.reset();   // joins the capture thread (the window stopped live mode before the workspace went away)
    mBlocks.reset();
}

void LiveFeature::addActions(Menus &menus)
{
    QMenu *live = menus.file->addMenu(tr("&Live input"));
    live->addAction(tr("Camera…"), this, [this] { chooseCamera(); });
    live->addAction(tr("Video file…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(mWindow, tr("Play a video through the model"), QString(),
                                                          tr("Videos (*.mp4 *.avi *.mkv *.webm *.mov);;All files (*)"));
        if (!path.isEmpty()) start(path, true);
    });
    live->addAction(tr("Stop"), this, [this] { stop(); });
}

bool LiveFeature::start(const QString &source, bool loop)
{
    if (!mWorkspace->hasModel()) {
        mWorkspace->showError(tr("Open a model before starting live input"));
        return false;
    }
    std::unique_ptr<LiveSource> live;
    try {
        if (source.startsWith("camera:"))
            live = LiveSource::openCamera(source.mid(7).toInt(), mCameraSize.width(), mCameraSize.height());
        else
            live = LiveSource::openVideo(source.toStdString(), loop);
    } catch (const std::exception &e) {
        mWorkspace->showError(QString::fromStdString(e.what()));
        return false;
    }
    return start(std::move(live));
}

bool LiveFeature::start(std::unique_ptr<LiveSource> source)
{
    stop();
    const auto s = mWorkspace->model();
    if (!s || !source) {
        mWorkspace->showError(tr("Open a model before starting live input"));
        return false;
    }
    mLive = std::move(source);
    mBlocks = std::make_unique<CpuBlockReuse>();
    mWorkspace->setLive(true);
    // The model's input tensor is made on the capture thread: the GUI thread only shows results.
    mLive->setPrepare(
        [spec = s->metadata.input, shape = s->inputShape](LiveFrame &f) { f.tensor = bgrToTensor(f.bgr.data(), f.width, f.height, spec, shape); });
    mStats = Stats();
    mInFlight = 0;
    mFrames.clear();
    mClock.start();
    if (!mTimer) {
        mTimer = new QTimer(this);
        mTimer->setInterval(5);
        connect(mTimer, &QTimer::timeout, this, &LiveFeature::tick);
    }
    mTimer->start();
    mInput->setLiveControls(true, mLive->seekable());
    mWorkspace->showStatus(tr("live: %1").arg(QString::fromStdString(mLive->description())), 0);
    return true;
}

void LiveFeature::chooseCamera()
{
    QList<CameraDialog::Device> devices;
    for (const CameraInfo &c : LiveSource::cameras()) devices.push_back({c.index, QString::fromStdString(c.name)});
    QSettings settings;
    CameraDialog dialog(devices, settings.value("live/camera", 0).toInt(), settings.value("live/cameraSize").toSize(), mWindow);
    if (dialog.exec() != QDialog::Accepted || !dialog.acceptable()) return;
    settings.setValue("live/camera", dialog.device());
    settings.setValue("live/cameraSize", dialog.size());
    mCameraSize = dialog.size();
    start(QString("camera:%1").arg(dialog.device()));
}

void LiveFeature::stop()
{
    if (mTimer) mTimer->stop();
    if (mLive) {
        mStats.produced = mLive->produced();
        mStats.dropped = mLive->dropped();
    }
    const bool was = mLive != nullptr;
    mLive.reset();
    mBlocks.reset();
    mInFlight = 0;
    if (was) applyResults();   // what arrived for the last frame is shown
    mWorkspace->setLive(false);
    mInput->setLiveControls(false, false);
}

void LiveFeature::tick()
{
    if (!mLive) return;
    // One piece of GUI work per tick, so a paint comes between them: either the newest results go to the
    // panels, or the next frame goes to the engine.
    if (applyResults()) return;
    mStats.produced = mLive->produced();
    mStats.dropped = mLive->dropped();
    if (mInFlight) return;   // the previous frame's results are not on screen yet
    LiveFrame f;
    if (!mLive->take(f)) {
        if (mLive->finished()) {
            const std::string err = mLive->error();
            if (!err.empty()) mWorkspace->showError(QString::fromStdString(err));   // e.g. a camera unplugged mid-stream
            mWorkspace->showStatus(
                tr("live input ended: %1 frames, %2 shown, %3 dropped").arg(mStats.produced).arg(mStats.shown).arg(mStats.dropped));
            stop();
            emit ended();
        }
        return;
    }
    try {
        if (!f.prepareError.empty()) throw std::runtime_error(f.prepareError);
        const auto s = mWorkspace->model();
        const TensorValue t = f.tensor.numel() ? std::move(f.tensor)   // made on the capture thread
                                               : bgrToTensor(f.bgr.data(), f.width, f.height, s->metadata.input, s->inputShape);
        const QImage frame = QImage(f.bgr.data(), f.width, f.height, f.width * 3, QImage::Format_RGB888).rgbSwapped();
        mWorkspace->setLiveFrame(frame);
        mWorkspace->setInput(t, InputOrigin::Live);
        const quint64 id = mWorkspace->inputId();
        mFrames[id] = {f.index, f.captured};
        while (mFrames.size() > 64) mFrames.erase(mFrames.begin());
        mInFlight = id;
        submitFrame();
        mInput->setLivePosition(mLive->position());
        mInput->showImage(QString::fromStdString(mLive->description()), frame);
    } catch (const std::exception &e) {
        mWorkspace->showError(QString::fromStdString(e.what()));
        stop();
    }
}

void LiveFeature::submitFrame()
{
    // One engine job per frame: activations and prediction, and the main attribution view's map from the
    // same forward pass where the method allows (engine/attribution.h, computeLiveFrame). Comparison views
    // and the superpixel methods go through the Attribution dock's usual requests.
    const Workspace::Requests requests = mWorkspace->attributionRequests();
    if (!requests.empty() && usesSuperpixels(requests.front().second.method)) {
        mFinalPanel = "attribution:" + QString::fromStdString(requests.front().first);
        mWorkspace->requestActivations();
        mWorkspace->requestAttributions();
        return;
    }
    const AttributionParams *main = requests.empty() ? nullptr : &requests.front().second;
    const std::string view = requests.empty() ? std::string() : requests.front().first;
    mFinalPanel = requests.empty() ? QStringLiteral("activations") : "attribution:" + QString::fromStdString(view);
    TaskHooks<ActivationOutput> hooks;
    hooks.partial = [this](std::shared_ptr<const ActivationOutput> a) { mWorkspace->publishActivations(a); };
    hooks.cancelled = [this] {
        if (mLive) mInFlight = 0;
    };   // superseded: the next frame goes on
    hooks.failed = [this](const QString &) {
        if (mLive) mInFlight = 0;
    };
    const TensorValue &x = mWorkspace->input();
    const quint64 id = mWorkspace->inputId();
    Job job = liveFrameJob(x, id, mWorkspace->layer().toStdString(), main, mSlot.key());
    if (main) {
        // The final output is the attribution; the activations come first as a partial output.
        mBridge->runJob<AttributionResult, ActivationOutput>(
            &mSlot, this, std::move(job), [this, view](std::shared_ptr<const AttributionResult> r) { mWorkspace->publishAttribution(view, r); },
            hooks);
    } else {
        hooks.partial = {};
        mBridge->runJob<ActivationOutput>(
            &mSlot, this, std::move(job), [this](std::shared_ptr<const ActivationOutput> a) { mWorkspace->publishActivations(a); }, hooks);
    }
    if (requests.size() > 1) mWorkspace->requestAttributions(true);
}

bool LiveFeature::defer(const QString &panel, quint64 inputId, bool final, std::function<void()> show)
{
    if (!mLive) return false;
    mPending[panel] = {inputId, final, std::move(show)};   // a newer result replaces one not yet shown
    return true;
}

bool LiveFeature::applyResults()
{
    if (mPending.empty()) return false;
    std::map<QString, Pending> pending;
    pending.swap(mPending);
    quint64 completed = 0;
    for (auto &[panel, p] : pending) {
        p.show();
        if (panel == mFinalPanel && p.final) completed = p.inputId;
    }
    if (completed) resultShown(completed);
    return true;
}

void LiveFeature::resultShown(quint64 inputId)
{
    if (!mLive || inputId != mInFlight) return;
    mInFlight = 0;
    const auto it = mFrames.find(inputId);
    if (it == mFrames.end()) return;
    const auto now = std::chrono::steady_clock::now();
    mStats.latencyMs = std::chrono::duration<double, std::milli>(now - it->second.captured).count();
    ++mStats.shown;
    mStats.lastShownFrame = it->second.index;
    const double seconds = mClock.elapsed() / 1000.0;
    mStats.fps = seconds > 0 ? mStats.shown / seconds : 0;
    mWorkspace->showStatus(tr("live %1: %2 frames/s, capture → screen %3 ms, %4 dropped")
                               .arg(QString::fromStdString(mLive->description()))
                               .arg(mStats.fps, 0, 'f', 1)
                               .arg(mStats.latencyMs, 0, 'f', 1)
                               .arg(mLive->dropped()),
                           0);
    emit frameShown(it->second.index);
}

}   // namespace pellucid
