// The ONNX backend (engine/onnx, OpenCV DNN): torchvision's architectures at reduced widths exported with
// Debian's torch.onnx (tests/fixtures/make_onnx_fixtures.py, the same weights as data/tv/<name>_traced.pt).
// Predictions and the output of every node that ends a module's scope against eager PyTorch (forward hooks)
// within 1e-4; the forward-only methods on the ONNX file equal the same methods on the TorchScript file; the
// gradient methods and the TorchScript-only views refuse in one line; which architectures OpenCV 4.6 imports.
#include "engine/attribution/attribution.h"
#include "engine/attribution/methods.h"
#include "engine/core/errors.h"
#include "engine/core/json.h"
#include "engine/core/npy.h"
#include "engine/onnx/onnxbackend.h"
#include "engine/onnx/onnxfile.h"
#include "engine/attention/attention.h"
#include "engine/runtime/model.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

using namespace pellucid;

namespace {

using fixtures::maxAbs;
using fixtures::maxAbsDiff;

LoadOptions cpu() { return fixtures::cpuOptions(); }

const Json &manifest()
{
    static const Json m = [] {
        std::ifstream in(fixtures::path("onnx/manifest.json"));
        std::stringstream s;
        s << in.rdbuf();
        return Json::parse(s.str());
    }();
    return m;
}

std::string onnxPath(const std::string &file) { return fixtures::path("onnx/" + file); }

/// A node's output against the hook's digest (relative to the tensor's scale: random weights without
/// normalisation grow values to 1e5 and more); a message naming what differs, or "".
std::string compare(const TensorValue &t, const Json &d)
{
    Shape shape;
    for (const Json &v : d.find("shape")->asArray()) shape.push_back(v.asInt());
    if (shapeNumel(t.shape()) != shapeNumel(shape)) return "shape " + shapeToString(t.shape()) + " vs " + shapeToString(shape);
    const double range = std::max(std::fabs(d.find("min")->asNumber()), std::fabs(d.find("max")->asNumber()));
    const double tol = 1e-4 * std::max(1.0, range);
    double sum = 0;
    for (int64_t i = 0; i < t.numel(); ++i) sum += t.at(i);
    std::ostringstream why;
    const double n = double(std::max<int64_t>(1, t.numel()));
    if (std::fabs(sum - d.find("sum")->asNumber()) > tol * n) why << "sum " << sum << " vs " << d.find("sum")->asNumber() << " ";
    for (const Json &s : d.find("samples")->asArray()) {
        const int64_t i = s.asArray()[0].asInt();
        const double want = s.asArray()[1].asNumber();
        if (std::fabs(t.at(i) - want) > tol) {
            why << "x[" << i << "] " << t.at(i) << " vs " << want;
            break;
        }
    }
    return why.str();
}

// What OpenCV 4.6's importer reads of torch 1.13's exports (README, ONNX models).
const std::set<std::string> kImported = {"resnet_basic_op13.onnx", "resnet_bottleneck_op13.onnx", "squeezenet_op13.onnx", "mobilenet_v2_op10.onnx",
                                         "mobilenet_v3_op13.onnx", "efficientnet_op13.onnx",      "densenet_op13.onnx",   "regnet_op13.onnx",
                                         "googlenet_op13.onnx",    "shufflenet_v2_op13.onnx",     "mnasnet_op13.onnx"};

}   // namespace

