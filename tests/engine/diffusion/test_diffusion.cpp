// Diffusion: schedules, DDIM / DDPM sampling with and without guidance, v prediction, the captured
// cross-attention, per-word maps and their filters, re-weighting and map injection, word gradients and the
// trajectory lens — against eager PyTorch (tests/fixtures/make_diffusion_fixtures.py, on traced and scripted
// denoisers with written-out softmax and nn.MultiheadAttention cross-attention); cross-attention told apart
// from self-attention; streaming and cancelling; mIoU; bad input (not a denoiser, ids outside the vocabulary,
// an unknown schedule, NaN in ε, steps, positions, injected maps of the wrong shape).
#include "engine/core/errors.h"
#include "engine/core/json.h"
#include "engine/core/npy.h"
#include "engine/diffusion/diffusion.h"
#include "engine/diffusion/diffusionmetrics.h"
#include "engine/generative/genmetrics.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace pellucid;

namespace {

std::string dir() { return fixtures::path("diffusion"); }

const Json &cases()
{
    static const Json j = [] {
        std::ifstream f(dir() + "/cases.json");
        std::stringstream ss;
        ss << f.rdbuf();
        return Json::parse(ss.str());
    }();
    return j;
}

const Json &caseNamed(const std::string &name)
{
    for (const Json &c : cases().at("cases").asArray())
        if (c.at("name").asString() == name) return c;
    throw std::runtime_error("no case " + name);
}

TensorValue npy(const Json &c, const std::string &key) { return readNpy(dir() + "/" + c.at(key).asString()); }

std::unique_ptr<Model> load(const std::string &file) { return Model::load(dir() + "/" + file, fixtures::cpuOptions()); }

DiffusionRequest requestOf(const Json &c)
{
    DiffusionRequest r;
    for (const Json &v : c.at("cond").asArray()) r.cond.push_back(v.asInt());
    r.steps = int(c.at("steps").asInt());
    r.seed = uint64_t(c.at("seed").asInt());
    CHECK(parseSampler(c.at("sampler").asString(), r.sampler));
    r.guidance = c.at("guidance").asNumber();
    if (const Json *rw = c.find("reweight")) {
        r.reweightToken = int(rw->asArray()[0].asInt());
        r.reweightFactor = rw->asArray()[1].asNumber();
    }
    return r;
}

double maxAbs(const TensorValue &a, const TensorValue &b) { return fixtures::maxAbsDiff(a, b); }

double maxAbsOf(const TensorValue &a)
{
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, double(std::fabs(a.data()[i])));
    return m;
}

/// Runs a case and checks the sample, the trajectory and the states against PyTorch's.
DiffusionResult runCase(const std::string &name, bool capture = false, const AttentionInjection *inject = nullptr)
{
    const Json &c = caseNamed(name);
    auto m = load(c.at("model").asString());
    DiffusionRequest r = requestOf(c);
    r.captureAttention = capture;
    r.inject = inject;
    const DiffusionResult out = sampleDiffusion(*m, r);
    const TensorValue sample = npy(c, "sample"), traj = npy(c, "trajectory"), states = npy(c, "states");
    const double tol = 1e-4 * std::max(1.0, maxAbsOf(sample));
    CHECK_MSG(maxAbs(out.sample, sample) < tol, name << ": sample differs by " << maxAbs(out.sample, sample));
    CHECK_MSG(maxAbs(out.trajectory, traj) < 1e-4 * std::max(1.0, maxAbsOf(traj)),
              name << ": x0 trajectory differs by " << maxAbs(out.trajectory, traj));
    CHECK_MSG(maxAbs(out.states, states) < 1e-4 * std::max(1.0, maxAbsOf(states)), name << ": states differ by " << maxAbs(out.states, states));
    CHECK_EQ(out.trajectory.dim(0), int64_t(r.steps));
    CHECK_EQ(out.denoiserCalls, r.steps);
    return out;
}

