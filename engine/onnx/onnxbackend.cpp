#include "engine/onnx/onnxbackend.h"

#include "engine/core/errors.h"
#include "engine/core/files.h"
#include "engine/onnx/onnxfile.h"
#include "engine/runtime/backend.h"
#include "engine/runtime/model.h"

#include <opencv2/core.hpp>
#include <opencv2/core/ocl.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include <cstring>
#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace pellucid {
namespace {

constexpr const char *kNodePrefix = "onnx_node!";   // OpenCV names a layer after its ONNX node so
constexpr uint64_t kMaxOnnxBytes = uint64_t(4) << 30;

std::string oneLine(std::string s)
{
    for (char &c : s)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    std::string out;
    for (char c : s)
        if (!(c == ' ' && !out.empty() && out.back() == ' ')) out += c;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

/// OpenCV's nested messages ("OpenCV(4.6.0) file:line: error: (-215:Assertion failed) cond in function 'f'")
/// as one readable line: the node it names, and the innermost cause.
std::string summarizeCvError(const cv::Exception &e)
{
    const std::string msg = oneLine(e.msg);
    std::string node;
    static const std::regex nodeRe(R"(Node \[([^@\]]+)@[^\]]*\]:\((?:onnx_node!)?([^)]*)\))");
    std::smatch m;
    if (std::regex_search(msg, m, nodeRe)) node = "node " + m[2].str() + " (" + m[1].str() + ")";
    std::string cause = msg;
    const size_t at = cause.rfind("error: ");
    if (at != std::string::npos) cause = cause.substr(at + 7);
    static const std::regex codeRe(R"(^\(-?\d+:[^)]*\)\s*)");
    cause = std::regex_replace(cause, codeRe, "");
    if (cause.size() > 300) cause = cause.substr(0, 300) + "…";
    return node.empty() ? cause : node + ": " + cause;
}

std::string readWhole(const std::string &path)
{
    const uint64_t size = checkInputFile(path, kMaxOnnxBytes, "The ONNX model");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::FileNotFound, "Cannot open " + path);
    std::string bytes(size_t(size), '\0');
    in.read(bytes.data(), std::streamsize(size));
    if (in.gcount() != std::streamsize(size)) throw Error(ErrorCode::IoError, "Cannot read " + path);
    return bytes;
}

TensorValue fromMat(const cv::Mat &mat)
{
    cv::Mat m = mat;
    if (m.depth() != CV_32F) m.convertTo(m, CV_32F);
    if (!m.isContinuous()) m = m.clone();
    Shape shape;
    for (int i = 0; i < m.dims; ++i) shape.push_back(m.size[i]);
    if (m.dims == 2 && m.channels() > 1) shape.push_back(m.channels());
    const float *p = m.ptr<float>();
    return TensorValue(shape, std::vector<float>(p, p + m.total() * size_t(m.channels())));
}

class OnnxBackend final : public ModelBackend {
public:
    explicit OnnxBackend(const std::string &path) : mPath(path)
    {
        const std::string bytes = readWhole(path);
        mInfo = parseOnnxFile(bytes, path);   // what the file declares, before OpenCV's importer sees it
        if (mInfo.inputs.size() != 1)
            throw Error(ErrorCode::BadInput,
                        path + ": the graph has " + std::to_string(mInfo.inputs.size()) + " inputs; Pellucid opens ONNX models with one input");
        mNet = import(bytes);
        std::map<std::string, std::string> opOf;   // ONNX op by node name and by first output
        for (const auto &n : mInfo.nodes) {
            if (!n.name.empty()) opOf[n.name] = n.op;
            if (!n.output.empty()) opOf.emplace(n.output, n.op);
        }
        for (const std::string &cvName : mNet.getLayerNames()) {
            BackendNode node;
            node.name = cvName.rfind(kNodePrefix, 0) == 0 ? cvName.substr(std::strlen(kNodePrefix)) : cvName;
            const cv::Ptr<cv::dnn::Layer> layer = mNet.getLayer(cvName);
            const auto it = opOf.find(node.name);
            // Layers OpenCV adds of its own (a Flatten's inner reshape, "/classifier/0/Flatten/flatten") are
            // not nodes of the file: they are not listed (their outputs are a node's, or OpenCV's internals).
            if (it == opOf.end()) continue;
            node.op = it->second;
            if (layer)
                for (const cv::Mat &b : layer->blobs) node.parameters += int64_t(b.total()) * b.channels();
            mCvName[node.name] = cvName;
            mNodes.push_back(std::move(node));
        }
        mOutputs = mNet.getUnconnectedOutLayersNames();
        if (mOutputs.empty()) throw Error(ErrorCode::BadInput, path + ": OpenCV DNN found no output in the graph");
        const Shape &in = mInfo.inputShapes.front();
        bool known = !in.empty();
        for (int64_t d : in) known = known && d > 0;
        if (known) mDeclared = in;
    }

