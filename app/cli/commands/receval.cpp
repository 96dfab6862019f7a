// pellucid-cli rec-eval: precision@K, recall@K, catalogue coverage, RMSE on held-out interactions
#include "app/cli/cli.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdRecEval(const Args &a)
{
    RecContext c = loadRecommender(a);
    const std::string held = a.get("heldout", c.mf.heldoutPath);
    if (held.empty()) throw UsageError("--heldout is needed (the model's metadata names no held-out file)");
    const InteractionData h = readInteractions(held);
    const RecMetrics m = evaluateRecommender(c.mf, c.data, h, toInt(a.get("k", "10"), "--k"), toDouble(a.get("threshold", "4"), "--threshold"));
    Json j = Json::object();
    j["k"] = m.k;
    j["precision_at_k"] = m.precisionAtK;
    j["recall_at_k"] = m.recallAtK;
    j["coverage"] = m.coverage;
    j["rmse"] = m.rmse;
    j["users"] = m.usersEvaluated;
    std::cout << j.dump(a.flag("json") ? 1 : -1) << "\n";
    return 0;
}

}   // namespace

Command recEvalCommand()
{
    return {"rec-eval",
            "--model M [--data D] [--heldout H] [--k K] [--threshold R] [--json]",
            "precision@K, recall@K, catalogue coverage, RMSE on held-out interactions",
            "",
            {{{"model", "M", "the recommender model"},
              {"data", "D", "training interactions (default: the metadata's)"},
              {"items", "F", "item names (default: the metadata's)"},
              {"heldout", "H", "held-out interactions (default: the metadata's)"},
              {"k", "K", "list length (default 10)", ints(1, 100000)},
              {"threshold", "R", "relevant rating (default 4)", reals(-1e9, 1e9)},
              {"json", "", "indented JSON"}}},
            cmdRecEval};
}

}   // namespace pellucid::cli
