// The dataset-level workflows the CLI and the GUI share: evaluation against NumPy's numbers, features and
// their projection, faithfulness and sanity, companion discovery, traversal frames, cancellation.
#include "app/workflows/workflows.h"
#include "engine/core/errors.h"
#include "engine/core/json.h"
#include "engine/core/npy.h"
#include "engine/projection/projection.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

using namespace pellucid;

namespace {

Json expected()
{
    std::ifstream in(fixtures::path("evalset/expected.json"));
    std::stringstream text;
    text << in.rdbuf();
    return Json::parse(text.str());
}

std::unique_ptr<Model> demo()
{
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    return Model::load(fixtures::resources("models/fashion_mnist_cnn.pt"), o);
}

const std::string fashion = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

}   // namespace

TEST(evaluation_matches_numpy_and_reports_progress)
{
    auto model = fixtures::loadCpu("linear_traced.pt");
    const Dataset data = Dataset::open(fixtures::path("evalset/eval.csv"), {});
    int64_t last = 0, calls = 0;
    WorkflowSink sink;
    sink.progress = [&](int64_t done, int64_t total, const std::string &) {
        CHECK(done <= total);
        last = done;
        ++calls;
    };
    const DatasetEvaluation ev = evaluateDataset(*model, data, 0, 3, 2, sink);   // batches of 3: progress per batch
    const Json e = expected();
    CHECK(std::fabs(ev.result.top1 - e.find("top1")->asNumber()) < 1e-9);
    CHECK(std::fabs(ev.result.topK_accuracy - e.find("top2")->asNumber()) < 1e-9);
    CHECK(std::fabs(ev.result.macroF1 - e.find("macro_f1")->asNumber()) < 1e-9);
    CHECK_EQ(ev.classes, 3);
    CHECK_EQ(ev.items, data.size());
    CHECK_EQ(last, int64_t(data.size()));
    CHECK_EQ(calls, int64_t((data.size() + 2) / 3));
    // The batch size does not change the numbers; a limit takes the first items.
    CHECK(std::fabs(evaluateDataset(*model, data, 0, 256, 2).result.macroF1 - ev.result.macroF1) < 1e-12);
    CHECK_EQ(evaluateDataset(*model, data, 5, 256, 2).result.samples, int64_t(5));
    // Cancelled before the first batch.
    WorkflowSink stop;
    stop.cancelled = [] { return true; };
    CHECK_THROWS_WITH(evaluateDataset(*model, data, 0, 256, 2, stop), Error, "cancelled");
}

TEST(features_and_projection)
{
    auto model = demo();
    const Dataset data = Dataset::open(fashion, model->summary().metadata.labels);
    const TensorValue X = datasetFeatures(*model, data, "features.9", 60);
    CHECK(X.shape() == (Shape{60, 64}));
    // Pooled features equal the layer's own output averaged over H×W.
    const TensorValue x0 = data.batch(7, 8, model->summary().metadata.input, model->summary().inputShape);
    const TensorValue pooled = poolActivations(model->forward(x0, {"features.9"}).taps.at("features.9").at(0));
    for (int64_t k = 0; k < 64; ++k) CHECK(std::fabs(pooled.at(k) - X.at(7 * 64 + k)) < 1e-5);
    ProjectionOptions o;
    const Projection p = projectFeatures(X, "features.9", o);
    CHECK(p.points.shape() == (Shape{60, 2}));
    CHECK_EQ(p.explainedRatio.size(), size_t(2));
    CHECK(p.explainedRatio[0] >= p.explainedRatio[1]);
    CHECK(p.title.rfind("PCA of features.9 (", 0) == 0);
    o.method = "tsne";
    o.iterations = 250;
    o.perplexity = 10;
    int lives = 0;
    const Projection t = projectFeatures(X, "features.9", o, {}, [&](const std::string &title, const TensorValue &y) {
        ++lives;
        CHECK(title.find("t-SNE of features.9") == 0);
        CHECK(y.shape() == (Shape{60, 2}));
    });
    CHECK(lives >= 2);
    CHECK(t.points.shape() == (Shape{60, 2}));
    o.method = "isomap";
    CHECK_THROWS_WITH(projectFeatures(X, "features.9", o), Error, "Unknown projection 'isomap'");
}