void checkSites(const std::string &name, const DiffusionResult &out)
{
    const Json &c = caseNamed(name);
    const auto &sites = c.at("sites").asArray();
    CHECK_EQ(out.crossAttention.size(), sites.size());
    for (size_t i = 0; i < sites.size() && i < out.crossAttention.size(); ++i) {
        const TensorValue want = readNpy(dir() + "/" + sites[i].asString());
        // Probabilities in [0, 1] of a state that float32 rounding has moved for N steps (the thread count changes
        // the reductions' order): within 3e-5.
        CHECK_MSG(maxAbs(out.crossAttention[i], want) < 3e-5 * std::max(1.0, maxAbsOf(want)),
                  name << ": site " << i << " " << shapeToString(out.crossAttention[i].shape()) << " vs " << shapeToString(want.shape())
                       << " differ by " << maxAbs(out.crossAttention[i], want));
    }
    const TensorValue maps = wordHeatMaps(out);
    const TensorValue want = npy(c, "maps");
    CHECK_MSG(maxAbs(maps, want) < 1e-5, name << ": word maps differ by " << maxAbs(maps, want));
}

}   // namespace

TEST(schedules_and_timesteps_match_pytorch)
{
    auto m = load("softmax_scripted.pt");
    DiffusionConfig c = diffusionConfig(*m);
    CHECK_EQ(c.trainSteps, int64_t(200));
    CHECK_EQ(shapeToString(c.sampleShape), shapeToString(Shape{1, 1, 8, 16}));
    for (const auto &[name, want] : cases().at("alphas_cumprod").asObject()) {
        c.betaSchedule = name;
        c.betaStart = name == "scaled_linear" ? 8.5e-4 : 1e-4;
        c.betaEnd = name == "scaled_linear" ? 0.012 : 0.02;
        const std::vector<double> acp = alphasCumprod(c);
        CHECK_EQ(acp.size(), size_t(200));
        for (size_t i = 0; i < want.size(); ++i)
            CHECK_MSG(std::fabs(acp[i * 37] - want.asArray()[i].asNumber()) < 1e-13, name << " ᾱ[" << i * 37 << "] " << acp[i * 37]);
    }
    c.betaSchedule = "linear";
    const std::vector<int64_t> ts = samplingTimesteps(c, 10);
    const auto &want = cases().at("timesteps_ddim10").asArray();
    CHECK_EQ(ts.size(), want.size());
    for (size_t i = 0; i < ts.size(); ++i) CHECK_EQ(ts[i], want[i].asInt());
    CHECK_EQ(ts.front(), int64_t(180));
    CHECK_EQ(ts.back(), int64_t(0));
}

TEST(ddim_ddpm_guidance_and_v_prediction_match_pytorch)
{
    runCase("ddim_g1");
    runCase("ddpm_g15");
    runCase("cosine_traced_ddpm");
    runCase("mha_v_reweight");
}

TEST(cross_attention_is_told_from_self_attention_by_data_flow)
{
    for (const char *file : {"softmax_scripted.pt", "softmax_traced.pt", "mha_traced.pt"}) {
        auto m = load(file);
        const std::vector<DenoiserSite> sites = denoiserSites(*m);
        int cross = 0, self = 0;
        for (const auto &s : sites) (s.cross ? cross : self)++;
        CHECK_MSG(cross == 3 && self == 1, file << ": " << cross << " cross and " << self << " self-attention sites");
        // program order: x2 (cross), sa (self), xm (cross), xu (cross)
        CHECK_MSG(sites.size() == 4 && sites[0].cross && !sites[1].cross && sites[2].cross && sites[3].cross, file);
    }
}

