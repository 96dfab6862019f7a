// pellucid-cli faithfulness: deletion and insertion curves and their AUC (Petsiuk et al.)
#include "app/cli/cli.h"

#include "app/io/dataset.h"
#include "engine/evaluation/evaluation.h"
#include "engine/evaluation/sanity.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace pellucid::cli {

namespace {

int cmdFaithfulness(const Args &a)
{
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    const Dataset data = Dataset::open(a.need("data"), s.metadata.labels);
    const int steps = toInt(a.get("steps", "20"), "--steps");
    const size_t n = std::min(data.size(), size_t(toInt(a.get("limit", "50"), "--limit")));
    std::vector<std::string> methods;
    {
        std::string m = a.need("method"), part;
        for (char c : m + ",") {
            if (c == ',') { if (!part.empty()) methods.push_back(part); part.clear(); }
            else part += c;
        }
    }
    Json out = Json::object();
    out["model"] = s.path;
    out["items"] = int64_t(n);
    out["steps"] = steps;
    Json results = Json::object();
    for (const std::string &name : methods) {
        Args one = a;
        one.values["method"] = name;
        if (!one.has("target")) one.values["target"] = "predicted";
        const AttributionParams p = attributionParams(one);
        double del = 0, ins = 0, infid = 0, sens = 0;
        std::vector<double> delCurve(size_t(steps + 1), 0.0), insCurve(size_t(steps + 1), 0.0);
        for (size_t i = 0; i < n; ++i) {
            const TensorValue x = data.batch(i, i + 1, s.metadata.input, s.inputShape);
            const auto r = attributeInput(*model, x, p, one);
            // Deletion paints removed pixels black (the normalised value of the lowest input); insertion starts
            // from a blurred copy (RISE).
            const double sigma = a.has("blur-sigma") ? toDouble(a.need("blur-sigma"), "--blur-sigma") : std::max(1.0, double(std::max(x.dim(2), x.dim(3))) / 10.0);
            const auto d = faithfulnessCurve(*model, x, r->map, r->targetClass, steps, false, blackBaseline(x, s.metadata.input));
            const auto in = faithfulnessCurve(*model, x, r->map, r->targetClass, steps, true, gaussianBlur(x, sigma));
            del += d.auc / double(n);
            ins += in.auc / double(n);
            if (a.flag("robustness")) {
                infid += infidelity(*model, x, r->map.shape() == x.shape() ? r->map : TensorValue(x.shape(), std::vector<float>(size_t(x.numel()), 0.f)),
                                    r->targetClass, 20, 0.003 * (s.metadata.input.std.empty() ? 1.0 : 1.0 / s.metadata.input.std[0])) / double(n);
                AttributionParams fixedTarget = p;
                fixedTarget.target.kind = AttributionTarget::Kind::Class;
                fixedTarget.target.classIndex = r->targetClass;
                sens = std::max(sens, maxSensitivity(*model, x, [&](const TensorValue &xx) { return attributeInput(*model, xx, fixedTarget, one)->map; }, 5, 0.02));
            }
            for (int k = 0; k <= steps; ++k) {
                delCurve[size_t(k)] += d.scores[size_t(k)] / double(n);
                insCurve[size_t(k)] += in.scores[size_t(k)] / double(n);
            }
        }
        Json m = Json::object();
        m["deletion_auc"] = del;
        m["insertion_auc"] = ins;
        Json dc = Json::array(), ic = Json::array();
        for (int k = 0; k <= steps; ++k) { dc.push(Json(delCurve[size_t(k)])); ic.push(Json(insCurve[size_t(k)])); }
        m["deletion_curve"] = dc;
        if (a.flag("robustness")) {
            m["infidelity"] = infid;
            m["max_sensitivity"] = sens;
        }
        m["insertion_curve"] = ic;
        results[name] = m;
    }
    out["methods"] = results;
    if (a.flag("json")) {
        std::cout << out.dump(1) << "\n";
    } else {
        std::printf("%zu items, %d steps (lower deletion AUC and higher insertion AUC are better)\n", n, steps);
        for (const auto &[name, m] : results.asObject())
            std::printf("  %-16s deletion AUC %.4f   insertion AUC %.4f\n", name.c_str(), m.find("deletion_auc")->asNumber(), m.find("insertion_auc")->asNumber());
    }
    return 0;
}

} // namespace

Command faithfulnessCommand()
{
    return {"faithfulness",
            "--model M --data D --method M1[,M2…] [method options] [--steps 20] [--limit 50] [--blur-sigma S] [--robustness] [--json]",
            "deletion and insertion curves and their AUC (Petsiuk et al.)",
            "--robustness adds infidelity and max-sensitivity (Captum's definitions)",
            {{{"data", "D", "the labelled dataset"},
             {"method", "M1[,M2…]", "the methods compared"},
             {"steps", "N", "points on each curve (default 20)"},
             {"limit", "N", "items (default 50)"},
             {"blur-sigma", "S", "the insertion start's blur"},
             {"robustness", "", "also infidelity and max-sensitivity"},
             {"json", "", "JSON instead of a table"}}, modelOptions(), attributionOptions()},
            cmdFaithfulness};
}

} // namespace pellucid::cli
