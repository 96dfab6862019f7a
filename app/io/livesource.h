#pragma once
// Live input: a camera (OpenCV VideoCapture by device index) or a video file (played at its own frame rate,
// optionally looping; pause and seek), captured on its own thread. Only the newest frame is kept: a frame
// that was not taken before the next one arrived is dropped and counted, so a slow model never builds a
// backlog. No Qt here (the CLI and tests use it too).
#include "engine/core/tensorvalue.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pellucid {

struct LiveFrame {
    uint64_t index = 0;   // 1-based, in capture order
    int width = 0, height = 0;
    std::vector<unsigned char> bgr;   // height × width × 3
    std::chrono::steady_clock::time_point captured;
    TensorValue tensor;         // made by the source's `prepare` function, on its thread
    std::string prepareError;   // why `prepare` failed
};

struct CameraInfo {
    int index = 0;      // N of /dev/videoN
    std::string name;   // the driver's name for it ("Integrated Camera: Integrated C")
};

class LiveSource {
public:
    /// Video capture devices, from sysfs (`root` for tests): metadata-only nodes (a second /dev/video per
    /// camera on uvcvideo) are skipped where sysfs says so; sorted by index.
    static std::vector<CameraInfo> cameras(const std::string &root = "/sys/class/video4linux");
    /// Throws Error(FileNotFound / BadInput) naming the camera or file and the problem.
    static std::unique_ptr<LiveSource> openCamera(int device, int width = 0, int height = 0);
    static std::unique_ptr<LiveSource> openVideo(const std::string &path, bool loop = false);
    /// Frames from a function (false: no more frames), paced at `fps`; `camera` makes a false read an error,
    /// as an unplugged camera is (tests stand in a camera that disappears with it).
    using Reader = std::function<bool(int &width, int &height, std::vector<unsigned char> &bgr)>;
    static std::unique_ptr<LiveSource> openFunction(const std::string &description, Reader read, double fps, bool camera);
    /// Work done on the capture thread for every frame (e.g. the model's input tensor), so the GUI thread
    /// only takes the result; exceptions become the frame's prepareError.
    void setPrepare(std::function<void(LiveFrame &)> prepare);
    ~LiveSource();

    /// The newest frame not taken yet (false when none arrived since the last call).
    bool take(LiveFrame &out);
    uint64_t produced() const { return mProduced; }
    uint64_t dropped() const { return mDropped; }
    bool finished() const { return mFinished; }
    /// Why capture stopped ("" while running or after a video's normal end).
    std::string error() const;
    double fps() const { return mFps; }
    std::string description() const { return mDescription; }
    void setPaused(bool paused) { mPaused = paused; }
    bool paused() const { return mPaused; }
    /// Video files: jump to a fraction of the length [0, 1].
    void seek(double fraction);
    /// Video files: the position of the newest frame as a fraction of the length (0 for cameras).
    double position() const { return mPosition; }
    bool seekable() const { return !mCamera; }

private:
    LiveSource() = default;
    void start();
    void run();
    struct Capture;
    std::unique_ptr<Capture> mCap;
    std::string mDescription;
    bool mCamera = false, mLoop = false;
    double mFps = 30;
    mutable std::mutex mMutex;
    LiveFrame mLatest;
    bool mFresh = false;
    std::string mError;
    std::atomic<uint64_t> mProduced{0}, mDropped{0};
    std::atomic<bool> mStop{false}, mFinished{false}, mPaused{false};
    std::atomic<double> mSeek{-1};
    std::atomic<double> mPosition{0};
    std::shared_ptr<const std::function<void(LiveFrame &)>> mPrepare;   // guarded by mMutex
    std::thread mThread;
};
}   // namespace pellucid