TEST(captured_cross_attention_and_word_maps_match_pytorch)
{
    const DiffusionResult g = runCase("ddim_g25_capture", true);
    checkSites("ddim_g25_capture", g);
    CHECK_EQ(shapeToString(g.crossAttention[0].shape()), shapeToString(Shape{8, 2, 32, 2}));
    CHECK_EQ(shapeToString(g.crossAttention[1].shape()), shapeToString(Shape{8, 2, 8, 2}));
    // Filters: steps 2–4, the second cross site, head 0.
    HeatMapFilter f;
    f.stepFrom = 2;
    f.stepTo = 4;
    f.site = 1;
    f.head = 0;
    const TensorValue filtered = wordHeatMaps(g, f);
    const TensorValue want = npy(caseNamed("ddim_g25_capture"), "maps_steps_2_4_site1_head0");
    CHECK_MSG(maxAbs(filtered, want) < 1e-5, "filtered maps differ by " << maxAbs(filtered, want));
    CHECK(maxAbs(filtered, wordHeatMaps(g)) > 1e-3);   // the filter changes the maps
    checkSites("cosine_traced", runCase("cosine_traced", true));
    checkSites("mha_v_capture", runCase("mha_v_capture", true));
    // Capturing does not change the sample.
    const Json &c = caseNamed("ddim_g25_capture");
    auto m = load(c.at("model").asString());
    const DiffusionResult plain = sampleDiffusion(*m, requestOf(c));
    CHECK(maxAbs(plain.sample, g.sample) < 1e-5);
    CHECK(plain.crossAttention.empty());
    CHECK_THROWS_WITH(wordHeatMaps(plain), Error, "no cross-attention");
    HeatMapFilter bad;
    bad.head = 5;
    CHECK_THROWS_WITH(wordHeatMaps(g, bad), Error, "Head 5 does not exist");
    bad = {};
    bad.stepFrom = 6;
    bad.stepTo = 3;
    CHECK_THROWS_WITH(wordHeatMaps(g, bad), Error, "is empty");
}

TEST(reweighting_and_map_injection_match_prompt_to_prompt_in_pytorch)
{
    const DiffusionResult rw = runCase("reweight", true);
    checkSites("reweight", rw);
    runCase("mha_v_reweight");
    // The re-weighted word's attention is the factor times the original's at the first step (same x_T).
    const DiffusionResult orig = runCase("ddim_g25_capture", true);
    const TensorValue &a = orig.crossAttention[0], &b = rw.crossAttention[0];
    const int64_t K = a.dim(3);
    double worst = 0;
    for (int64_t i = 0; i < a.dim(1) * a.dim(2); ++i) {
        worst = std::max(worst, double(std::fabs(b.data()[i * K + 1] - 3.0f * a.data()[i * K + 1])));
        worst = std::max(worst, double(std::fabs(b.data()[i * K] - a.data()[i * K])));
    }
    CHECK_MSG(worst < 1e-5, "step 0 re-weighted maps differ by " << worst);
    CHECK(maxAbs(rw.sample, orig.sample) > 1e-3);
    // Word swap: "cat tree" with the maps of every word but the swapped one taken from "cat dog".
    AttentionInjection inj;
    inj.maps = orig.crossAttention;
    inj.keys = {true, false};
    const DiffusionResult sw = runCase("swap", true, &inj);
    checkSites("swap", sw);
    // Bad injections and positions.
    auto m = load("softmax_scripted.pt");
    DiffusionRequest r = requestOf(caseNamed("swap"));
    AttentionInjection wrong = inj;
    wrong.maps.pop_back();
    r.inject = &wrong;
    CHECK_THROWS_WITH(sampleDiffusion(*m, r), Error, "maps to inject are for 2 cross-attention sites");
    r.inject = nullptr;
    r.reweightToken = 2;
    CHECK_THROWS_WITH(sampleDiffusion(*m, r), Error, "Token 2 is outside the prompt");
}

