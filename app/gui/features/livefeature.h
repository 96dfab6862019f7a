#pragma once
// Live input: a camera or video file streams into every open panel. One GUI timer drives it: when the
// previous frame's results are on screen it takes the newest frame (older ones are dropped by the source,
// never queued), makes it the input of every panel, and shows frame rate and capture-to-screen latency.
// While live, results wait for the timer (Workspace::present), newest per panel replacing older ones.
#include "app/gui/feature.h"

#include <QElapsedTimer>
#include <QImage>
#include <QSize>

#include <chrono>
#include <map>
#include <memory>

class QTimer;

namespace pellucid {

class CpuBlockReuse;
class InputPanel;
class LiveSource;

class LiveFeature : public Feature {
    Q_OBJECT
public:
    LiveFeature(Workspace *workspace, QMainWindow *window, InputPanel *input);
    ~LiveFeature() override;
    void addActions(Menus &menus) override;
    void windowClosing() override { stop(); }

    /// "camera:N" or a video file; false with the problem shown.
    bool start(const QString &source, bool loop = false);
    /// Any live source (tests: a camera stand-in that disappears mid-stream).
    bool start(std::unique_ptr<LiveSource> source);
    void stop();
    void chooseCamera();   // the camera dialog, then start
    void setCameraSize(const QSize &size) { mCameraSize = size; }
    QSize cameraSize() const { return mCameraSize; }
    bool running() const { return mLive != nullptr; }
    struct Stats {
        quint64 produced = 0, dropped = 0, shown = 0, lastShownFrame = 0;
        double fps = 0, latencyMs = 0;
    };
    Stats stats() const { return mStats; }

signals:
    void frameShown(quint64 frameIndex);
    void ended();

private:
    void tick();
    void submitFrame();
    bool defer(const QString &panel, quint64 inputId, bool final, std::function<void()> show);
    bool applyResults();   // false when nothing was waiting
    void resultShown(quint64 inputId);
    InputPanel *mInput;
    struct Pending {
        quint64 inputId;
        bool final;
        std::function<void()> show;
    };
    std::map<QString, Pending> mPending;
    QString mFinalPanel;   // the panel whose final result completes a frame
    QSize mCameraSize;
    std::unique_ptr<LiveSource> mLive;
    /// Held while live: each frame's job reuses the blocks of the frame before (engine/runtime/memory.h)
    /// instead of faulting in its activations afresh; freed when live input stops.
    std::unique_ptr<CpuBlockReuse> mBlocks;
    QTimer *mTimer = nullptr;
    quint64 mInFlight = 0;
    struct FrameInfo {
        quint64 index;
        std::chrono::steady_clock::time_point captured;
    };
    std::map<quint64, FrameInfo> mFrames;
    Stats mStats;
    QElapsedTimer mClock;
    TaskSlot mSlot{"live-frame"};
};

}   // namespace pellucid
