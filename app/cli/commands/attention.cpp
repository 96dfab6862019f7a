// pellucid-cli attention: attention probabilities float32 [batch, layers, heads, query, key] in layer order
#include "app/cli/cli.h"

#include "app/io/imageinput.h"
#include "app/io/tokenizer.h"
#include "engine/attention/attention.h"
#include "engine/core/npy.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdAttention(const Args &a)
{
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    TensorValue input;
    Json info = Json::object();
    if (a.has("text")) {
        const auto tok = tokenizerFor(a, &s);
        const Tokenized t = tok->encode(a.need("text"));
        std::vector<float> ids(t.ids.begin(), t.ids.end());
        const int64_t n = int64_t(ids.size());   // before the vector is moved
        input = TensorValue({1, n}, std::move(ids));
        info["tokens"] = tokenizedJson(t);
    } else {
        input = loadInput(a, *model);
    }
    const std::string out = a.need("out");
    if (!(endsWith(out, ".npy"))) throw UsageError("--out must end in .npy");
    const AttentionResult r = computeAttention(*model, input);
    TensorValue result;
    if (a.flag("grad-rollout"))
        result = gradientRollout(*model, input, a.has("target") ? toInt(a.need("target"), "--target") : -1);
    else if (a.flag("rollout"))
        result = attentionRollout(r.layers);
    else
        result = stackAttention(r);
    writeNpy(out, result);
    Json kinds = Json::array();
    for (const auto &k : r.kinds) kinds.push(Json(k));
    info["layers"] = int64_t(r.layers.size());
    info["sites"] = kinds;
    info["shape"] = shapeJson(result.shape());
    info["out"] = out;
    std::cout << info.dump(-1) << "\n";
    return 0;
}

}   // namespace

Command attentionCommand()
{
    return {"attention",
            "--model M (--input X.npy|IMAGE | --text \"...\") --out OUT.npy [--rollout | --grad-rollout [--target K]]",
            "attention probabilities float32 [batch, layers, heads, query, key] in layer order",
            "fused kernels rewritten to explicit ones; --rollout: [batch, L, L] (Abnar & Zuidema); --grad-rollout: Chefer et al.\n"
            "--text uses the tokenizer the metadata names (or --tokenizer F); --truncate cuts long texts",
            {{{"input", "X", "the input (.npy or an image)"},
              {"text", "\"...\"", "a text, through the tokenizer"},
              {"out", "OUT.npy", "the probabilities or the rollout"},
              {"rollout", "", "attention rollout"},
              {"grad-rollout", "", "gradient-weighted rollout"},
              {"target", "K", "the class of --grad-rollout (default: predicted)", ints(0, 16777215)}},
             modelOptions(),
             preprocessingOptions(),
             tokenizerOptions()},
            cmdAttention};
}

}   // namespace pellucid::cli
