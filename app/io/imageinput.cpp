#include "app/io/imageinput.h"
#include "app/io/quiet.h"

#include "engine/core/files.h"

#include "engine/core/errors.h"
#include "engine/core/npy.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <opencv2/ximgproc/slic.hpp>

#include <gif_lib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace pellucid {

namespace {

/// Writes a PNG to PATH.tmp.png, then renames it (nothing half-written is left on failure).
void writePng(const std::string &path, const cv::Mat &img)
{
    const std::string tmp = path + ".tmp.png";
    bool ok = false;
    try {
        ok = withoutLibraryChatter([&] { return cv::imwrite(tmp, img); });
    } catch (const cv::Exception &) {
        ok = false;
    }
    if (!ok) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        throw Error(ErrorCode::IoError, "Cannot write " + path);
    }
    commitTemporary(tmp, path);
}

}   // namespace

/// Decoded pixels (any depth, 1/3/4 channels, BGR order as OpenCV reads them) to the model's input.
TensorValue matToTensor(cv::Mat img, const InputSpec &spec, const Shape &modelInput);

TensorValue imageFileToTensor(const std::string &path, const InputSpec &spec, const Shape &modelInput)
{
    if (!std::filesystem::exists(path)) throw Error(ErrorCode::FileNotFound, "Input file not found: " + path);
    checkInputFile(path, uint64_t(1) << 30, "The image");   // a FIFO would block the decoder
    cv::Mat img;
    try {
        // Any depth (16-bit PNG) and colour, with the EXIF orientation applied (IMREAD_UNCHANGED would ignore it).
        img = withoutLibraryChatter([&] { return cv::imread(path, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR); });
    } catch (const cv::Exception &e) {
        throw Error(ErrorCode::BadInput, "Cannot decode image " + path + ": " + e.what());
    }
    if (img.empty()) throw Error(ErrorCode::BadInput, "Cannot decode image " + path + " (not an image, or a format OpenCV cannot read)");
    return matToTensor(img, spec, modelInput);
}

TensorValue bgrToTensor(const unsigned char *bgr, int width, int height, const InputSpec &spec, const Shape &modelInput)
{
    const cv::Mat frame(height, width, CV_8UC3, const_cast<unsigned char *>(bgr));
    return matToTensor(frame.clone(), spec, modelInput);
}

TensorValue imageBytesToTensor(const std::vector<unsigned char> &bytes, const InputSpec &spec, const Shape &modelInput)
{
    cv::Mat img;
    try {
        img = withoutLibraryChatter([&] { return cv::imdecode(bytes, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR); });
    } catch (const cv::Exception &e) {
        throw Error(ErrorCode::BadInput, std::string("Cannot decode the image: ") + e.what());
    }
    if (img.empty()) throw Error(ErrorCode::BadInput, "Cannot decode the image (not an image, or a format OpenCV cannot read)");
    return matToTensor(img, spec, modelInput);
}

