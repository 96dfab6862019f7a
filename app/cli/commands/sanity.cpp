// pellucid-cli sanity: model-parameter randomisation test (Adebayo et al.): Spearman and SSIM per randomised layer
#include "app/cli/cli.h"

#include "app/workflows/workflows.h"
#include "engine/core/files.h"

#include "app/io/imageinput.h"
#include "engine/evaluation/sanity.h"

#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace pellucid::cli {

namespace {

int cmdSanity(const Args &a)
{
    Args one = a;
    if (!one.has("target")) one.values["target"] = "predicted";
    AttributionParams p = attributionParams(one);
    auto model = loadModel(a);
    const TensorValue x = loadInput(a, *model);
    const SanityResult r = sanityCheck(*model, x, p, explainOptions(a), uint64_t(toInt(a.get("seed", "0"), "--seed")));
    Json j = Json::object();
    j["method"] = methodName(p.method);
    j["target"] = p.target.classIndex;
    Json steps = Json::array();
    for (const auto &st : r.steps) {
        Json x2 = Json::object();
        x2["randomised_down_to"] = st.layer;
        x2["spearman"] = st.spearman;
        x2["ssim"] = st.ssim;
        steps.push(x2);
    }
    j["steps"] = steps;
    j["insensitive"] = r.insensitive;
    if (a.flag("json")) {
        std::cout << j.dump(1) << "\n";
    } else {
        std::printf("%s, class %d: layers randomised from the top (Spearman / SSIM with the original map)\n", methodName(p.method),
                    p.target.classIndex);
        for (const auto &st : r.steps) std::printf("  %-28s %+.3f  %.3f\n", st.layer.c_str(), st.spearman, st.ssim);
        if (r.insensitive) std::printf("  FLAGGED: the map barely depends on the model's parameters\n");
    }
    return 0;
}

}   // namespace

Command sanityCommand()
{
    return {"sanity",
            "--model M --input X --method METHOD [method options] [--json]",
            "model-parameter randomisation test (Adebayo et al.): Spearman and SSIM per randomised layer",
            "",
            {{{"input", "X", "the input"}, {"json", "", "JSON instead of a table"}}, modelOptions(), preprocessingOptions(), attributionOptions()},
            cmdSanity};
}

}   // namespace pellucid::cli
