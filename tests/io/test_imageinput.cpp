// Image preprocessing as the metadata (or the command line) names it: torchvision's Resize + CenterCrop and
// ImageNet normalisation against torchvision's own numbers, EXIF orientation, 16-bit PNG, CMYK JPEG, labels files.
#include "app/io/imageinput.h"
#include "engine/core/errors.h"
#include "engine/core/npy.h"
#include "engine/runtime/metadata.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace pellucid;

namespace {

InputSpec imagenet(int resize, int64_t crop)
{
    InputSpec s;
    s.channelOrder = "rgb";
    s.mean = {0.485f, 0.456f, 0.406f};
    s.std = {0.229f, 0.224f, 0.225f};
    s.resize = resize;
    s.cropH = s.cropW = crop;
    return s;
}

/// A baseline JPEG with an EXIF APP1 segment giving `orientation`, inserted right after SOI.
std::vector<unsigned char> jpegWithOrientation(const cv::Mat &img, int orientation)
{
    std::vector<unsigned char> jpg;
    cv::imencode(".jpg", img, jpg, {cv::IMWRITE_JPEG_QUALITY, 100});
    const unsigned char tiff[] = {'M',  'M',  0, 42, 0, 0, 0, 8,                                        // big-endian TIFF header, IFD at 8
                                  0,    1,                                                              // one entry
                                  0x01, 0x12, 0, 3,  0, 0, 0, 1, 0, (unsigned char)orientation, 0, 0,   // Orientation SHORT
                                  0,    0,    0, 0};                                                    // no next IFD
    std::vector<unsigned char> app1 = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
    app1.insert(app1.end(), std::begin(tiff), std::end(tiff));
    const size_t len = app1.size() - 2;
    app1[2] = (unsigned char)(len >> 8);
    app1[3] = (unsigned char)(len & 0xFF);
    jpg.insert(jpg.begin() + 2, app1.begin(), app1.end());
    return jpg;
}

}   // namespace

TEST(resize_and_center_crop_match_torchvision)
{
    // Resize(72) on a 96×72 picture keeps it, CenterCrop(64) takes the middle: exactly torchvision's tensor.
    const TensorValue t = loadInputFile(fixtures::path("tv/photo_96x72.png"), imagenet(72, 64), {});
    const TensorValue want = readNpy(fixtures::path("tv/photo_96x72_imagenet_64.npy"));
    CHECK(t.shape() == (Shape{1, 3, 64, 64}));
    CHECK_MSG(fixtures::maxAbsDiff(t, want) < 1e-5, fixtures::maxAbsDiff(t, want));
    // Without the crop the picture would be squeezed into the model's shape instead (a different tensor).
    InputSpec squeeze = imagenet(0, 0);
    CHECK(fixtures::maxAbsDiff(loadInputFile(fixtures::path("tv/photo_96x72.png"), squeeze, {1, 3, 64, 64}), want) > 0.05);
    // Resizing: the shorter side becomes N, the aspect ratio is kept, then the crop.
    InputSpec big = imagenet(36, 32);
    CHECK(loadInputFile(fixtures::path("tv/photo_96x72.png"), big, {}).shape() == (Shape{1, 3, 32, 32}));
    // A crop larger than the picture is refused by name.
    CHECK_THROWS_WITH(loadInputFile(fixtures::path("tv/photo_96x72.png"), imagenet(0, 80), {}), Error, "smaller than the crop 80×80");
}

TEST(exif_orientation_is_applied)
{
    // 40×20: the left half white. Orientation 6 (rotate 90° clockwise to display) makes it 20×40 with the
    // white half on top.
    cv::Mat img(20, 40, CV_8UC3, cv::Scalar(0, 0, 0));
    img(cv::Rect(0, 0, 20, 20)).setTo(cv::Scalar(255, 255, 255));
    const auto bytes = jpegWithOrientation(img, 6);
    InputSpec gray;
    gray.channelOrder = "gray";
    const TensorValue t = imageBytesToTensor(bytes, gray, {1, 1, 40, 20});
    double top = 0, bottom = 0;
    for (int y = 0; y < 40; ++y)
        for (int x = 0; x < 20; ++x) (y < 20 ? top : bottom) += t.at(y * 20 + x);
    CHECK_MSG(top / 400 > 0.9 && bottom / 400 < 0.1, top / 400 << " " << bottom / 400);
    const std::string path = std::string(PELLUCID_TMP) + "/exif6.jpg";
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    CHECK_EQ(fixtures::maxAbsDiff(loadInputFile(path, gray, {1, 1, 40, 20}), t), 0.0);
}