TensorValue matToTensor(cv::Mat img, const InputSpec &spec, const Shape &modelInput)
{
    const Shape &shape = !spec.shape.empty() ? spec.shape : modelInput;
    int channels = shape.size() == 4 ? int(shape[1]) : (spec.channelOrder == "gray" ? 1 : 3);
    if (spec.channelOrder == "gray") channels = 1;
    // The output size: the metadata's shape; else an explicit centre crop (a guessed dry-run shape does not
    // override it); else the model's input shape; else the picture's own (after resizing and cropping).
    const bool explicitCrop = spec.cropH > 0 && spec.cropW > 0 && spec.shape.empty();
    int outH = explicitCrop ? int(spec.cropH) : shape.size() == 4 ? int(shape[2]) : 0;
    int outW = explicitCrop ? int(spec.cropW) : shape.size() == 4 ? int(shape[3]) : 0;

    double maxValue = 255.0;
    if (img.depth() == CV_16U)
        maxValue = 65535.0;
    else if (img.depth() == CV_32F || img.depth() == CV_64F)
        maxValue = 1.0;
    img.convertTo(img, CV_32F, 1.0 / maxValue);

    cv::Mat conv;
    const int in = img.channels();
    if (channels == 1) {
        if (in == 1)
            conv = img;
        else
            cv::cvtColor(img, conv, in == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
    } else if (channels == 3) {
        const bool bgr = spec.channelOrder == "bgr";
        if (in == 1)
            cv::cvtColor(img, conv, bgr ? cv::COLOR_GRAY2BGR : cv::COLOR_GRAY2RGB);
        else if (in == 4)
            cv::cvtColor(img, conv, bgr ? cv::COLOR_BGRA2BGR : cv::COLOR_BGRA2RGB);
        else if (bgr)
            conv = img;
        else
            cv::cvtColor(img, conv, cv::COLOR_BGR2RGB);
    } else {
        throw Error(ErrorCode::BadInput, "The model expects " + std::to_string(channels) + " channels; images give 1 (gray) or 3 (colour)");
    }
    // torchvision's Resize(n) (the shorter side to n, bilinear) then CenterCrop(h, w), where the metadata says.
    if (spec.resize > 0) {
        const double s = double(spec.resize) / double(std::min(conv.rows, conv.cols));
        const int h = conv.rows <= conv.cols ? spec.resize : int(double(conv.rows) * s);
        const int w = conv.cols <= conv.rows ? spec.resize : int(double(conv.cols) * s);
        if (h != conv.rows || w != conv.cols) cv::resize(conv, conv, cv::Size(w, h), 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    if (spec.cropH > 0 && spec.cropW > 0) {
        if (spec.cropH > conv.rows || spec.cropW > conv.cols)
            throw Error(ErrorCode::BadInput,
                        "The picture (" + std::to_string(conv.cols) + "×" + std::to_string(conv.rows) + " after resizing) is smaller than the crop "
                            + std::to_string(spec.cropW) + "×" + std::to_string(spec.cropH));
        // torchvision: top = round((H − h) / 2), left = round((W − w) / 2).
        const int top = int(std::lround((conv.rows - spec.cropH) / 2.0)), left = int(std::lround((conv.cols - spec.cropW) / 2.0));
        conv = conv(cv::Rect(left, top, int(spec.cropW), int(spec.cropH))).clone();
    }
    if (outH <= 0 || outW <= 0) {
        outH = conv.rows;
        outW = conv.cols;
    }
    if (conv.rows != outH || conv.cols != outW)
        cv::resize(conv, conv, cv::Size(outW, outH), 0, 0, (outH < conv.rows || outW < conv.cols) ? cv::INTER_AREA : cv::INTER_LINEAR);

    std::vector<float> values(size_t(channels) * size_t(outH) * size_t(outW));
    const float lo = spec.rangeLo, span = spec.rangeHi - spec.rangeLo;
    for (int c = 0; c < channels; ++c) {
        const float mean = c < int(spec.mean.size()) ? spec.mean[size_t(c)] : (spec.mean.size() == 1 ? spec.mean[0] : 0.0f);
        const float sd = c < int(spec.std.size()) ? spec.std[size_t(c)] : (spec.std.size() == 1 ? spec.std[0] : 1.0f);
        for (int y = 0; y < outH; ++y) {
            const float *row = conv.ptr<float>(y);
            for (int x = 0; x < outW; ++x) {
                const float v = lo + span * row[x * channels + c];
                values[(size_t(c) * size_t(outH) + size_t(y)) * size_t(outW) + size_t(x)] = (v - mean) / sd;
            }
        }
    }
    return TensorValue({1, channels, outH, outW}, std::move(values));
}

TensorValue loadInputFile(const std::string &path, const InputSpec &spec, const Shape &modelInput)
{
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (ext == ".npy") return readNpy(path);
    return imageFileToTensor(path, spec, modelInput);
}

void writeActivationPng(const std::string &path, const TensorValue &a)
{
    const Shape &s = a.shape();
    int channels = 1, h = 1, w = 1;
    if (s.size() == 4) {
        channels = int(s[1]);
        h = int(s[2]);
        w = int(s[3]);
    } else if (s.size() == 3) {
        h = int(s[1]);
        w = int(s[2]);
    } else if (s.size() == 2) {
        w = int(s[1]);
    } else if (s.size() == 1) {
        w = int(s[0]);
    }
    const int cols = int(std::ceil(std::sqrt(double(channels))));
    const int rows = (channels + cols - 1) / cols;
    const int scale = std::max(1, 64 / std::max(1, std::max(h, w > 256 ? 1 : w)));
    const int cellH = h * scale, cellW = w * scale, gap = 2;
    cv::Mat canvas(rows * (cellH + gap) + gap, cols * (cellW + gap) + gap, CV_8UC3, cv::Scalar(40, 40, 40));
    for (int c = 0; c < channels; ++c) {
        const float *p = a.data() + int64_t(c) * h * w;
        float lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < h * w; ++i)
            if (std::isfinite(p[i])) {
                lo = std::min(lo, p[i]);
                hi = std::max(hi, p[i]);
            }
        if (!(hi > lo)) {
            hi = lo + 1;
        }
        cv::Mat plane(h, w, CV_8UC1), nan(h, w, CV_8UC1, cv::Scalar(0));
        for (int i = 0; i < h * w; ++i) {
            plane.data[i] = std::isfinite(p[i]) ? uchar(std::clamp((p[i] - lo) / (hi - lo) * 255.0f + 0.5f, 0.0f, 255.0f)) : 0;
            nan.data[i] = std::isfinite(p[i]) ? 0 : 255;
        }
        cv::Mat colored;
        cv::applyColorMap(plane, colored, cv::COLORMAP_VIRIDIS);
        colored.setTo(cv::Scalar(255, 0, 255), nan);   // NaN/Inf in magenta, never black
        cv::resize(colored, colored, cv::Size(cellW, cellH), 0, 0, cv::INTER_NEAREST);
        const int r = c / cols, col = c % cols;
        colored.copyTo(canvas(cv::Rect(gap + col * (cellW + gap), gap + r * (cellH + gap), cellW, cellH)));
    }
    writePng(path, canvas);
}

namespace {

/// Mean over channels of batch element 0 of an [N, C, H, W] (or [N, H, W]) tensor, as a float image.
cv::Mat planeMean(const TensorValue &t)
{
    const Shape &s = t.shape();
    if (s.size() < 3) throw Error(ErrorCode::BadInput, "Cannot draw a map of shape " + shapeToString(s));
    const int h = int(s[s.size() - 2]), w = int(s[s.size() - 1]);
    const int c = s.size() == 4 ? int(s[1]) : 1;
    cv::Mat m(h, w, CV_32F, cv::Scalar(0));
    for (int ch = 0; ch < c; ++ch)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) m.at<float>(y, x) += t.at((int64_t(ch) * h + y) * w + x) / float(c);
    return m;
}

}   // namespace

namespace {

cv::Mat frameBgr(const TensorValue &images, int i, int scale)
{
    const Shape &s = images.shape();
    const int c = int(s[1]), h = int(s[2]), w = int(s[3]);
    cv::Mat img(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            auto px = [&](int ch) {
                const float v = images.at(((int64_t(i) * c + std::min(ch, c - 1)) * h + y) * w + x);
                return uchar(std::clamp(std::isfinite(v) ? v * 255.0f + 0.5f : 0.0f, 0.0f, 255.0f));
            };
            img.at<cv::Vec3b>(y, x) = cv::Vec3b(px(2), px(1), px(0));
        }
    cv::resize(img, img, cv::Size(w * scale, h * scale), 0, 0, cv::INTER_NEAREST);
    return img;
}

}   // namespace

void writeImageGridPng(const std::string &path, const TensorValue &images, int cols)
{
    const Shape &s = images.shape();
    if (s.size() != 4) throw Error(ErrorCode::BadInput, "An image grid needs images [N, C, H, W], not " + shapeToString(s));
    const int n = int(s[0]), h = int(s[2]), w = int(s[3]);
    if (cols <= 0) cols = n;
    const int rows = (n + cols - 1) / cols, scale = std::max(1, 96 / std::max(h, w)), gap = 2;
    cv::Mat canvas(rows * (h * scale + gap) + gap, cols * (w * scale + gap) + gap, CV_8UC3, cv::Scalar(255, 255, 255));
    for (int i = 0; i < n; ++i) {
        const cv::Mat img = frameBgr(images, i, scale);
        img.copyTo(canvas(cv::Rect(gap + (i % cols) * (w * scale + gap), gap + (i / cols) * (h * scale + gap), w * scale, h * scale)));
    }
    writePng(path, canvas);
}

namespace {

void writeGif(const std::string &path, const TensorValue &images, double fps, int scale)
{
    const int n = int(images.dim(0));
    const bool grey = images.dim(1) == 1;
    // Palette: 256 greys for grey images, else a 6×6×6 colour cube plus 40 greys.
    GifColorType colours[256];
    for (int i = 0; i < 256; ++i) {
        if (grey) {
            colours[i] = {GifByteType(i), GifByteType(i), GifByteType(i)};
        } else if (i < 216) {
            colours[i] = {GifByteType((i / 36) * 51), GifByteType(((i / 6) % 6) * 51), GifByteType((i % 6) * 51)};
        } else {
            const int g = (i - 216) * 255 / 39;
            colours[i] = {GifByteType(g), GifByteType(g), GifByteType(g)};
        }
    }
    int error = 0;
    GifFileType *gif = EGifOpenFileName(path.c_str(), false, &error);
    if (!gif) throw Error(ErrorCode::IoError, "Cannot write " + path + ": " + GifErrorString(error));
    auto fail = [&](const char *what) {
        EGifCloseFile(gif, &error);
        throw Error(ErrorCode::IoError, "Cannot write " + path + " (" + what + ")");
    };
    ColorMapObject *map = GifMakeMapObject(256, colours);
    const cv::Mat first = frameBgr(images, 0, scale);
    EGifSetGifVersion(gif, true);
    if (EGifPutScreenDesc(gif, first.cols, first.rows, 8, 0, map) == GIF_ERROR) {
        GifFreeMapObject(map);
        fail("screen");
    }
    GifFreeMapObject(map);
    unsigned char loop[3] = {1, 0, 0};   // NETSCAPE2.0: loop forever
    if (EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR || EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0") == GIF_ERROR
        || EGifPutExtensionBlock(gif, 3, loop) == GIF_ERROR || EGifPutExtensionTrailer(gif) == GIF_ERROR)
        fail("loop");
    const int delay = std::max(1, int(std::lround(100.0 / std::max(0.1, fps))));
    std::vector<GifByteType> row(size_t(first.cols));
    for (int i = 0; i < n; ++i) {
        GraphicsControlBlock gcb{};
        gcb.DelayTime = delay;
        gcb.TransparentColor = NO_TRANSPARENT_COLOR;
        GifByteType ext[4];
        EGifGCBToExtension(&gcb, ext);
        if (EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, ext) == GIF_ERROR) fail("frame delay");
        const cv::Mat f = frameBgr(images, i, scale);
        if (EGifPutImageDesc(gif, 0, 0, f.cols, f.rows, false, nullptr) == GIF_ERROR) fail("frame");
        for (int y = 0; y < f.rows; ++y) {
            for (int x = 0; x < f.cols; ++x) {
                const cv::Vec3b p = f.at<cv::Vec3b>(y, x);
                if (grey)
                    row[size_t(x)] = p[0];
                else
                    row[size_t(x)] = GifByteType((p[2] + 25) / 51 * 36 + (p[1] + 25) / 51 * 6 + (p[0] + 25) / 51);
            }
            if (EGifPutLine(gif, row.data(), f.cols) == GIF_ERROR) fail("pixels");
        }
    }
    if (EGifCloseFile(gif, &error) == GIF_ERROR) throw Error(ErrorCode::IoError, "Cannot finish " + path + ": " + GifErrorString(error));
}

}   // namespace

