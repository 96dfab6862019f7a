#include "app/io/dataset.h"

#include "app/io/imageinput.h"
#include "engine/core/errors.h"
#include "engine/core/files.h"
#include "engine/runtime/model.h"

#include <zlib.h>

#include <algorithm>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace pellucid {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxIdxBytes = uint64_t(2) << 30;   // an IDX file, unpacked
constexpr int64_t kMaxLabel = int64_t(1) << 24;        // class indices: below 16,777,216

std::vector<uint8_t> readMaybeGz(const std::string &path)
{
    checkInputFile(path, kMaxIdxBytes);
    gzFile f = gzopen(path.c_str(), "rb");   // reads plain files too
    if (!f) throw Error(ErrorCode::FileNotFound, "Cannot open " + path);
    std::vector<uint8_t> out;
    std::vector<uint8_t> buf(1 << 16);
    int n;
    while ((n = gzread(f, buf.data(), unsigned(buf.size()))) > 0) {
        out.insert(out.end(), buf.begin(), buf.begin() + n);
        if (out.size() > kMaxIdxBytes) {
            gzclose(f);
            throw Error(ErrorCode::BadInput, path + " unpacks to more than the 2 GiB an IDX file may hold here");
        }
    }
    const bool failed = n < 0;
    gzclose(f);
    if (failed) throw Error(ErrorCode::BadInput, path + " is not a readable (gzip) file");
    return out;
}

uint32_t be32(const std::vector<uint8_t> &b, size_t at)
{
    return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    return s;
}

bool isImage(const fs::path &p)
{
    static const std::vector<std::string> exts = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".npy"};
    return std::find(exts.begin(), exts.end(), lower(p.extension().string())) != exts.end();
}

}   // namespace

Dataset Dataset::open(const std::string &path, const std::vector<std::string> &classNames, const std::string &split)
{
    Dataset d;
    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error(ErrorCode::FileNotFound, "Dataset not found: " + path);
    if (!split.empty() && split != "test" && split != "train") throw Error(ErrorCode::BadInput, "Unknown split '" + split + "' (use test or train)");
    if (fs::is_directory(path)) {
        // A folder of IDX files (MNIST / Fashion-MNIST as Debian ships them): one split's images file.
        std::vector<std::string> idx;
        for (const auto &e : fs::directory_iterator(path, ec)) {
            const std::string n = lower(e.path().filename().string());
            if (e.is_regular_file() && n.find("images") != std::string::npos && n.find("idx3") != std::string::npos) idx.push_back(e.path().string());
        }
        if (!idx.empty()) {
            const std::string want = split.empty() ? "test" : split;
            std::sort(idx.begin(), idx.end());
            for (const std::string &f : idx) {
                const std::string n = lower(fs::path(f).filename().string());
                const bool test = n.rfind("t10k", 0) == 0 || n.find("test") != std::string::npos;
                const bool train = n.rfind("train", 0) == 0;
                if ((want == "test" && test) || (want == "train" && train)) {
                    Dataset s = open(f, classNames);
                    s.mNote = "the " + want + " split: " + fs::path(f).filename().string() + (split.empty() ? " (--split train for the other)" : "");
                    return s;
                }
            }
            throw Error(ErrorCode::BadInput, path + " holds IDX files but no " + want + " split (t10k-* for test, train-* for train)");
        }
        d.mKind = "folder";
        std::vector<std::string> classes;
        for (const auto &e : fs::directory_iterator(path))
            if (e.is_directory()) classes.push_back(e.path().filename().string());
        std::sort(classes.begin(), classes.end());
        if (classes.empty()) throw Error(ErrorCode::BadInput, path + " has no class sub-folders (one folder per class is expected)");
        for (size_t c = 0; c < classes.size(); ++c) {
            int label = int(c);
            const auto it = std::find_if(classNames.begin(), classNames.end(), [&](const std::string &n) { return lower(n) == lower(classes[c]); });
            if (it != classNames.end())
                label = int(it - classNames.begin());
            else if (int64_t n = 0; std::all_of(classes[c].begin(), classes[c].end(), ::isdigit) && parseInteger(classes[c], n) && n < kMaxLabel)
                label = int(n);
            std::vector<std::string> files;
            for (const auto &e : fs::directory_iterator(fs::path(path) / classes[c]))
                if (e.is_regular_file() && isImage(e.path())) files.push_back(e.path().string());
            std::sort(files.begin(), files.end());
            for (auto &f : files) {
                d.mPaths.push_back(f);
                d.mLabels.push_back(label);
            }
        }
        return d;
    }
    const std::string name = lower(fs::path(path).filename().string());
    if (name.find("idx3") != std::string::npos || name.find("images") != std::string::npos) {
        d.mKind = "idx";
        const auto img = readMaybeGz(path);
        if (img.size() < 16 || be32(img, 0) != 0x00000803) throw Error(ErrorCode::BadInput, path + " is not an IDX image file (magic 0x803)");
        const uint32_t n = be32(img, 4);
        d.mRows = be32(img, 8);
        d.mCols = be32(img, 12);
        if (d.mRows < 1 || d.mCols < 1 || d.mRows > 16384 || d.mCols > 16384)
            throw Error(ErrorCode::BadInput,
                        path + ": its header gives images of " + std::to_string(d.mRows) + " × " + std::to_string(d.mCols)
                            + " pixels (1 to 16384 each are read)");
        const uint64_t pixels = uint64_t(d.mRows) * uint64_t(d.mCols);
        if (img.size() - 16 < uint64_t(n) * pixels)
            throw Error(ErrorCode::BadInput,
                        path + " is truncated: its header counts " + std::to_string(n) + " images of " + std::to_string(pixels)
                            + " pixels, the file holds " + std::to_string((img.size() - 16) / pixels));
        d.mPixels.assign(img.begin() + 16, img.begin() + 16 + long(size_t(n) * size_t(pixels)));
        std::string labelsPath = fs::path(path).filename().string();
        for (const auto &[from, to] :
             std::vector<std::pair<std::string, std::string>>{{"images-idx3", "labels-idx1"}, {"images", "labels"}, {"idx3", "idx1"}}) {
            const auto at = labelsPath.find(from);
            if (at != std::string::npos) {
                labelsPath.replace(at, from.size(), to);
                break;
            }
        }
        labelsPath = (fs::path(path).parent_path() / labelsPath).string();
        const auto lab = readMaybeGz(labelsPath);
        if (lab.size() < 8 || be32(lab, 0) != 0x00000801) throw Error(ErrorCode::BadInput, labelsPath + " is not an IDX label file (magic 0x801)");
        if (be32(lab, 4) != n)
            throw Error(ErrorCode::BadInput, labelsPath + " has " + std::to_string(be32(lab, 4)) + " labels for " + std::to_string(n) + " images");
        if (lab.size() - 8 < n)
            throw Error(ErrorCode::BadInput,
                        labelsPath + " is truncated: its header counts " + std::to_string(n) + " labels, the file holds "
                            + std::to_string(lab.size() - 8));
        for (uint32_t i = 0; i < n; ++i) d.mLabels.push_back(lab[8 + i]);
        return d;
    }
    // CSV: path,label (paths relative to the CSV's folder); a header line is skipped.
    d.mKind = "csv";
    checkInputFile(path, kMaxTextFileBytes, "The dataset");
    std::ifstream in(path);
    std::string line;
    size_t lineNo = 0;
    while (std::getline(in, line)) {
        ++lineNo;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        const auto comma = line.rfind(',');
        if (comma == std::string::npos) throw Error(ErrorCode::BadInput, path + ": line " + std::to_string(lineNo) + ": expected path,label");
        const std::string file = line.substr(0, comma), label = line.substr(comma + 1);
        int64_t index = 0;
        if (label.empty() || !std::all_of(label.begin(), label.end(), ::isdigit) || !parseInteger(label, index)) {
            if (lineNo == 1) continue;
            throw Error(ErrorCode::BadInput,
                        path + ": line " + std::to_string(lineNo) + ": label '" + label.substr(0, 40) + "' is not a class index");
        }
        if (index >= kMaxLabel)
            throw Error(ErrorCode::BadInput,
                        path + ": line " + std::to_string(lineNo) + ": the class index " + label + " is beyond " + std::to_string(kMaxLabel - 1));
        const fs::path p(file);
        d.mPaths.push_back((p.is_absolute() ? p : fs::path(path).parent_path() / p).string());
        d.mLabels.push_back(int(index));
    }
    if (d.mLabels.empty()) throw Error(ErrorCode::BadInput, path + " lists no items");
    return d;
}

