// Unit dissection against eager PyTorch (tests/fixtures/make_dissection_fixtures.py: forward hooks that
// replace a layer's output) on a traced and a scripted generator and classifier: causal effects and removal
// curves, interventions everywhere and inside a mask, unit maps (mean maps, quantiles, top samples, regions),
// classifier dissection over labelled items, SeFa against NumPy's eigh; and the bad inputs named.
#include "engine/core/errors.h"
#include "engine/core/files.h"
#include "engine/core/json.h"
#include "engine/core/npy.h"
#include "engine/generative/dissection.h"
#include "tests/common/fixtures.h"
#include "tests/common/testkit.h"

#include <cmath>

using namespace pellucid;

namespace {

std::string dis(const std::string &name) { return fixtures::path("dissect/" + name); }
std::unique_ptr<Model> load(const std::string &name) { return fixtures::loadCpu("dissect/" + name); }

const Json &expected()
{
    static const Json j = [] {
        std::string text;
        if (!readTextFile(dis("expected.json"), text)) throw std::runtime_error("cannot read expected.json");
        return Json::parse(text);
    }();
    return j;
}

std::vector<double> numbers(const Json &a)
{
    std::vector<double> v;
    for (const Json &x : a.asArray()) v.push_back(x.asNumber());
    return v;
}

double relDiff(const TensorValue &a, const TensorValue &b) { return fixtures::maxAbsDiff(a, b) / std::max(1e-12, fixtures::maxAbs(b)); }

}   // namespace

TEST(generator_effects_and_removal_curves_equal_forward_hooks)
{
    for (const char *gfile : {"gen_traced.pt", "gen_scripted.pt"})
        for (const char *cfile : {"cls_traced.pt", "cls_scripted.pt"}) {
            auto g = load(gfile);
            auto c = load(cfile);
            for (const std::string layer : {"1", "3"}) {
                DissectOptions o;
                int64_t last = 0, total = 0;
                o.progress = [&](int64_t d, int64_t t) {
                    CHECK(d == last + 1);
                    last = d;
                    total = t;
                };
                const Dissection d = dissectGenerator(*g, *c, layer, 24, 3, o);
                const TensorValue ref = readNpy(dis("gen_effect_" + layer + ".npy"));
                CHECK_MSG(fixtures::maxAbsDiff(d.effect, ref) < 2e-6,
                          gfile << " " << cfile << " layer " << layer << ": " << fixtures::maxAbsDiff(d.effect, ref));
                CHECK(fixtures::maxAbs(d.effect) > 1e-3);   // the units matter: the comparison is not of zeros
                CHECK_EQ(d.layer.units, ref.dim(0));
                CHECK_EQ(d.classes, int64_t(4));
                CHECK_EQ(d.samples, int64_t(24));
                CHECK_EQ(last, total);
                const std::vector<double> base = numbers(*expected().find("gen_base_" + layer));
                for (size_t k = 0; k < 4; ++k) CHECK(std::abs(d.baseProbability[k] - base[k]) < 1e-6);
                const auto &curves = expected().find("gen_removal_" + layer)->asArray();
                for (size_t k = 0; k < 4; ++k) {
                    const std::vector<double> order = numbers(*curves[k].find("order")), curve = numbers(*curves[k].find("curve"));
                    CHECK_EQ(d.removal[k].size(), curve.size());   // every unit: fewer than the 20 the curve may take
                    for (size_t i = 0; i < order.size(); ++i) CHECK_EQ(d.ranking[k][i], int64_t(order[i]));
                    for (size_t n = 0; n < curve.size(); ++n)
                        CHECK_MSG(std::abs(d.removal[k][n] - curve[n]) < 2e-6,
                                  "class " << k << " n " << n + 1 << ": " << d.removal[k][n] << " vs " << curve[n]);
                }
                // A curve capped at 2 units stops there; with no memory for the layer's outputs they are computed
                // again for every edit, with the same numbers.
                DissectOptions two;
                two.curveUnits = 2;
                two.keepBytes = 0;
                const Dissection d2 = dissectGenerator(*g, *c, layer, 24, 3, two);
                for (size_t k = 0; k < 4; ++k) {
                    CHECK_EQ(d2.removal[k].size(), size_t(2));
                    CHECK(std::abs(d2.removal[k][1] - d.removal[k][1]) < 1e-12);
                }
                CHECK(fixtures::maxAbsDiff(d2.effect, d.effect) == 0);
            }
        }
}