TEST(word_gradients_match_autograd)
{
    const Json &c = caseNamed("gradient");
    auto m = load(c.at("model").asString());
    DiffusionRequest r = requestOf(c);
    DiffusionRegion box;
    const auto &b = c.at("box").asArray();
    box.y0 = b[0].asInt(), box.x0 = b[1].asInt(), box.y1 = b[2].asInt(), box.x1 = b[3].asInt();
    const WordGradient g = wordGradients(*m, r, int(c.at("last").asInt()), box);
    CHECK(std::fabs(g.score - c.at("score").asNumber()) < 1e-5);
    CHECK_EQ(g.norm.size(), size_t(2));
    CHECK_EQ(g.words[0], std::string("cat"));
    for (size_t k = 0; k < 2; ++k) {
        const double wn = c.at("norm").asArray()[k].asNumber(), wg = c.at("grad_times_input").asArray()[k].asNumber();
        CHECK_MSG(std::fabs(g.norm[k] - wn) < 1e-4 * std::max(1e-3, wn), "norm " << k << ": " << g.norm[k] << " vs " << wn);
        CHECK_MSG(std::fabs(g.gradTimesInput[k] - wg) < 1e-4 * std::max(1e-3, std::fabs(wg)) + 1e-7,
                  "grad·e " << k << ": " << g.gradTimesInput[k] << " vs " << wg);
        CHECK(g.norm[k] > 0);
    }
    CHECK_THROWS_WITH(wordGradients(*m, r, 0, box), Error, "last steps");
}

TEST(trajectory_lens_matches_pytorch)
{
    const Json &c = caseNamed("ddim_g1");
    auto m = load(c.at("model").asString());
    auto clf = Model::load(fixtures::resources("models/fashion_mnist_cnn.pt"), fixtures::cpuOptions());
    const TrajectoryLens lens = trajectoryLens(*clf, diffusionConfig(*m), npy(c, "trajectory"));
    CHECK_EQ(lens.regions.size(), size_t(2));
    CHECK_EQ(lens.regions[1], std::string("right"));
    const TensorValue want = npy(c, "lens");
    CHECK_MSG(maxAbs(lens.probabilities, want) < 1e-5, "lens differs by " << maxAbs(lens.probabilities, want));
    CHECK_EQ(lens.labels.size(), size_t(10));
}

TEST(steps_stream_and_cancel)
{
    auto m = load("softmax_scripted.pt");
    DiffusionRequest r = requestOf(caseNamed("ddim_g1"));
    std::vector<int64_t> seen;
    r.onStep = [&](int k, int64_t t, const TensorValue &xt, const TensorValue &x0) {
        CHECK_EQ(int64_t(k), int64_t(seen.size()));
        CHECK_EQ(shapeToString(xt.shape()), shapeToString(Shape{1, 1, 8, 16}));
        CHECK_EQ(shapeToString(x0.shape()), shapeToString(Shape{1, 1, 8, 16}));
        seen.push_back(t);
        return true;
    };
    const DiffusionResult out = sampleDiffusion(*m, r);
    CHECK_EQ(seen.size(), size_t(10));
    CHECK_EQ(seen[0], int64_t(180));
    CHECK(maxAbs(out.sample, npy(caseNamed("ddim_g1"), "sample")) < 1e-4);
    r.onStep = [&](int k, int64_t, const TensorValue &, const TensorValue &) { return k < 3; };
    CHECK_THROWS_WITH(sampleDiffusion(*m, r), Error, "cancelled");
    // The same seed gives the same sample; another seed another.
    r.onStep = nullptr;
    const DiffusionResult again = sampleDiffusion(*m, r);
    CHECK(maxAbs(again.sample, out.sample) == 0);
    r.seed = 4;
    CHECK(maxAbs(sampleDiffusion(*m, r).sample, out.sample) > 1e-2);
}

