// pellucid-cli faithfulness: deletion and insertion curves and their AUC (Petsiuk et al.)
#include "app/cli/cli.h"

#include "app/workflows/workflows.h"
#include "engine/core/files.h"

#include "app/io/dataset.h"
#include "engine/evaluation/evaluation.h"
#include "engine/evaluation/sanity.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace pellucid::cli {

namespace {

int cmdFaithfulness(const Args &a)
{
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    const Dataset data = openDataset(a, s.metadata.labels);
    FaithfulnessOptions o;
    o.steps = toInt(a.get("steps", "20"), "--steps");
    o.limit = size_t(toInt(a.get("limit", "50"), "--limit"));
    if (a.has("blur-sigma")) o.blurSigma = toDouble(a.need("blur-sigma"), "--blur-sigma");
    o.robustness = a.flag("robustness");
    o.explain = explainOptions(a);
    const std::vector<std::string> names = splitList(a.need("method"));
    std::vector<AttributionParams> methods;
    for (const std::string &name : names) {
        Args one = a;
        one.values["method"] = name;
        if (!one.has("target")) one.values["target"] = "predicted";
        methods.push_back(attributionParams(one));
    }
    const std::vector<MethodFaithfulness> curves = faithfulness(*model, data, methods, o);
    Json out = Json::object();
    out["model"] = s.path;
    out["items"] = int64_t(std::min(data.size(), o.limit));
    out["steps"] = o.steps;
    Json results = Json::object();
    for (size_t k = 0; k < curves.size(); ++k) {
        const MethodFaithfulness &c = curves[k];
        Json m = Json::object();
        m["deletion_auc"] = c.deletionAuc;
        m["insertion_auc"] = c.insertionAuc;
        Json dc = Json::array(), ic = Json::array();
        for (int i = 0; i <= o.steps; ++i) {
            dc.push(Json(c.deletion[size_t(i)]));
            ic.push(Json(c.insertion[size_t(i)]));
        }
        m["deletion_curve"] = dc;
        if (o.robustness) {
            m["infidelity"] = c.infidelity;
            m["max_sensitivity"] = c.maxSensitivity;
        }
        m["insertion_curve"] = ic;
        results[names[k]] = m;
    }
    out["methods"] = results;
    if (a.flag("json")) {
        std::cout << out.dump(1) << "\n";
    } else {
        std::printf("%lld items, %d steps (lower deletion AUC and higher insertion AUC are better)\n", (long long)out.find("items")->asInt(),
                    o.steps);
        for (const auto &[name, m] : results.asObject())
            std::printf("  %-16s deletion AUC %.4f   insertion AUC %.4f\n", name.c_str(), m.find("deletion_auc")->asNumber(),
                        m.find("insertion_auc")->asNumber());
    }
    return 0;
}

}   // namespace

Command faithfulnessCommand()
{
    return {"faithfulness",
            "--model M --data D --method M1[,M2…] [method options] [--steps 20] [--limit 50] [--blur-sigma S] [--robustness] [--json]",
            "deletion and insertion curves and their AUC (Petsiuk et al.)",
            "--robustness adds infidelity and max-sensitivity (Captum's definitions)",
            {{{"data", "D", "the labelled dataset"},
              {"split", "test|train", "a folder of IDX files: which split (default test)"},
              {"method", "M1[,M2…]", "the methods compared"},
              {"steps", "N", "points on each curve (default 20)", ints(2, 1000)},
              {"limit", "N", "items (default 50)", ints(1, 10000000)},
              {"blur-sigma", "S", "the insertion start's blur", reals(0, 1000)},
              {"robustness", "", "also infidelity and max-sensitivity"},
              {"json", "", "JSON instead of a table"}},
             modelOptions(),
             preprocessingOptions(),
             attributionOptions()},
            cmdFaithfulness};
}

}   // namespace pellucid::cli
