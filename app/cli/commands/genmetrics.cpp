// pellucid-cli gen-metrics: Inception Score, diversity, Fréchet distance and VAE reconstruction of N samples
#include "app/cli/cli.h"

#include "app/io/dataset.h"
#include "engine/generative/generative.h"
#include "engine/generative/genmetrics.h"

#include <algorithm>
#include <iostream>

namespace pellucid::cli {

namespace {

int cmdGenMetrics(const Args &a)
{
    auto gen = loadGenerator(a);
    auto cls = loadClassifierFor(a, *gen);
    const int64_t count = toInt(a.get("count", "500"), "--count");
    const TensorValue codes = sampleCodes(count, latentDim(*gen), uint64_t(toInt(a.get("seed", "0"), "--seed")));
    const std::string layer = a.get("layer", cls->summary().metadata.suggestedLayers.empty() ? "" : cls->summary().metadata.suggestedLayers.back());
    TensorValue real, realForEncoder;
    std::unique_ptr<Model> enc;
    if (a.has("data")) {
        const Dataset data = openDataset(a, cls->summary().metadata.labels);
        const size_t n = std::min(data.size(), size_t(count));
        real = data.batch(0, n, cls->summary().metadata.input, cls->summary().inputShape);
        if (a.has("encoder")) {
            enc = loadCompanion(a, "encoder");
            realForEncoder = data.batch(0, n, enc->summary().metadata.input, enc->summary().inputShape);
        }
    }
    const GenerativeReport g = generativeReport(*gen, *cls, layer, codes, real, enc.get(), realForEncoder);
    Json j = Json::object();
    j["samples"] = g.samples;
    j["feature_layer"] = g.featureLayer;
    j["inception_score"] = g.inceptionScore;
    j["diversity"] = g.diversity;
    if (g.hasReal) {
        j["frechet_distance"] = g.frechetDistance;
        j["real_inception_score"] = g.realInceptionScore;
        j["real_diversity"] = g.realDiversity;
    }
    if (g.hasReconstruction) {
        j["reconstruction_ssim"] = g.reconstructionSsim;
        j["reconstruction_psnr_db"] = g.reconstructionPsnr;
        Json kj = Json::array();
        for (double v : g.klPerDim) kj.push(Json(v));
        j["kl_per_dim"] = kj;
        j["active_units"] = g.activeUnits;
    }
    std::cout << j.dump(a.flag("json") ? 1 : -1) << "\n";
    return 0;
}

}   // namespace

Command genMetricsCommand()
{
    return {"gen-metrics",
            "--model G [--classifier C] [--layer L] [--data D] [--encoder E] [--count N] [--seed S] [--json]",
            "Inception Score, diversity, Fréchet distance and VAE reconstruction of N samples",
            "IS and diversity from C's logits / L's pooled features, Fréchet distance to N items of D, and with a VAE\n"
            "encoder E: reconstruction SSIM/PSNR and KL per latent dimension",
            {{{"classifier", "C", "the classifier whose features are compared (default: the generator's companion)"},
              {"layer", "L", "its feature layer"},
              {"data", "D", "real items"},
              {"split", "test|train", "a folder of IDX files: which split (default test)"},
              {"encoder", "E", "the VAE encoder"},
              {"count", "N", "samples (default 500)", ints(2, 100000)},
              {"seed", "S", "random seed", registryRange("seed")},
              {"json", "", "indented JSON"}},
             modelOptions()},
            cmdGenMetrics};
}

}   // namespace pellucid::cli