TEST(miou_against_region_masks)
{
    auto m = load("softmax_scripted.pt");
    const DiffusionConfig c = diffusionConfig(*m);
    const std::vector<TensorValue> masks = regionMasks(c, 2);
    CHECK_EQ(masks.size(), size_t(2));
    CHECK_EQ(shapeToString(masks[0].shape()), shapeToString(Shape{8, 16}));
    // Word 0's map: the left half bright; word 1's: the right half's top half only.
    std::vector<float> v(2 * 8 * 16, 0.0f);
    for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 16; ++x) {
            v[size_t(y * 16 + x)] = x < 8 ? 2.0f : 0.1f;
            v[size_t(128 + y * 16 + x)] = (x >= 8 && y < 4) ? 5.0f : 0.0f;
        }
    const std::vector<double> iou = mapIoU(TensorValue({2, 8, 16}, v), masks, 0.4);
    CHECK(std::fabs(iou[0] - 1.0) < 1e-12);
    CHECK(std::fabs(iou[1] - 0.5) < 1e-12);
    // Complementary maps that never reach 0 (two words' attention sums to 1): max-normalised they cover the
    // image, min-max-normalised they find their halves.
    std::vector<float> w(2 * 8 * 16);
    for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 16; ++x) {
            w[size_t(y * 16 + x)] = x < 8 ? 0.6f : 0.4f;
            w[size_t(128 + y * 16 + x)] = 1.0f - w[size_t(y * 16 + x)];
        }
    const std::vector<double> daam = mapIoU(TensorValue({2, 8, 16}, w), masks, 0.4), mm = mapIoU(TensorValue({2, 8, 16}, w), masks, 0.4, true);
    CHECK(std::fabs(daam[0] - 0.5) < 1e-12 && std::fabs(daam[1] - 0.5) < 1e-12);
    CHECK(std::fabs(mm[0] - 1.0) < 1e-12 && std::fabs(mm[1] - 1.0) < 1e-12);
    CHECK_THROWS_WITH(mapIoU(TensorValue({2, 4, 4}, std::vector<float>(32, 1.0f)), masks), Error, "has 128 pixels");
}

TEST(prompts_words_and_ids)
{
    auto m = load("softmax_scripted.pt");
    const DiffusionConfig c = diffusionConfig(*m);
    CHECK(promptToIds(c, "cat dog") == (std::vector<int64_t>{1, 2}));
    CHECK(promptToIds(c, "Tree, SEA") == (std::vector<int64_t>{4, 5}));
    CHECK(promptToIds(c, "3 1") == (std::vector<int64_t>{3, 1}));
    CHECK_THROWS_WITH(promptToIds(c, "cat unicorn"), Error, "'unicorn' is not in the denoiser's vocabulary");
    CHECK_THROWS_WITH(promptToIds(c, "cat 9"), Error, "cond id 9 is outside the vocabulary (ids 0–5)");
    CHECK(idsToWords(c, {2, 7}) == (std::vector<std::string>{"dog", "#7"}));
}

