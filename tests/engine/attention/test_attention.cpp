// Attention extraction: the probabilities of every reference model saved by PyTorch 2.11 (ViT with
// scaled_dot_product_attention, traced and scripted; a TransformerEncoder traced, scripted and traced under
// no_grad — sdpa, the native multi-head kernel and the fused encoder-layer kernel) match the expected ones
// within 1e-5 and the outputs are unchanged; hand-written attention (softmax feeding matmul); rollout
// against NumPy and gradient-weighted rollout against PyTorch; a model with no attention site is named.
#include "engine/attention/attention.h"
#include "engine/core/errors.h"
#include "engine/core/npy.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <filesystem>

using namespace pellucid;

namespace {

std::unique_ptr<Model> loadReference(const std::string &file, bool text)
{
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    if (text) {
        o.inputDtype = "int64";
        o.inputShape = readNpy(fixtures::reference("attention/text_ids.npy")).shape();
    } else {
        o.inputShape = readNpy(fixtures::reference("attention/vit_input.npy")).shape();
    }
    return Model::load(fixtures::reference("attention/" + file), o);
}

bool haveReference() { return std::filesystem::exists(fixtures::reference("attention/vit_attn.npy")); }

}   // namespace

TEST(reference_models_attention_matches_pytorch)
{
    if (!haveReference()) {
        std::printf("SKIP: ../shared/reference/attention is absent\n");
        return;
    }
    struct Case {
        const char *file;
        bool text;
        const char *kind;
    };
    const Case cases[] = {{"vit_sdpa_traced.pt", false, "sdpa"},
                          {"vit_sdpa_scripted.pt", false, "sdpa"},
                          {"text_mha_traced.pt", true, "sdpa"},
                          {"text_mha_scripted.pt", true, nullptr},
                          {"text_mha_traced_nograd.pt", true, "encoder_layer"}};
    for (const Case &c : cases) {
        auto m = loadReference(c.file, c.text);
        const std::string prefix = c.text ? "text" : "vit";
        const TensorValue input = readNpy(fixtures::reference("attention/" + prefix + (c.text ? "_ids.npy" : "_input.npy")));
        const TensorValue expected = readNpy(fixtures::reference("attention/" + prefix + "_attn.npy"));
        const TensorValue logits = readNpy(fixtures::reference("attention/" + prefix + "_logits.npy"));
        const AttentionResult r = computeAttention(*m, input);
        const TensorValue stacked = stackAttention(r);
        CHECK_MSG(stacked.shape() == expected.shape(), c.file << ": " << shapeToString(stacked.shape()) << " vs " << shapeToString(expected.shape()));
        CHECK_MSG(fixtures::maxAbsDiff(stacked, expected) < 1e-5, c.file << ": max |diff| " << fixtures::maxAbsDiff(stacked, expected));
        // The model's outputs are unchanged by the extraction (and equal PyTorch 2.11's).
        CHECK_MSG(fixtures::maxAbsDiff(r.outputs.at(0), logits) < 1e-5,
                  c.file << ": logits differ by " << fixtures::maxAbsDiff(r.outputs.at(0), logits));
        CHECK(fixtures::maxAbsDiff(r.outputs.at(0), m->plainForward(input).at(0)) < 1e-5);
        if (c.kind)
            for (const auto &k : r.kinds) CHECK_MSG(k == c.kind, c.file << ": site kind " << k);
        std::printf("%s: %zu layers (%s), max |diff| %.2g\n", c.file, r.layers.size(), r.kinds.empty() ? "" : r.kinds[0].c_str(),
                    fixtures::maxAbsDiff(stacked, expected));
    }
    // The scripted TransformerEncoder holds both the native-kernel and the sdpa branches.
    auto scripted = loadReference("text_mha_scripted.pt", true);
    const auto sites = attentionSites(*scripted);
    CHECK_EQ(std::count(sites.begin(), sites.end(), std::string("native_mha")), 2L);
    CHECK_EQ(std::count(sites.begin(), sites.end(), std::string("sdpa")), 4L);
}