void writeAnimation(const std::string &path, const TensorValue &images, double fps, int scale)
{
    if (images.shape().size() != 4 || images.dim(0) < 1) throw Error(ErrorCode::BadInput, "An animation needs frames [N, C, H, W]");
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    const std::string tmp = path + ".tmp" + ext;
    std::error_code ec;
    try {
        if (ext == ".gif") {
            writeGif(tmp, images, fps, scale);
        } else if (ext == ".mp4") {
            const cv::Mat first = frameBgr(images, 0, scale);
            cv::VideoWriter writer;
            withoutLibraryChatter([&] { return writer.open(tmp, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps, first.size()); });
            if (!writer.isOpened()) throw Error(ErrorCode::IoError, "Cannot write " + path + " (no MP4 encoder available to OpenCV)");
            for (int i = 0; i < int(images.dim(0)); ++i) writer.write(frameBgr(images, i, scale));
            withoutLibraryChatter([&] {
                writer.release();
                return true;
            });
        } else {
            throw Error(ErrorCode::BadInput, "Unknown animation format '" + ext + "' (use .gif or .mp4)");
        }
    } catch (...) {
        std::filesystem::remove(tmp, ec);
        throw;
    }
    // giflib creates files private to the user; make them readable like every other export.
    std::filesystem::permissions(tmp,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write | std::filesystem::perms::group_read
                                     | std::filesystem::perms::others_read,
                                 ec);
    commitTemporary(tmp, path);
}