TEST(bad_input_gets_one_clear_line)
{
    auto clf = Model::load(fixtures::resources("models/fashion_mnist_cnn.pt"), fixtures::cpuOptions());
    CHECK(!isDenoiser(*clf));
    DiffusionRequest r;
    r.cond = {1, 2};
    r.steps = 4;
    CHECK_THROWS_WITH(sampleDiffusion(*clf, r), Error, "is not a denoiser");
    auto m = load("softmax_scripted.pt");
    r.cond = {1, 17};
    CHECK_THROWS_WITH(sampleDiffusion(*m, r), Error, "cond id 17 is outside the vocabulary");
    r.cond = {1, 2};
    r.steps = 500;
    CHECK_THROWS_WITH(sampleDiffusion(*m, r), Error, "Steps must be 1–200");
    r.steps = 4;
    auto nan = load("nan.pt");
    CHECK_THROWS_WITH(sampleDiffusion(*nan, r), Error, "output at step 1 (t = 150) holds NaN");
    r.captureAttention = true;
    CHECK_THROWS_WITH(sampleDiffusion(*nan, r), Error, "no cross-attention site");
    // Metadata the engine cannot follow: a sidecar beside a copy of the bare module.
    const std::string tmp = (std::filesystem::temp_directory_path() / "pellucid_diffusion_test").string();
    std::filesystem::create_directories(tmp);
    std::filesystem::copy_file(dir() + "/bare.pt", tmp + "/bare.pt", std::filesystem::copy_options::overwrite_existing);
    auto withSidecar = [&](const std::string &json) {
        std::ofstream(tmp + "/bare.pt.json") << json;
        return Model::load(tmp + "/bare.pt", fixtures::cpuOptions());
    };
    const std::string vocab = R"("vocab": ["<null>", "a", "b"])";
    CHECK_THROWS_WITH(diffusionConfig(*withSidecar(R"({"role": "denoiser", )" + vocab
                                                   + R"(, "diffusion": {"beta_schedule": "quadratic", "sample_shape": [1,1,8,16]}})")),
                      Error, "unknown schedule 'quadratic' (linear, scaled_linear or cosine)");
    CHECK_THROWS_WITH(diffusionConfig(*withSidecar(R"({"role": "denoiser", )" + vocab + R"(, "diffusion": {"sample_shape": [1,8,16]}})")), Error,
                      "sample_shape\" must be [1, C, H, W]");
    CHECK_THROWS_WITH(diffusionConfig(*withSidecar(R"({"role": "denoiser", "diffusion": {"sample_shape": [1,1,8,16]}})")), Error,
                      "\"vocab\" is missing");
    CHECK_THROWS_WITH(
        diffusionConfig(*withSidecar(R"({"role": "denoiser", )" + vocab + R"(, "diffusion": {"prediction": "x0", "sample_shape": [1,1,8,16]}})")),
        Error, "\"epsilon\" or \"v\"");
    auto ok = withSidecar(R"({"role": "denoiser", )" + vocab + R"(, "diffusion": {"train_steps": 200, "sample_shape": [1,1,8,16]}})");
    r.captureAttention = false;
    r.cond = {1, 2};
    CHECK_EQ(sampleDiffusion(*ok, r).sample.numel(), int64_t(128));
    std::filesystem::remove_all(tmp);
}

TESTKIT_MAIN

