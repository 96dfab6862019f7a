// Layer taps equal PyTorch eager forward-hook values, on traced and scripted fixtures (nested modules,
// a module called twice, if/loop blocks, tuple outputs), and the catalogue lists what forward calls.
#include "engine/core/errors.h"
#include "engine/core/json.h"
#include "engine/runtime/model.h"
#include "engine/core/npy.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <fstream>
#include <sstream>

using namespace pellucid;

namespace {

Json manifest()
{
    std::ifstream in(fixtures::path("manifest.json"));
    std::stringstream s;
    s << in.rdbuf();
    return Json::parse(s.str());
}

const Json &entry(const std::string &name)
{
    static const Json m = manifest();
    for (const Json &e : m.find("models")->asArray())
        if (e.find("name")->asString() == name) return e;
    throw std::runtime_error("no fixture " + name);
}

void checkAllTaps(const std::string &name)
{
    const Json &e = entry(name);
    const TensorValue input = readNpy(fixtures::path(e.find("input")->asString()));
    for (const Json &file : e.find("files")->asArray()) {
        auto model = Model::load(fixtures::path(file.asString()), fixtures::cpuOptions());
        std::vector<std::string> paths;
        for (const auto &kv : e.find("layers")->asObject()) paths.push_back(kv.first);
        const ForwardResult r = model->forward(input, paths);
        // Model outputs unchanged by the rewriting.
        const auto &outs = e.find("outputs")->asArray();
        CHECK_EQ(r.outputs.size(), outs.size());
        for (size_t i = 0; i < outs.size() && i < r.outputs.size(); ++i) {
            const TensorValue expected = readNpy(fixtures::path(outs[i].asString()));
            const double diff = fixtures::maxAbsDiff(r.outputs[i], expected);
            CHECK_MSG(diff <= 1e-5 * (1 + fixtures::maxAbs(expected)), file.asString() << " output " << i << " diff " << diff);
        }
        for (const auto &kv : e.find("layers")->asObject()) {
            const auto &got = r.taps.at(kv.first);
            const auto &files = kv.second.asArray();
            CHECK_MSG(got.size() == files.size(), file.asString() << " " << kv.first << ": " << got.size() << " tensors");
            for (size_t i = 0; i < files.size() && i < got.size(); ++i) {
                const TensorValue expected = readNpy(fixtures::path(files[i].asString()));
                const double diff = fixtures::maxAbsDiff(got[i], expected);
                CHECK_MSG(diff <= 1e-5 * (1 + fixtures::maxAbs(expected)),
                          file.asString() << " layer " << kv.first << "[" << i << "] shape " << shapeToString(got[i].shape()) << " vs "
                                          << shapeToString(expected.shape()) << " diff " << diff);
            }
        }
    }
}

}   // namespace

TEST(taps_sequential_nested_and_reused_module) { checkAllTaps("seqcnn"); }
TEST(taps_inside_if_and_loop_blocks) { checkAllTaps("control"); }
TEST(taps_tuple_outputs) { checkAllTaps("tuplenet"); }

TEST(tap_in_untaken_branch_is_reported)
{
    auto model = Model::load(fixtures::path("control_scripted.pt"), fixtures::cpuOptions());
    const TensorValue input = readNpy(fixtures::path("control_input.npy"));
    CHECK_THROWS_WITH(model->forward(input, {"neg"}), Error, "not executed");
}

TEST(catalogue_lists_modules_shapes_and_parameters)
{
    for (const char *file : {"seqcnn_traced.pt", "seqcnn_scripted.pt"}) {
        auto model = Model::load(fixtures::path(file), fixtures::cpuOptions());
        const ModelSummary &s = model->summary();
        CHECK_EQ(s.layers.size(), size_t(13));
        CHECK_EQ(s.inputShapeSource, std::string("metadata"));
        CHECK(s.inputShape == (Shape{1, 3, 16, 16}));
        int64_t params = 0;
        for (const auto &l : s.layers) {
            if (l.path == "features.0") {
                CHECK_EQ(l.op, std::string("Conv2d"));
                CHECK(l.outputShapes.size() == 1 && l.outputShapes[0] == (Shape{1, 6, 16, 16}));
                CHECK_EQ(l.parameters, int64_t(3 * 6 * 9 + 6));
                params += l.parameters;
            }
            if (l.path == "features.3.relu") CHECK_EQ(l.calls, 2);
            if (l.path == "classifier.1") CHECK(l.outputShapes.size() == 1 && l.outputShapes[0] == (Shape{1, 10}));
            if (l.path == "features") CHECK(!l.leaf);
        }
        CHECK(params > 0);
        CHECK(s.parameterCount > 0);
        CHECK_EQ(s.metadata.labels.size(), size_t(10));
        CHECK_EQ(s.metadata.source, std::string(std::string(file) == "seqcnn_traced.pt" ? "sidecar" : "archive"));
    }
}

TEST(tuple_layer_elements_are_addressable)
{
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    o.inputShape = {1, 1, 8, 8};   // no metadata, and no guessed shape fits this model
    auto model = Model::load(fixtures::path("tuplenet_traced.pt"), o);
    CHECK_EQ(model->summary().inputShapeSource, std::string("user"));
    const LayerRef ref = model->resolveLayer("split[1]");
    CHECK_EQ(ref.path, std::string("split"));
    CHECK_EQ(ref.element, 1);
    for (const auto &l : model->summary().layers)
        if (l.path == "split") CHECK_EQ(l.outputShapes.size(), size_t(2));
}

TEST(input_shape_from_dry_run_without_metadata)
{
    auto model = Model::load(fixtures::path("control_scripted.pt"), fixtures::cpuOptions());
    CHECK_EQ(model->summary().inputShapeSource, std::string("dry-run"));
    CHECK_EQ(model->summary().inputShape.size(), size_t(4));
    CHECK_EQ(model->summary().inputShape[1], int64_t(1));
}

TEST(demo_model_loads_with_metadata)
{
    auto model = Model::load(fixtures::resources("models/fashion_mnist_cnn.pt"), fixtures::cpuOptions());
    const ModelSummary &s = model->summary();
    CHECK_EQ(s.metadata.labels.size(), size_t(10));
    CHECK(s.inputShape == (Shape{1, 1, 28, 28}));
    CHECK_EQ(s.metadata.input.mean.size(), size_t(1));
    bool found = false;
    for (const auto &l : s.layers)
        if (l.path == "features.5") {
            found = true;
            CHECK(l.outputShapes.size() == 1 && l.outputShapes[0] == (Shape{1, 32, 28, 28}));
        }
    CHECK(found);
}

TESTKIT_MAIN