TensorValue slicSegments(const TensorValue &input, int regionSize, float ruler)
{
    const Shape &s = input.shape();
    if (s.size() != 4) throw Error(ErrorCode::BadInput, "Superpixels need an image input [N, C, H, W], not " + shapeToString(s));
    const int c = int(s[1]), h = int(s[2]), w = int(s[3]);
    std::vector<cv::Mat> planes;
    for (int ch = 0; ch < std::min(c, 3); ++ch) {
        cv::Mat m(h, w, CV_32F, const_cast<float *>(input.data()) + int64_t(ch) * h * w);
        cv::Mat u8;
        cv::normalize(m, u8, 0, 255, cv::NORM_MINMAX, CV_8U);
        planes.push_back(u8);
    }
    cv::Mat img;
    cv::merge(planes, img);
    if (planes.size() == 3) cv::cvtColor(img, img, cv::COLOR_RGB2Lab);
    auto slic = cv::ximgproc::createSuperpixelSLIC(img, cv::ximgproc::SLICO, std::max(2, regionSize), ruler);
    slic->iterate(10);
    slic->enforceLabelConnectivity(25);
    cv::Mat labels;
    slic->getLabels(labels);
    std::vector<float> ids(size_t(h) * size_t(w));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) ids[size_t(y) * size_t(w) + size_t(x)] = float(labels.at<int>(y, x));
    return TensorValue({h, w}, std::move(ids));
}

