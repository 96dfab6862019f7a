// pellucid-cli influence: which of the user's interactions pushed the item up
#include "app/cli/cli.h"

#include <cstdio>
#include <iostream>

namespace pellucid::cli {

namespace {

int cmdInfluence(const Args &a)
{
    RecContext c = loadRecommender(a);
    const int64_t user = toId(a.need("user"), "--user"), item = toId(a.need("item"), "--item");
    const auto r = influence(c.mf, c.data, user, item, toInt(a.get("topn", "10"), "--topn"));
    Json j = Json::object();
    j["user"] = user;
    j["item"] = item;
    j["score"] = r.score;
    j["agreement_spearman"] = r.agreement;
    Json rows = Json::array();
    for (const auto &row : r.rows) {
        Json x = Json::object();
        x["item"] = row.item;
        x["name"] = row.name;
        x["rating"] = double(row.rating);
        x["loo"] = row.loo;
        x["similarity"] = row.similarity;
        rows.push(x);
    }
    j["influences"] = rows;
    Json cf = Json::object();
    cf["found"] = r.counterfactual.found;
    Json removed = Json::array();
    for (int64_t v : r.counterfactual.removed) removed.push(Json(v));
    cf["removed"] = removed;
    cf["rank_before"] = r.counterfactual.rankBefore;
    cf["rank_after"] = r.counterfactual.rankAfter;
    j["counterfactual"] = cf;
    if (a.flag("json")) {
        std::cout << j.dump(1) << "\n";
    } else {
        std::printf("user %lld, item %lld: score %.3f; LOO vs similarity agreement (Spearman) %.3f\n", (long long)user, (long long)item, r.score,
                    r.agreement);
        for (const auto &row : r.rows)
            std::printf("  %-6lld %-32.32s rating %4.1f  LOO %+8.4f  similarity %+8.4f\n", (long long)row.item, row.name.c_str(), row.rating, row.loo,
                        row.similarity);
    }
    return 0;
}

}   // namespace

Command influenceCommand()
{
    return {"influence",
            "--model M [--data D] --user U --item I [--topn N] [--json]",
            "which of the user's interactions pushed the item up",
            "exact leave-one-out refit and the fast similarity approximation, their agreement, and the smallest removal set\n"
            "(counterfactual)",
            {{{"model", "M", "the recommender model"},
              {"data", "D", "interactions (default: the metadata's)"},
              {"items", "F", "item names (default: the metadata's)"},
              {"user", "U", "the user id", ints(0, 9007199254740992)},
              {"item", "I", "the recommended item", ints(0, 9007199254740992)},
              {"topn", "N", "the top-N the counterfactual drops the item from (default 10)", ints(1, 100000)},
              {"json", "", "JSON instead of a table"}}},
            cmdInfluence};
}

}   // namespace pellucid::cli
