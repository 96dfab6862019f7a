// The method registry, walked by one table-driven test (as Captum's test_config): every row's name, its
// map's shape convention, its sign, the parameters it declares it reads, and its forward-only flag.
#include "engine/attribution/attribution.h"
#include "engine/attribution/methods.h"
#include "engine/core/errors.h"
#include "engine/core/npy.h"
#include "engine/runtime/model.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <map>
#include <set>

using namespace pellucid;

namespace {

AttributionParams baseParams(const MethodInfo &info, const std::string &layer)
{
    AttributionParams p;
    p.method = info.method;
    p.target.kind = AttributionTarget::Kind::Class;
    p.target.classIndex = 2;
    p.layer = info.needsLayer ? layer : "";
    p.steps = 8;
    p.samples = std::max(info.minSamples, 8);
    p.gridCells = 4;
    return p;
}

bool equal(const TensorValue &a, const TensorValue &b)
{
    if (a.shape() != b.shape()) return false;
    for (int64_t i = 0; i < a.numel(); ++i)
        if (a.at(i) != b.at(i)) return false;
    return true;
}

}   // namespace

TEST(registry_rows_are_complete_and_names_round_trip)
{
    std::set<std::string> names, displays;
    std::set<int> methods;
    for (const MethodInfo &i : methodRegistry()) {
        CHECK_MSG(names.insert(i.name).second, "duplicate name " << i.name);
        CHECK_MSG(displays.insert(i.displayName).second, "duplicate display name " << i.displayName);
        CHECK(methods.insert(int(i.method)).second);
        AttributionMethod back;
        CHECK(parseMethod(i.name, back) && back == i.method);
        CHECK_EQ(std::string(methodName(i.method)), std::string(i.name));
        CHECK_EQ(findMethod(i.name), &i);
        CHECK(!i.layerResolution || i.needsLayer);   // a map at a layer's resolution needs the layer
        CHECK(i.needsLayer == ((i.params & ParamLayer) != 0));
        CHECK(!i.superpixels || (i.params & ParamFeatures));
        CHECK(i.minSamples <= std::max(i.defaultSamples, i.minSamples));
        CHECK(i.minSamples == 0 || (i.params & ParamSamples));
    }
    CHECK_EQ(methodRegistry().size(), size_t(14));
    CHECK_EQ(allMethods().size(), methodRegistry().size());
    AttributionMethod m;
    CHECK(!parseMethod("nope", m));
    CHECK(findMethod("") == nullptr);
    CHECK(methodNames().find("gradcam++") != std::string::npos);
}

TEST(parameter_rows_hold_the_defaults_of_attribution_params)
{
    // The table the panel's fields and the CLI's help read cannot drift from the engine's defaults.
    const AttributionParams d;
    CHECK_EQ(parameterInfo("steps").defaultValue, double(d.steps));
    CHECK_EQ(parameterInfo("samples").defaultValue, double(d.samples));
    CHECK(std::fabs(parameterInfo("stdev").defaultValue - double(d.stdev)) < 1e-7);
    CHECK_EQ(parameterInfo("seed").defaultValue, double(d.seed));
    CHECK_EQ(parameterInfo("fill").defaultValue, double(d.fill));
    for (const ParameterInfo &p : attributionParameters()) {
        CHECK_MSG(p.minimum <= p.defaultValue && p.defaultValue <= p.maximum, p.name);
        CHECK(p.help && *p.help);
    }
    CHECK_THROWS_WITH(parameterInfo("nope"), Error, "no attribution parameter 'nope'");
}

TEST(every_method_follows_its_row)
{
    auto model = fixtures::loadCpu("seqcnn_scripted.pt");
    const TensorValue x = fixtures::firstItem(readNpy(fixtures::path("seqcnn_input.npy")));
    const std::string layer = "features.3";
    for (const MethodInfo &info : methodRegistry()) {
        const AttributionParams p = baseParams(info, layer);
        const auto r = computeAttribution(*model, x, p);
        // Shape: the input's, or [N, 1, h, w] at the layer's resolution for the CAMs.
        if (info.layerResolution) {
            CHECK_MSG(r->map.shape().size() == 4 && r->map.dim(1) == 1 && r->map.dim(0) == x.dim(0), info.name);
        } else {
            CHECK_MSG(r->map.shape() == x.shape(), info.name << " " << shapeToString(r->map.shape()));
        }
        // Sign: an unsigned method's map has no negative value.
        if (!info.signedMap)
            for (int64_t i = 0; i < r->map.numel(); ++i) CHECK_MSG(r->map.at(i) >= 0, info.name);
        CHECK_MSG(std::isfinite(r->map.stats().max), info.name);
        // The parameters a row does not declare leave the map unchanged; a declared seed changes it.
        AttributionParams other = p;
        if (!(info.params & ParamSteps)) other.steps = 3;
        if (!(info.params & ParamSamples)) other.samples = 3;
        if (!(info.params & ParamSeed)) other.seed = 99;
        if (!(info.params & ParamWindow)) other.window = {1, 2, 2};
        if (!(info.params & ParamBaseline)) other.baseline = BaselineKind::Uniform;
        if (!(info.params & ParamFill)) other.fill = 0.5f;
        if (!(info.params & ParamLayer)) other.layer = "features.0";
        if (!(info.params & ParamFeatures)) other.gridCells = 2;
        CHECK_MSG(equal(computeAttribution(*model, x, other)->map, r->map), info.name << " reads a parameter its row omits");
        if (info.params & ParamSeed) {
            AttributionParams seeded = p;
            seeded.seed = 7;
            CHECK_MSG(!equal(computeAttribution(*model, x, seeded)->map, r->map), info.name << " ignores its seed");
        }
    }
    // A layer method without a layer is refused by name.
    AttributionParams p = baseParams(methodInfo(AttributionMethod::GradCam), "");
    p.layer.clear();
    CHECK_THROWS_WITH(computeAttribution(*model, x, p), Error, "gradcam needs a layer");
}

TEST(forward_only_rows_follow_reduced_precision)
{
    // bf16 changes the forward-only methods' maps (they run on the converted copy), never a gradient method's.
    auto model = fixtures::loadCpu("seqcnn_scripted.pt");
    const TensorValue x = fixtures::firstItem(readNpy(fixtures::path("seqcnn_input.npy")));
    std::map<AttributionMethod, TensorValue> fp32;
    for (const MethodInfo &info : methodRegistry()) fp32[info.method] = computeAttribution(*model, x, baseParams(info, "features.3"))->map;
    model->setPrecision(Precision::BFloat16, {x});   // Debian's CPU LibTorch has bf16 kernels (test_engine checks it)
    for (const MethodInfo &info : methodRegistry()) {
        const TensorValue low = computeAttribution(*model, x, baseParams(info, "features.3"))->map;
        if (info.forwardOnly)
            CHECK_MSG(!equal(low, fp32[info.method]), info.name << " did not follow bf16");
        else
            CHECK_MSG(equal(low, fp32[info.method]), info.name << " changed in bf16");
    }
}

TESTKIT_MAIN
