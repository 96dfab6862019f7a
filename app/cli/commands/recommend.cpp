// pellucid-cli recommend: top-N with each score decomposed
#include "app/cli/cli.h"

#include <cstdio>
#include <iostream>

namespace pellucid::cli {

namespace {

Json decompositionJson(const ScoreDecomposition &d)
{
    Json j = Json::object();
    j["item"] = d.item;
    j["name"] = d.name;
    j["score"] = double(d.score);
    j["global"] = double(d.global);
    j["user_bias"] = double(d.userBias);
    j["item_bias"] = double(d.itemBias);
    Json f = Json::array();
    for (float v : d.factors) f.push(Json(double(v)));
    j["factors"] = f;
    return j;
}

int cmdRecommend(const Args &a)
{
    RecContext c = loadRecommender(a);
    const int64_t user = toId(a.need("user"), "--user");
    const int n = toInt(a.get("topn", "10"), "--topn");
    const auto top = recommend(c.mf, c.data, user, n);
    if (a.flag("json")) {
        Json j = Json::object();
        j["user"] = user;
        Json items = Json::array();
        for (const auto &d : top) items.push(decompositionJson(d));
        j["items"] = items;
        std::cout << j.dump(1) << "\n";
    } else {
        std::printf("%-6s %-32s %8s %8s %8s %8s %8s\n", "ITEM", "NAME", "SCORE", "GLOBAL", "USER_B", "ITEM_B", "FACTORS");
        for (const auto &d : top) {
            double f = 0;
            for (float v : d.factors) f += v;
            std::printf("%-6lld %-32.32s %8.3f %8.3f %8.3f %8.3f %8.3f\n", (long long)d.item, d.name.c_str(), d.score, d.global, d.userBias,
                        d.itemBias, f);
        }
    }
    return 0;
}

}   // namespace

Command recommendCommand()
{
    return {"recommend",
            "--model M [--data D] --user U [--topn N] [--json]",
            "top-N with each score decomposed",
            "",
            {{{"model", "M", "the recommender model"},
              {"data", "D", "interactions (default: the metadata's)"},
              {"items", "F", "item names (default: the metadata's)"},
              {"user", "U", "the user id", ints(0, 9007199254740992)},
              {"topn", "N", "recommendations (default 10)", ints(1, 100000)},
              {"json", "", "JSON instead of a table"}}},
            cmdRecommend};
}

}   // namespace pellucid::cli