    std::string format() const override { return "onnx"; }
    std::string runtime() const override { return std::string("OpenCV DNN ") + CV_VERSION; }
    const std::vector<BackendNode> &nodes() const override { return mNodes; }
    Shape declaredInputShape() const override { return mDeclared; }
    std::string embeddedMetadata() const override
    {
        const auto it = mInfo.metadata.find("pellucid.json");
        return it == mInfo.metadata.end() ? std::string() : it->second;
    }

    void setThreads(int threads) override { cv::setNumThreads(threads); }

    void enableReduced(Precision p) override
    {
        const std::string name = precisionName(p);
        if (p == Precision::BFloat16) throw Error(ErrorCode::BadInput, name + ": OpenCV DNN has no bfloat16 arithmetic");
        if (p != Precision::Float16) return;
        if (!cv::ocl::haveOpenCL() || !cv::ocl::Device::getDefault().available())
            throw Error(ErrorCode::BadInput,
                        name + ": OpenCV DNN " + CV_VERSION
                            + " computes ONNX models in float16 only on an OpenCL device, and none is available here");
        cv::dnn::Net net = import(readWhole(mPath));
        net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net.setPreferableTarget(cv::dnn::DNN_TARGET_OPENCL_FP16);
        mReduced = net;
        mHaveReduced = true;
    }

    void run(const TensorValue &input, const std::vector<std::string> &nodes, bool reduced, std::vector<TensorValue> &outputs,
             std::vector<TensorValue> &taps) override
    {
        // Nodes asked for come from a copy without OpenCV's fusion: with it, a Concat's inputs are computed in
        // place into the Concat's buffer and what a branch's last node "outputs" is overwritten (GoogLeNet's
        // and ShuffleNet's branches: tests/engine/onnx).
        cv::dnn::Net *net = reduced && mHaveReduced ? &mReduced : &mNet;
        if (!nodes.empty() && !(reduced && mHaveReduced)) {
            if (!mHaveTapNet) {
                mTapNet = import(readWhole(mPath));
                mTapNet.enableFusion(false);
                mHaveTapNet = true;
            }
            net = &mTapNet;
        }
        std::vector<cv::String> names(mOutputs.begin(), mOutputs.end());
        for (const std::string &n : nodes) {
            const auto it = mCvName.find(n);
            if (it == mCvName.end()) throw Error(ErrorCode::UnknownLayer, "Unknown node '" + n + "' in " + mPath);
            names.push_back(it->second);
        }
        const Shape &shape = input.shape();
        if (shape.size() < 2) throw Error(ErrorCode::BadInput, "OpenCV DNN needs an input of two or more dimensions, not " + shapeToString(shape));
        for (int64_t d : shape)
            if (d <= 0 || d > (int64_t(1) << 30)) throw Error(ErrorCode::BadInput, "Input shape " + shapeToString(shape) + " for " + mPath);
        const int64_t n = shape[0];
        std::vector<std::vector<TensorValue>> parts;   // per forward: outputs then taps
        // OpenCV 4.6 re-plans some graphs wrongly for another batch size (a Reshape or Transpose that keeps the
        // exported batch: MobileNetV3, EfficientNet, ShuffleNet): the first batch is checked against its first
        // row alone, and where it fails or differs, batches run row by row.
        if (n > 1 && mBatching != Batching::No) {
            std::vector<TensorValue> all;
            bool ok = true;
            try {
                all = forwardOnce(*net, input, names);
            } catch (const Error &) {
                ok = false;
            }
            if (ok && mBatching == Batching::Unknown) {
                const std::vector<TensorValue> first = forwardOnce(*net, input.rows(0, 1), names);
                for (size_t i = 0; ok && i < all.size(); ++i) ok = closeRows(all[i].rows(0, 1), first[i]);
                mBatching = ok ? Batching::Yes : Batching::No;
            } else if (!ok) {
                mBatching = Batching::No;
            }
            if (ok) parts.push_back(std::move(all));
        }
        if (parts.empty()) {
            if (n == 1 || mBatching == Batching::No) {
                for (int64_t b = 0; b < n; ++b) parts.push_back(forwardOnce(*net, n == 1 ? input : input.rows(b, b + 1), names));
            }
        }
        outputs.clear();
        taps.clear();
        for (size_t i = 0; i < names.size(); ++i) {
            std::vector<TensorValue> rows;
            for (auto &p : parts) rows.push_back(p[i]);
            (i < mOutputs.size() ? outputs : taps).push_back(rows.size() == 1 ? rows[0] : concatRows(rows));
        }
    }

private:
    enum class Batching { Unknown, Yes, No };