void writeAttributionPng(const std::string &path, const TensorValue &input, const TensorValue &map, bool signedMap)
{
    cv::Mat base = planeMean(input);
    cv::normalize(base, base, 0, 255, cv::NORM_MINMAX);
    base.convertTo(base, CV_8U);
    const int scale = std::max(1, 256 / std::max(base.rows, base.cols));
    cv::resize(base, base, cv::Size(base.cols * scale, base.rows * scale), 0, 0, cv::INTER_NEAREST);
    cv::cvtColor(base, base, cv::COLOR_GRAY2BGR);
    cv::Mat m = planeMean(map);
    cv::resize(m, m, base.size(), 0, 0, m.rows == input.shape()[input.shape().size() - 2] ? cv::INTER_NEAREST : cv::INTER_LINEAR);
    double lo = 0, hi = 0;
    cv::minMaxLoc(m, &lo, &hi);
    cv::Mat colored(m.size(), CV_8UC3);
    const double bound = std::max(std::fabs(lo), std::fabs(hi)) + 1e-30;
    cv::Mat scaled;
    if (signedMap) {
        for (int y = 0; y < m.rows; ++y)
            for (int x = 0; x < m.cols; ++x) {
                const float v = m.at<float>(y, x);
                const double t = std::clamp(v / bound, -1.0, 1.0);
                const int a = int(255 * (1 - std::fabs(t)));
                colored.at<cv::Vec3b>(y, x) = t >= 0 ? cv::Vec3b(uchar(a), uchar(a), 255) : cv::Vec3b(255, uchar(a), uchar(a));
                if (!std::isfinite(v)) colored.at<cv::Vec3b>(y, x) = cv::Vec3b(255, 0, 255);
            }
    } else {
        m.convertTo(scaled, CV_8U, hi > lo ? 255.0 / (hi - lo) : 0, hi > lo ? -lo * 255.0 / (hi - lo) : 0);
        cv::applyColorMap(scaled, colored, cv::COLORMAP_VIRIDIS);
    }
    cv::Mat out;
    cv::addWeighted(base, 0.45, colored, 0.55, 0, out);
    writePng(path, out);
}

}   // namespace pellucid
