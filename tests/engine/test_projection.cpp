// Projections: PCA against numpy's SVD on fixture features; t-SNE keeps the clusters of a synthetic
// mixture (neighbourhood preservation) and reports progress; bad input is named.
#include "engine/errors.h"
#include "engine/json.h"
#include "engine/npy.h"
#include "engine/projection.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

using namespace pellucid;

TEST(pca_matches_reference_svd)
{
    const TensorValue f = readNpy(fixtures::path("pca_features.npy"));
    std::ifstream in(fixtures::path("pca_expected.json"));
    std::stringstream s;
    s << in.rdbuf();
    const Json e = Json::parse(s.str());
    const PcaResult r = pca(f, 3);
    CHECK(r.projected.shape() == (Shape{60, 3}));
    for (size_t c = 0; c < 3; ++c) {
        const double want = e.find("explained_variance")->asArray()[c].asNumber();
        CHECK_MSG(std::fabs(r.explainedVariance[c] - want) < 1e-6 * want, c << ": " << r.explainedVariance[c] << " vs " << want);
        CHECK(std::fabs(r.explainedRatio[c] - e.find("explained_ratio")->asArray()[c].asNumber()) < 1e-6);
        // Components agree up to sign.
        double dot = 0;
        for (size_t k = 0; k < 12; ++k) dot += r.components.at(int64_t(c * 12 + k)) * e.find("components")->asArray()[c].asArray()[k].asNumber();
        CHECK_MSG(std::fabs(std::fabs(dot) - 1.0) < 1e-5, "component " << c << " |dot| " << dot);
    }
    CHECK_THROWS_WITH(pca(f, 13), Error, "at most min(N, D) = 12");
}

TEST(tsne_preserves_clusters)
{
    // Three well-separated Gaussian clusters in 10-D, 40 points each.
    std::mt19937 rng(7);
    std::normal_distribution<float> g;
    std::vector<float> v;
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 40; ++i)
            for (int d = 0; d < 10; ++d) v.push_back(g(rng) + (d == c ? 12.0f : 0.0f));
    const TensorValue x({120, 10}, v);
    TsneOptions o;
    o.perplexity = 15;
    o.iterations = 500;
    int reports = 0;
    o.progress = [&](int, double kl, const TensorValue &y) { ++reports; CHECK(std::isfinite(kl)); CHECK(y.shape() == (Shape{120, 2})); };
    const TensorValue y = tsne(x, o);
    CHECK_EQ(reports, 10);
    const double keep = neighbourhoodPreservation(x, y, 10);
    CHECK_MSG(keep > 0.5, "neighbourhood preservation " << keep);
    // Each point's nearest embedded neighbour is from its own cluster.
    int same = 0;
    for (int i = 0; i < 120; ++i) {
        int best = -1;
        double bd = INFINITY;
        for (int j = 0; j < 120; ++j) {
            if (j == i) continue;
            const double dx = y.at(2 * i) - y.at(2 * j), dy = y.at(2 * i + 1) - y.at(2 * j + 1);
            if (dx * dx + dy * dy < bd) { bd = dx * dx + dy * dy; best = j; }
        }
        same += best / 40 == i / 40;
    }
    CHECK_MSG(same >= 118, same << " of 120");
    o.perplexity = 50;
    CHECK_THROWS_WITH(tsne(x, o), Error, "needs more points");
    bool stop = false;
    o.perplexity = 15;
    o.progress = [&](int, double, const TensorValue &) { stop = true; };
    o.cancelled = [&] { return stop; };
    CHECK_THROWS_WITH(tsne(x, o), Error, "cancelled");
}

TESTKIT_MAIN