TEST(hand_written_attention_and_gradient_rollout)
{
    for (const char *file : {"handattn_scripted.pt", "handattn_traced.pt"}) {
        auto m = fixtures::loadCpu(file);
        const TensorValue x = readNpy(fixtures::path("handattn_input.npy"));
        const AttentionResult r = computeAttention(*m, x);
        CHECK_EQ(r.layers.size(), size_t(2));
        for (const auto &k : r.kinds) CHECK_EQ(k, std::string("softmax"));
        CHECK(fixtures::maxAbsDiff(stackAttention(r), readNpy(fixtures::path("handattn_probs.npy"))) < 1e-6);
        CHECK(fixtures::maxAbsDiff(r.outputs.at(0), readNpy(fixtures::path("handattn_logits.npy"))) < 1e-6);
        const TensorValue g = gradientRollout(*m, x, 2);
        CHECK_MSG(fixtures::maxAbsDiff(g, readNpy(fixtures::path("handattn_gradrollout_c2.npy"))) < 1e-5,
                  file << ": max |diff| " << fixtures::maxAbsDiff(g, readNpy(fixtures::path("handattn_gradrollout_c2.npy"))));
        CHECK_THROWS_WITH(gradientRollout(*m, x, 7), Error, "outside the model's 0–2");
    }
}

TEST(rollout_matches_numpy)
{
    const TensorValue probs = readNpy(fixtures::path("attn_probs.npy"));   // [1, 3, 2, 5, 5]
    std::vector<TensorValue> layers;
    for (int l = 0; l < 3; ++l) layers.push_back(TensorValue({1, 2, 5, 5}, std::vector<float>(probs.data() + l * 50, probs.data() + (l + 1) * 50)));
    const TensorValue r = attentionRollout(layers);
    CHECK(r.shape() == (Shape{1, 5, 5}));
    CHECK(fixtures::maxAbsDiff(r, readNpy(fixtures::path("attn_rollout.npy"))) < 1e-6);
    // Rows of a rollout of row-stochastic matrices sum to 1.
    for (int i = 0; i < 5; ++i) {
        double s = 0;
        for (int j = 0; j < 5; ++j) s += r.at(i * 5 + j);
        CHECK(std::fabs(s - 1) < 1e-5);
    }
    CHECK_THROWS_WITH(attentionRollout({TensorValue({1, 2, 5, 4}, std::vector<float>(40, 0.1f))}), Error, "square self-attention");
}

TEST(token_attributions_are_complete)
{
    if (!haveReference()) return;
    for (const char *file : {"text_mha_traced.pt", "text_mha_scripted.pt"}) {
        auto m = loadReference(file, true);
        const std::string layer = embeddingLayer(*m);
        CHECK_MSG(!layer.empty(), file);
        const TensorValue ids = readNpy(fixtures::reference("attention/text_ids.npy"));
        const TokenAttribution a = tokenAttributions(*m, ids, "", 1, 64);
        CHECK_EQ(a.scores.size(), size_t(ids.dim(1)));
        CHECK_EQ(a.target, 1);
        double sum = 0;
        for (double v : a.scores) sum += std::fabs(v);
        // Integrated gradients' completeness: Σ attributions = f(x) − f(baseline), up to the quadrature error.
        CHECK_MSG(std::fabs(a.delta) < 1e-3 + 1e-2 * sum, file << ": delta " << a.delta << " (Σ|a| " << sum << ")");
        CHECK(sum > 0);
        std::printf("%s: layer %s, delta %.2g, sum|a| %.3f\n", file, a.layer.c_str(), a.delta, sum);
    }
    auto vit = loadReference("vit_sdpa_traced.pt", false);
    CHECK_THROWS_WITH(tokenAttributions(*vit, TensorValue({1, 3}, {1.f, 2.f, 3.f})), Error, "has no embedding layer");
}

TEST(a_model_without_attention_is_named)
{
    auto m = fixtures::loadCpu("seqcnn_scripted.pt");
    CHECK_THROWS_WITH(computeAttention(*m, readNpy(fixtures::path("seqcnn_input.npy"))), Error, "has no attention site");
}

TESTKIT_MAIN
