// Language models against eager PyTorch (tests/fixtures/make_fixtures.py make_lm): two tiny causal LMs with
// GPT-2 names (tied head) and Llama names (RMSNorm, untied head, no position table), traced and scripted,
// without metadata. The parts are found by name; greedy generation, per-step attribution (saliency, input ×
// gradient, integrated gradients, ablation, attention) and the logit lens match the references; sampling is
// seeded and respects top-k / top-p; activation patching matches forward hooks that overwrite a position;
// bad prompts and options get one clear error.
#include "engine/attention/attention.h"
#include "engine/core/errors.h"
#include "engine/core/npy.h"
#include "engine/language/lm.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

using namespace pellucid;

namespace {

const char *kModels[] = {"gpt_tiny_scripted.pt", "gpt_tiny_traced.pt", "llama_tiny_scripted.pt", "llama_tiny_traced.pt"};

std::string base(const std::string &file) { return file.substr(0, file.find("_tiny") + 5); }

std::vector<int64_t> idsOf(const TensorValue &t)
{
    std::vector<int64_t> out;
    for (int64_t i = 0; i < t.numel(); ++i) out.push_back(int64_t(t.at(i)));
    return out;
}

double maxDiff(const TensorValue &a, const TensorValue &b)
{
    if (a.shape() != b.shape()) return 1e30;
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, double(std::fabs(a.at(i) - b.at(i))));
    return m;
}

double maxAbs(const TensorValue &a)
{
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, double(std::fabs(a.at(i))));
    return m;
}

}   // namespace

TEST(parts_are_found_by_gpt2_and_llama_names)
{
    for (const char *f : kModels) {
        auto m = fixtures::loadCpu(f);
        const LanguageModelParts p = languageModelParts(*m);
        const bool gpt = base(f) == "gpt_tiny";
        CHECK_EQ(p.embedding, std::string(gpt ? "transformer.wte" : "model.embed_tokens"));
        CHECK_EQ(p.blocks.size(), size_t(gpt ? 2 : 3));
        CHECK_EQ(p.blocks[0], std::string(gpt ? "transformer.h.0" : "model.layers.0"));
        CHECK_EQ(p.finalNorm, std::string(gpt ? "transformer.ln_f" : "model.norm"));
        CHECK_EQ(p.unembed, std::string("lm_head"));
        CHECK_EQ(p.context, int64_t(gpt ? 24 : 0));   // GPT: the position table's rows
        CHECK(isLanguageModel(*m));
    }
    // A classifier is not a language model, and the error lists what it has.
    auto cnn = fixtures::loadCpu("seqcnn_scripted.pt");
    CHECK(!isLanguageModel(*cnn));
    CHECK_THROWS_WITH(languageModelParts(*cnn), Error, "no token embedding found");
}

TEST(greedy_generation_matches_pytorch)
{
    for (const char *f : kModels) {
        auto m = fixtures::loadCpu(f);
        const std::vector<int64_t> prompt = idsOf(readNpy(fixtures::path(base(f) + "_prompt.npy")));
        const std::vector<int64_t> want = idsOf(readNpy(fixtures::path(base(f) + "_greedy.npy")));
        GenerationOptions o;
        o.maxNew = 8;
        std::vector<int64_t> streamed;
        const Generation g = generate(*m, prompt, o, [&](const GenerationStep &s) { streamed.push_back(s.id); });
        CHECK_MSG(g.ids == want, f);
        CHECK_EQ(g.promptLength, int64_t(prompt.size()));
        CHECK_EQ(g.steps.size(), size_t(8));
        CHECK(std::vector<int64_t>(want.begin() + long(prompt.size()), want.end()) == streamed);
        CHECK_EQ(g.stopReason, std::string("max_new"));
        for (const GenerationStep &s : g.steps) {
            CHECK(s.probability > 0 && s.probability <= 1 + 1e-12);
            CHECK(s.entropy >= -1e-12);
            CHECK_EQ(s.topIds.size(), size_t(5));
            CHECK_EQ(s.topIds[0], s.id);   // greedy: the top alternative is the choice
            for (size_t k = 1; k < s.topProbabilities.size(); ++k) CHECK(s.topProbabilities[k] <= s.topProbabilities[k - 1]);
        }
        // Stop ids end generation after the stop token.
        o.stopIds = {want[prompt.size() + 1]};
        const Generation stopped = generate(*m, prompt, o);
        CHECK_EQ(stopped.stopReason, std::string("stop_id"));
        CHECK(stopped.steps.size() <= 2);
    }
}

