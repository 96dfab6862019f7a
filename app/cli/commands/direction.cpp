// pellucid-cli direction: a latent direction: attribute (class A → B), PCA of encoded items, GANSpace or SeFa
#include "app/cli/cli.h"

#include "app/io/dataset.h"
#include "engine/core/errors.h"
#include "engine/core/npy.h"
#include "engine/generative/dissection.h"
#include "engine/generative/generative.h"

#include <iostream>

namespace pellucid::cli {

namespace {

Json directionSetJson(const DirectionSet &d)
{
    Json j = Json::object();
    j["shape"] = shapeJson(d.directions.shape());
    Json r = Json::array(), s = Json::array();
    for (double v : d.explainedRatio) r.push(Json(v));
    for (double v : d.sigma) s.push(Json(v));
    j["explained_ratio"] = r;
    j["sigma"] = s;
    return j;
}

/// Encoder μ codes of up to `limit` dataset items: [N, D].
int cmdDirection(const Args &a)
{
    const std::string method = a.get("method", "attribute");
    const std::string out = a.need("out");
    if (method == "ganspace") {
        auto gen = loadGenerator(a);
        const DirectionSet d =
            principalDirectionsOfActivation(*gen, a.need("layer"), toInt(a.get("k", "5"), "--k"), toInt(a.get("count", "2000"), "--count"),
                                            uint64_t(toInt(a.get("seed", "0"), "--seed")));
        writeNpy(out, d.directions);
        std::cout << directionSetJson(d).dump(-1) << "\n";
        return 0;
    }
    if (method == "sefa") {
        auto gen = loadGenerator(a);
        const SefaResult r = sefaDirections(*gen, a.get("layer", ""), toInt(a.get("k", "5"), "--k"));
        writeNpy(out, r.directions.directions);
        Json j = directionSetJson(r.directions);
        j["layer"] = r.layer;
        Json ev = Json::array();
        for (double v : r.eigenvalues) ev.push(Json(v));
        j["eigenvalues"] = ev;
        std::cout << j.dump(-1) << "\n";
        return 0;
    }
    if (method != "attribute" && method != "pca") throw UsageError("--method must be attribute, pca, ganspace or sefa");
    auto enc = loadCompanion(a, "encoder");
    const ModelSummary &s = enc->summary();
    const Dataset data = openDataset(a, s.metadata.labels);
    const size_t limit = size_t(toInt(a.get("limit", "1000"), "--limit"));
    if (method == "pca") {
        const DirectionSet d = principalDirectionsOfCodes(encodeDataset(*enc, data, limit), toInt(a.get("k", "5"), "--k"));
        writeNpy(out, d.directions);
        std::cout << directionSetJson(d).dump(-1) << "\n";
        return 0;
    }
    const int from = toInt(a.need("from"), "--from"), to = toInt(a.need("to"), "--to");
    auto meanOf = [&](int cls) {
        std::vector<float> all;
        Shape item;
        size_t count = 0;
        for (size_t i = 0; i < data.size() && count < limit; ++i) {
            if (data.label(i) != cls) continue;
            const TensorValue x = data.batch(i, i + 1, s.metadata.input, s.inputShape);
            item.assign(x.shape().begin() + 1, x.shape().end());
            all.insert(all.end(), x.data(), x.data() + x.numel());
            ++count;
        }
        if (!count) throw Error(ErrorCode::BadInput, "The dataset has no item of class " + std::to_string(cls));
        item.insert(item.begin(), int64_t(count));
        return meanCode(*enc, TensorValue(item, std::move(all)));
    };
    const TensorValue ma = meanOf(from), mb = meanOf(to);
    std::vector<float> d(size_t(ma.numel()));
    for (int64_t j = 0; j < ma.numel(); ++j) d[size_t(j)] = mb.at(j) - ma.at(j);
    const TensorValue dir({1, ma.numel()}, std::move(d));
    writeNpy(out, dir);
    writeNpy(out.substr(0, out.size() - 4) + "_from.npy", ma);
    std::cout << "{\"shape\": " << shapeJson(dir.shape()).dump() << "}\n";
    return 0;
}

}   // namespace

Command directionCommand()
{
    return {"direction",
            "--encoder E --data D --from A --to B --out DIR.npy [--limit N]",
            "a latent direction: attribute (class A → B), PCA of encoded items, GANSpace or SeFa",
            "attribute: mean code of class B minus mean code of class A (encoder μ)\n"
            "--method pca --encoder E --data D [--k 5]: principal directions of the encoded items [k, D]\n"
            "--method ganspace --model G --layer L [--k 5] [--count 2000] [--seed S]: PCA of layer L over\n"
            "  sampled codes carried back to latent space by regression (GANSpace) [k, D]\n"
            "--method sefa --model G [--layer L] --k K: SeFa, the unit eigenvectors of AᵀA for A the weight of the first layer that\n"
            "  takes z (Linear, or a transposed convolution as [out, D]; --layer names another), eigenvalue descending [K, D]",
            {{{"method", "attribute|pca|ganspace|sefa", "the kind of direction (default attribute)"},
              {"out", "DIR.npy", "the directions"},
              {"encoder", "E", "the VAE encoder"},
              {"data", "D", "the labelled dataset"},
              {"split", "test|train", "a folder of IDX files: which split (default test)"},
              {"from", "A", "the class the direction leaves"},
              {"to", "B", "the class it goes to"},
              {"limit", "N", "items per class (default 1000)", ints(1, 10000000)},
              {"k", "K", "directions (default 5)", ints(1, 1000)},
              {"layer", "L", "GANSpace: the generator layer; SeFa: the layer that takes z (default: the first Linear / transposed convolution)"},
              {"count", "N", "GANSpace: sampled codes (default 2000)", ints(2, 100000)},
              {"seed", "S", "random seed", registryRange("seed")}},
             modelOptions()},
            cmdDirection};
}

}   // namespace pellucid::cli
