// Evaluation figures and deletion/insertion curves against brute-force references made by the fixture
// script (tests/fixtures/make_fixtures.py, evalset/).
#include "engine/core/errors.h"
#include "engine/evaluation/evaluation.h"
#include "engine/core/json.h"
#include "engine/runtime/model.h"
#include "engine/core/npy.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <fstream>
#include <sstream>

using namespace pellucid;

namespace {

Json expected()
{
    std::ifstream in(fixtures::path("evalset/expected.json"));
    std::stringstream s;
    s << in.rdbuf();
    return Json::parse(s.str());
}

std::unique_ptr<Model> linear()
{
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    return Model::load(fixtures::path("linear_traced.pt"), o);
}

}   // namespace

TEST(evaluator_matches_brute_force)
{
    auto m = linear();
    std::ifstream csv(fixtures::path("evalset/eval.csv"));
    std::string line;
    std::getline(csv, line);   // header
    Evaluator ev(3, 2);
    while (std::getline(csv, line)) {
        const auto comma = line.find(',');
        const TensorValue x = readNpy(fixtures::path("evalset/" + line.substr(0, comma)));
        ev.add(m->forward(x, {}).outputs.at(0), {std::stoi(line.substr(comma + 1))});
    }
    const EvalResult r = ev.finish();
    const Json e = expected();
    CHECK_EQ(r.samples, int64_t(8));
    CHECK(std::fabs(r.top1 - e.find("top1")->asNumber()) < 1e-12);
    CHECK(std::fabs(r.topK_accuracy - e.find("top2")->asNumber()) < 1e-12);
    for (int t = 0; t < 3; ++t)
        for (int p = 0; p < 3; ++p)
            CHECK_EQ(r.confusion[size_t(t)][size_t(p)], e.find("confusion")->asArray()[size_t(t)].asArray()[size_t(p)].asInt());
    for (int c = 0; c < 3; ++c) {
        CHECK(std::fabs(r.precision[size_t(c)] - e.find("precision")->asArray()[size_t(c)].asNumber()) < 1e-12);
        CHECK(std::fabs(r.recall[size_t(c)] - e.find("recall")->asArray()[size_t(c)].asNumber()) < 1e-12);
        CHECK(std::fabs(r.f1[size_t(c)] - e.find("f1")->asArray()[size_t(c)].asNumber()) < 1e-12);
    }
    CHECK(std::fabs(r.macroF1 - e.find("macro_f1")->asNumber()) < 1e-12);
    int64_t binned = 0;
    for (const auto &b : r.calibration) binned += b.count;
    CHECK_EQ(binned, int64_t(8));
    CHECK(r.ece >= 0 && r.ece <= 1);
    CHECK_THROWS_WITH(ev.add(TensorValue({1, 3}, {0, 0, 0}), {5}), Error, "outside the model's 3 classes");
}

TEST(deletion_and_insertion_match_the_numpy_reference)
{
    auto m = linear();
    const TensorValue x = readNpy(fixtures::path("evalset/item0.npy"));
    const TensorValue attr = readNpy(fixtures::path("evalset/attr0.npy"));
    const TensorValue zero(x.shape(), std::vector<float>(size_t(x.numel()), 0.f));
    const Json e = expected();
    for (const char *mode : {"deletion", "insertion"}) {
        const bool insertion = std::string(mode) == "insertion";
        const FaithfulnessCurve c = faithfulnessCurve(*m, x, attr, 1, 4, insertion, zero);
        const Json &want = *e.find("curves")->find(mode);
        CHECK_EQ(c.scores.size(), size_t(5));
        for (size_t k = 0; k < 5; ++k) CHECK_MSG(std::fabs(c.scores[k] - want.find("scores")->asArray()[k].asNumber()) < 1e-5, mode << " step " << k);
        CHECK_MSG(std::fabs(c.auc - want.find("auc")->asNumber()) < 1e-5, mode << " AUC " << c.auc);
    }
    CHECK_THROWS_WITH(faithfulnessCurve(*m, x, attr, 1, 0, false, zero), Error, "at least 1 step");
    CHECK_THROWS_WITH(faithfulnessCurve(*m, x, attr, 7, 4, false, zero), Error, "not a class");
}

TEST(coarse_maps_are_upsampled_and_blur_keeps_constants)
{
    auto m = linear();
    const TensorValue x = readNpy(fixtures::path("evalset/item0.npy"));
    const TensorValue coarse({1, 1, 2, 2}, {1, 0, 0, 0});   // the top-left quadrant first
    const TensorValue zero(x.shape(), std::vector<float>(16, 0.f));
    const auto c = faithfulnessCurve(*m, x, coarse, 0, 4, false, zero);
    CHECK_EQ(c.scores.size(), size_t(5));
    const TensorValue flat({1, 1, 5, 5}, std::vector<float>(25, 2.5f));
    const TensorValue blurred = gaussianBlur(flat, 1.5);
    for (int64_t i = 0; i < 25; ++i) CHECK(std::fabs(blurred.at(i) - 2.5f) < 1e-5);
}

TESTKIT_MAIN