TEST(predictions_and_node_outputs_equal_eager_pytorch)
{
    registerOnnxBackend();
    int files = 0, nodes = 0;
    for (const auto &[name, e] : manifest().find("models")->asObject()) {
        const TensorValue input = readNpy(fixtures::path("onnx/" + e.find("input")->asString()));
        for (const auto &[file, f] : e.find("files")->asObject()) {
            if (!kImported.count(file)) continue;
            ++files;
            std::unique_ptr<Model> m = Model::load(onnxPath(file), cpu());
            CHECK_EQ(m->summary().format, std::string("onnx"));
            CHECK_MSG(m->summary().runtime.rfind("OpenCV DNN ", 0) == 0, m->summary().runtime);
            CHECK_MSG(m->summary().inputShape == input.shape(), file << ": input shape " << shapeToString(m->summary().inputShape));
            CHECK_MSG(m->summary().parameterCount > 0, file);
            std::vector<std::string> wanted;
            for (const auto &[node, _] : f.find("nodes")->asObject()) wanted.push_back(node);
            const ForwardResult r = m->forward(input, wanted);
            // Logits.
            const auto &logits = e.find("logits")->asArray();
            CHECK_EQ(r.outputs.size(), size_t(1));
            CHECK_EQ(r.outputs[0].numel(), int64_t(logits.size()));
            double scale = 1;
            for (const Json &v : logits) scale = std::max(scale, std::fabs(v.asNumber()));
            for (size_t i = 0; i < logits.size(); ++i)
                CHECK_MSG(std::fabs(r.outputs[0].at(int64_t(i)) - logits[i].asNumber()) <= 1e-4 * scale,
                          file << " logit " << i << ": " << r.outputs[0].at(int64_t(i)) << " vs " << logits[i].asNumber());
            // Every node that ends a module's scope, requested together.
            for (const auto &[node, ref] : f.find("nodes")->asObject()) {
                ++nodes;
                const auto it = r.taps.find(node);
                CHECK_MSG(it != r.taps.end() && it->second.size() == 1, file << ": no output for " << node);
                if (it == r.taps.end() || it->second.empty()) continue;
                const std::string why = compare(it->second[0], *ref.find("digest"));
                CHECK_MSG(why.empty(), file << " node " << node << " (module " << ref.find("module")->asString() << "): " << why);
                // One node alone gives the same (nothing fused into it when it is the only one asked for).
                if (nodes % 7 == 0) {
                    const ForwardResult one = m->forward(input, {node});
                    CHECK_MSG(maxAbsDiff(one.taps.at(node)[0], it->second[0]) <= 1e-5 * std::max(1.0, maxAbs(it->second[0])), node);
                }
            }
        }
    }
    CHECK_MSG(files == int(kImported.size()), files << " ONNX files opened");
    CHECK_MSG(nodes > 200, nodes << " node outputs compared");
}

TEST(the_node_list_is_the_layer_catalogue)
{
    registerOnnxBackend();
    std::unique_ptr<Model> m = Model::load(onnxPath("resnet_basic_op13.onnx"), cpu());
    const auto &layers = m->summary().layers;
    CHECK(layers.size() > 20);
    bool conv = false;
    for (const LayerInfo &l : layers) {
        CHECK_MSG(l.executedInDryRun && !l.outputShapes.empty(), l.path);
        if (l.path == "/layer1/layer1.0/conv1/Conv")
            conv = l.op == "Conv" && l.parameters == 8 * 8 * 3 * 3 + 8 && l.outputShapes[0] == Shape({1, 8, 16, 16});
    }
    CHECK_MSG(conv, "the Conv node's op, weights and output shape");
    CHECK_EQ(m->resolveLayer("/layer4/layer4.0/relu_1/Relu").path, std::string("/layer4/layer4.0/relu_1/Relu"));
    CHECK_THROWS_WITH(m->resolveLayer("/layer4/layer4.0/relu_1/Rel"), Error, "Did you mean: /layer4/layer4.0/relu_1/Relu");
    // Batches: OpenCV re-plans for another batch size.
    const TensorValue one = readNpy(onnxPath("resnet_basic_input.npy"));
    const TensorValue three = concatRows({one, one, one});
    const ForwardResult r1 = m->forward(one, {}), r3 = m->forward(three, {});
    CHECK(r3.outputs[0].shape() == Shape({3, 10}));
    for (int b = 0; b < 3; ++b) CHECK(maxAbsDiff(r3.outputs[0].slice0(b), r1.outputs[0].slice0(0)) <= 1e-4 * std::max(1.0, maxAbs(r1.outputs[0])));
    // Top-k through the same path as TorchScript models.
    CHECK_EQ(m->topK(r1.outputs[0], 3).size(), size_t(3));
}

TEST(forward_only_methods_equal_the_torchscript_model_on_the_same_weights)
{
    registerOnnxBackend();
    for (const std::string name : {"resnet_basic", "shufflenet_v2"}) {
        const std::string file = name + "_op13.onnx";   // ShuffleNet: OpenCV cannot batch it (row by row)
        std::unique_ptr<Model> onnx = Model::load(onnxPath(file), cpu());
        std::unique_ptr<Model> ts = Model::load(fixtures::path("tv/" + name + "_traced.pt"), cpu());
        const TensorValue x = readNpy(onnxPath(name + "_input.npy"));
        const double logitScale = maxAbs(ts->forward(x, {}).outputs[0]);
        struct Case {
            AttributionMethod method;
            std::string onnxLayer, tsLayer;
        };
        std::vector<Case> cases = {
            {AttributionMethod::Occlusion, "", ""}, {AttributionMethod::Lime, "", ""}, {AttributionMethod::KernelShap, "", ""}};
        if (name == "resnet_basic") cases.push_back({AttributionMethod::ScoreCam, "/layer3/layer3.0/relu_1/Relu", "layer3"});
        for (const Case &c : cases) {
            AttributionParams p;
            p.method = c.method;
            p.target.kind = AttributionTarget::Kind::Class;
            p.target.classIndex = 3;
            p.window = {3, 8, 8};
            p.stride = {3, 4, 4};
            p.samples = 40;
            p.seed = 5;
            p.gridCells = 4;
            p.layer = c.onnxLayer;
            const auto a = computeAttribution(*onnx, x, p);
            p.layer = c.tsLayer;
            const auto b = computeAttribution(*ts, x, p);
            // A map's values are differences of (or fits to) outputs, whose float32 rounding is relative to the
            // logits' scale: within 1e-4 of the map's own scale plus 1e-5 of the logits'.
            const double d = maxAbsDiff(a->map, b->map), s = maxAbs(b->map);
            CHECK_MSG(d <= 1e-4 * s + 1e-5 * logitScale,
                      name << " " << methodName(c.method) << ": ONNX and TorchScript maps differ by " << d << " (scale " << s << ")");
            CHECK_EQ(a->modelPasses, b->modelPasses);
        }
    }
}