TEST(sampling_is_seeded_and_respects_top_k_and_top_p)
{
    auto m = fixtures::loadCpu("llama_tiny_scripted.pt");   // flat distributions: sampling varies
    const std::vector<int64_t> prompt = idsOf(readNpy(fixtures::path("llama_tiny_prompt.npy")));
    GenerationOptions o;
    o.maxNew = 12;
    o.temperature = 1.5;
    o.seed = 7;
    const Generation a = generate(*m, prompt, o), b = generate(*m, prompt, o);
    CHECK(a.ids == b.ids);   // the same seed, the same text
    std::set<std::vector<int64_t>> different;
    for (uint64_t s = 0; s < 6; ++s) {
        o.seed = s;
        different.insert(generate(*m, prompt, o).ids);
    }
    CHECK(different.size() > 1);
    // top-k 1 is greedy whatever the temperature; top-k 3 only ever picks among each step's 3 most probable.
    o.topK = 1;
    GenerationOptions greedy;
    greedy.maxNew = 12;
    CHECK(generate(*m, prompt, o).ids == generate(*m, prompt, greedy).ids);
    o.topK = 3;
    for (uint64_t s = 0; s < 4; ++s) {
        o.seed = s;
        for (const GenerationStep &st : generate(*m, prompt, o).steps) CHECK(st.id == st.topIds[0] || st.id == st.topIds[1] || st.id == st.topIds[2]);
    }
    // A tiny nucleus keeps only the most probable token.
    o.topK = 0;
    o.topP = 1e-6;
    CHECK(generate(*m, prompt, o).ids == generate(*m, prompt, greedy).ids);
}

TEST(per_step_attributions_match_pytorch)
{
    const std::pair<GenerationMethod, const char *> methods[] = {{GenerationMethod::Saliency, "saliency"},
                                                                 {GenerationMethod::InputXGradient, "inputxgrad"},
                                                                 {GenerationMethod::IntegratedGradients, "ig"},
                                                                 {GenerationMethod::Ablation, "ablation"},
                                                                 {GenerationMethod::Attention, "attention"}};
    for (const char *f : kModels) {
        auto m = fixtures::loadCpu(f);
        const std::vector<int64_t> ids = idsOf(readNpy(fixtures::path(base(f) + "_greedy.npy")));
        const int64_t P = 6;
        for (const auto &[method, name] : methods) {
            GenerationAttributionOptions o;
            o.method = method;
            o.steps = 32;
            const GenerationAttribution r = attributeGeneration(*m, ids, P, o);
            const TensorValue want = readNpy(fixtures::path(base(f) + "_" + name + ".npy"));
            CHECK(r.scores.shape() == (Shape{8, 14}));
            CHECK_MSG(maxAbs(want) > 1e-3, std::string(f) + " " + name + ": the reference is all zero");
            const double tol = 1e-5 * std::max(1.0, maxAbs(want));
            CHECK_MSG(maxDiff(r.scores, want) < tol, std::string(f) + " " + name + ": " + std::to_string(maxDiff(r.scores, want)));
            // Nothing after the explained token's position.
            for (int64_t i = 0; i < 8; ++i)
                for (int64_t j = P + i; j < 14; ++j) CHECK(r.scores.at(i * 14 + j) == 0.f);
            CHECK_EQ(r.targets.size(), size_t(8));
            if (method == GenerationMethod::IntegratedGradients) CHECK_EQ(r.completeness.size(), size_t(8));
        }
    }
    // Integrated gradients are complete up to the quadrature error where the function is smooth in the scale
    // (GPT: LayerNorm after the position embeddings; the RMSNorm model is scale-invariant near 0 and is not).
    auto gpt = fixtures::loadCpu("gpt_tiny_scripted.pt");
    const std::vector<int64_t> ids = idsOf(readNpy(fixtures::path("gpt_tiny_greedy.npy")));
    GenerationAttributionOptions o;
    o.method = GenerationMethod::IntegratedGradients;
    o.steps = 128;
    for (double c : attributeGeneration(*gpt, ids, 6, o).completeness) CHECK_MSG(std::fabs(c) < 0.02, c);
    // A contrastive target: log p(t) − log p(a) is the difference of the two single targets' saliency-free
    // input × gradient (linear in the target).
    o.method = GenerationMethod::InputXGradient;
    o.contrastId = 5;
    const TensorValue contrast = attributeGeneration(*gpt, ids, 6, o).scores;
    o.contrastId = -1;
    const TensorValue plain = attributeGeneration(*gpt, ids, 6, o).scores;
    CHECK(maxDiff(contrast, plain) > 1e-4);
}

