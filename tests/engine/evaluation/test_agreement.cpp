// Agreement with people (engine/evaluation/agreement.h): hand-worked cases, then references made outside
// Pellucid (NumPy argmax / percentile, SciPy's Mann–Whitney U, PyTorch's bilinear interpolate;
// tests/fixtures/make_agreement_fixtures.py).
#include "engine/core/errors.h"
#include "engine/core/json.h"
#include "engine/evaluation/agreement.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <fstream>
#include <sstream>

using namespace pellucid;

namespace {

bool near(double a, double b, double tol = 1e-9) { return std::abs(a - b) <= tol * std::max(1.0, std::abs(b)); }

Json cases()
{
    std::ifstream f(std::string(PELLUCID_FIXTURES_DIR) + "/agreement_cases.json");
    std::stringstream s;
    s << f.rdbuf();
    return Json::parse(s.str());
}

}   // namespace

TEST(pointing_game_takes_the_first_maximum)
{
    // 2×3 map, maximum 5 at (0, 2) and again at (1, 1): NumPy's argmax is the first, index 2.
    const std::vector<double> map = {1, 2, 5, 0, 5, -1};
    CHECK_EQ(pointingGame(map, {0, 0, 1, 0, 0, 0}), 1.0);
    CHECK_EQ(pointingGame(map, {0, 0, 0, 0, 1, 0}), 0.0);
}

TEST(energy_pointing_game_counts_positive_attribution_only)
{
    // Positive parts 1, 2, 5, 5 (sum 13); inside the mask {1, 2}: 3 → 3/13. The −1 outside changes nothing.
    const std::vector<double> map = {1, 2, 5, 0, 5, -1};
    CHECK(near(energyPointingGame(map, {1, 1, 0, 0, 0, 0}), 3.0 / 13.0));
    CHECK(near(energyPointingGame(map, {1, 1, 0, 0, 0, 1}), 3.0 / 13.0));
    CHECK_EQ(energyPointingGame({-1, -2, 0}, {1, 0, 0}), 0.0);   // nothing positive
}

