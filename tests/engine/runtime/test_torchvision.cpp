// Taps and layer gradients on torchvision's classification architectures (reduced widths, random weights;
// tests/fixtures/make_torchvision_fixtures.py), traced and scripted: every module's tap equals the output a
// PyTorch forward hook recorded (cloned, so later in-place ops — ReLU(inplace=True) after a BatchNorm,
// `out += identity` — cannot change it), and Grad-CAM at layers followed by in-place ops equals Grad-CAM on
// the eager model with in-place ops turned off (the value and the gradient at the layer both right).
#include "engine/attribution/attribution.h"
#include "engine/core/errors.h"
#include "engine/core/json.h"
#include "engine/core/npy.h"
#include "engine/runtime/model.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace pellucid;

namespace {

const Json &manifest()
{
    static const Json m = [] {
        std::ifstream in(fixtures::path("tv/manifest.json"));
        std::stringstream s;
        s << in.rdbuf();
        return Json::parse(s.str());
    }();
    return m;
}

bool close(double a, double b, double scale) { return std::fabs(a - b) <= 1e-4 * std::max(1.0, scale); }

/// The tap against the hook's digest; a message naming what differs, or "".
std::string compare(const TensorValue &t, const Json &d)
{
    Shape shape;
    for (const Json &v : d.find("shape")->asArray()) shape.push_back(v.asInt());
    if (t.shape() != shape) return "shape " + shapeToString(t.shape()) + " vs " + shapeToString(shape);
    double sum = 0, abs = 0, lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < t.numel(); ++i) {
        const double v = t.at(i);
        sum += v;
        abs += std::fabs(v);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    const double scale = d.find("abs")->asNumber();
    std::ostringstream why;
    if (!close(lo, d.find("min")->asNumber(), std::fabs(d.find("min")->asNumber())))
        why << "min " << lo << " vs " << d.find("min")->asNumber() << " ";
    if (!close(hi, d.find("max")->asNumber(), std::fabs(d.find("max")->asNumber())))
        why << "max " << hi << " vs " << d.find("max")->asNumber() << " ";
    if (!close(abs, scale, scale)) why << "sum|x| " << abs << " vs " << scale << " ";
    if (!close(sum, d.find("sum")->asNumber(), scale)) why << "sum " << sum << " vs " << d.find("sum")->asNumber() << " ";
    for (const Json &s : d.find("samples")->asArray()) {
        const int64_t i = s.asArray()[0].asInt();
        const double want = s.asArray()[1].asNumber();
        // Relative to the value and, for a value made by cancellation in a large tensor, to the tensor's scale
        // (float32 kernels differ by CPU: AVX-512 and AVX2 sum in other orders).
        const double range = std::max(std::fabs(d.find("min")->asNumber()), std::fabs(d.find("max")->asNumber()));
        if (std::fabs(t.at(i) - want) > 1e-4 * std::max(1.0, std::fabs(want)) + 2e-6 * range) {
            why << "x[" << i << "] " << t.at(i) << " vs " << want;
            break;
        }
    }
    return why.str();
}

}   // namespace

TEST(every_module_tap_equals_the_eager_hook_on_torchvision_architectures)
{
    int models = 0, forms = 0, taps = 0, untappable = 0;
    for (const auto &[name, e] : manifest().find("models")->asObject()) {
        ++models;
        const TensorValue input = readNpy(fixtures::path("tv/" + e.find("input")->asString()));
        CHECK_MSG(e.find("forms")->size() == 2, name << ": traced and scripted fixtures expected");
        for (const Json &form : e.find("forms")->asArray()) {
            ++forms;
            const std::string file = "tv/" + name + "_" + form.asString() + ".pt";
            auto model = fixtures::loadCpu(file);
            std::vector<std::string> paths;
            for (const auto &kv : e.find("modules")->asObject()) paths.push_back(kv.first);
            try {
                model->forward(input, paths);
            } catch (const Error &) {
                // A traced module that returns its input unchanged (StochasticDepth in eval) has no output in
                // the graph: the engine says so by name instead of showing anything. Find those one by one.
                std::vector<std::string> tappable;
                for (const std::string &path : paths) {
                    try {
                        model->forward(input, {path});
                        tappable.push_back(path);
                    } catch (const Error &ex) {
                        const bool traced = form.asString() == "traced";
                        CHECK_MSG(traced && std::string(ex.what()).find("has no output in this traced model") != std::string::npos,
                                  file << " " << path << ": " << ex.what());
                        ++untappable;
                    }
                }
                paths = tappable;
            }
            ForwardResult r;
            try {
                r = model->forward(input, paths);
            } catch (const std::exception &ex) {
                CHECK_MSG(false, file << ": " << ex.what());
                continue;
            }
            const std::string out = compare(r.outputs.at(0), *e.find("output"));
            CHECK_MSG(out.empty(), file << " output: " << out);
            for (const std::string &path : paths) {
                const Json &digest = *e.find("modules")->find(path);
                const auto it = r.taps.find(path);
                CHECK_MSG(it != r.taps.end() && !it->second.empty(), file << ": no tap for " << path);
                if (it == r.taps.end() || it->second.empty()) continue;
                const std::string why = compare(it->second.front(), digest);
                CHECK_MSG(why.empty(), file << " " << path << ": " << why);
                ++taps;
            }
        }
    }
    std::printf("  %d architectures, %d files, %d taps equal to the hooks; %d traced identity modules named as untappable\n", models, forms, taps,
                untappable);
    CHECK(untappable < 20);
    CHECK(models >= 15);
}