TEST(interventions_everywhere_and_inside_a_mask_equal_forward_hooks)
{
    for (const char *gfile : {"gen_traced.pt", "gen_scripted.pt"}) {
        auto g = load(gfile);
        const TensorValue z = readNpy(dis("ablate_codes.npy"));
        UnitEdit insert;
        insert.layer = "1";
        insert.units = {1, 3};
        insert.values = {1.5};
        insert.mask = readNpy(dis("mask_4x4.npy"));
        const TensorValue a = decodeWithEdit(*g, z, insert), aref = readNpy(dis("ablate_insert.npy"));
        CHECK_MSG(fixtures::maxAbsDiff(a, aref) < 1e-5, gfile << ": " << fixtures::maxAbsDiff(a, aref));
        UnitEdit zero;
        zero.layer = "3";
        zero.units = {0, 2, 4};
        const TensorValue b = decodeWithEdit(*g, z, zero), bref = readNpy(dis("ablate_zero.npy"));
        CHECK_MSG(fixtures::maxAbsDiff(b, bref) < 1e-5, gfile << ": " << fixtures::maxAbsDiff(b, bref));
        // The edits change the image (so the comparisons above are not of the unedited output).
        const TensorValue plain = decodeCodes(*g, z);
        CHECK(fixtures::maxAbsDiff(plain, aref) > 1e-2);
        CHECK(fixtures::maxAbsDiff(plain, bref) > 1e-2);
        // One value per unit is the same as one for all when they agree.
        insert.values = {1.5, 1.5};
        CHECK(fixtures::maxAbsDiff(decodeWithEdit(*g, z, insert), aref) < 1e-6);
    }
}

TEST(unit_maps_equal_numpy)
{
    for (const char *gfile : {"gen_traced.pt", "gen_scripted.pt"}) {
        auto g = load(gfile);
        for (const std::string layer : {"1", "3"}) {
            const UnitMaps m = generatorUnitMaps(*g, layer, 24, 3, 0.95, 5);
            CHECK(relDiff(m.codes, readNpy(dis("codes.npy"))) < 1e-7);
            CHECK_MSG(fixtures::maxAbsDiff(m.meanMaps, readNpy(dis("gen_meanmap_" + layer + ".npy"))) < 1e-5, layer);
            const std::vector<double> q = numbers(*expected().find("gen_quantile95_" + layer));
            CHECK_EQ(m.quantile.size(), q.size());
            for (size_t u = 0; u < q.size(); ++u) CHECK(std::abs(m.quantile[u] - q[u]) < 1e-5);
            const auto &top = expected().find("gen_top5_" + layer)->asArray();
            for (size_t u = 0; u < top.size(); ++u) {
                const std::vector<double> t = numbers(top[u]);
                CHECK_EQ(m.topSamples[u].size(), t.size());
                for (size_t i = 0; i < t.size(); ++i) CHECK_EQ(m.topSamples[u][i], int64_t(t[i]));
            }
            const int64_t sample = expected().find("gen_region_sample_" + layer)->asInt();
            const TensorValue reg = unitRegions(m, sample), rref = readNpy(dis("gen_region_" + layer + ".npy"));
            CHECK_EQ(shapeToString(reg.shape()), shapeToString(rref.shape()));
            CHECK(fixtures::maxAbsDiff(reg, rref) == 0);
            CHECK(fixtures::maxAbs(rref) == 1);   // unit 0's region is on in the code it fires most on
        }
    }
}

TEST(classifier_dissection_equals_forward_hooks)
{
    for (const char *cfile : {"cls_traced.pt", "cls_scripted.pt"}) {
        auto c = load(cfile);
        std::vector<float> all;
        std::vector<int> labels;
        for (int i = 0; i < 30; ++i) {
            const TensorValue x = readNpy(dis("items/i" + std::to_string(i) + ".npy"));
            all.insert(all.end(), x.data(), x.data() + x.numel());
            labels.push_back(std::vector<int>{0, 1, 3}[size_t(i % 3)]);
        }
        const TensorValue items({30, 1, 8, 8}, std::move(all));
        const Dissection d = dissectClassifier(*c, items, labels, "0");
        const TensorValue ref = readNpy(dis("cls_effect_0.npy"));
        DissectOptions recompute;
        recompute.keepBytes = 0;
        CHECK(fixtures::maxAbsDiff(dissectClassifier(*c, items, labels, "0", recompute).effect, d.effect) == 0);
        CHECK_MSG(fixtures::maxAbsDiff(d.effect, ref) < 2e-6, cfile << ": " << fixtures::maxAbsDiff(d.effect, ref));
        CHECK(fixtures::maxAbs(ref) > 1e-2);
        CHECK_EQ(d.itemsPerClass[0], int64_t(10));
        CHECK_EQ(d.itemsPerClass[2], int64_t(0));
        CHECK_EQ(d.removal.size(), size_t(4));
        CHECK_EQ(d.removal[0].size(), size_t(6));
        // A label outside the classes is named.
        labels[7] = 9;
        CHECK_THROWS_WITH(dissectClassifier(*c, items, labels, "0"), Error, "Item 7's label 9");
    }
}