TEST(faithfulness_and_sanity_workflows)
{
    auto model = demo();
    const Dataset data = Dataset::open(fashion, model->summary().metadata.labels);
    AttributionParams sal, cam;
    sal.method = AttributionMethod::Saliency;
    cam.method = AttributionMethod::GradCam;
    cam.layer = "features.9";
    FaithfulnessOptions o;
    o.steps = 8;
    o.limit = 3;
    const auto curves = faithfulness(*model, data, {sal, cam}, o);
    CHECK_EQ(curves.size(), size_t(2));
    for (const auto &c : curves) {
        CHECK_EQ(c.deletion.size(), size_t(9));
        CHECK(c.deletionAuc > 0 && c.deletionAuc < 1);
        CHECK(c.insertionAuc > 0 && c.insertionAuc < 1);
    }
    // The mean over items is the mean of one-item runs.
    double sum = 0;
    for (size_t i = 0; i < 3; ++i) {
        const TensorValue x = data.batch(i, i + 1, model->summary().metadata.input, model->summary().inputShape);
        const auto r = computeAttribution(*model, x, sal);
        sum += faithfulnessCurve(*model, x, r->map, r->targetClass, 8, false, blackBaseline(x, model->summary().metadata.input)).auc;
    }
    CHECK(std::fabs(sum / 3 - curves[0].deletionAuc) < 1e-9);
    // Sanity: the predicted target is fixed first.
    const TensorValue x = data.batch(0, 1, model->summary().metadata.input, model->summary().inputShape);
    AttributionParams p = sal;
    const SanityResult s = sanityCheck(*model, x, p);
    CHECK(p.target.kind == AttributionTarget::Kind::Class);
    CHECK_EQ(p.target.classIndex, model->topK(model->forward(x, {}).outputs.at(0), 1).at(0).index);
    CHECK(!s.steps.empty());
}

TEST(superpixels_follow_the_registry)
{
    // LIME gets SLIC superpixels (so its map is constant per region); saliency is unaffected.
    auto model = demo();
    const Dataset data = Dataset::open(fashion, model->summary().metadata.labels);
    const TensorValue x = data.batch(0, 1, model->summary().metadata.input, model->summary().inputShape);
    AttributionParams lime;
    lime.method = AttributionMethod::Lime;
    lime.samples = 60;
    const auto withSlic = explainInput(*model, x, lime);
    ExplainOptions grid;
    grid.superpixels = false;
    const auto withGrid = explainInput(*model, x, lime, grid);
    CHECK(fixtures::maxAbsDiff(withSlic->map, withGrid->map) > 0);
    std::map<float, int> distinct;
    for (int64_t i = 0; i < withGrid->map.numel(); ++i) distinct[withGrid->map.at(i)]++;
    CHECK(distinct.size() <= size_t(lime.gridCells * lime.gridCells));
    AttributionParams sal;
    const auto a = explainInput(*model, x, sal), b = explainInput(*model, x, sal, grid);
    CHECK_EQ(fixtures::maxAbsDiff(a->map, b->map), 0.0);
}

TEST(companions_of_the_bundled_generators)
{
    std::map<std::string, std::unique_ptr<Model>> opened;
    auto load = [&](const std::string &path) -> Model & {
        auto &m = opened[path];
        if (!m) {
            LoadOptions o;
            o.device = DevicePreference::Cpu;
            m = Model::load(path, o);
        }
        return *m;
    };
    LoadOptions cpu;
    cpu.device = DevicePreference::Cpu;
    const auto dec = Model::load(fixtures::resources("models/vae_decoder.pt"), cpu);
    const Companions c = discoverCompanions(dec->summary(), load);
    CHECK_MSG(c.encoder.find("vae_encoder.pt") != std::string::npos, c.encoder);
    CHECK_MSG(c.classifier.find("fashion_mnist_cnn.pt") != std::string::npos, c.classifier);
    CHECK_EQ(c.classifierLabels.size(), size_t(10));
    CHECK(!c.layers.empty());
    // A classifier has none.
    const auto cls = Model::load(fixtures::resources("models/fashion_mnist_cnn.pt"), cpu);
    const Companions none = discoverCompanions(cls->summary(), load);
    CHECK(none.classifier.empty() && none.encoder.empty());
}

TEST(traversal_frames_stack_dimensions)
{
    // 2 dimensions × 3 steps of 1×2×2 images, value = 10·dim + step.
    std::vector<float> v;
    for (int d = 0; d < 2; ++d)
        for (int s = 0; s < 3; ++s)
            for (int p = 0; p < 4; ++p) v.push_back(float(10 * d + s));
    const TensorValue frames = traversalFrames(TensorValue({6, 1, 2, 2}, v), 3);
    CHECK(frames.shape() == (Shape{3, 1, 4, 2}));
    for (int s = 0; s < 3; ++s) {
        CHECK_EQ(frames.at(s * 8 + 0), float(s));        // top half: dimension 0 at step s
        CHECK_EQ(frames.at(s * 8 + 4), float(10 + s));   // bottom half: dimension 1
    }
    CHECK_THROWS_WITH(traversalFrames(TensorValue({5, 1, 2, 2}, std::vector<float>(20, 0.f)), 3), Error, "does not hold 3 steps");
}

TESTKIT_MAIN
