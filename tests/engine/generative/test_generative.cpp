// Generative models: traversal, lerp/slerp interpolation and seeded sampling equal PyTorch's on a fixture
// generator; slerp keeps norms and falls back to lerp for parallel codes; bad codes and roles are named;
// principal directions (of codes, and GANSpace through a layer) and the latent counterfactual search.
#include "engine/core/errors.h"
#include "engine/generative/generative.h"
#include "engine/core/linalg.h"
#include "engine/runtime/model.h"
#include "engine/core/npy.h"
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

std::unique_ptr<Model> classifier()
{
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    return Model::load(fixtures::path("gen_classifier.pt"), o);
}

/// The counterfactual loss −log p(target | C(G(z))) + λ‖z − z0‖², evaluated with plain forwards.
double counterfactualLoss(Model &g, Model &c, const std::vector<double> &z, const TensorValue &z0, int target, double lambda)
{
    std::vector<float> zf(z.begin(), z.end());
    const TensorValue images = decodeCodes(g, TensorValue({1, int64_t(z.size())}, std::move(zf)));
    const TensorValue logits = c.forward(toClassifierInput(images, g.summary(), c.summary()), {}).outputs.at(0);
    double m = -1e300, sum = 0;
    for (int64_t k = 0; k < logits.numel(); ++k) m = std::max(m, double(logits.at(k)));
    for (int64_t k = 0; k < logits.numel(); ++k) sum += std::exp(logits.at(k) - m);
    double d2 = 0;
    for (size_t j = 0; j < z.size(); ++j) d2 += (z[j] - z0.at(int64_t(j))) * (z[j] - z0.at(int64_t(j)));
    return -(logits.at(target) - m - std::log(sum)) + lambda * d2;
}

}   // namespace

TEST(traversal_and_interpolation_equal_pytorch)
{
    auto g = generator();
    CHECK_EQ(latentDim(*g), int64_t(4));
    const TensorValue z0 = checkCode(*g, readNpy(fixtures::path("gen_z0.npy")));
    const TensorValue z1 = checkCode(*g, readNpy(fixtures::path("gen_z1.npy")));
    const TensorValue trav = decodeCodes(*g, traverseCodes(z0, 2, -2, 3, 5));
    CHECK(trav.shape() == (Shape{5, 1, 6, 6}));
    CHECK(fixtures::maxAbsDiff(trav, readNpy(fixtures::path("gen_traverse.npy"))) < 1e-6);
    CHECK(fixtures::maxAbsDiff(decodeCodes(*g, interpolateCodes(z0, z1, 4, InterpolationMode::Lerp)), readNpy(fixtures::path("gen_lerp.npy")))
          < 1e-6);
    CHECK(fixtures::maxAbsDiff(decodeCodes(*g, interpolateCodes(z0, z1, 6, InterpolationMode::Slerp)), readNpy(fixtures::path("gen_slerp.npy")))
          < 1e-6);
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
    const TensorValue p({1, 3}, {1, 2, 3}), q({1, 3}, {2, 4, 6});                          // parallel
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
    CHECK_THROWS_WITH(interpolateCodes(TensorValue({1, 4}, std::vector<float>(4, 0.f)), TensorValue({1, 4}, std::vector<float>(4, 1.f)), 1,
                                       InterpolationMode::Lerp),
                      Error, "at least 2 steps");
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    auto classifier = Model::load(fixtures::path("seqcnn_scripted.pt"), o);
    CHECK_THROWS_WITH(latentDim(*classifier), Error, "has no generator role");
}

TEST(conditional_generator_decodes_per_class_as_pytorch)
{
    auto g = fixtures::loadCpu("cgen_tiny.pt");
    CHECK(isConditional(*g));
    CHECK_EQ(conditionalClasses(*g), int64_t(3));
    CHECK_EQ(latentDim(*g), int64_t(4));
    const TensorValue z0 = readNpy(fixtures::path("gen_z0.npy")), z1 = readNpy(fixtures::path("gen_z1.npy"));
    CHECK(fixtures::maxAbsDiff(decodeCodes(*g, z0, 1), readNpy(fixtures::path("cgen_z0_class1.npy"))) < 1e-6);
    CHECK(fixtures::maxAbsDiff(decodeCodes(*g, interpolateCodes(z0, z1, 3, InterpolationMode::Lerp), 2),
                               readNpy(fixtures::path("cgen_lerp_class2.npy")))
          < 1e-6);
    // Classes differ; a missing or out-of-range class is named.
    CHECK(fixtures::maxAbsDiff(decodeCodes(*g, z0, 0), decodeCodes(*g, z0, 1)) > 1e-3);
    CHECK_THROWS_WITH(decodeCodes(*g, z0), Error, "choose a class between 0 and 2 (none was given)");
    CHECK_THROWS_WITH(decodeCodes(*g, z0, 3), Error, "(not 3)");
    // An unconditional generator ignores the class.
    auto u = generator();
    CHECK(!isConditional(*u));
    CHECK(fixtures::maxAbsDiff(decodeCodes(*u, z0, 2), decodeCodes(*u, z0)) == 0);
}

