// Generative quality metrics: Fréchet distance against SciPy's sqrtm on fixture features and ~0 for a set
// with itself, the PSD square root, Inception Score bounds, PSNR/SSIM of identical images, KL per dimension.
#include "engine/core/errors.h"
#include "engine/generative/genmetrics.h"
#include "engine/core/json.h"
#include "engine/core/npy.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <fstream>
#include <sstream>

using namespace pellucid;

TEST(frechet_distance_matches_scipy)
{
    const TensorValue a = readNpy(fixtures::path("fid_a.npy")), b = readNpy(fixtures::path("fid_b.npy"));
    std::ifstream in(fixtures::path("fid_expected.json"));
    std::stringstream s;
    s << in.rdbuf();
    const double want = Json::parse(s.str()).find("frechet")->asNumber();
    const double got = frechetDistance(a, b);
    CHECK_MSG(std::fabs(got - want) < 1e-6 * want, got << " vs scipy " << want);
    CHECK(frechetDistance(a, a) < 1e-8);
    CHECK_THROWS_WITH(frechetDistance(a, TensorValue({2, 3}, std::vector<float>(6, 0.f))), Error, "Feature sizes differ");
}

TEST(psd_square_root)
{
    const std::vector<double> A = {4, 2, 0, 2, 3, 1, 0, 1, 2};
    const auto R = sqrtPsd(A, 3);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            double s = 0;
            for (int k = 0; k < 3; ++k) s += R[size_t(i * 3 + k)] * R[size_t(k * 3 + j)];
            CHECK(std::fabs(s - A[size_t(i * 3 + j)]) < 1e-10);
        }
}

TEST(inception_score_psnr_ssim_kl)
{
    // Confident and evenly spread over K classes: IS = K; all identical: IS = 1.
    std::vector<float> spread(4 * 4, -50.f), same(4 * 4, 0.f);
    for (int i = 0; i < 4; ++i) spread[size_t(i * 4 + i)] = 50.f;
    CHECK(std::fabs(inceptionScore(TensorValue({4, 4}, spread)) - 4.0) < 1e-6);
    CHECK(std::fabs(inceptionScore(TensorValue({4, 4}, same)) - 1.0) < 1e-9);
    std::vector<float> img(2 * 1 * 8 * 8);
    for (size_t i = 0; i < img.size(); ++i) img[i] = float(i % 7) / 7.0f;
    const TensorValue x({2, 1, 8, 8}, img);
    CHECK(std::isinf(psnr(x, x)));
    CHECK(std::fabs(meanSsim(x, x) - 1.0) < 1e-12);
    std::vector<float> noisy = img;
    noisy[3] += 0.1f;
    CHECK(std::fabs(psnr(x, TensorValue(x.shape(), noisy)) - 10 * std::log10(128.0 / 0.01)) < 1e-3);
    const auto kl = klPerDimension(TensorValue({1, 2}, {0.f, 1.f}), TensorValue({1, 2}, {0.f, 0.f}));
    CHECK(std::fabs(kl[0]) < 1e-12 && std::fabs(kl[1] - 0.5) < 1e-12);
    CHECK(diversity(TensorValue({2, 2}, {0, 0, 3, 4})) == 5.0);
}

TESTKIT_MAIN
