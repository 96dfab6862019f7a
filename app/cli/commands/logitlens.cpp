// pellucid-cli logit-lens: every block's output decoded through the final norm and the unembedding,
// float32 [blocks, L, V]
#include "app/cli/cli.h"

#include "app/io/tokenizer.h"
#include "engine/core/npy.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdLogitLens(const Args &a)
{
    const std::string out = a.need("out");
    if (!endsWith(out, ".npy")) throw UsageError("--out must end in .npy");
    const int topK = toInt(a.get("top", "5"), "--top");
    if (topK < 1 || topK > 100) throw UsageError("--top must be 1 to 100");
    auto model = loadModel(a);
    std::unique_ptr<Tokenizer> tok;
    const std::vector<int64_t> ids = promptIds(a, *model, tok);
    TunedLens tuned;
    if (a.has("tuned")) tuned = loadTunedLens(*model, a.need("tuned"));
    const LogitLens lens = logitLens(*model, ids, topK, a.has("tuned") ? &tuned : nullptr);
    writeNpy(out, lens.probabilities);
    Json j = Json::object(), blocks = Json::array();
    for (const auto &b : lens.blocks) blocks.push(Json(b));
    j["blocks"] = blocks;
    j["lens"] = a.has("tuned") ? "tuned" : "logit";
    j["tokens"] = tokensJson(tok.get(), ids);
    j["shape"] = shapeJson(lens.probabilities.shape());
    j["out"] = out;
    if (a.flag("json")) {
        // Per block and position: the top tokens, the entropy, KL to the final layer, the final token's rank.
        const int64_t L = int64_t(ids.size());
        Json cells = Json::array();
        for (size_t b = 0; b < lens.blocks.size(); ++b) {
            Json row = Json::array();
            for (int64_t i = 0; i < L; ++i) {
                const int64_t c = int64_t(b) * L + i;
                Json cell = Json::object(), top = Json::array();
                for (int64_t id : lens.topIds[size_t(c)]) {
                    Json t = Json::object();
                    t["id"] = id;
                    if (tok) t["token"] = tok->piece(id);
                    t["probability"] = double(lens.probabilities.at(c * lens.probabilities.dim(2) + id));
                    top.push(t);
                }
                cell["top"] = top;
                cell["entropy"] = double(lens.entropy.at(c));
                cell["kl_to_final"] = double(lens.klToFinal.at(c));
                cell["final_token_rank"] = int64_t(lens.finalRank.at(c));
                row.push(cell);
            }
            cells.push(row);
        }
        j["cells"] = cells;
    }
    std::cout << j.dump(-1) << "\n";
    return 0;
}

}   // namespace

Command logitLensCommand()
{
    return {"logit-lens",
            "--model M (--text \"...\" | --ids IDS.npy) --out OUT.npy [--tuned LENS.npy] [--json] [--top K]",
            "every block's output through the final norm and the unembedding: probabilities float32 [blocks, L, V]",
            "the final norm recomputes its statistics for each block's output; --json adds per cell the top-K tokens,\n"
            "the entropy, the KL divergence to the final layer and the rank of the final layer's top token",
            {{{"out", "OUT.npy", "the probabilities"},
              {"tuned", "LENS.npy", "translate each block's output first (a tuned lens from tuned-lens)"},
              {"json", "", "per-cell details on stdout"},
              {"top", "K", "tokens per cell in --json (default 5)", ints(1, 100)}},
             promptOptions(),
             modelOptions(),
             tokenizerOptions()},
            cmdLogitLens};
}

}   // namespace pellucid::cli