TEST(fast_route_is_taken_where_exact_and_steps_aside_elsewhere)
{
    // On the causal fixtures the gradient methods end each pass at the last block (head at the targets only)
    // and may cut rows to their prefix; integrated gradients (32 × 8 rows) then compute fewer token rows than
    // every row at full length. The numbers are checked against PyTorch above.
    for (const char *f : kModels) {
        auto m = fixtures::loadCpu(f);
        const std::vector<int64_t> ids = idsOf(readNpy(fixtures::path(base(f) + "_greedy.npy")));
        GenerationAttributionOptions o;
        o.method = GenerationMethod::IntegratedGradients;
        o.steps = 32;
        const GenerationAttribution r = attributeGeneration(*m, ids, 6, o);
        CHECK_MSG(r.headAtTargets && r.prefixRows, f);
        CHECK_MSG(r.passes >= 2 && r.tokenRows < 32 * 8 * 14, std::string(f) + ": " + std::to_string(r.tokenRows) + " token rows");
    }
    // Where a shortcut would change the numbers, it is not taken and the result is still PyTorch's: without a
    // causal mask a prefix's logits depend on later tokens; with logits soft-capped after the head the head
    // alone is not the model's output.
    for (const char *name : {"gpt_bidir", "gpt_capped"}) {
        auto m = fixtures::loadCpu(std::string(name) + "_scripted.pt");
        const std::vector<int64_t> ids = idsOf(readNpy(fixtures::path(std::string(name) + "_ids.npy")));
        for (const char *method : {"saliency", "inputxgrad"}) {
            GenerationAttributionOptions o;
            CHECK(parseGenerationMethod(method, o.method));
            const GenerationAttribution r = attributeGeneration(*m, ids, 4, o);
            const TensorValue want = readNpy(fixtures::path(std::string(name) + "_" + method + ".npy"));
            CHECK_MSG(maxAbs(want) > 1e-3, name);
            CHECK_MSG(maxDiff(r.scores, want) < 1e-5 * std::max(1.0, maxAbs(want)),
                      std::string(name) + " " + method + ": " + std::to_string(maxDiff(r.scores, want)));
            CHECK_MSG(!r.prefixRows, name);
            CHECK_MSG(r.headAtTargets == (std::string(name) == "gpt_bidir"), name);
        }
    }
}

TEST(logit_lens_matches_pytorch)
{
    for (const char *f : kModels) {
        auto m = fixtures::loadCpu(f);
        const std::vector<int64_t> ids = idsOf(readNpy(fixtures::path(base(f) + "_greedy.npy")));
        const LogitLens lens = logitLens(*m, ids, 3);
        const TensorValue want = readNpy(fixtures::path(base(f) + "_lens.npy"));
        // A few float32 ulps of a probability near 1: the CPU's kernels (AVX-512 or AVX2) sum in different orders.
        CHECK_MSG(maxDiff(lens.probabilities, want) < 4e-6, f << ": " << maxDiff(lens.probabilities, want));
        const int64_t B = want.dim(0), L = want.dim(1), V = want.dim(2);
        CHECK(lens.entropy.shape() == (Shape{B, L}));
        CHECK_EQ(lens.topIds.size(), size_t(B * L));
        // The last block's lens is the model's own distribution: KL 0 and rank 0 there.
        for (int64_t i = 0; i < L; ++i) {
            CHECK(std::fabs(lens.klToFinal.at((B - 1) * L + i)) < 1e-6);
            CHECK(lens.finalRank.at((B - 1) * L + i) == 0.f);
        }
        // Top ids are the most probable.
        for (int64_t c = 0; c < B * L; ++c) {
            float best = 0;
            for (int64_t v = 0; v < V; ++v) best = std::max(best, want.at(c * V + v));
            CHECK(std::fabs(want.at(c * V + lens.topIds[size_t(c)][0]) - best) < 1e-7);
        }
    }
}

