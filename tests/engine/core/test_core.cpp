// Plain-C++ pieces of the engine: JSON, .npy, tensor statistics, name suggestions.
#include "engine/core/errors.h"
#include "engine/core/json.h"
#include "engine/core/npy.h"
#include "engine/core/tensorvalue.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <filesystem>

using namespace pellucid;

TEST(json_round_trip)
{
    Json j = Json::object();
    j["name"] = "a \"quoted\" name\n";
    j["n"] = 3;
    j["x"] = 0.25;
    Json arr = Json::array();
    arr.push(Json(true));
    arr.push(Json());
    j["list"] = arr;
    const Json back = Json::parse(j.dump(2));
    CHECK_EQ(back.find("name")->asString(), std::string("a \"quoted\" name\n"));
    CHECK_EQ(back.find("n")->asInt(), int64_t(3));
    CHECK_EQ(back.find("x")->asNumber(), 0.25);
    CHECK(back.find("list")->asArray()[1].isNull());
    CHECK_EQ(Json::parse("\"\\u00e9\"").asString(), std::string("\xc3\xa9"));
    CHECK_EQ(Json(NAN).dump(), std::string("null"));
}

TEST(json_errors_name_position)
{
    CHECK_THROWS_WITH(Json::parse("{\n  \"a\": tru }"), std::runtime_error, "line 2");
    CHECK_THROWS_WITH(Json::parse("[1, 2"), std::runtime_error, "expected ',' or ']'");
    CHECK_THROWS_WITH(Json::parse("{} x"), std::runtime_error, "unexpected text");
}

TEST(npy_round_trip_and_reference_dtypes)
{
    const std::string p = (std::filesystem::temp_directory_path() / "pellucid-core.npy").string();
    const TensorValue t({2, 3}, {1, 2, 3, 4, 5, NAN});
    writeNpy(p, t);
    const TensorValue back = readNpy(p);
    CHECK(back.shape() == t.shape());
    CHECK_EQ(back.at(4), 5.0f);
    CHECK(std::isnan(back.at(5)));
    CHECK(!std::filesystem::exists(p + ".tmp"));
    // int64 ids written by NumPy (shared reference).
    const TensorValue ids = readNpy(fixtures::reference("attention/text_ids.npy"));
    CHECK_EQ(ids.shape().size(), size_t(2));
    for (int64_t i = 0; i < ids.numel(); ++i) CHECK(ids.at(i) >= 0 && ids.at(i) < 100 && ids.at(i) == std::floor(ids.at(i)));
}

TEST(stats_histogram_channels)
{
    const TensorValue t({1, 2, 2}, {1, 3, -1, INFINITY});
    const auto s = t.stats();
    CHECK_EQ(s.infCount, int64_t(1));
    CHECK_EQ(s.min, -1.0f);
    CHECK_EQ(s.max, 3.0f);
    const auto ch = computeChannelStats(t);
    CHECK_EQ(ch.size(), size_t(2));
    CHECK_EQ(ch[0].mean, 2.0f);
    CHECK_EQ(ch[1].nonFinite, int64_t(1));
    const Histogram h = computeHistogram(t, 4);
    int64_t total = 0;
    for (auto c : h.counts) total += c;
    CHECK_EQ(total, int64_t(3));
    CHECK_EQ(h.counts.back(), int64_t(1));
}

TEST(close_names)
{
    const auto c = closestNames("layer4.1.rel", {"layer4.1.relu", "layer1.0.conv1", "fc"}, 2);
    CHECK_EQ(c.at(0), std::string("layer4.1.relu"));
    CHECK_EQ(editDistance("kitten", "sitting"), size_t(3));
}

TEST(rows_and_concat_rows)
{
    std::vector<float> v(24);
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
    const TensorValue x({4, 2, 3}, v);
    const TensorValue mid = x.rows(1, 3);
    CHECK(mid.shape() == (Shape{2, 2, 3}));
    CHECK_EQ(mid.at(0), 6.0f);
    CHECK_EQ(mid.at(11), 17.0f);
    CHECK(x.rows(2, 2).shape() == (Shape{0, 2, 3}));
    CHECK_THROWS_WITH(x.rows(3, 5), std::out_of_range, "rows [3, 5)");
    const TensorValue back = concatRows({x.rows(0, 1), x.rows(1, 4)});
    CHECK(back.shape() == x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) CHECK_EQ(back.at(i), x.at(i));
    CHECK(concatRows({}).empty());
    CHECK_THROWS_WITH(concatRows({x, TensorValue({1, 3, 2}, std::vector<float>(6))}), std::invalid_argument, "does not stack");
}

TESTKIT_MAIN