TEST(sixteen_bit_png_keeps_its_range)
{
    cv::Mat img(8, 8, CV_16UC1, cv::Scalar(0));
    img(cv::Rect(0, 0, 4, 8)).setTo(cv::Scalar(65535));
    img.at<uint16_t>(0, 7) = 32768;
    const std::string path = std::string(PELLUCID_TMP) + "/sixteen.png";
    cv::imwrite(path, img);
    InputSpec gray;
    gray.channelOrder = "gray";
    const TensorValue t = loadInputFile(path, gray, {1, 1, 8, 8});
    CHECK(std::fabs(t.at(0) - 1.0f) < 1e-6 && std::fabs(t.at(7) - 32768.0f / 65535.0f) < 1e-6 && t.at(8 + 7) == 0.0f);
}

TEST(cmyk_jpeg_decodes_to_its_colours)
{
    // A CMYK JPEG (Adobe APP14, inverted as Photoshop and Pillow write it) decodes to the RGB Pillow makes of
    // the same file, and close to the photograph it was made from — not to an inverted or four-channel tensor.
    InputSpec rgb;
    rgb.channelOrder = "rgb";
    const TensorValue t = loadInputFile(fixtures::path("tv/photo_96x72_cmyk.jpg"), rgb, {});
    CHECK(t.shape() == (Shape{1, 3, 72, 96}));
    const TensorValue pillow = readNpy(fixtures::path("tv/photo_96x72_cmyk_rgb.npy"));
    CHECK_MSG(fixtures::maxAbsDiff(t, pillow) <= 2.5 / 255, fixtures::maxAbsDiff(t, pillow) * 255);
    const TensorValue original = loadInputFile(fixtures::path("tv/photo_96x72.png"), rgb, {});
    double mean = 0;
    for (int64_t i = 0; i < t.numel(); ++i) mean += std::fabs(t.at(i) - original.at(i)) / double(t.numel());
    CHECK_MSG(mean < 0.03, mean);
    // Grey models get the luminance of those colours.
    InputSpec gray;
    gray.channelOrder = "gray";
    CHECK(loadInputFile(fixtures::path("tv/photo_96x72_cmyk.jpg"), gray, {}).shape() == (Shape{1, 1, 72, 96}));
}

TEST(labels_files_in_three_forms)
{
    const std::string dir = std::string(PELLUCID_TMP);
    std::ofstream(dir + "/l.txt") << "cat\ndog\r\n\nbird\n";
    std::ofstream(dir + "/l.json") << "[\"cat\", \"dog\", \"bird\"]";
    std::ofstream(dir + "/d.json") << "{\"1\": \"dog\", \"0\": \"cat\", \"2\": \"bird\"}";
    for (const char *f : {"/l.txt", "/l.json", "/d.json"}) CHECK(readLabelsFile(dir + f) == (std::vector<std::string>{"cat", "dog", "bird"}));
    std::ofstream(dir + "/gap.json") << "{\"0\": \"cat\", \"5\": \"dog\"}";
    CHECK_THROWS_WITH(readLabelsFile(dir + "/gap.json"), Error, "without gaps");
    std::ofstream(dir + "/empty.txt") << "\n\n";
    CHECK_THROWS_WITH(readLabelsFile(dir + "/empty.txt"), Error, "holds no label");
    CHECK_THROWS_WITH(readLabelsFile(dir + "/missing.txt"), Error, "Labels file not found");
}

TESTKIT_MAIN
