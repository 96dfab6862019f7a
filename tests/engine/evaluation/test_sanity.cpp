// Sanity checks by cascading parameter randomisation (gradients change, an input-only edge detector does
// not), infidelity and max-sensitivity on closed-form cases, SSIM properties.
#include "engine/attribution/attribution.h"
#include "engine/core/errors.h"
#include "engine/core/json.h"
#include "engine/runtime/model.h"
#include "engine/core/npy.h"
#include "engine/evaluation/sanity.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <fstream>
#include <sstream>

using namespace pellucid;

namespace {

std::unique_ptr<Model> load(const char *file) { return fixtures::loadCpu(file); }

TensorValue first(const TensorValue &batch) { return fixtures::firstItem(batch); }

/// The plain gradient ∂y_t/∂x (input × gradient divided by the input).
TensorValue gradient(Model &m, const TensorValue &x, int target)
{
    AttributionParams p;
    p.method = AttributionMethod::InputXGradient;
    p.target.kind = AttributionTarget::Kind::Class;
    p.target.classIndex = target;
    const TensorValue ixg = computeAttribution(m, x, p)->map;
    std::vector<float> g(size_t(x.numel()));
    for (int64_t i = 0; i < x.numel(); ++i) g[size_t(i)] = x.at(i) != 0 ? ixg.at(i) / x.at(i) : 0;
    return TensorValue(x.shape(), g);
}

}   // namespace

TEST(ssim_properties)
{
    std::vector<double> a(100), b(100, 0.5);
    for (int i = 0; i < 100; ++i) a[size_t(i)] = std::sin(i * 0.3) * 0.5 + 0.5;
    CHECK(std::fabs(ssim(a, a, 10, 10, 1.0) - 1.0) < 1e-12);
    CHECK(ssim(a, b, 10, 10, 1.0) < 0.2);
    CHECK(std::fabs(ssim(a, b, 10, 10, 1.0) - ssim(b, a, 10, 10, 1.0)) < 1e-12);
    CHECK_THROWS_WITH(ssim(a, a, 5, 20, 1.0), Error, "at least 7×7");
}

TEST(ssim_matches_scikit_image)
{
    const TensorValue a = readNpy(fixtures::path("ssim_a.npy")), b = readNpy(fixtures::path("ssim_b.npy"));
    std::vector<double> va(a.data(), a.data() + a.numel()), vb(b.data(), b.data() + b.numel());
    std::ifstream in(fixtures::path("ssim_expected.json"));
    std::stringstream s;
    s << in.rdbuf();
    const double want = Json::parse(s.str()).find("ssim")->asNumber();
    const double got = ssim(va, vb, 20, 24, 1.0);
    CHECK_MSG(std::fabs(got - want) < 1e-9, got << " vs skimage " << want);
}

TEST(randomisation_changes_gradients_not_edge_detectors)
{
    auto m = load("seqcnn_scripted.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    const TensorValue before = m->forward(x, {}).outputs.at(0);
    AttributionParams p;
    p.method = AttributionMethod::Saliency;
    p.target.kind = AttributionTarget::Kind::Class;
    p.target.classIndex = 2;
    const SanityResult grad = cascadingRandomization(
        *m, [&](Model &mm) { return computeAttribution(mm, x, p)->map; }, 1);
    CHECK(grad.steps.size() >= 4);
    CHECK_EQ(grad.steps.front().layer, std::string("classifier.1"));   // cascading from the top
    CHECK_MSG(grad.steps.back().spearman < 0.6, "rank correlation after full randomisation " << grad.steps.back().spearman);
    CHECK(!grad.insensitive);
    // An input-only edge detector ignores the weights: perfectly correlated at every step, flagged.
    auto edges = [&](Model &) {
        std::vector<float> e(size_t(x.numel()), 0.f);
        const int64_t C = 3, H = 16, W = 16;
        for (int64_t c = 0; c < C; ++c)
            for (int64_t y = 1; y < H - 1; ++y)
                for (int64_t xx = 1; xx < W - 1; ++xx) {
                    auto v = [&](int64_t yy, int64_t xxx) { return x.at((c * H + yy) * W + xxx); };
                    const float gx = v(y, xx + 1) - v(y, xx - 1), gy = v(y + 1, xx) - v(y - 1, xx);
                    e[size_t((c * H + y) * W + xx)] = std::sqrt(gx * gx + gy * gy);
                }
        return TensorValue(x.shape(), e);
    };
    const SanityResult edge = cascadingRandomization(*m, edges, 1);
    for (const auto &s : edge.steps) CHECK(std::fabs(s.spearman - 1.0) < 1e-12 && std::fabs(s.ssim - 1.0) < 1e-9);
    CHECK(edge.insensitive);
    // The weights are restored.
    CHECK(fixtures::maxAbsDiff(m->forward(x, {}).outputs.at(0), before) == 0);
}

TEST(infidelity_and_max_sensitivity_closed_forms)
{
    auto lin = load("linear_traced.pt");
    const TensorValue x = readNpy(fixtures::path("linear_input.npy"));
    const TensorValue g = gradient(*lin, x, 1);
    // f is linear: the gradient explains every perturbation exactly.
    CHECK(infidelity(*lin, x, g, 1, 40, 0.01, 3) < 1e-9);
    std::vector<float> wrong(16);
    for (int i = 0; i < 16; ++i) wrong[size_t(i)] = g.at(i) * (i % 2 ? 1.0f : -1.0f);
    CHECK(infidelity(*lin, x, TensorValue(x.shape(), wrong), 1, 40, 0.01, 3) > 1e-7);
    // The gradient of a linear model does not move under perturbation; a non-linear model's does.
    CHECK(maxSensitivity(
              *lin, x, [&](const TensorValue &xx) { return gradient(*lin, xx, 1); }, 5, 0.05, 2)
          < 1e-5);
    auto cnn = load("seqcnn_traced.pt");
    const TensorValue xc = first(readNpy(fixtures::path("seqcnn_input.npy")));
    CHECK(maxSensitivity(
              *cnn, xc, [&](const TensorValue &xx) { return gradient(*cnn, xx, 1); }, 5, 0.5, 2)
          > 1e-3);
    CHECK_THROWS_WITH(infidelity(*lin, x, TensorValue({1, 16}, std::vector<float>(16, 0.f)), 1), Error, "input's shape");
}

TESTKIT_MAIN