TEST(gradients_and_torchscript_views_refuse_in_one_line)
{
    registerOnnxBackend();
    std::unique_ptr<Model> m = Model::load(onnxPath("resnet_basic_op13.onnx"), cpu());
    const TensorValue x = readNpy(onnxPath("resnet_basic_input.npy"));
    for (AttributionMethod method : allMethods()) {
        if (isForwardOnlyMethod(method)) continue;
        AttributionParams p;
        p.method = method;
        p.layer = "/layer4/layer4.0/relu_1/Relu";
        try {
            (void)computeAttribution(*m, x, p);
            CHECK_MSG(false, methodName(method) << " ran on an ONNX model");
        } catch (const Error &e) {
            const std::string what = e.what();
            CHECK_MSG(what.find("needs gradients") != std::string::npos && what.find("occlusion") != std::string::npos
                          && what.find('\n') == std::string::npos,
                      what);
        }
    }
    CHECK_THROWS_WITH(computeAttention(*m, x), Error, "needs a TorchScript model");
    CHECK_THROWS_WITH(m->setPrecision(Precision::BFloat16), Error, "no bfloat16");
    CHECK(m->precision() == Precision::Float32);
    LoadOptions cuda = cpu();
    cuda.device = DevicePreference::Cuda;
    CHECK_THROWS_WITH(Model::load(onnxPath("resnet_basic_op13.onnx"), cuda), Error, "run on the CPU");
}

TEST(what_opencv_cannot_import_is_one_line_naming_the_node)
{
    registerOnnxBackend();
    int refused = 0;
    for (const auto &[name, e] : manifest().find("models")->asObject()) {
        for (const auto &[file, f] : e.find("files")->asObject()) {
            if (kImported.count(file)) continue;
            ++refused;
            try {
                (void)Model::load(onnxPath(file), cpu());
                CHECK_MSG(false, file << " imported: update kImported and the README's list");
            } catch (const Error &err) {
                const std::string what = err.what();
                CHECK_MSG(what.find(file) != std::string::npos && what.find("cannot import") != std::string::npos
                              && what.find("node /") != std::string::npos && what.find('\n') == std::string::npos && what.size() < 600,
                          what);
            }
        }
    }
    CHECK_MSG(refused >= 4, refused);   // MobileNetV2 at opset 13, ConvNeXt, ViT, Swin
    CHECK_THROWS_WITH(Model::load(onnxPath("truncated.onnx"), cpu()), Error, "not a valid ONNX file");
    CHECK_THROWS_WITH(Model::load(onnxPath("not_onnx.onnx"), cpu()), Error, "not a valid ONNX file");
}

TEST(the_file_reader_reads_what_the_exporter_wrote)
{
    std::ifstream in(onnxPath("resnet_basic_op13.onnx"), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    const std::string bytes = s.str();
    const OnnxFileInfo info = parseOnnxFile(bytes, "resnet_basic_op13.onnx");
    CHECK(info.inputs == std::vector<std::string>{"input"});
    CHECK(info.inputShapes[0] == Shape({1, 3, 64, 64}));
    CHECK(info.outputs == std::vector<std::string>{"logits"});
    CHECK_EQ(info.nodes.front().name, std::string("/conv1/Conv"));
    CHECK_EQ(info.nodes.front().op, std::string("Conv"));
    CHECK(info.producer.find("pytorch") != std::string::npos);
    CHECK(!info.opsets.empty() && info.opsets[0].second == 13);
    CHECK(info.initializerValues > 10000);
    // Every prefix of the file is refused or read without reading past it (no crash under the sanitizers).
    int refusedPrefixes = 0;
    for (size_t n = 0; n < bytes.size(); n += 997) {
        try {
            (void)parseOnnxFile(bytes.substr(0, n), "prefix");
        } catch (const Error &) {
            ++refusedPrefixes;
        }
    }
    CHECK(refusedPrefixes > 0);
}

TESTKIT_MAIN