std::string Dataset::itemName(size_t i) const { return mKind == "idx" ? "#" + std::to_string(i) : mPaths[i]; }

TensorValue Dataset::batch(size_t begin, size_t end, const InputSpec &spec, const Shape &modelInput) const
{
    std::vector<float> all;
    Shape itemShape;
    for (size_t i = begin; i < end; ++i) {
        TensorValue t;
        if (mKind == "idx") {
            const float lo = spec.rangeLo, span = spec.rangeHi - spec.rangeLo;
            const float mean = spec.mean.empty() ? 0.f : spec.mean[0], sd = spec.std.empty() ? 1.f : spec.std[0];
            std::vector<float> v(size_t(mRows * mCols));
            const uint8_t *px = mPixels.data() + i * size_t(mRows * mCols);
            for (size_t k = 0; k < v.size(); ++k) v[k] = (lo + span * float(px[k]) / 255.0f - mean) / sd;
            t = TensorValue({1, 1, mRows, mCols}, std::move(v));
        } else {
            t = loadInputFile(mPaths[i], spec, modelInput);
        }
        Shape s(t.shape().begin() + 1, t.shape().end());
        if (itemShape.empty())
            itemShape = s;
        else if (s != itemShape)
            throw Error(ErrorCode::BadInput,
                        itemName(i) + " has shape " + shapeToString(t.shape()) + ", unlike the batch's " + shapeToString(itemShape));
        all.insert(all.end(), t.data(), t.data() + t.numel());
    }
    Shape shape = itemShape;
    shape.insert(shape.begin(), int64_t(end - begin));
    return TensorValue(shape, std::move(all));
}

TensorValue encodeDataset(Model &encoder, const Dataset &data, size_t limit, const std::function<void(size_t, size_t)> &beforeBatch)
{
    const ModelSummary &s = encoder.summary();
    const size_t n = std::min(limit, data.size());
    if (!n) throw Error(ErrorCode::BadInput, "The dataset is empty");
    std::vector<TensorValue> mus;
    for (size_t b = 0; b < n; b += 256) {
        if (beforeBatch) beforeBatch(b, n);
        const size_t e = std::min(n, b + 256);
        const TensorValue mu = encoder.forward(data.batch(b, e, s.metadata.input, s.inputShape), {}).outputs.at(0);
        mus.push_back(TensorValue({int64_t(e - b), mu.numel() / int64_t(e - b)}, std::vector<float>(mu.data(), mu.data() + mu.numel())));
    }
    return concatRows(mus);
}

}   // namespace pellucid