TEST(percentile_interpolates_as_numpy)
{
    // np.percentile([1, 2, 3, 4], 90) = 3.7; of 10 values 0…9 at 90: 8.1.
    CHECK(near(percentile({4, 1, 3, 2}, 90), 3.7));
    CHECK(near(percentile({9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, 90), 8.1));
    CHECK(near(percentile({5}, 90), 5));
}

TEST(top_percent_iou_on_ten_pixels)
{
    // Values 0…9: the 70th percentile is 6.3, so the top 30 % are 7, 8, 9 (indices 7–9); mask {6, 7}:
    // intersection 1, union 4.
    std::vector<double> map(10);
    for (int i = 0; i < 10; ++i) map[size_t(i)] = i;
    PixelMask mask(10, 0);
    mask[6] = mask[7] = 1;
    CHECK(near(topPercentIoU(map, mask, 30), 0.25));
    // Ties at the threshold are all in: every value equal → all ten pixels are "top".
    CHECK(near(topPercentIoU(std::vector<double>(10, 1.0), mask, 10), 0.2));
}

TEST(roc_auc_counts_ties_a_half)
{
    // Positives {3, 1}, negatives {2, 1, 0}: pairs won 3>2, 3>1, 3>0, 1>0, and 1 vs 1 a tie (0.5): 4.5/6.
    CHECK(near(rocAuc({3, 1, 2, 1, 0}, {1, 1, 0, 0, 0}), 4.5 / 6.0));
    CHECK(near(rocAuc({0, 1, 2, 3}, {0, 0, 1, 1}), 1.0));
    CHECK(near(rocAuc({0, 1, 2, 3}, {1, 1, 0, 0}), 0.0));
    CHECK(std::isnan(rocAuc({0, 1}, {1, 1})));   // no negatives: undefined
}

TEST(mask_iou_and_kappa_by_hand)
{
    CHECK(near(maskIoU({1, 1, 0, 0}, {0, 1, 1, 0}), 1.0 / 3.0));
    CHECK_EQ(maskIoU({0, 0}, {0, 0}), 1.0);
    // Two raters, 10 items: agree on 7 (p_o 0.7); marginals a (6 yes, 4 no), b (5, 5): p_e 0.3 + 0.2 = 0.5 → κ 0.4.
    const std::vector<int> a = {1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
    const std::vector<int> b = {1, 1, 1, 1, 0, 0, 1, 0, 0, 0};
    CHECK(near(cohenKappa(a, b), 0.4));
    CHECK(near(cohenKappa(a, a), 1.0));
    CHECK(std::isnan(cohenKappa({1, 1}, {1, 1})));   // p_e = 1
    CHECK_THROWS_WITH(cohenKappa({1}, {1, 2}), Error, "same items");
}

TEST(bad_maps_and_masks_are_refused_by_name)
{
    CHECK_THROWS_WITH(maskAgreement({1, 2, 3}, {1, 0}), Error, "3 pixels and the mask 2");
    CHECK_THROWS_WITH(maskAgreement({1, std::nan(""), 3}, {1, 0, 0}), Error, "NaN");
    CHECK_THROWS_WITH(maskAgreement({1, 2, 3}, {0, 0, 0}), Error, "mask is empty");
    CHECK_THROWS_WITH(pixelSaliency(TensorValue({3}, {1, 2, 3}), 2, 2), Error, "not a map");
}

TEST(mean_interval_uses_the_sample_deviation)
{
    // 1, 2, 3: mean 2, s = 1, half width 1.96 / √3.
    const MeanInterval m = meanInterval({1, 2, 3, std::nan("")});
    CHECK_EQ(m.n, int64_t(3));
    CHECK(near(m.mean, 2));
    CHECK(near(m.hi - m.mean, 1.959963984540054 / std::sqrt(3.0)));
    CHECK(near(meanInterval({0.5}).mean, 0.5) && std::isnan(meanInterval({0.5}).lo));
}

TEST(saliency_and_metrics_match_numpy_scipy_and_torch)
{
    const Json all = cases();
    int n = 0;
    for (const Json &c : all.at("cases").asArray()) {
        Shape shape;
        for (const Json &d : c.at("map_shape").asArray()) shape.push_back(d.asInt());
        std::vector<float> values;
        for (const Json &v : c.at("map").asArray()) values.push_back(float(v.asNumber()));
        const int64_t H = c.at("H").asInt(), W = c.at("W").asInt();
        const std::vector<double> s = pixelSaliency(TensorValue(shape, values), H, W);
        const auto &ref = c.at("saliency").asArray();
        CHECK_EQ(s.size(), ref.size());
        double worst = 0;
        for (size_t i = 0; i < s.size() && i < ref.size(); ++i) worst = std::max(worst, std::abs(s[i] - ref[i].asNumber()));
        CHECK_MSG(worst < 1e-5, "case " << n << ": saliency differs from torch's interpolate by " << worst);
        PixelMask mask;
        for (const Json &v : c.at("mask").asArray()) mask.push_back(uint8_t(v.asInt()));
        // The metrics on the reference's own saliency: upsampling makes exact ties, which a last-bit
        // difference would split at the percentile.
        std::vector<double> refSaliency;
        for (const Json &v : ref) refSaliency.push_back(v.asNumber());
        const MaskAgreement m = maskAgreement(refSaliency, mask, 10);
        CHECK_MSG(m.pointing == c.at("pointing").asNumber(), "case " << n << " pointing");
        CHECK_MSG(near(m.energy, c.at("energy").asNumber(), 1e-6), "case " << n << " energy " << m.energy);
        CHECK_MSG(near(m.iouTop, c.at("iou_top10").asNumber(), 1e-9), "case " << n << " iou " << m.iouTop);
        CHECK_MSG(near(m.auc, c.at("auc").asNumber(), 1e-9), "case " << n << " auc " << m.auc);
        ++n;
    }
    CHECK_EQ(n, 5);
    for (const Json &k : all.at("kappa").asArray()) {
        std::vector<int> a, b;
        for (const Json &v : k.at("a").asArray()) a.push_back(int(v.asInt()));
        for (const Json &v : k.at("b").asArray()) b.push_back(int(v.asInt()));
        CHECK(near(cohenKappa(a, b), k.at("kappa").asNumber(), 1e-12));
    }
}

TESTKIT_MAIN