TEST(tuned_lens_trains_as_pytorch_and_lowers_kl)
{
    for (const char *f : kModels) {
        auto m = fixtures::loadCpu(f);
        const TensorValue corpus = readNpy(fixtures::path(base(f) + "_corpus.npy"));
        std::vector<std::vector<int64_t>> seqs;
        for (int64_t r = 0; r < corpus.dim(0); ++r) {
            std::vector<int64_t> row;
            for (int64_t i = 0; i < corpus.dim(1); ++i) row.push_back(int64_t(corpus.at(r * corpus.dim(1) + i)));
            seqs.push_back(row);
        }
        TunedLensOptions o;
        o.steps = 20;
        const TunedLens lens = trainTunedLens(*m, seqs, o);
        // The translators after 20 Adam steps equal PyTorch's (torch.optim.Adam, the same loss in float64).
        const std::string path = (std::filesystem::temp_directory_path() / "pellucid_").string() + "tl_" + base(f) + ".npy";
        saveTunedLens(lens, path);
        const TensorValue saved = readNpy(path);
        std::remove(path.c_str());
        CHECK_MSG(maxDiff(saved, readNpy(fixtures::path(base(f) + "_tuned_lens.npy"))) < 1e-5, f);
        // Lower KL than the logit lens on the corpus for every block but the last (identity there).
        for (size_t b = 0; b + 1 < lens.blocks.size(); ++b) CHECK(lens.klTuned[b] < lens.klLogit[b]);
        CHECK(std::fabs(lens.klTuned.back() - lens.klLogit.back()) < 1e-12);
        // Longer training keeps lowering it, and on a held-out sequence the tuned lens is closer to the final
        // distribution than the logit lens.
        o.steps = 300;
        const TunedLens longer = trainTunedLens(*m, seqs, o);
        for (size_t b = 0; b + 1 < lens.blocks.size(); ++b) CHECK(longer.klTuned[b] < lens.klTuned[b]);
        const std::vector<int64_t> held = idsOf(readNpy(fixtures::path(base(f) + "_greedy.npy")));
        const LogitLens plain = logitLens(*m, held, 1), tuned = logitLens(*m, held, 1, &longer);
        const int64_t L = int64_t(held.size());
        double klPlain = 0, klTuned = 0;
        for (int64_t c = 0; c < L; ++c) {
            klPlain += plain.klToFinal.at(c);
            klTuned += tuned.klToFinal.at(c);
        }
        CHECK_MSG(klTuned < klPlain, std::string(f) + ": " + std::to_string(klTuned) + " vs " + std::to_string(klPlain));
        // The last block's tuned lens is still the model's own distribution.
        CHECK(maxDiff(tuned.probabilities.slice0(tuned.probabilities.dim(0) - 1), plain.probabilities.slice0(plain.probabilities.dim(0) - 1)) < 1e-6);
    }
    auto m = fixtures::loadCpu("gpt_tiny_scripted.pt");
    CHECK_THROWS_WITH(trainTunedLens(*m, {}), Error, "needs a corpus");
    auto llama = fixtures::loadCpu("llama_tiny_scripted.pt");
    writeNpy((std::filesystem::temp_directory_path() / "pellucid_").string() + "bad_lens.npy", TensorValue({2, 5, 4}, std::vector<float>(40, 0.f)));
    CHECK_THROWS_WITH(loadTunedLens(*llama, (std::filesystem::temp_directory_path() / "pellucid_").string() + "bad_lens.npy"), Error,
                      "this model needs [3, D + 1, D]");
    std::remove(((std::filesystem::temp_directory_path() / "pellucid_").string() + "bad_lens.npy").c_str());
}

