// pellucid-cli gen-metrics: Inception Score, diversity, Fréchet distance and VAE reconstruction of N samples
#include "app/cli/cli.h"

#include "app/io/dataset.h"
#include "engine/diffusion/diffusionmetrics.h"
#include "engine/generative/generative.h"
#include "engine/generative/genmetrics.h"

#include <algorithm>
#include <cmath>
#include <iostream>

namespace pellucid::cli {

namespace {

Json numberOrNull(double v) { return std::isnan(v) ? Json() : Json(v); }

/// A denoiser: N seeded prompts sampled, each region through the classifier (engine/diffusion/diffusionmetrics.h).
int diffusionMetricsOf(const Args &a, Model &denoiser)
{
    std::unique_ptr<Model> cls;
    if (a.has("classifier")) {
        cls = loadCompanion(a, "classifier");
    } else {
        const std::string path = companionClassifierPath(denoiser);
        if (path.empty()) throw UsageError("the denoiser names no companion classifier: give --classifier C");
        std::cerr << "classifier: " << path << " (the denoiser's companion)\n";
        cls = loadCompanion(
            [&] {
                Args b = a;
                b.values["classifier"] = path;
                return b;
            }(),
            "classifier");
    }
    checkOutputExtension(a, "samples-out", {".npy", ".png"});
    if (a.has("encoder")) throw UsageError("--encoder is for VAE decoders, not denoisers");
    DiffusionMetricsOptions o;
    o.count = toInt(a.get("count", "100"), "--count");
    o.seed = uint64_t(toInt(a.get("seed", "0"), "--seed"));
    o.steps = toInt(a.get("steps", "50"), "--steps");
    o.guidance = toDouble(a.get("guidance", "1"), "--guidance");
    if (a.has("sampler") && !parseSampler(a.need("sampler"), o.sampler)) throw UsageError("--sampler must be ddim or ddpm");
    o.layer = a.get("layer", "");
    TensorValue real;
    std::vector<int> realLabels;
    if (a.has("data")) {
        const Dataset data = openDataset(a, cls->summary().metadata.labels);
        real = data.batch(0, data.size(), cls->summary().metadata.input, cls->summary().inputShape);
        realLabels = data.labels();
    }
    const DiffusionMetrics m = diffusionMetrics(denoiser, *cls, real, realLabels, o);
    if (a.has("samples-out")) writeDiffusionImages(a.need("samples-out"), diffusionConfig(denoiser), m.images);
    Json j = Json::object();
    j["samples"] = m.samples;
    j["steps"] = o.steps;
    j["guidance"] = o.guidance;
    j["sampler"] = std::string(samplerName(o.sampler));
    j["classifier"] = cls->summary().fileName;
    j["feature_layer"] = m.featureLayer;
    j["inception_score"] = numberOrNull(m.inceptionScore);
    j["prompt_accuracy"] = numberOrNull(m.promptAccuracy);
    if (m.realItems) {
        j["frechet_distance"] = numberOrNull(m.frechetDistance);
        j["real_inception_score"] = numberOrNull(m.realInceptionScore);
        j["real_accuracy"] = numberOrNull(m.realAccuracy);
        j["real_items"] = m.realItems;
    }
    if (!m.regionIou.empty()) {
        Json r = Json::array();
        for (double v : m.regionIou) r.push(numberOrNull(v));
        j["region_iou"] = r;
        j["miou"] = numberOrNull(m.miou);
        Json r2 = Json::array();
        for (double v : m.regionIouMinMax) r2.push(numberOrNull(v));
        j["region_iou_minmax"] = r2;
        j["miou_minmax"] = numberOrNull(m.miouMinMax);
    }
    j["seconds"] = m.seconds;
    std::cout << j.dump(a.flag("json") ? 1 : -1) << "\n";
    return 0;
}

int cmdGenMetrics(const Args &a)
{
    auto gen = loadGenerator(a);
    if (isDenoiser(*gen)) return diffusionMetricsOf(a, *gen);
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
            "encoder E: reconstruction SSIM/PSNR and KL per latent dimension\n"
            "a diffusion denoiser: N seeded prompts from its vocabulary (--steps, --guidance, --sampler); each region of each sample\n"
            "through C: IS, the share C calls the prompt's word, Fréchet distance to composites of real items of D of the same\n"
            "words (regions' features side by side), and the per-word maps' IoU with the regions (mIoU)",
            {{{"classifier", "C", "the classifier whose features are compared (default: the generator's companion)"},
              {"layer", "L", "its feature layer"},
              {"data", "D", "real items"},
              {"split", "test|train", "a folder of IDX files: which split (default test)"},
              {"encoder", "E", "the VAE encoder"},
              {"count", "N", "samples (default 500; a denoiser's 100)", ints(2, 100000)},
              {"steps", "N", "a denoiser's sampling steps (default 50)", ints(1, 10000)},
              {"guidance", "G", "a denoiser's classifier-free guidance (default 1)", reals(0, 100)},
              {"sampler", "ddim|ddpm", "a denoiser's sampler (default ddim)"},
              {"samples-out", "S.npy|S.png", "a denoiser's samples"},
              {"seed", "S", "random seed", registryRange("seed")},
              {"json", "", "indented JSON"}},
             modelOptions()},
            cmdGenMetrics};
}

}   // namespace pellucid::cli