TEST(gradcam_at_layers_before_in_place_ops_matches_eager)
{
    int checked = 0;
    for (const auto &[name, e] : manifest().find("models")->asObject()) {
        const TensorValue input = readNpy(fixtures::path("tv/" + e.find("input")->asString()));
        for (const Json &form : e.find("forms")->asArray()) {
            auto model = fixtures::loadCpu("tv/" + name + "_" + form.asString() + ".pt");
            for (const auto &[layer, file] : e.find("gradcam")->asObject()) {
                AttributionParams p;
                p.method = AttributionMethod::GradCam;
                p.layer = layer;
                p.target.kind = AttributionTarget::Kind::Class;
                p.target.classIndex = 1;
                const TensorValue expected = readNpy(fixtures::path("tv/" + file.asString()));
                const TensorValue got = computeAttribution(*model, input, p)->map;
                double bound = 0;
                for (int64_t i = 0; i < expected.numel(); ++i) bound = std::max(bound, double(std::fabs(expected.at(i))));
                const double diff = fixtures::maxAbsDiff(got, expected);
                CHECK_MSG(diff <= 1e-4 * std::max(1.0, bound),
                          name << " " << form.asString() << " " << layer << ": max |Δ| " << diff << " (map bound " << bound << ")");
                ++checked;
            }
        }
    }
    CHECK(checked >= 20);
}

TEST(hugging_face_configs_give_labels_and_preprocessing)
{
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / "pellucid_hf_test";
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(fixtures::path("tv/resnet_basic_traced.pt"), dir / "model.pt");
    auto write = [&](const char *name, const std::string &text) { std::ofstream(dir / name) << text; };
    std::string labels;
    for (int i = 0; i < 10; ++i) labels += (i ? ", " : "") + std::string("\"") + std::to_string(i) + "\": \"class " + std::to_string(i) + "\"";
    write("config.json", "{\"model_type\": \"resnet\", \"id2label\": {" + labels + "}}");
    write("preprocessor_config.json",
          "{\"image_mean\": [0.485, 0.456, 0.406], \"image_std\": [0.229, 0.224, 0.225], "
          "\"rescale_factor\": 0.00392156862745098, \"size\": {\"shortest_edge\": 80}, \"crop_size\": {\"height\": 64, \"width\": 64}}");
    auto m = Model::load((dir / "model.pt").string(), fixtures::cpuOptions());
    const ModelMetadata &md = m->summary().metadata;
    CHECK_EQ(md.source, std::string("huggingface"));
    CHECK_EQ(md.labels.size(), size_t(10));
    CHECK_EQ(md.labels[3], std::string("class 3"));
    CHECK_EQ(md.task, std::string("classification"));
    CHECK(md.input.shape == (Shape{1, 3, 64, 64}));
    CHECK(m->summary().inputShape == (Shape{1, 3, 64, 64}));
    CHECK_EQ(md.input.channelOrder, std::string("rgb"));
    CHECK(md.input.mean.size() == 3 && std::fabs(md.input.mean[0] - 0.485f) < 1e-6 && std::fabs(md.input.std[2] - 0.225f) < 1e-6);
    CHECK(std::fabs(md.input.rangeHi - 1.0f) < 1e-6);
    // Another tool's config.json is not read; a malformed Hugging Face one is named.
    fs::remove(dir / "preprocessor_config.json");
    write("config.json", "{\"verbose\": true}");
    CHECK_EQ(Model::load((dir / "model.pt").string(), fixtures::cpuOptions())->summary().metadata.source, std::string("none"));
    write("config.json", "{\"model_type\": \"resnet\", \"id2label\": {\"0\": \"a\", \"2\": \"c\"}}");
    CHECK_THROWS_WITH(Model::load((dir / "model.pt").string(), fixtures::cpuOptions()), Error, "config.json (field 'id2label')");
    fs::remove_all(dir);
}

TESTKIT_MAIN
