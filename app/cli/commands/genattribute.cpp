// pellucid-cli gen-attribute: why a language model wrote each token — an attribution of every generated
// token to every earlier one, float32 [G, P + G]
#include "app/cli/cli.h"

#include "app/io/tokenizer.h"
#include "engine/core/npy.h"

#include <cmath>
#include <iostream>

namespace pellucid::cli {

namespace {

int cmdGenAttribute(const Args &a)
{
    const std::string out = a.need("out");
    if (!endsWith(out, ".npy")) throw UsageError("--out must end in .npy");
    GenerationAttributionOptions o;
    if (!parseGenerationMethod(a.need("method"), o.method))
        throw UsageError("unknown --method '" + a.need("method") + "' (saliency, inputxgrad, ig, ablation, attention, rollout)");
    o.steps = toInt(a.get("steps", "32"), "--steps");
    if (o.steps < 2 || o.steps > 1000) throw UsageError("--steps must be 2 to 1000");
    o.baselineId = toId(a.get("baseline-id", "0"), "--baseline-id");
    if (a.has("contrast-id")) o.contrastId = toId(a.need("contrast-id"), "--contrast-id");
    if (a.has("max-new") == a.has("continuation-ids"))
        throw UsageError("give --max-new N (generate greedily first) or --continuation-ids C.npy (one of them)");
    auto model = loadModel(a);
    std::unique_ptr<Tokenizer> tok;
    std::vector<int64_t> ids = promptIds(a, *model, tok);
    const int64_t P = int64_t(ids.size());
    if (a.has("continuation-ids")) {
        const std::vector<int64_t> c = tokenIdsFromNpy(a, "continuation-ids", true);
        ids.insert(ids.end(), c.begin(), c.end());
    } else {
        ids = generate(*model, ids, generationOptions(a)).ids;
    }
    const GenerationAttribution r = attributeGeneration(*model, ids, P, o);
    writeNpy(out, r.scores);
    Json j = Json::object(), all = Json::array(), targets = Json::array();
    for (int64_t id : ids) all.push(Json(id));
    for (double t : r.targets) targets.push(Json(t));
    j["method"] = generationMethodName(o.method);
    j["ids"] = all;
    j["prompt_length"] = P;
    j["tokens"] = tokensJson(tok.get(), ids);
    j["targets"] = targets;
    if (!r.completeness.empty()) {
        double worst = 0;
        for (double c : r.completeness) worst = std::max(worst, std::fabs(c));
        j["completeness_max_error"] = worst;
    }
    j["shape"] = shapeJson(r.scores.shape());
    j["out"] = out;
    std::cout << j.dump(-1) << "\n";
    return 0;
}

}   // namespace

Command genAttributeCommand()
{
    return {"gen-attribute",
            "--model M (--text \"...\" | --ids IDS.npy) (--max-new N | --continuation-ids C.npy) --method saliency|inputxgrad|ig|ablation|attention "
            "[--steps 32] [--baseline-id 0] [--contrast-id A] --out OUT.npy",
            "why a language model wrote each token: float32 [G, P+G], row i = generated token i, column j = token j",
            "0 where j >= P+i; target log p(t_{P+i} | t_{<P+i}) (or minus log p(--contrast-id)); on the token embedding's output:\n"
            "saliency = ‖∂/∂e_j‖₂, inputxgrad = e_j·∂/∂e_j, ig = integrated gradients from 0·embeddings (--steps points);\n"
            "ablation = the drop of the target with token j replaced by --baseline-id; attention = the last layer's, heads\n"
            "averaged (rollout: attention rollout); --max-new generates first with the sampling options (greedy by default)",
            {{{"continuation-ids", "C.npy", "explain this continuation (int64 [1, G]) instead of generating"},
              {"method", "METHOD", "saliency, inputxgrad, ig, ablation, attention or rollout"},
              {"steps", "N", "integrated gradients' points (default 32)", ints(2, 1000)},
              {"baseline-id", "ID", "ablation's replacement token (default 0)", ints(0, 2147483647)},
              {"contrast-id", "ID", "explain log p(t) − log p(ID)", ints(0, 2147483647)},
              {"out", "OUT.npy", "the attributions"}},
             promptOptions(),
             samplingOptions(),
             modelOptions(),
             tokenizerOptions()},
            cmdGenAttribute};
}

}   // namespace pellucid::cli