TEST(activation_patching_matches_pytorch_hooks)
{
    const std::pair<PatchSite, const char *> sites[] = {{PatchSite::Block, "block"}, {PatchSite::Attention, "attn"}, {PatchSite::Mlp, "mlp"}};
    for (const char *f : kModels) {
        auto m = fixtures::loadCpu(f);
        const std::vector<int64_t> clean = idsOf(readNpy(fixtures::path(base(f) + "_prompt.npy")));
        const std::vector<int64_t> corrupt = idsOf(readNpy(fixtures::path(base(f) + "_corrupt.npy")));
        for (const auto &[site, name] : sites) {
            const PatchingResult r = activationPatching(*m, clean, corrupt, -1, site);
            const TensorValue want = readNpy(fixtures::path(base(f) + "_patch_" + name + ".npy"));
            CHECK_MSG(maxDiff(r.probability, want) < 1e-6, std::string(f) + " " + name);
            CHECK(r.estimate.shape() == want.shape());
            CHECK(std::fabs(r.pClean - r.pCorrupt) > 1e-3);
            // Restoring the last block's output at the last position restores the clean run's probability.
            if (site == PatchSite::Block) CHECK(std::fabs(r.probability.at(r.probability.numel() - 1) - r.pClean) < 1e-6);
            CHECK(r.agreement > 0.3 && r.agreement <= 1 + 1e-9);
            CHECK_EQ(r.sites.size(), size_t(want.dim(0)));
        }
    }
    // Per head: each head's slice of the attention output projection's input, against a forward pre-hook.
    for (const char *f : kModels) {
        auto m = fixtures::loadCpu(f);
        const std::vector<int64_t> clean = idsOf(readNpy(fixtures::path(base(f) + "_prompt.npy")));
        const std::vector<int64_t> corrupt = idsOf(readNpy(fixtures::path(base(f) + "_corrupt.npy")));
        const PatchingResult r = activationPatching(*m, clean, corrupt, -1, PatchSite::Head);
        const TensorValue want = readNpy(fixtures::path(base(f) + "_patch_head.npy"));   // [blocks, heads, L]
        CHECK_EQ(r.heads, want.dim(1));
        CHECK(r.probability.shape() == (Shape{want.dim(0) * want.dim(1), want.dim(2)}));
        double diff = 0;
        for (int64_t i = 0; i < want.numel(); ++i) diff = std::max(diff, double(std::fabs(r.probability.at(i) - want.at(i))));
        CHECK_MSG(diff < 1e-6, std::string(f) + " head: " + std::to_string(diff));
        CHECK_EQ(r.sites.size(), size_t(want.dim(0) * want.dim(1)));
        CHECK_MSG(r.sites[1].find("c_proj head 1") != std::string::npos, r.sites[1]);
        CHECK_MSG(r.agreement > 0, std::string(f) + " head agreement " + std::to_string(r.agreement));
    }
    auto m = fixtures::loadCpu("gpt_tiny_scripted.pt");
    CHECK_THROWS_WITH(activationPatching(*m, {1, 2, 3}, {1, 2}), Error, "same number of tokens");
    CHECK_THROWS_WITH(activationPatching(*m, {1, 2, 3}, {1, 2, 4}, 99), Error, "outside the vocabulary");
}

