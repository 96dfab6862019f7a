// pellucid-cli tuned-lens: trains the tuned lens's per-block translators on a corpus
#include "app/cli/cli.h"

#include "app/io/tokenizer.h"
#include "engine/core/files.h"
#include "engine/core/npy.h"

#include <cmath>
#include <iostream>

namespace pellucid::cli {

namespace {

int cmdTunedLens(const Args &a)
{
    const std::string out = a.need("out");
    if (!endsWith(out, ".npy")) throw UsageError("--out must end in .npy");
    TunedLensOptions o;
    o.steps = toInt(a.get("steps", "300"), "--steps");
    if (o.steps < 1 || o.steps > 100000) throw UsageError("--steps must be 1 to 100000");
    const int maxTokens = toInt(a.get("max-tokens", std::to_string(kTunedLensCorpusTokens)), "--max-tokens");
    if (maxTokens < 1 || maxTokens > 1000000) throw UsageError("--max-tokens must be 1 to 1000000");
    if (a.has("corpus") == a.has("corpus-ids")) throw UsageError("give --corpus FILE.txt or --corpus-ids C.npy (one of them)");
    auto model = loadModel(a);
    const LanguageModelParts parts = languageModelParts(*model);
    const int64_t context = parts.context > 0 ? parts.context : 128;
    std::vector<std::vector<int64_t>> sequences;
    int64_t total = 0;
    auto add = [&](std::vector<int64_t> ids) {
        if (ids.size() > size_t(context)) ids.resize(size_t(context));
        if (ids.size() < 2 || total >= maxTokens) return;
        total += int64_t(ids.size());
        sequences.push_back(std::move(ids));
    };
    if (a.has("corpus")) {
        auto tok = tokenizerFor(a, &model->summary(), false);
        std::string text;
        if (!readTextFile(a.need("corpus"), text)) throw Error(ErrorCode::FileNotFound, "Cannot read the corpus " + a.need("corpus"));
        sequences = tunedLensCorpus(*tok, text, parts.context, maxTokens, &total);
    } else {
        const TensorValue c = readNpy(a.need("corpus-ids"));
        if (c.shape().size() != 2)
            throw Error(ErrorCode::BadInput, "--corpus-ids holds " + shapeToString(c.shape()) + "; a corpus is int64 ids [N, L]");
        for (int64_t r = 0; r < c.dim(0); ++r) {
            std::vector<int64_t> ids;
            for (int64_t i = 0; i < c.dim(1); ++i) ids.push_back(int64_t(c.at(r * c.dim(1) + i)));
            add(std::move(ids));
        }
    }
    const TunedLens lens = trainTunedLens(*model, sequences, o);
    saveTunedLens(lens, out);
    Json j = Json::object(), blocks = Json::array();
    for (size_t b = 0; b < lens.blocks.size(); ++b) {
        Json e = Json::object();
        e["block"] = lens.blocks[b];
        e["kl_logit_lens"] = lens.klLogit[b];
        e["kl_tuned_lens"] = lens.klTuned[b];
        blocks.push(e);
    }
    j["blocks"] = blocks;
    j["sequences"] = int64_t(sequences.size());
    j["tokens"] = total;
    j["out"] = out;
    std::cout << j.dump(-1) << "\n";
    return 0;
}

}   // namespace

Command tunedLensCommand()
{
    return {"tuned-lens",
            "--model M (--corpus FILE.txt | --corpus-ids C.npy) --out LENS.npy [--steps 300] [--max-tokens 20000]",
            "trains the tuned lens: per block an affine translator so the lens matches the final distribution",
            "one sequence per non-empty line of --corpus (through the tokenizer, cut at the model's context); Adam on\n"
            "KL(final ‖ lens) over every position; JSON: each block's mean KL with the logit lens and the tuned lens;\n"
            "LENS.npy is float32 [blocks, D + 1, D]; use it with logit-lens --tuned",
            {{{"corpus", "FILE.txt", "text, one sequence per line"},
              {"corpus-ids", "C.npy", "int64 ids [N, L], one sequence per row"},
              {"steps", "N", "Adam steps per block (default 300)", ints(1, 100000)},
              {"max-tokens", "N", "corpus tokens used at most (default 20000)", ints(1, 10000000)},
              {"out", "LENS.npy", "the translators"}},
             modelOptions(),
             tokenizerOptions()},
            cmdTunedLens};
}

}   // namespace pellucid::cli
