// Attribution methods: axioms and sanity checks on fixture models (the Captum reference cases run through
// the CLI in tests/cli), progressive results, cancellation, memory-aware batching and bad input.
#include "engine/attribution/attribution.h"
#include "engine/core/errors.h"
#include "engine/runtime/jobs.h"
#include "engine/runtime/model.h"
#include "engine/core/npy.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <utility>

using namespace pellucid;

namespace {

std::unique_ptr<Model> load(const char *file) { return fixtures::loadCpu(file); }

TensorValue first(const TensorValue &batch) { return fixtures::firstItem(batch); }

double sum(const TensorValue &t)
{
    double s = 0;
    for (int64_t i = 0; i < t.numel(); ++i) s += t.at(i);
    return s;
}

float score(Model &m, const TensorValue &x, int k) { return m.forward(x, {}).outputs.at(0).at(k); }

AttributionParams params(AttributionMethod m, int target)
{
    AttributionParams p;
    p.method = m;
    p.target.kind = AttributionTarget::Kind::Class;
    p.target.classIndex = target;
    return p;
}

}   // namespace

TEST(integration_points_match_captum_placement)
{
    std::vector<double> a, w;
    integrationPoints(IntegrationRule::GaussLegendre, 3, a, w);
    CHECK(std::fabs(a[1] - 0.5) < 1e-12);
    CHECK(std::fabs(w[0] - 5.0 / 18) < 1e-12 && std::fabs(w[1] - 8.0 / 18) < 1e-12);
    CHECK(std::fabs(a[0] - 0.5 * (1 - std::sqrt(0.6))) < 1e-12);
    integrationPoints(IntegrationRule::RiemannTrapezoid, 5, a, w);
    CHECK(a.front() == 0.0 && a.back() == 1.0 && std::fabs(w.front() - 0.1) < 1e-12 && std::fabs(w[1] - 0.2) < 1e-12);
    integrationPoints(IntegrationRule::RiemannMiddle, 4, a, w);
    CHECK(std::fabs(a[0] - 0.125) < 1e-12 && std::fabs(a[3] - 0.875) < 1e-12);
    integrationPoints(IntegrationRule::RiemannLeft, 4, a, w);
    CHECK(a[0] == 0.0 && std::fabs(a[3] - 0.75) < 1e-12);
    integrationPoints(IntegrationRule::RiemannRight, 4, a, w);
    CHECK(std::fabs(a[0] - 0.25) < 1e-12 && std::fabs(a[3] - 1.0) < 1e-12);
}

