// pellucid-cli patch: activation patching from a clean into a corrupted prompt, float32 [blocks, L]
// (--site head: [blocks, heads, L])
#include "app/cli/cli.h"

#include "app/io/tokenizer.h"
#include "engine/core/npy.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdPatch(const Args &a)
{
    const std::string out = a.need("out");
    if (!endsWith(out, ".npy")) throw UsageError("--out must end in .npy");
    PatchSite site = PatchSite::Block;
    if (a.has("site") && !parsePatchSite(a.need("site"), site)) throw UsageError("--site must be block, attn, mlp or head");
    const bool texts = a.has("clean") || a.has("corrupt"), files = a.has("clean-ids") || a.has("corrupt-ids");
    if (texts == files) throw UsageError("give --clean \"…\" --corrupt \"…\", or --clean-ids A.npy --corrupt-ids B.npy");
    auto model = loadModel(a);
    std::unique_ptr<Tokenizer> tok;
    try {
        tok = tokenizerFor(a, &model->summary(), false);
    } catch (const UsageError &) {
        if (texts) throw;
    }
    const std::vector<int64_t> clean = texts ? tok->encode(a.need("clean")).ids : tokenIdsFromNpy(a, "clean-ids");
    const std::vector<int64_t> corrupt = texts ? tok->encode(a.need("corrupt")).ids : tokenIdsFromNpy(a, "corrupt-ids");
    const PatchingResult r = activationPatching(*model, clean, corrupt, a.has("target-id") ? toId(a.need("target-id"), "--target-id") : -1, site);
    // Heads: rows block-major, written as [blocks, heads, L].
    auto shaped = [&](const TensorValue &t) {
        if (!r.heads) return t;
        return TensorValue({t.dim(0) / r.heads, r.heads, t.dim(1)}, std::vector<float>(t.data(), t.data() + t.numel()));
    };
    const TensorValue probability = shaped(r.probability);
    writeNpy(out, probability);
    if (a.has("estimate-out")) writeNpy(a.need("estimate-out"), shaped(r.estimate));
    Json j = Json::object(), sites = Json::array();
    for (const auto &s : r.sites) sites.push(Json(s));
    j["target"] = r.target;
    if (tok) j["target_token"] = tok->piece(r.target);
    j["p_clean"] = r.pClean;
    j["p_corrupt"] = r.pCorrupt;
    j["sites"] = sites;
    j["tokens_clean"] = tokensJson(tok.get(), clean);
    j["tokens_corrupt"] = tokensJson(tok.get(), corrupt);
    j["attribution_patching_agreement"] = r.agreement;
    j["shape"] = shapeJson(probability.shape());
    if (r.heads) j["heads"] = r.heads;
    j["out"] = out;
    std::cout << j.dump(-1) << "\n";
    return 0;
}

}   // namespace

Command patchCommand()
{
    return {"patch",
            "--model M (--clean \"…\" --corrupt \"…\" | --clean-ids A.npy --corrupt-ids B.npy) [--target-id T] [--site block|attn|mlp|head] --out "
            "OUT.npy",
            "activation patching: float32 [blocks, L], p(target at the last position) in the corrupted run with that block's output at that position "
            "restored from the clean run (--site head: [blocks, heads, L], each head's slice of the attention's output projection input)",
            "target: the clean run's top next token unless --target-id; JSON on stdout with target, p_clean, p_corrupt and the\n"
            "Pearson agreement of attribution patching (the one-backward linear estimate; --estimate-out E.npy writes it)",
            {{{"clean", "\"…\"", "the clean prompt (through the tokenizer)"},
              {"corrupt", "\"…\"", "the corrupted prompt, as many tokens"},
              {"clean-ids", "A.npy", "the clean prompt as int64 ids [1, L]"},
              {"corrupt-ids", "B.npy", "the corrupted prompt as int64 ids [1, L]"},
              {"target-id", "T", "the token whose probability is read (default: the clean run's top)", ints(0, 2147483647)},
              {"site", "block|attn|mlp|head", "what is restored: a block's output (default), its attention, its MLP or one attention head"},
              {"estimate-out", "E.npy", "attribution patching's estimate, shaped as OUT"},
              {"out", "OUT.npy", "the patched probabilities"}},
             modelOptions(),
             tokenizerOptions()},
            cmdPatch};
}

}   // namespace pellucid::cli