TEST(role_chosen_at_load_overrides_the_metadata)
{
    // The generator opened as a classifier loses its generator role; opened as a decoder it is one.
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    o.role = "classifier";
    auto asClassifier = Model::load(fixtures::path("gen_tiny.pt"), o);
    CHECK_THROWS_WITH(latentDim(*asClassifier), Error, "has no generator role");
    o.role = "decoder";
    auto asDecoder = Model::load(fixtures::path("gen_tiny.pt"), o);
    CHECK_EQ(asDecoder->summary().metadata.raw.find("role")->asString(), std::string("decoder"));
    CHECK_EQ(latentDim(*asDecoder), int64_t(4));
    // A model without metadata chosen as a generator takes codes of its (given) input size.
    o.role = "generator";
    o.inputShape = {1, 36};
    auto plain = Model::load(fixtures::path("linear_traced.pt"), o);
    CHECK_EQ(latentDim(*plain), int64_t(36));
    o.inputShape.clear();
    o.role = "painter";
    CHECK_THROWS_WITH(Model::load(fixtures::path("gen_tiny.pt"), o), Error, "Unknown model role 'painter'");
}

TEST(principal_directions_of_codes_find_the_spread_axis)
{
    // Codes spread 3σ along (1, 1, 0, 0)/√2 and 0.5σ along the other axes.
    std::vector<float> v;
    uint32_t state = 12345;
    auto gauss = [&]() {
        double s = 0;
        for (int i = 0; i < 12; ++i) {
            state = state * 1664525u + 1013904223u;
            s += state / 4294967296.0;
        }
        return s - 6.0;
    };
    const double r = 1 / std::sqrt(2.0);
    for (int n = 0; n < 3000; ++n) {
        const double t = 3 * gauss();
        v.push_back(float(t * r + 0.5 * gauss()));
        v.push_back(float(t * r + 0.5 * gauss()));
        v.push_back(float(0.5 * gauss()));
        v.push_back(float(0.5 * gauss()));
    }
    const DirectionSet d = principalDirectionsOfCodes(TensorValue({3000, 4}, std::move(v)), 2);
    CHECK(d.directions.dim(0) == 2 && d.directions.dim(1) == 4);
    CHECK(std::abs(d.directions.at(0) * r + d.directions.at(1) * r) > 0.99);
    CHECK(std::abs(d.sigma.at(0) - std::sqrt(9.0 + 0.25)) < 0.2);
    CHECK(d.explainedRatio.at(0) > 0.85);
}

TEST(ganspace_directions_follow_the_layers_dominant_singular_vector)
{
    auto g = generator();
    // Recover the first Linear layer's weight W (36 × 4) from its outputs: W e_i = f(e_i) − f(0).
    auto tap = [&](const std::vector<float> &z) { return g->forward(TensorValue({1, 4}, std::vector<float>(z)), {"0"}).taps.begin()->second.at(0); };
    const TensorValue f0 = tap({0, 0, 0, 0});
    std::vector<std::vector<double>> W(4, std::vector<double>(36));
    for (int i = 0; i < 4; ++i) {
        std::vector<float> e(4, 0.f);
        e[size_t(i)] = 1.f;
        const TensorValue fi = tap(e);
        for (int r = 0; r < 36; ++r) W[size_t(i)][size_t(r)] = fi.at(r) - f0.at(r);
    }
    std::vector<double> WtW(16, 0.0), values, vectors;
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            for (int r = 0; r < 36; ++r) WtW[size_t(i * 4 + j)] += W[size_t(i)][size_t(r)] * W[size_t(j)][size_t(r)];
    symmetricEigen(WtW, 4, values, vectors);
    size_t top = 0;
    double total = 0;
    for (size_t i = 0; i < 4; ++i) {
        total += values[i];
        if (values[i] > values[top]) top = i;
    }
    const DirectionSet d = principalDirectionsOfActivation(*g, "0", 2, 4000, 3);
    double dot = 0;
    for (int i = 0; i < 4; ++i) dot += d.directions.at(i) * vectors[size_t(i * 4) + top];
    CHECK(std::abs(dot) > 0.98);
    // For z ~ N(0, I) the activation's variance along component 1 is the top eigenvalue of W Wᵀ.
    CHECK(std::abs(d.explainedRatio.at(0) - values[top] / total) < 0.05);
    CHECK_THROWS_WITH(principalDirectionsOfActivation(*g, "no.such.layer", 2, 100, 0), Error, "no.such.layer");
}