TEST(sefa_equals_numpy_eigh)
{
    for (const char *gfile : {"gen_traced.pt", "gen_scripted.pt"}) {
        auto g = load(gfile);
        const SefaResult s = sefaDirections(*g, "", 6);
        CHECK_EQ(s.layer, std::string("1"));
        CHECK_MSG(fixtures::maxAbsDiff(s.directions.directions, readNpy(dis("sefa_gen.npy"))) < 1e-5,
                  fixtures::maxAbsDiff(s.directions.directions, readNpy(dis("sefa_gen.npy"))));
        const std::vector<double> ev = numbers(*expected().find("sefa_gen_eigenvalues"));
        double sum = 0;
        for (double v : ev) sum += v;
        for (size_t j = 0; j < ev.size(); ++j) {
            CHECK(std::abs(s.eigenvalues[j] - ev[j]) < 1e-8 * std::max(1.0, ev[j]));
            CHECK(std::abs(s.directions.explainedRatio[j] - ev[j] / sum) < 1e-9);
        }
        CHECK_EQ(sefaDirections(*g, "1", 2).directions.directions.dim(0), int64_t(2));
        CHECK_THROWS_WITH(sefaDirections(*g, "3", 2), Error, "takes 8 inputs, not the 6-dimensional code");
        CHECK_THROWS_WITH(sefaDirections(*g, "2", 2), Error, "SeFa factorises the weight of a Linear or transposed convolution");
        CHECK_THROWS_WITH(sefaDirections(*g, "", 7), Error, "between 1 and the code's size 6");
    }
    auto tiny = fixtures::loadCpu("gen_tiny.pt");   // a Linear first layer
    const SefaResult s = sefaDirections(*tiny, "", 4);
    CHECK(fixtures::maxAbsDiff(s.directions.directions, readNpy(dis("sefa_gen_tiny.npy"))) < 1e-5);
    const std::vector<double> ev = numbers(*expected().find("sefa_gen_tiny_eigenvalues"));
    for (size_t j = 0; j < ev.size(); ++j) CHECK(std::abs(s.eigenvalues[j] - ev[j]) < 1e-8 * std::max(1.0, ev[j]));
}

TEST(bad_input_is_named)
{
    auto g = load("gen_scripted.pt");
    auto c = load("cls_scripted.pt");
    const TensorValue z = readNpy(dis("ablate_codes.npy"));
    UnitEdit e;
    e.layer = "1";
    e.units = {8};
    CHECK_THROWS_WITH(decodeWithEdit(*g, z, e), Error, "Unit 8 is outside layer 1's units 0–7");
    e.units = {-1};
    CHECK_THROWS_WITH(decodeWithEdit(*g, z, e), Error, "Unit -1 is outside");
    e.units = {};
    CHECK_THROWS_WITH(decodeWithEdit(*g, z, e), Error, "No units to set");
    e.units = {1};
    e.mask = TensorValue({8, 8}, std::vector<float>(64, 1));
    CHECK_THROWS_WITH(decodeWithEdit(*g, z, e), Error, "The mask is [8, 8]; layer 1's units are 4×4");
    e.mask = TensorValue();
    e.values = {NAN};
    CHECK_THROWS_WITH(decodeWithEdit(*g, z, e), Error, "must be finite");
    e.values = {1, 2, 3};
    CHECK_THROWS_WITH(decodeWithEdit(*g, z, e), Error, "one per unit");
    e.values = {};
    e.layer = "nope";
    CHECK_THROWS_WITH(decodeWithEdit(*g, z, e), Error, "nope");
    CHECK_THROWS_WITH(decodeWithEdit(*g, TensorValue({2, 5}, std::vector<float>(10, 0)), UnitEdit{"1", {1}, {}, {}}), Error, "takes codes [N, 6]");
    // A layer whose output has no channel dimension: the classifier's flattened features are [N, 96] (units),
    // but its logits of a [N] reduction would not be; the Flatten output is fine, a mask on it is not.
    std::vector<float> x(64, 0.5f);
    UnitEdit flat{"3", {5}, {}, TensorValue({2, 2}, std::vector<float>(4, 1))};
    CHECK_THROWS_WITH(forwardWithEdit(*c, TensorValue({1, 1, 8, 8}, x), flat), Error, "A mask needs a layer with spatial extent");
    // A layer whose output has no channel dimension: a transformer block's [N, T, D].
    auto gpt = fixtures::loadCpu("gpt_tiny_scripted.pt");
    const TensorValue ids = readNpy(fixtures::path("gpt_tiny_prompt.npy"));
    CHECK_THROWS_WITH(forwardWithEdit(*gpt, ids, UnitEdit{"transformer.h.0", {0}, {}, {}}), Error, "Layer transformer.h.0 has no units: its output is [1, ");
    // The generator's images do not fit a classifier of other images.
    auto tinyCls = fixtures::loadCpu("gen_classifier.pt");
    CHECK_THROWS_WITH(dissectGenerator(*g, *tinyCls, "1", 4, 0), Error, "the classifier gen_classifier.pt takes");
    CHECK_THROWS_WITH(generatorUnitMaps(*g, "1", 4, 0, 1.5), Error, "strictly between 0 and 1");
    // Unit maps hold every sample's activations: beyond 256 MB they are refused with the count that fits.
    CHECK_THROWS_WITH(generatorUnitMaps(*g, "3", 2000000, 0), Error, "take at most 209715 samples");
    CHECK_THROWS_WITH(dissectGenerator(*c, *c, "1", 4, 0), Error, "no generator role");
}

TESTKIT_MAIN
