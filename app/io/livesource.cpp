#include "app/io/livesource.h"

#include "app/io/quiet.h"
#include "engine/core/errors.h"
#include "engine/core/files.h"

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cmath>

#include <filesystem>
#include <fstream>

namespace pellucid {

struct LiveSource::Capture {
    cv::VideoCapture cap;
    Reader reader;   // openFunction's frames instead of cap's

    bool read(cv::Mat &frame)
    {
        if (!reader) return cap.read(frame) && !frame.empty();
        int w = 0, h = 0;
        std::vector<unsigned char> bgr;
        if (!reader(w, h, bgr) || w <= 0 || h <= 0 || bgr.size() != size_t(w) * size_t(h) * 3) return false;
        cv::Mat(h, w, CV_8UC3, bgr.data()).copyTo(frame);
        return true;
    }
};

std::vector<CameraInfo> LiveSource::cameras(const std::string &root)
{
    namespace fs = std::filesystem;
    std::vector<CameraInfo> out;
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(root, ec)) {
        const std::string dir = entry.path().filename().string();
        if (dir.rfind("video", 0) != 0) continue;
        CameraInfo c;
        try {
            c.index = std::stoi(dir.substr(5));
        } catch (const std::exception &) {
            continue;
        }
        std::ifstream name(entry.path() / "name");
        std::getline(name, c.name);
        // uvcvideo gives every camera a second node for metadata; its "index" attribute is 1.
        std::ifstream idx(entry.path() / "index");
        int nodeIndex = 0;
        if (idx >> nodeIndex && nodeIndex > 0) continue;
        if (c.name.empty()) c.name = "camera " + std::to_string(c.index);
        out.push_back(c);
    }
    std::sort(out.begin(), out.end(), [](const CameraInfo &a, const CameraInfo &b) { return a.index < b.index; });
    return out;
}

std::unique_ptr<LiveSource> LiveSource::openCamera(int device, int width, int height)
{
    std::unique_ptr<LiveSource> s(new LiveSource);
    s->mCap = std::make_unique<Capture>();
    s->mCamera = true;
    s->mDescription = "camera " + std::to_string(device);
    if (!std::filesystem::exists("/dev/video" + std::to_string(device)))
        throw Error(ErrorCode::FileNotFound, "No camera at /dev/video" + std::to_string(device));
    if (!withoutLibraryChatter([&] { return s->mCap->cap.open(device, cv::CAP_V4L2); }))
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
    checkInputFile(path, uint64_t(64) << 30, "The video");   // a FIFO would block the demuxer
    // FFmpeg only: a file FFmpeg cannot open would fall through to GStreamer, whose first use forks its plugin
    // scanner — and OpenBLAS's fork handler can deadlock joining its threads (seen on a fresh machine).
    if (!withoutLibraryChatter([&] { return s->mCap->cap.open(path, cv::CAP_FFMPEG); }))
        throw Error(ErrorCode::BadInput, "Cannot play " + path + ": no decoder for its container or codec");
    cv::Mat probe;
    if (!withoutLibraryChatter([&] { return s->mCap->cap.read(probe); }) || probe.empty())
        throw Error(ErrorCode::BadInput, "Cannot decode the frames of " + path + " (unsupported codec)");
    s->mCap->cap.set(cv::CAP_PROP_POS_FRAMES, 0);
    const double fps = s->mCap->cap.get(cv::CAP_PROP_FPS);
    s->mFps = fps > 0 && fps < 1000 ? fps : 25;
    s->start();
    return s;
}

std::unique_ptr<LiveSource> LiveSource::openFunction(const std::string &description, Reader read, double fps, bool camera)
{
    std::unique_ptr<LiveSource> s(new LiveSource);
    s->mCap = std::make_unique<Capture>();
    s->mCap->reader = std::move(read);
    s->mCamera = camera;
    s->mDescription = description;
    s->mFps = fps > 0 ? fps : 30;
    s->start();
    return s;
}

void LiveSource::setPrepare(std::function<void(LiveFrame &)> prepare)
{
    std::lock_guard<std::mutex> l(mMutex);
    mPrepare = prepare ? std::make_shared<const std::function<void(LiveFrame &)>>(std::move(prepare)) : nullptr;
}

LiveSource::~LiveSource()
{
    mStop = true;
    if (mThread.joinable()) mThread.join();
}

void LiveSource::start()
{
    mThread = std::thread([this] { run(); });
}

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
    out = std::move(mLatest);
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
            ok = mCap->read(frame);
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
        LiveFrame f;
        f.width = frame.cols;
        f.height = frame.rows;
        f.bgr.assign(frame.data, frame.data + size_t(frame.total() * frame.elemSize()));
        f.captured = clock::now();
        std::shared_ptr<const std::function<void(LiveFrame &)>> prepare;
        {
            std::lock_guard<std::mutex> l(mMutex);
            prepare = mPrepare;
        }
        if (prepare) {
            try {
                (*prepare)(f);
            } catch (const std::exception &e) {
                f.prepareError = e.what();
            }
        }
        {
            std::lock_guard<std::mutex> l(mMutex);
            if (mFresh) ++mDropped;   // the previous frame was never taken
            f.index = ++mProduced;
            mLatest = std::move(f);
            mFresh = true;
        }
        if (!mCamera) {   // files play at their own rate (a camera paces itself)
            next += std::chrono::duration_cast<clock::duration>(period);
            std::this_thread::sleep_until(next);
        }
    }
}

}   // namespace pellucid