    static bool closeRows(const TensorValue &a, const TensorValue &b)
    {
        if (a.shape() != b.shape()) return false;
        double scale = 1, diff = 0;
        for (int64_t i = 0; i < b.numel(); ++i) {
            scale = std::max(scale, double(std::fabs(b.at(i))));
            diff = std::max(diff, double(std::fabs(a.at(i) - b.at(i))));
        }
        return diff <= 1e-4 * scale;
    }

    std::vector<TensorValue> forwardOnce(cv::dnn::Net &net, const TensorValue &input, const std::vector<cv::String> &names)
    {
        std::vector<int> dims;
        for (int64_t d : input.shape()) dims.push_back(int(d));
        std::vector<cv::Mat> results;
        try {
            const cv::Mat blob(int(dims.size()), dims.data(), CV_32F, const_cast<float *>(input.data()));
            net.setInput(blob.clone());
            net.forward(results, names);
        } catch (const cv::Exception &e) {
            throw Error(ErrorCode::ModelError, "OpenCV DNN's forward failed on input " + shapeToString(input.shape()) + ": " + summarizeCvError(e));
        }
        if (results.size() != names.size()) throw Error(ErrorCode::ModelError, "OpenCV DNN returned " + std::to_string(results.size()) + " outputs");
        std::vector<TensorValue> r;
        for (const cv::Mat &m : results) r.push_back(fromMat(m));
        return r;
    }

    cv::dnn::Net import(const std::string &bytes) const
    {
        try {
            cv::dnn::Net net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
            if (net.empty()) throw Error(ErrorCode::BadInput, mPath + ": OpenCV DNN imported no layers");
            net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
            net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
            return net;
        } catch (const cv::Exception &e) {
            throw Error(ErrorCode::BadInput, mPath + ": OpenCV DNN " + CV_VERSION + " cannot import this model: " + summarizeCvError(e));
        }
    }

    std::string mPath;
    OnnxFileInfo mInfo;
    cv::dnn::Net mNet, mReduced, mTapNet;   // mTapNet: without fusion, for nodes' outputs
    bool mHaveReduced = false, mHaveTapNet = false;
    Batching mBatching = Batching::Unknown;
    std::vector<BackendNode> mNodes;
    std::map<std::string, std::string> mCvName;   // node name → OpenCV layer name
    std::vector<std::string> mOutputs;            // OpenCV's output layers
    Shape mDeclared;
};

std::unique_ptr<ModelBackend> openOnnx(const std::string &path) { return std::make_unique<OnnxBackend>(path); }

}   // namespace

void registerOnnxBackend()
{
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    registerModelBackend(".onnx", &openOnnx);
}

}   // namespace pellucid
