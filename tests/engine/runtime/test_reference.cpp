// Models made outside the project (../shared/reference: PyTorch 1.13 and 2.11, traced and scripted)
// load, run, give the recorded outputs and can be tapped.
#include "engine/attribution/attribution.h"
#include "engine/core/errors.h"
#include "engine/runtime/model.h"
#include "engine/core/npy.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <filesystem>

using namespace pellucid;

namespace {

void checkOutputs(Model &model, const TensorValue &input, const std::string &expectedFile)
{
    const TensorValue expected = readNpy(fixtures::reference(expectedFile));
    const ForwardResult r = model.forward(input, {});
    CHECK(!r.outputs.empty());
    if (r.outputs.empty()) return;
    const double diff = fixtures::maxAbsDiff(r.outputs[0], expected);
    CHECK_MSG(diff <= 1e-4 * (1 + fixtures::maxAbs(expected)),
              model.summary().fileName << " diff " << diff << " shapes " << shapeToString(r.outputs[0].shape()) << " "
                                       << shapeToString(expected.shape()));
}

}   // namespace

TEST(reference_folder_is_present)
{
    CHECK_MSG(std::filesystem::exists(fixtures::reference("README.md")), "../shared/reference not found at " << PELLUCID_REFERENCE_DIR);
}

TEST(attribution_cnn_traced_and_scripted)
{
    const TensorValue input = readNpy(fixtures::reference("attribution/cnn/input.npy"));
    for (const char *f : {"attribution/cnn/model_traced.pt", "attribution/cnn/model_scripted.pt"}) {
        auto model = Model::load(fixtures::reference(f), fixtures::cpuOptions());
        checkOutputs(*model, input, "attribution/cnn/logits.npy");
        const ForwardResult r = model->forward(input, {"features.5"});
        CHECK(r.taps.count("features.5") == 1);
        CHECK(r.taps.at("features.5").at(0).shape().size() == 4);
    }
}

TEST(attention_vit_models_load_and_match_logits)
{
    const TensorValue input = readNpy(fixtures::reference("attention/vit_input.npy"));
    for (const char *f : {"attention/vit_sdpa_traced.pt", "attention/vit_sdpa_scripted.pt"}) {
        LoadOptions o;
        o.device = DevicePreference::Cpu;
        o.inputShape = input.shape();
        auto model = Model::load(fixtures::reference(f), o);
        CHECK(model->summary().layers.size() > 3);
        checkOutputs(*model, input, "attention/vit_logits.npy");
    }
}

TEST(attention_text_models_load_and_match_logits)
{
    const TensorValue ids = readNpy(fixtures::reference("attention/text_ids.npy"));
    for (const char *f : {"attention/text_mha_traced.pt", "attention/text_mha_scripted.pt", "attention/text_mha_traced_nograd.pt"}) {
        LoadOptions o;
        o.device = DevicePreference::Cpu;
        o.inputShape = ids.shape();
        o.inputDtype = "int64";
        auto model = Model::load(fixtures::reference(f), o);
        CHECK_MSG(model->summary().dryRunError.empty(), f << ": " << model->summary().dryRunError);
        checkOutputs(*model, ids, "attention/text_logits.npy");
    }
}

TEST(gradcam_on_vit_tokens_uses_the_patch_grid)
{
    const TensorValue input = readNpy(fixtures::reference("attention/vit_input.npy"));
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    o.inputShape = input.shape();
    auto model = Model::load(fixtures::reference("attention/vit_sdpa_traced.pt"), o);
    AttributionParams p;
    p.method = AttributionMethod::GradCam;
    p.layer = "blocks.1";   // [1, 17, 32]: CLS + 4×4 patches
    const auto r = computeAttribution(*model, input, p);
    CHECK(r->map.shape() == (Shape{1, 1, 4, 4}));
    CHECK(r->map.stats().min >= 0);
    p.layer = "blocks.1.mlp.0";   // [1, 17, 64]
    p.method = AttributionMethod::LayerCam;
    CHECK(computeAttribution(*model, input, p)->map.shape() == (Shape{1, 1, 4, 4}));
    p.layer = "head";   // [1, 10]: not spatial
    CHECK_THROWS_WITH(computeAttribution(*model, input, p), Error, "not spatial");
}

TESTKIT_MAIN