// The metrics of a denoiser's samples are its parts put together: the same seeded samples, each region through
// the classifier (IS of the crops, Fréchet distance of the regions' features side by side to real composites of
// the same classes), the maps' IoU with the regions per sample.
TEST(diffusion_metrics_are_their_parts)
{
    auto m = load("softmax_scripted.pt");
    auto cls = Model::load(fixtures::resources("models/fashion_mnist_cnn.pt"), fixtures::cpuOptions());
    const DiffusionConfig c = diffusionConfig(*m);
    // No word of this vocabulary is a Fashion-MNIST class: every word is drawn, no accuracy, no Fréchet distance.
    const std::vector<int> none = wordClasses(*m, c, cls->summary().metadata.labels);
    CHECK(std::all_of(none.begin(), none.end(), [](int k) { return k < 0; }));
    DiffusionMetricsOptions o;
    o.count = 4;
    o.seed = 11;
    o.steps = 4;
    o.guidance = 2;
    const DiffusionMetrics got = diffusionMetrics(*m, *cls, {}, {}, o);
    CHECK_EQ(got.samples, int64_t(4));
    CHECK_EQ(got.prompts.size(), size_t(4));
    CHECK(std::isnan(got.promptAccuracy) && std::isnan(got.frechetDistance));
    std::vector<float> logits;
    double iou[2] = {0, 0}, iou2[2] = {0, 0};
    for (int i = 0; i < 4; ++i) {
        CHECK_EQ(got.prompts[size_t(i)].size(), size_t(2));
        for (int64_t id : got.prompts[size_t(i)]) CHECK(id >= 1 && id < int64_t(c.vocab.size()));
        DiffusionRequest r;
        r.cond = got.prompts[size_t(i)];
        r.steps = 4;
        r.seed = 11 + uint64_t(i);
        r.guidance = 2;
        r.captureAttention = true;
        const DiffusionResult res = sampleDiffusion(*m, r);
        CHECK(fixtures::maxAbsDiff(res.sample, got.images.rows(i, i + 1)) < 1e-6);
        const std::vector<double> v = mapIoU(wordHeatMaps(res), regionMasks(c, 2)), v2 = mapIoU(wordHeatMaps(res), regionMasks(c, 2), 0.4, true);
        iou[0] += v[0] / 4, iou[1] += v[1] / 4;
        iou2[0] += v2[0] / 4, iou2[1] += v2[1] / 4;
    }
    for (const DiffusionRegion &reg : c.regions) {
        const ForwardResult f = cls->forward(classifierInput(*cls, c, got.images, reg), {});
        logits.insert(logits.end(), f.outputs[0].data(), f.outputs[0].data() + f.outputs[0].numel());
    }
    CHECK(std::fabs(got.inceptionScore - inceptionScore(TensorValue({8, 10}, logits))) < 1e-6);
    CHECK_EQ(got.regionIou.size(), size_t(2));
    CHECK(std::fabs(got.regionIou[0] - iou[0]) < 1e-9 && std::fabs(got.regionIou[1] - iou[1]) < 1e-9);
    CHECK(std::fabs(got.miou - (iou[0] + iou[1]) / 2) < 1e-9);
    CHECK(std::fabs(got.miouMinMax - (iou2[0] + iou2[1]) / 2) < 1e-9);
    // The same seed draws the same prompts.
    CHECK(diffusionMetrics(*m, *cls, {}, {}, o).prompts == got.prompts);
    CHECK_THROWS_WITH(diffusionMetrics(*m, *cls, {}, {},
                                       [&] {
                                           DiffusionMetricsOptions one = o;
                                           one.count = 1;
                                           return one;
                                       }()),
                      Error, "at least 2 samples");
}

// The demo's words are the companion classifier's classes (its metadata's word_classes): the metrics score each
// half against the word put there and compare with composites of real test images of those classes.
TEST(demo_metrics_against_real_composites)
{
    const std::string demo = fixtures::resources("models/fashion_pairs_diffusion.pt");
    if (!std::filesystem::exists(demo)) return;   // the demo is trained by resources/tools/train_diffusion.py
    auto m = Model::load(demo, fixtures::cpuOptions());
    auto cls = Model::load(companionClassifierPath(*m), fixtures::cpuOptions());
    const DiffusionConfig c = diffusionConfig(*m);
    const std::vector<int> classes = wordClasses(*m, c, cls->summary().metadata.labels);
    CHECK_EQ(classes.size(), size_t(11));
    CHECK_EQ(classes[0], -1);
    for (int i = 1; i <= 10; ++i) CHECK_EQ(classes[size_t(i)], i - 1);
    // Real items: one per class (class k's item is k in the stand-in set), so each composite is determined.
    std::vector<TensorValue> rows;
    std::vector<int> labels;
    for (int k = 0; k < 10; ++k) {
        std::vector<float> v(28 * 28);
        for (size_t p = 0; p < v.size(); ++p) v[p] = float((p * (k + 3)) % 17) / 17.f;
        rows.push_back(TensorValue({1, 1, 28, 28}, v));
        labels.push_back(k);
    }
    DiffusionMetricsOptions o;
    o.count = 3;
    o.steps = 3;
    const DiffusionMetrics got = diffusionMetrics(*m, *cls, concatRows(rows), labels, o);
    CHECK(got.promptAccuracy >= 0 && got.promptAccuracy <= 1);
    CHECK(std::isfinite(got.frechetDistance) && got.frechetDistance >= 0);
    CHECK_EQ(got.realItems, int64_t(6));
    // A class without a real item is named.
    CHECK_THROWS_WITH(diffusionMetrics(*m, *cls, concatRows({rows[0]}), {0}, o), Error, "No real item of class");
}
