#include "app/livesource.h"

#include "engine/errors.h"

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cmath>

#include <filesystem>

namespace pellucid {

struct LiveSource::Capture {
    cv::VideoCapture cap;
};

std::unique_ptr<LiveSource> LiveSource::openCamera(int device, int width, int height)
{
    std::unique_ptr<LiveSource> s(new LiveSource);
    s->mCap = std::make_unique<Capture>();
    s->mCamera = true;
    s->mDescription = "camera " + std::to_string(device);
    if (!std::filesystem::exists("/dev/video" + std::to_string(device)))
        throw Error(ErrorCode::FileNotFound, "No camera at /dev/video" + std::to_string(device));
    if (!s->mCap->cap.open(device, cv::CAP_V4L2))
        throw Error(ErrorCode::BadInput, "Cannot open camera " + std::to_string(device) + " (busy, or not a capture device)");
    if (width > 0) s->mCap->cap.set(cv::CAP_PROP_FRAME_WIDTH, width);
    if (height > 0) s->mCap->cap.set(cv::CAP_PROP_FRAME_HEIGHT, height);
    const double fps = s->mCap->cap.get(cv::CAP_PROP_FPS);
    s->mFps = fps > 0 ? fps : 30;
    s->start();
    return s;
}

std::unique_ptr<LiveSource> LiveSource::openVideo(const std::string &path, bool loop)
{
    if (!std::filesystem::exists(path)) throw Error(ErrorCode::FileNotFound, "Video file not found: " + path);
    std::unique_ptr<LiveSource> s(new LiveSource);
    s->mCap = std::make_unique<Capture>();
    s->mLoop = loop;
    s->mDescription = std::filesystem::path(path).filename().string();
    if (!s->mCap->cap.open(path))
        throw Error(ErrorCode::BadInput, "Cannot play " + path + ": no decoder for its container or codec");
    cv::Mat probe;
    if (!s->mCap->cap.read(probe) || probe.empty())
        throw Error(ErrorCode::BadInput, "Cannot decode the frames of " + path + " (unsupported codec)");
    s->mCap->cap.set(cv::CAP_PROP_POS_FRAMES, 0);
    const double fps = s->mCap->cap.get(cv::CAP_PROP_FPS);
    s->mFps = fps > 0 && fps < 1000 ? fps : 25;
    s->start();
    return s;
}

LiveSource::~LiveSource()
{
    mStop = true;
    if (mThread.joinable()) mThread.join();
}

void LiveSource::start() { mThread = std::thread([this] { run(); }); }

void LiveSource::seek(double fraction)
{
    if (!mCamera) mSeek = std::clamp(fraction, 0.0, 1.0);
}

std::string LiveSource::error() const
{
    std::lock_guard<std::mutex> l(mMutex);
    return mError;
}

bool LiveSource::take(LiveFrame &out)
{
    std::lock_guard<std::mutex> l(mMutex);
    if (!mFresh) return false;
    out = mLatest;
    mFresh = false;
    return true;
}

void LiveSource::run()
{
    using clock = std::chrono::steady_clock;
    const auto period = std::chrono::duration<double>(1.0 / mFps);
    auto next = clock::now();
    cv::Mat frame;
    while (!mStop) {
        if (mPaused) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            next = clock::now();
            continue;
        }
        if (const double f = mSeek.exchange(-1); f >= 0) {
            const double n = mCap->cap.get(cv::CAP_PROP_FRAME_COUNT);
            mCap->cap.set(cv::CAP_PROP_POS_FRAMES, std::floor(f * std::max(0.0, n - 1)));
        }
        bool ok = false;
        try {
            ok = mCap->cap.read(frame) && !frame.empty();
        } catch (const cv::Exception &e) {
            std::lock_guard<std::mutex> l(mMutex);
            mError = std::string("capture failed: ") + e.what();
        }
        if (!ok) {
            if (!mCamera && mLoop && mProduced > 0) {
                mCap->cap.set(cv::CAP_PROP_POS_FRAMES, 0);
                continue;
            }
            std::lock_guard<std::mutex> l(mMutex);
            if (mCamera && mError.empty()) mError = mDescription + " stopped delivering frames (disconnected?)";
            mFinished = true;
            return;
        }
        if (frame.channels() == 1) cv::cvtColor(frame, frame, cv::COLOR_GRAY2BGR);
        if (!mCamera) {
            const double n = mCap->cap.get(cv::CAP_PROP_FRAME_COUNT), pos = mCap->cap.get(cv::CAP_PROP_POS_FRAMES);
            mPosition = n > 1 ? std::clamp(pos / n, 0.0, 1.0) : 0.0;
        }
        {
            std::lock_guard<std::mutex> l(mMutex);
            if (mFresh) ++mDropped;   // the previous frame was never taken
            mLatest.index = ++mProduced;
            mLatest.width = frame.cols;
            mLatest.height = frame.rows;
            mLatest.bgr.assign(frame.data, frame.data + size_t(frame.total() * frame.elemSize()));
            mLatest.captured = clock::now();
            mFresh = true;
        }
        if (!mCamera) {   // files play at their own rate (a camera paces itself)
            next += std::chrono::duration_cast<clock::duration>(period);
            std::this_thread::sleep_until(next);
        }
    }
}

} // namespace pellucid
