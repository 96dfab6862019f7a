// pellucid-cli dissect: the causal effect of each unit of a layer on a classifier's class probabilities
#include "app/cli/cli.h"

#include "app/io/dataset.h"
#include "engine/core/npy.h"
#include "engine/generative/dissection.h"

#include <algorithm>
#include <iostream>

namespace pellucid::cli {

namespace {

Json dissectionJson(const Dissection &d, bool full)
{
    Json j = Json::object();
    j["layer"] = d.layer.layer;
    j["units"] = d.layer.units;
    j["classes"] = d.classes;
    j["samples"] = d.samples;
    j["shape"] = shapeJson(d.effect.shape());
    if (!full) return j;
    Json per = Json::array();
    const int64_t K = d.classes;
    for (int64_t k = 0; k < K; ++k) {
        Json c = Json::object();
        c["class"] = k;
        if (size_t(k) < d.labels.size()) c["label"] = d.labels[size_t(k)];
        c["base_probability"] = d.baseProbability[size_t(k)];
        if (!d.itemsPerClass.empty()) c["items"] = d.itemsPerClass[size_t(k)];
        Json units = Json::array(), effects = Json::array(), curve = Json::array();
        const auto &rank = d.ranking[size_t(k)];
        for (size_t i = 0; i < std::min<size_t>(10, rank.size()); ++i) {
            units.push(Json(rank[i]));
            effects.push(Json(double(d.effect.at(rank[i] * K + k))));
        }
        for (double v : d.removal[size_t(k)]) curve.push(Json(v));
        c["top_units"] = units;
        c["top_effects"] = effects;
        c["removal_curve"] = curve;   // point n: the top n units removed together
        per.push(c);
    }
    j["per_class"] = per;
    return j;
}

int cmdDissect(const Args &a)
{
    const std::string out = a.need("out");
    if (!endsWith(out, ".npy")) throw UsageError("--out must name an .npy file (the effects [units, classes])");
    const std::string layer = a.need("layer");
    const int curve = toInt(a.get("curve-units", "20"), "--curve-units");
    Dissection d;
    Json extra = Json::object();
    if (a.has("data")) {
        if (a.has("classifier") || a.has("count") || a.has("seed"))
            throw UsageError("classifier dissection (--data) takes the classifier as --model, and no --classifier, --count or --seed");
        auto cls = loadModel(a, "classifier");
        const Dataset data = openDataset(a, cls->summary().metadata.labels);
        const DatasetDissection r = dissectDataset(*cls, data, layer, size_t(toInt(a.get("limit", "0"), "--limit")), curve);
        for (const std::string &s : r.skipped) std::cerr << "pellucid-cli: " << s << ": holds NaN or Inf; skipped\n";
        d = r.dissection;
        extra["skipped"] = int64_t(r.skipped.size());
        Json none = Json::array();
        for (size_t k = 0; k < d.itemsPerClass.size(); ++k)
            if (d.itemsPerClass[k] == 0) none.push(Json(int64_t(k)));
        extra["classes_without_items"] = none;   // their effects are 0
    } else {
        if (a.has("limit")) throw UsageError("--limit belongs to classifier dissection (--data)");
        auto gen = loadGenerator(a);
        auto cls = loadClassifierFor(a, *gen);
        DissectOptions o;
        o.curveUnits = curve;
        d = dissectGenerator(*gen, *cls, layer, toInt(a.get("count", "200"), "--count"), uint64_t(toInt(a.get("seed", "0"), "--seed")), o);
    }
    writeNpy(out, d.effect);
    Json j = dissectionJson(d, a.flag("json"));
    for (const auto &kv : extra.asObject()) j[kv.first] = kv.second;
    std::cout << j.dump(a.flag("json") ? 1 : -1) << "\n";
    return 0;
}

}   // namespace

Command dissectCommand()
{
    return {"dissect",
            "--model G [--classifier C] --layer L [--count N] [--seed S] --out EFFECT.npy [--json]  |  --model C --data D --layer L [--limit N] "
            "--out EFFECT.npy [--json]",
            "the causal effect of each unit of a layer on a classifier's class probabilities",
            "a generator G: effect[u, k] = mean over N codes (torch.manual_seed(S); torch.randn(N, D)) of p_k(C(G(z))) − p_k(C(G(z) with unit u\n"
            "  of L set to 0)); C is --classifier or the generator's companion, G's output range mapped to C's input\n"
            "a classifier with --data: effect[u, k] = mean over the items of class k of p_k(x) − p_k(x with unit u of L zeroed)\n"
            "EFFECT.npy: float32 [units, classes]; --json adds per class its base probability, top units and the removal curve (point n:\n"
            "  the effect of removing its top n units together)",
            {{{"layer", "L", "the layer whose units (channels) are removed"},
              {"classifier", "C", "the classifier of the generated images (default: the generator's companion)"},
              {"count", "N", "sampled codes (default 200)", ints(1, 20000)},
              {"seed", "S", "random seed of the codes (default 0)", registryRange("seed")},
              {"data", "D", "classifier dissection: the labelled dataset"},
              {"split", "test|train", "a folder of IDX files: which split (default test)"},
              {"limit", "N", "classifier dissection: the first N items (default all)", ints(1, 10000000)},
              {"curve-units", "N", "removal curves up to N units (default 20)", ints(0, 100000)},
              {"out", "EFFECT.npy", "the effects [units, classes]"},
              {"json", "", "per class: the top units, their effects and the removal curve"}},
             modelOptions()},
            cmdDissect};
}

}   // namespace pellucid::cli
