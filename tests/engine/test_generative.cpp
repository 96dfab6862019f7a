// Generative models: traversal, lerp/slerp interpolation and seeded sampling equal PyTorch's on a fixture
// generator; slerp keeps norms and falls back to lerp for parallel codes; bad codes and roles are named.
#include "engine/errors.h"
#include "engine/generative.h"
#include "engine/model.h"
#include "engine/npy.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>

using namespace pellucid;

namespace {

std::unique_ptr<Model> generator()
{
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    return Model::load(fixtures::path("gen_tiny.pt"), o);
}

double norm(const TensorValue &t, int64_t row)
{
    const int64_t d = t.dim(1);
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += double(t.at(row * d + j)) * t.at(row * d + j);
    return std::sqrt(s);
}

} // namespace

TEST(traversal_and_interpolation_equal_pytorch)
{
    auto g = generator();
    CHECK_EQ(latentDim(*g), int64_t(4));
    const TensorValue z0 = checkCode(*g, readNpy(fixtures::path("gen_z0.npy")));
    const TensorValue z1 = checkCode(*g, readNpy(fixtures::path("gen_z1.npy")));
    const TensorValue trav = decodeCodes(*g, traverseCodes(z0, 2, -2, 3, 5));
    CHECK(trav.shape() == (Shape{5, 1, 6, 6}));
    CHECK(fixtures::maxAbsDiff(trav, readNpy(fixtures::path("gen_traverse.npy"))) < 1e-6);
    CHECK(fixtures::maxAbsDiff(decodeCodes(*g, interpolateCodes(z0, z1, 4, InterpolationMode::Lerp)), readNpy(fixtures::path("gen_lerp.npy"))) < 1e-6);
    CHECK(fixtures::maxAbsDiff(decodeCodes(*g, interpolateCodes(z0, z1, 6, InterpolationMode::Slerp)), readNpy(fixtures::path("gen_slerp.npy"))) < 1e-6);
}

TEST(seeded_samples_equal_torch_randn)
{
    auto g = generator();
    const TensorValue codes = sampleCodes(3, 4, 7);
    CHECK(fixtures::maxAbsDiff(codes, readNpy(fixtures::path("gen_sample_codes.npy"))) < 1e-7);
    CHECK(fixtures::maxAbsDiff(decodeCodes(*g, codes), readNpy(fixtures::path("gen_sample.npy"))) < 1e-6);
    const TensorValue truncated = sampleCodes(200, 4, 1, 0.5);
    for (int64_t i = 0; i < truncated.numel(); ++i) CHECK(std::fabs(truncated.at(i)) <= 0.5f);
}

TEST(slerp_keeps_norms_and_falls_back_to_lerp)
{
    const TensorValue a({1, 3}, {3, 0, 4}), b({1, 3}, {0, 5, 0});   // both of norm 5
    const TensorValue s = interpolateCodes(a, b, 7, InterpolationMode::Slerp);
    for (int64_t k = 0; k < 7; ++k) CHECK(std::fabs(norm(s, k) - 5.0) < 1e-5);
    CHECK(std::fabs(s.at(0) - 3.0f) < 1e-6 && std::fabs(s.at(6 * 3 + 1) - 5.0f) < 1e-6);   // endpoints included
    const TensorValue p({1, 3}, {1, 2, 3}), q({1, 3}, {2, 4, 6});   // parallel
    CHECK(fixtures::maxAbsDiff(interpolateCodes(p, q, 5, InterpolationMode::Slerp), interpolateCodes(p, q, 5, InterpolationMode::Lerp)) < 1e-7);
}

TEST(moving_along_a_direction_generalises_traversal)
{
    const TensorValue z({1, 4}, {0.5f, -1.f, 2.f, 0.f});
    const TensorValue e2({1, 4}, {0.f, 0.f, 1.f, 0.f});
    CHECK(fixtures::maxAbsDiff(moveAlong(z, e2, -2, 3, 5), traverseCodes(z, 2, -2, 3, 5)) == 0);
    CHECK_THROWS_WITH(moveAlong(z, TensorValue({1, 3}, std::vector<float>(3, 1.f)), 0, 1, 3), Error, "3 values for codes of size 4");
}

TEST(bad_codes_and_roles_are_named)
{
    auto g = generator();
    CHECK_THROWS_WITH(checkCode(*g, TensorValue({1, 5}, std::vector<float>(5, 0.f))), Error, "this model's codes are [1, 4]");
    CHECK_THROWS_WITH(checkCode(*g, TensorValue({1, 4}, {0.f, NAN, 0.f, 0.f})), Error, "non-finite value at position 1");
    CHECK_THROWS_WITH(traverseCodes(TensorValue({1, 4}, std::vector<float>(4, 0.f)), 9, -1, 1, 3), Error, "outside the code's 0–3");
    CHECK_THROWS_WITH(interpolateCodes(TensorValue({1, 4}, std::vector<float>(4, 0.f)), TensorValue({1, 4}, std::vector<float>(4, 1.f)), 1, InterpolationMode::Lerp), Error, "at least 2 steps");
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    auto classifier = Model::load(fixtures::path("seqcnn_scripted.pt"), o);
    CHECK_THROWS_WITH(latentDim(*classifier), Error, "has no generator role");
}

TESTKIT_MAIN