TEST(attention_through_functional_softmax_is_found)
{
    // The demo GPT calls F.softmax, which TorchScript compiles into an `if dtype is None` branch: the
    // attention site is the softmax inside the branch. Four causal layers whose rows sum to 1.
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    auto m = Model::load(fixtures::resources("models/fortune_gpt.pt"), o);
    const AttentionResult r = computeAttention(*m, TensorValue({1, 6}, {1.f, 41.f, 435.f, 9.f, 17.f, 5.f}).withDtype("int64"));
    CHECK_EQ(r.layers.size(), size_t(4));
    for (const TensorValue &a : r.layers) {
        CHECK(a.shape() == (Shape{1, 4, 6, 6}));
        for (int64_t h = 0; h < 4; ++h)
            for (int64_t q = 0; q < 6; ++q) {
                double sum = 0;
                for (int64_t k = 0; k < 6; ++k) {
                    const float v = a.at((h * 6 + q) * 6 + k);
                    sum += v;
                    if (k > q) CHECK(v == 0.f);   // causal
                }
                CHECK(std::fabs(sum - 1) < 1e-5);
            }
    }
}

TEST(bad_prompts_and_options_are_named)
{
    auto m = fixtures::loadCpu("gpt_tiny_scripted.pt");
    GenerationOptions o;
    CHECK_THROWS_WITH(generate(*m, {}, o), Error, "prompt is empty");
    CHECK_THROWS_WITH(generate(*m, {1, 99}, o), Error, "outside the vocabulary 0–39");
    CHECK_THROWS_WITH(generate(*m, {1, -2}, o), Error, "outside the vocabulary");
    o.topP = 0;
    CHECK_THROWS_WITH(generate(*m, {1, 2}, o), Error, "top-p must be in (0, 1]");
    // The position table holds 24: longer sequences cannot be explained; generation slides its window.
    std::vector<int64_t> long30(30, 3);
    GenerationAttributionOptions a;
    CHECK_THROWS_WITH(attributeGeneration(*m, long30, 20, a), Error, "reads at most 24");
    CHECK_THROWS_WITH(logitLens(*m, long30), Error, "reads at most 24");
    GenerationOptions g;
    g.maxNew = 3;
    CHECK_EQ(generate(*m, long30, g).steps.size(), size_t(3));
    CHECK_THROWS_WITH(attributeGeneration(*m, {1, 2, 3}, 3, a), Error, "no token follows the prompt");
    a.method = GenerationMethod::IntegratedGradients;
    a.steps = 1;
    CHECK_THROWS_WITH(attributeGeneration(*m, {1, 2, 3}, 2, a), Error, "2 to 1000 steps");
    // A forward that fails inside TorchScript (the traced Llama's causal mask holds 24 positions): one line,
    // no traceback.
    auto traced = fixtures::loadCpu("llama_tiny_traced.pt");
    try {
        GenerationOptions g2;
        g2.maxNew = 1;
        generate(*traced, std::vector<int64_t>(30, 3), g2);
        CHECK_MSG(false, "no error");
    } catch (const Error &e) {
        const std::string m = e.what();
        CHECK_MSG(m.find("forward failed while generating") != std::string::npos, m);
        CHECK_MSG(m.find("Traceback") == std::string::npos && m.find('\n') == std::string::npos, m);
    }
    // A classifier is refused by name.
    auto cnn = fixtures::loadCpu("seqcnn_scripted.pt");
    CHECK_THROWS_WITH(generate(*cnn, {1}, o), Error, "no token embedding found");
    // A text classifier whose parts are named in its sidecar still returns [B, classes], not logits [B, L, V].
    const auto dir = std::filesystem::temp_directory_path() / "pellucid_lm_sidecar";
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(fixtures::resources("models/fortune_transformer.pt"), dir / "t.pt", std::filesystem::copy_options::overwrite_existing);
    {
        std::ofstream side(dir / "t.pt.json");
        side << R"({"format": 1, "task": "classification", "input": {"shape": [1, 16], "dtype": "int64"},)"
             << R"( "lm": {"embedding": "embed", "blocks": "encoder.layers"}})";
    }
    LoadOptions lo;
    lo.device = DevicePreference::Cpu;
    auto textClassifier = Model::load((dir / "t.pt").string(), lo);
    GenerationOptions g1;
    g1.maxNew = 2;
    CHECK_THROWS_WITH(generate(*textClassifier, {1, 5, 9}, g1), Error, "is not a causal language model: its output is [1, 4]");
    std::filesystem::remove_all(dir);
}

TESTKIT_MAIN