TEST(counterfactual_steps_follow_the_gradient_of_its_loss)
{
    auto g = generator(), c = classifier();
    const TensorValue z0 = readNpy(fixtures::path("gen_z0.npy"));
    CounterfactualOptions o;
    o.target = 2;
    o.steps = 2;
    o.stopProbability = 2;   // never reached: exactly two steps
    o.learningRate = 0.1;
    o.distanceWeight = 0.3;
    const CounterfactualResult r = latentCounterfactual(*g, *c, z0, o);
    CHECK(r.path.dim(0) == 3 && !r.reached);
    CHECK(fixtures::maxAbsDiff(TensorValue({1, 4}, std::vector<float>(r.path.data(), r.path.data() + 4)), z0) == 0);
    // Each move equals −lr · ∇L at its start (central differences); at the second the penalty pulls back to z0.
    double worst = 0, scale = 0;
    for (int s = 0; s < 2; ++s) {
        const std::vector<double> z(r.path.data() + s * 4, r.path.data() + (s + 1) * 4);
        for (int i = 0; i < 4; ++i) {
            std::vector<double> zp = z, zm = z;
            zp[size_t(i)] += 1e-2;
            zm[size_t(i)] -= 1e-2;
            const double fd = (counterfactualLoss(*g, *c, zp, z0, 2, 0.3) - counterfactualLoss(*g, *c, zm, z0, 2, 0.3)) / 2e-2;
            const double step = (r.path.at(s * 4 + i) - r.path.at((s + 1) * 4 + i)) / 0.1;
            worst = std::max(worst, std::abs(fd - step));
            scale = std::max(scale, std::abs(fd));
        }
    }
    CHECK(scale > 1e-3);
    CHECK(worst < 1e-3 * std::max(1.0, scale));
    CHECK(r.distance.at(1) > 0);
}

TEST(counterfactual_reaches_the_target_class_on_the_demo_vae)
{
    LoadOptions lo;
    lo.device = DevicePreference::Cpu;
    auto g = Model::load(fixtures::resources("models/vae_decoder.pt"), lo);
    auto c = Model::load(fixtures::resources("models/fashion_mnist_cnn.pt"), lo);
    const TensorValue z0 = sampleCodes(1, 16, 3);
    CounterfactualOptions o;
    o.steps = 1;
    o.stopProbability = 2;
    const int startClass = latentCounterfactual(*g, *c, z0, o).predicted.front();
    o.target = startClass == 9 ? 7 : 9;
    o.steps = 500;
    o.stopProbability = 0.9;
    int progressCalls = 0;
    o.progress = [&](int, double, double) { ++progressCalls; };
    const CounterfactualResult r = latentCounterfactual(*g, *c, z0, o);
    CHECK(r.reached);
    CHECK(r.predicted.front() == startClass && r.predicted.back() == o.target);
    CHECK(r.targetProbability.back() >= 0.9 && r.targetProbability.front() < 0.9);
    CHECK(int(r.targetProbability.size()) == progressCalls);
    CHECK(r.distance.front() == 0 && r.distance.back() > 0);
    // A heavier distance penalty ends nearer to z0 (or fails to reach the target within the steps).
    CounterfactualOptions near = o;
    near.distanceWeight = 0.5;
    near.progress = nullptr;
    const CounterfactualResult rn = latentCounterfactual(*g, *c, z0, near);
    CHECK(!rn.reached || rn.distance.back() <= r.distance.back() + 1e-6);
    // The difference image is the counterfactual's decoding minus the original's.
    const int64_t S = r.path.dim(0);
    const TensorValue last = decodeCodes(*g, TensorValue({1, 16}, std::vector<float>(r.path.data() + (S - 1) * 16, r.path.data() + S * 16)));
    CHECK(fixtures::maxAbsDiff(last, r.counterfactual) < 1e-5);
    double worst = 0;
    for (int64_t i = 0; i < r.difference.numel(); ++i)
        worst = std::max(worst, std::abs(double(r.difference.at(i)) - (r.counterfactual.at(i) - r.original.at(i))));
    CHECK(worst < 1e-6);
    o.target = 12;
    CHECK_THROWS_WITH(latentCounterfactual(*g, *c, z0, o), Error, "outside the classifier's 0–9");
    o.target = 0;
    o.cancelled = [] { return true; };
    CHECK_THROWS_WITH(latentCounterfactual(*g, *c, z0, o), Error, "cancelled");
    CHECK_THROWS_WITH(latentCounterfactual(*g, *c, TensorValue({1, 3}, std::vector<float>(3, 0.f)), o), Error, "[1, 16]");
}

TESTKIT_MAIN