TEST(ig_completeness_and_delta_shrinks)
{
    auto m = load("seqcnn_scripted.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    AttributionParams p = params(AttributionMethod::IntegratedGradients, 2);
    p.steps = 256;
    const auto fine = computeAttribution(*m, x, p);
    const double gap = score(*m, x, 2) - score(*m, TensorValue(x.shape(), std::vector<float>(size_t(x.numel()), 0.f)), 2);
    CHECK_MSG(std::fabs(sum(fine->map) - gap) < 2e-3 * (1 + std::fabs(gap)), "sum " << sum(fine->map) << " gap " << gap);
    CHECK(std::fabs(fine->convergenceDelta - (sum(fine->map) - gap)) < 1e-4);
    p.integration = IntegrationRule::RiemannLeft;
    p.steps = 4;
    const double coarse = std::fabs(computeAttribution(*m, x, p)->convergenceDelta);
    p.steps = 128;
    const double finer = std::fabs(computeAttribution(*m, x, p)->convergenceDelta);
    CHECK_MSG(finer < coarse, "delta 4 steps " << coarse << ", 128 steps " << finer);
}

TEST(batched_input_gives_one_map_per_item)
{
    auto m = load("seqcnn_scripted.pt");
    const TensorValue both = readNpy(fixtures::path("seqcnn_input.npy"));   // batch of 2
    AttributionParams p = params(AttributionMethod::IntegratedGradients, 1);
    p.steps = 16;
    const auto r = computeAttribution(*m, both, p);
    CHECK(r->map.shape() == both.shape());
    const auto one = computeAttribution(*m, first(both), p);
    CHECK(fixtures::maxAbsDiff(first(r->map), one->map) < 1e-6);
    CHECK(std::fabs(r->convergenceDelta) >= std::fabs(one->convergenceDelta));
}

TEST(ig_on_linear_model_is_exact)
{
    auto m = load("linear_traced.pt");
    const TensorValue x = readNpy(fixtures::path("linear_input.npy"));
    AttributionParams p = params(AttributionMethod::IntegratedGradients, 1);
    p.steps = 3;
    const auto r = computeAttribution(*m, x, p);
    CHECK(std::fabs(r->convergenceDelta) < 1e-5);
}

TEST(kernelshap_on_linear_model_equals_w_times_x_minus_baseline)
{
    auto m = load("linear_traced.pt");
    const TensorValue x = readNpy(fixtures::path("linear_input.npy"));
    // Each pixel its own feature; baseline (fill) 0: φ_i = w_ti · x_i.
    std::vector<float> ids(16);
    for (int i = 0; i < 16; ++i) ids[size_t(i)] = float(i);
    AttributionParams p = params(AttributionMethod::KernelShap, 0);
    p.featureMask = TensorValue({4, 4}, ids);
    p.samples = 300;
    p.seed = 7;
    const auto r = computeAttribution(*m, x, p);
    // w_0i from the gradient (the model is linear): inputxgrad = w · x.
    const auto ixg = computeAttribution(*m, x, params(AttributionMethod::InputXGradient, 0));
    CHECK(r->map.shape() == x.shape());
    CHECK_MSG(fixtures::maxAbsDiff(r->map, ixg->map) < 1e-4, "diff " << fixtures::maxAbsDiff(r->map, ixg->map));
    // LIME recovers the same linear model.
    p.method = AttributionMethod::Lime;
    p.samples = 400;
    const auto lime = computeAttribution(*m, x, p);
    CHECK_MSG(fixtures::maxAbsDiff(lime->map, ixg->map) < 1e-3, "diff " << fixtures::maxAbsDiff(lime->map, ixg->map));
}

TEST(kernelshap_grid_superpixels_sum_their_pixels)
{
    auto m = load("linear_traced.pt");
    const TensorValue x = readNpy(fixtures::path("linear_input.npy"));
    AttributionParams p = params(AttributionMethod::KernelShap, 2);
    p.gridCells = 2;   // four 2×2 cells
    p.samples = 60;
    const auto r = computeAttribution(*m, x, p);
    const auto ixg = computeAttribution(*m, x, params(AttributionMethod::InputXGradient, 2));
    for (int cy = 0; cy < 2; ++cy)
        for (int cx = 0; cx < 2; ++cx) {
            double cell = 0;
            for (int y = 0; y < 2; ++y)
                for (int xx = 0; xx < 2; ++xx) cell += ixg->map.at((cy * 2 + y) * 4 + cx * 2 + xx);
            const float got = r->map.at((cy * 2) * 4 + cx * 2);
            CHECK_MSG(std::fabs(got - cell) < 1e-4, "cell " << cy << "," << cx << ": " << got << " vs " << cell);
            CHECK_EQ(r->map.at((cy * 2 + 1) * 4 + cx * 2 + 1), got);   // one value per superpixel
        }
}

TEST(occlusion_one_element_window_equals_exact_ablation)
{
    auto m = load("seqcnn_traced.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    AttributionParams p = params(AttributionMethod::Occlusion, 4);
    p.window = {1, 1, 1};
    p.stride = {1, 1, 1};
    p.internalBatch = 64;
    const auto r = computeAttribution(*m, x, p);
    const float y0 = score(*m, x, 4);
    for (int64_t idx : {0L, 17L, 300L, 767L}) {
        std::vector<float> v(x.data(), x.data() + x.numel());
        v[size_t(idx)] = 0.f;
        const float exact = y0 - score(*m, TensorValue(x.shape(), v), 4);
        CHECK_MSG(std::fabs(r->map.at(idx) - exact) < 1e-5, idx << ": " << r->map.at(idx) << " vs " << exact);
    }
    CHECK_EQ(r->modelPasses, int64_t(3 * 16 * 16 + 1));   // the ablations and the unoccluded reference
}

TEST(guided_backprop_and_deconvnet_differ_from_the_gradient)
{
    auto m = load("seqcnn_scripted.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    AttributionParams plain = params(AttributionMethod::InputXGradient, 3);
    const auto g = computeAttribution(*m, x, plain);
    const auto gb = computeAttribution(*m, x, params(AttributionMethod::GuidedBackprop, 3));
    const auto dc = computeAttribution(*m, x, params(AttributionMethod::Deconvnet, 3));
    std::vector<float> grad(size_t(x.numel()));
    for (int64_t i = 0; i < x.numel(); ++i) grad[size_t(i)] = x.at(i) != 0 ? g->map.at(i) / x.at(i) : 0;
    CHECK(fixtures::maxAbsDiff(gb->map, TensorValue(x.shape(), grad)) > 1e-4);
    CHECK(fixtures::maxAbsDiff(dc->map, gb->map) > 1e-4);
    // Traced and scripted files give the same guided gradients (F.relu inside scripted nn.ReLU is rewritten too).
    auto traced = load("seqcnn_traced.pt");
    CHECK(fixtures::maxAbsDiff(computeAttribution(*traced, x, params(AttributionMethod::GuidedBackprop, 3))->map, gb->map) < 1e-6);
}

TEST(contrast_target_is_the_difference)
{
    auto m = load("seqcnn_scripted.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    const auto a = computeAttribution(*m, x, params(AttributionMethod::InputXGradient, 1));
    const auto b = computeAttribution(*m, x, params(AttributionMethod::InputXGradient, 5));
    AttributionParams p = params(AttributionMethod::InputXGradient, 1);
    p.target.kind = AttributionTarget::Kind::Contrast;
    p.target.otherClass = 5;
    const auto c = computeAttribution(*m, x, p);
    std::vector<float> diff(size_t(x.numel()));
    for (int64_t i = 0; i < x.numel(); ++i) diff[size_t(i)] = a->map.at(i) - b->map.at(i);
    CHECK(fixtures::maxAbsDiff(c->map, TensorValue(x.shape(), diff)) < 1e-6);
}

TEST(noise_tunnel_variants)
{
    auto m = load("seqcnn_scripted.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    const auto sal = computeAttribution(*m, x, params(AttributionMethod::Saliency, 0));
    AttributionParams p = params(AttributionMethod::SmoothGrad, 0);
    p.stdev = 0;
    p.samples = 3;
    CHECK(fixtures::maxAbsDiff(computeAttribution(*m, x, p)->map, sal->map) < 1e-7);   // no noise: the saliency
    p.noise = NoiseType::VarGrad;
    CHECK(fixtures::maxAbs(computeAttribution(*m, x, p)->map) < 1e-9);
    p.noise = NoiseType::SmoothGrad;
    p.stdev = 0.2f;
    p.seed = 3;
    const auto s1 = computeAttribution(*m, x, p);
    const auto s2 = computeAttribution(*m, x, p);
    CHECK(fixtures::maxAbsDiff(s1->map, s2->map) == 0);      // seeded: reproducible
    CHECK(fixtures::maxAbsDiff(s1->map, sal->map) > 1e-6);   // and really noisy
    p.noiseBase = AttributionMethod::IntegratedGradients;    // any method inside the tunnel
    p.steps = 8;
    p.samples = 2;
    CHECK(computeAttribution(*m, x, p)->map.shape() == x.shape());
}

TEST(cam_family_shapes_and_signs)
{
    auto m = load("seqcnn_traced.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    for (AttributionMethod method :
         {AttributionMethod::GradCam, AttributionMethod::GradCamPlusPlus, AttributionMethod::LayerCam, AttributionMethod::ScoreCam}) {
        AttributionParams p = params(method, 6);
        p.layer = "features.3";
        const auto r = computeAttribution(*m, x, p);
        CHECK_MSG(r->map.shape() == (Shape{1, 1, 8, 8}), methodName(method) << " " << shapeToString(r->map.shape()));
        CHECK(r->map.stats().min >= 0);
        CHECK(r->map.stats().max > 0);
    }
    AttributionParams p = params(AttributionMethod::GuidedGradCam, 6);
    p.layer = "features.3";
    CHECK(computeAttribution(*m, x, p)->map.shape() == x.shape());
}

TEST(progressive_results_and_cancel)
{
    auto m = load("seqcnn_scripted.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    AttributionParams p = params(AttributionMethod::IntegratedGradients, 0);
    p.steps = 20;
    p.internalBatch = 5;
    int partials = 0;
    int64_t lastDone = 0;
    AttributionSink sink;
    sink.partial = [&](std::shared_ptr<const AttributionResult> r) {
        ++partials;
        CHECK(r->partial && r->done > lastDone && r->total == 20);
        lastDone = r->done;
    };
    const auto r = computeAttribution(*m, x, p, sink);
    CHECK_EQ(partials, 3);   // after chunks 1..3; the 4th is the final result
    CHECK_EQ(r->chunks, int64_t(4));
    bool stop = false;
    sink.partial = [&](std::shared_ptr<const AttributionResult>) { stop = true; };
    sink.cancelled = [&] { return stop; };
    CHECK_THROWS_WITH(computeAttribution(*m, x, p, sink), Error, "cancelled");
    // Score-CAM refines over channel chunks; LIME / KernelSHAP refit as samples arrive.
    auto countPartials = [&](AttributionParams q) {
        int n = 0;
        AttributionSink s;
        s.partial = [&](std::shared_ptr<const AttributionResult> pr) {
            ++n;
            CHECK(pr->map.numel() > 0);
        };
        computeAttribution(*m, x, q, s);
        return n;
    };
    AttributionParams sc = params(AttributionMethod::ScoreCam, 0);
    sc.layer = "features.3";   // 6 channels
    sc.internalBatch = 2;
    CHECK_EQ(countPartials(sc), 2);
    AttributionParams lime = params(AttributionMethod::Lime, 0);
    lime.gridCells = 2;
    lime.samples = 40;
    lime.internalBatch = 10;
    CHECK_EQ(countPartials(lime), 3);
    // A tiny memory budget forces one sample per chunk.
    p.internalBatch = 0;
    p.memoryBudgetBytes = 1;
    CHECK_EQ(computeAttribution(*m, x, p)->chunks, int64_t(20));
}

TEST(cpu_gradient_batches_are_split_by_their_activations_size)
{
    // A small model passes every integration point at once.
    auto small = load("seqcnn_traced.pt");
    const TensorValue xs = first(readNpy(fixtures::path("seqcnn_input.npy")));
    AttributionParams p = params(AttributionMethod::IntegratedGradients, 0);
    p.steps = 4;
    CHECK_EQ(computeAttribution(*small, xs, p)->chunks, int64_t(1));
    // torchvision's ResNet layout (basic blocks, planes 8–64) at 1440²: its layers' outputs come to 0.27–0.4 GB a
    // sample by the runner's estimate — all 4 points fit the memory budget, but on the CPU a gradient batch holds
    // ~768 MiB of activations at most (larger batches fault in fresh pages instead of reusing the first chunk's),
    // so they go two at a time; the map is the one-batch map's, summed in another order.
    LoadOptions o = fixtures::cpuOptions();
    o.inputShape = {1, 3, 1440, 1440};
    auto big = Model::load(fixtures::path("tv/resnet_basic_traced.pt"), o);
    std::vector<float> v(size_t(3 * 1440 * 1440));
    for (size_t i = 0; i < v.size(); ++i) v[i] = float((i * 2654435761u) % 1000) / 1000.f;
    const TensorValue x({1, 3, 1440, 1440}, std::move(v));
    const auto split = computeAttribution(*big, x, p);
    CHECK_EQ(split->chunks, int64_t(2));
    CHECK_EQ(split->modelPasses, int64_t(6));   // 4 points and the convergence delta's x and baseline
    p.internalBatch = 4;
    const auto whole = computeAttribution(*big, x, p);
    CHECK_EQ(whole->chunks, int64_t(1));
    const double diff = fixtures::maxAbsDiff(split->map, whole->map);
    CHECK_MSG(diff <= 1e-5 * fixtures::maxAbs(whole->map) + 1e-7, diff);
}

TEST(bad_input_is_named)
{
    auto m = load("seqcnn_traced.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    AttributionParams p = params(AttributionMethod::GradCam, 0);
    p.layer = "classifier.1";
    CHECK_THROWS_WITH(computeAttribution(*m, x, p), Error, "is not spatial");
    p.layer = "";
    CHECK_THROWS_WITH(computeAttribution(*m, x, p), Error, "needs a layer");
    CHECK_THROWS_WITH(computeAttribution(*m, x, params(AttributionMethod::Saliency, 12)), Error, "outside the model's 10 classes");
    AttributionParams ig = params(AttributionMethod::IntegratedGradients, 0);
    ig.steps = 0;
    CHECK_THROWS_WITH(computeAttribution(*m, x, ig), Error, "steps must be 1 to 2000, not 0");
    // Every numeric parameter is held to the registry's range, whatever the caller (CLI, panel, session).
    ig.steps = 100000;
    CHECK_THROWS_WITH(computeAttribution(*m, x, ig), Error, "steps must be 1 to 2000");
    AttributionParams lime = params(AttributionMethod::Lime, 0);
    lime.samples = 100000;
    CHECK_THROWS_WITH(computeAttribution(*m, x, lime), Error, "samples must be 1 to 10000");
    lime.samples = 50;
    lime.gridCells = 100000;
    CHECK_THROWS_WITH(computeAttribution(*m, x, lime), Error, "grid must be 1 to 256");
    AttributionParams sg = params(AttributionMethod::SmoothGrad, 0);
    sg.stdev = -1;
    CHECK_THROWS_WITH(computeAttribution(*m, x, sg), Error, "stdev must be 0 to 2");
    ig.steps = 8;
    ig.baseline = BaselineKind::Tensor;
    ig.baselineTensor = TensorValue({1, 3, 8, 8}, std::vector<float>(192, 0.f));
    CHECK_THROWS_WITH(computeAttribution(*m, x, ig), Error, "Baseline shape [1, 3, 8, 8] does not match");
    AttributionParams occ = params(AttributionMethod::Occlusion, 0);
    occ.window = {3, 40, 4};
    CHECK_THROWS_WITH(computeAttribution(*m, x, occ), Error, "do not fit");
}

TEST(fast_kernels_fold_batchnorm_and_agree_with_the_exact_path)
{
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    for (const char *file : {"seqcnn_traced.pt", "seqcnn_scripted.pt"}) {
        auto m = load(file);
        int fastRuns = 0;
        for (AttributionMethod method : allMethods()) {
            AttributionParams p = params(method, 3);
            p.steps = 16;
            p.samples = method == AttributionMethod::SmoothGrad ? 8 : 60;
            p.seed = 5;
            p.window = {3, 4, 4};
            p.stride = {3, 4, 4};
            p.gridCells = 4;
            if (needsLayer(method)) p.layer = "features.3";
            const auto exact = computeAttribution(*m, x, p);
            CHECK_EQ(exact->kernels, std::string("exact"));
            CHECK(exact->fastKernelsNote.empty());
            p.fastKernels = true;
            const auto fast = computeAttribution(*m, x, p);
            if (!methodInfo(method).outputOnly) {
                // Layer methods (the CAMs, guided Grad-CAM): the exact path, saying why.
                CHECK_MSG(fast->kernels == "exact" && fast->fastKernelsNote.find("do not apply") != std::string::npos,
                          methodName(method) << ": " << fast->kernels << " / " << fast->fastKernelsNote);
                CHECK_EQ(fixtures::maxAbsDiff(fast->map, exact->map), 0.0);
                continue;
            }
            ++fastRuns;
            CHECK_MSG(fast->kernels == "fast", methodName(method) << ": " << fast->fastKernelsNote);
            CHECK_EQ(fast->modelPasses, exact->modelPasses);
            // The same function rounded differently: the reference cases' tolerance.
            const double diff = fixtures::maxAbsDiff(fast->map, exact->map);
            CHECK_MSG(diff <= 1e-4 * fixtures::maxAbs(exact->map) + 1e-6, file << " " << methodName(method) << ": " << diff);
        }
        CHECK_EQ(fastRuns, 9);
        // The copy the fast kernels ran: no BatchNorm left (folded into the convolutions), weights channels-last.
        const Model::FastKernels f = m->fastKernels();
        CHECK_MSG(f.ready, f.note);
        CHECK_EQ(f.batchNorms, 0);
        CHECK(f.convolutions >= 2);
        CHECK(f.channelsLast);
    }
}

TEST(guided_backprop_and_deconvnet_match_captum_on_both_paths)
{
    // Captum's GuidedBackprop and Deconvolution (hooks on the eager SeqCNN's nn.ReLU modules, one called twice;
    // tests/fixtures/make_modified_relu_fixtures.py), on the exact path and through the fast kernels.
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    for (const char *file : {"seqcnn_traced.pt", "seqcnn_scripted.pt"}) {
        auto m = load(file);
        for (const auto &[method, reference] : {std::pair{AttributionMethod::GuidedBackprop, "seqcnn_guided_backprop_captum.npy"},
                                                std::pair{AttributionMethod::Deconvnet, "seqcnn_deconvnet_captum.npy"}}) {
            const TensorValue expected = readNpy(fixtures::path(reference));
            for (bool fast : {false, true}) {
                AttributionParams p = params(method, 3);
                p.fastKernels = fast;
                const auto r = computeAttribution(*m, x, p);
                CHECK_MSG(r->kernels == (fast ? "fast" : "exact"), file << " " << methodName(method) << ": " << r->fastKernelsNote);
                const double diff = fixtures::maxAbsDiff(r->map, expected);
                CHECK_MSG(diff <= 1e-4 * fixtures::maxAbs(expected) + 1e-6, file << " " << methodName(method) << (fast ? " fast" : " exact") << ": " << diff);
            }
        }
    }
}

TEST(fast_kernels_keep_the_exact_path_where_the_frozen_copy_has_other_relus)
{
    // relugate: a ReLU on a weight, which freezing folds into a constant — the fast copy has no ReLU to modify
    // where the model has one, so guided backprop and deconvnet run the exact path and say why, each naming
    // itself (the refusal is conservative here: that ReLU is not on the input's path); saliency runs fast.
    auto m = load("relugate_scripted.pt");
    const TensorValue x = first(readNpy(fixtures::path("relugate_input.npy")));
    AttributionParams sal = params(AttributionMethod::Saliency, 1);
    sal.fastKernels = true;
    CHECK_EQ(computeAttribution(*m, x, sal)->kernels, std::string("fast"));
    for (int pass = 0; pass < 2; ++pass)
        for (AttributionMethod method : {AttributionMethod::GuidedBackprop, AttributionMethod::Deconvnet}) {
            AttributionParams p = params(method, 1);
            const auto exact = computeAttribution(*m, x, p);
            p.fastKernels = true;
            const auto r = computeAttribution(*m, x, p);
            CHECK_EQ(r->kernels, std::string("exact"));
            const std::string want = std::string("cannot all be made ") + (method == AttributionMethod::GuidedBackprop ? "guided" : "deconvnet")
                + " (it has 0 ReLUs, the model 1)";
            CHECK_MSG(r->fastKernelsNote.find(want) != std::string::npos, r->fastKernelsNote);
            CHECK_EQ(fixtures::maxAbsDiff(r->map, exact->map), 0.0);
        }
}

TEST(fast_kernels_fall_back_to_the_exact_path_with_a_reason)
{
    // A model whose output is NaN cannot be shown equal to its frozen copy: the exact path runs and says so.
    auto nan = load("nannet_scripted.pt");
    const TensorValue xn = first(readNpy(fixtures::path("nannet_input.npy")));
    AttributionParams p = params(AttributionMethod::Saliency, 0);
    p.fastKernels = true;
    const auto r = computeAttribution(*nan, xn, p);
    CHECK_EQ(r->kernels, std::string("exact"));
    CHECK_MSG(r->fastKernelsNote.find("differs") != std::string::npos, r->fastKernelsNote);
    // Reduced precision keeps forward-only work on its own copy.
    auto m = load("seqcnn_traced.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    m->setPrecision(Precision::BFloat16);
    AttributionParams occ = params(AttributionMethod::Occlusion, 3);
    occ.window = {3, 4, 4};
    occ.stride = {3, 4, 4};
    occ.fastKernels = true;
    const auto o = computeAttribution(*m, x, occ);
    if (m->precision() != Precision::Float32) {
        CHECK_EQ(o->kernels, std::string("exact"));
        CHECK_MSG(o->fastKernelsNote.find("reduced precision") != std::string::npos, o->fastKernelsNote);
    }
}

TEST(blurred_and_uniform_baselines)
{
    auto m = load("seqcnn_traced.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    AttributionParams p = params(AttributionMethod::IntegratedGradients, 0);
    p.steps = 64;
    for (BaselineKind b : {BaselineKind::Blur, BaselineKind::Uniform}) {
        p.baseline = b;
        const auto r = computeAttribution(*m, x, p);
        CHECK(r->map.shape() == x.shape());
        CHECK(std::isfinite(r->convergenceDelta));
        CHECK(fixtures::maxAbs(r->map) > 0);
    }
}

TEST(live_frame_shares_one_forward_and_matches_separate_requests)
{
    auto m = load("seqcnn_scripted.pt");
    const TensorValue x = first(readNpy(fixtures::path("seqcnn_input.npy")));
    const auto separate = computeActivations(*m, x, 7, "features.2", 5, 32);
    for (AttributionMethod method :
         {AttributionMethod::GradCam, AttributionMethod::GradCamPlusPlus, AttributionMethod::LayerCam, AttributionMethod::ScoreCam,
          AttributionMethod::Saliency, AttributionMethod::InputXGradient, AttributionMethod::IntegratedGradients}) {
        AttributionParams p;
        p.method = method;   // predicted target: read from the shared pass's logits
        p.layer = "features.3";
        std::shared_ptr<ActivationOutput> act;
        const auto r = computeLiveFrame(*m, x, 7, "features.2", 5, 32, &p, {}, [&](std::shared_ptr<ActivationOutput> a) {
            CHECK_MSG(!act, "activations delivered twice");
            act = std::move(a);
        });
        CHECK(act && r);
        if (!act || !r) continue;
        CHECK_EQ(act->inputId, uint64_t(7));
        CHECK_EQ(r->inputId, uint64_t(7));
        CHECK_MSG(fixtures::maxAbsDiff(act->activation, separate->activation) < 1e-6, methodName(method));
        CHECK(fixtures::maxAbsDiff(act->logits, separate->logits) < 1e-6);
        CHECK_EQ(act->topK.at(0).index, separate->topK.at(0).index);
        CHECK(act->histogram.counts == separate->histogram.counts);
        const auto alone = computeAttribution(*m, x, p);
        CHECK_EQ(r->targetClass, alone->targetClass);
        CHECK_EQ(r->targetClass, separate->topK.at(0).index);
        CHECK_MSG(fixtures::maxAbsDiff(r->map, alone->map) < 1e-5 * std::max(1.0, fixtures::maxAbs(alone->map)),
                  methodName(method) << " differs by " << fixtures::maxAbsDiff(r->map, alone->map));
        // The gradient CAMs take one pass for everything; separate requests take three (activations,
        // the predicted class, the CAM's own forward).
        if (method != AttributionMethod::ScoreCam && method != AttributionMethod::IntegratedGradients) CHECK_EQ(r->modelPasses, int64_t(1));
        CHECK(r->map.shape() == alone->map.shape());
    }
    // The activation layer may be the CAM layer itself; without an attribution only activations come.
    AttributionParams gc;
    gc.method = AttributionMethod::GradCam;
    gc.layer = "features.3";
    std::shared_ptr<ActivationOutput> same;
    computeLiveFrame(*m, x, 1, "features.3", 5, 32, &gc, {}, [&](std::shared_ptr<ActivationOutput> a) { same = a; });
    CHECK(same && same->activation.shape() == (Shape{1, 6, 8, 8}));
    int calls = 0;
    CHECK(!computeLiveFrame(*m, x, 2, "", 5, 32, nullptr, {}, [&](std::shared_ptr<ActivationOutput> a) {
        ++calls;
        CHECK(a->activation.numel() == 0 && !a->topK.empty());
    }));
    CHECK_EQ(calls, 1);
    // Cancelled between the activations and the attribution; a bad layer is named.
    AttributionSink stop;
    bool cancel = false;
    stop.cancelled = [&] { return cancel; };
    CHECK_THROWS_WITH(computeLiveFrame(*m, x, 3, "features.2", 5, 32, &gc, stop, [&](std::shared_ptr<ActivationOutput>) { cancel = true; }), Error,
                      "cancelled");
    gc.layer = "features.9";
    CHECK_THROWS_WITH(computeLiveFrame(*m, x, 4, "features.2", 5, 32, &gc, {}, [](std::shared_ptr<ActivationOutput>) {}), Error, "features.9");
    gc.layer = "classifier.1";
    CHECK_THROWS_WITH(computeLiveFrame(*m, x, 5, "features.2", 5, 32, &gc, {}, [](std::shared_ptr<ActivationOutput>) {}), Error, "not spatial");
}

TEST(suggested_cam_layer_climbs_to_the_block_and_skips_pooled_maps)
{
    auto m = load("seqcnn_scripted.pt");
    CHECK_EQ(suggestedCamLayer(m->summary()), std::string("features.4"));   // 2×2 average pool: still a map
    ModelSummary resnet;                                                    // torchvision ResNet's tail
    auto layer = [&](const char *path, const char *op, Shape out) {
        LayerInfo l;
        l.path = path;
        l.op = op;
        l.calls = 1;
        l.outputShapes = {out};
        resnet.layers.push_back(l);
    };
    layer("layer4", "Sequential", {1, 512, 7, 7});
    layer("layer4.1", "BasicBlock", {1, 512, 7, 7});
    layer("layer4.1.conv2", "Conv2d", {1, 512, 7, 7});
    layer("layer4.1.bn2", "BatchNorm2d", {1, 512, 7, 7});
    layer("avgpool", "AdaptiveAvgPool2d", {1, 512, 1, 1});
    layer("fc", "Linear", {1, 1000});
    CHECK_EQ(suggestedCamLayer(resnet), std::string("layer4.1"));
    resnet.layers.erase(resnet.layers.begin(), resnet.layers.begin() + 4);
    CHECK_EQ(suggestedCamLayer(resnet), std::string("avgpool"));   // only 1×1 maps left
    resnet.layers.erase(resnet.layers.begin());
    CHECK_EQ(suggestedCamLayer(resnet), std::string(""));
}

TESTKIT_MAIN
