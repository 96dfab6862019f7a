// pellucid-cli cross-attention: per-word heat maps of a denoiser's sample (DAAM) and the raw cross-attention
#include "app/cli/cli.h"

#include "engine/core/errors.h"
#include "engine/core/npy.h"

#include <cmath>
#include <filesystem>
#include <iostream>

namespace pellucid::cli {

namespace {

int cmdCrossAttention(const Args &a)
{
    auto model = loadModel(a);
    const DiffusionConfig c = diffusionConfig(*model);
    DiffusionRequest r = diffusionRequest(a, c);
    r.captureAttention = true;
    const std::string out = a.need("out");
    checkOutputExtension(a, "out", {".npy"});
    checkOutputExtension(a, "sample-out", {".npy", ".png"});
    HeatMapFilter f;
    f.stepFrom = toInt(a.get("step-from", "0"), "--step-from");
    f.stepTo = toInt(a.get("step-to", "-1"), "--step-to");
    f.site = toInt(a.get("site", "-1"), "--site");
    f.head = toInt(a.get("head", "-1"), "--head");
    const DiffusionResult res = sampleDiffusion(*model, r);
    if (res.crossSites.empty()) throw Error(ErrorCode::BadInput, "The denoiser has no cross-attention site (no attention whose keys come from cond)");
    const TensorValue maps = wordHeatMaps(res, f);
    writeNpy(out, maps);
    if (a.has("raw-dir")) {
        const std::string dir = a.need("raw-dir");
        std::filesystem::create_directories(dir);
        for (size_t i = 0; i < res.crossAttention.size(); ++i) writeNpy(dir + "/site" + std::to_string(i) + ".npy", res.crossAttention[i]);
    }
    if (a.has("sample-out")) writeDiffusionImages(a.need("sample-out"), c, res.sample);
    Json j = diffusionJson(c, r, res), sites = Json::array();
    for (size_t i = 0; i < res.crossSites.size(); ++i) {
        const TensorValue &p = res.crossAttention[i];
        Json site = Json::object();
        site["file"] = "site" + std::to_string(i) + ".npy";   // --raw-dir's file and --site's number: i
        site["cross_index"] = int64_t(i);
        site["index"] = int64_t(res.crossSites[i]);   // among all attention sites, self-attention included
        site["kind"] = res.sites[size_t(res.crossSites[i])].kind;
        site["heads"] = p.dim(1);
        site["queries"] = p.dim(2);
        const auto grid = queryGrid(p.dim(2), c.sampleShape[2], c.sampleShape[3]);
        site["grid"] = shapeJson({grid.first, grid.second});
        sites.push(site);
    }
    j["cross_sites"] = sites;
    j["self_sites"] = int64_t(res.sites.size() - res.crossSites.size());
    j["maps_shape"] = shapeJson(maps.shape());
    // Where the metadata says each word belongs: the maps' IoU with those regions (null where none, or the null word).
    if (!c.regions.empty()) {
        std::vector<TensorValue> masks = regionMasks(c, int64_t(r.cond.size()));
        for (size_t k = 0; k < masks.size(); ++k)
            if (r.cond[k] == c.nullId) masks[k] = TensorValue();
        for (const bool minMax : {false, true}) {
            const std::vector<double> iou = mapIoU(maps, masks, 0.4, minMax);
            Json ious = Json::array();
            double sum = 0;
            int n = 0;
            for (double v : iou) {
                ious.push(std::isnan(v) ? Json() : Json(v));
                if (!std::isnan(v)) sum += v, ++n;
            }
            j[minMax ? "iou_minmax" : "iou"] = ious;
            j[minMax ? "miou_minmax" : "miou"] = n ? Json(sum / n) : Json();
        }
    }
    std::cout << j.dump() << "\n";
    return 0;
}

}   // namespace

Command crossAttentionCommand()
{
    return {"cross-attention",
            "--model D (--cond-ids C.npy | --prompt \"…\") --steps N --seed S [--guidance G] --out MAPS.npy [--raw-dir DIR]",
            "per-word heat maps of a denoiser's sample (DAAM) and its raw cross-attention",
            "MAPS: float32 [K, H, W], each head's map of a word reshaped to its site's grid, bicubically upsampled to H×W, "
            "clamped at 0, averaged over heads, sites and steps (the conditional pass); DIR/site<i>.npy: float32 [N, heads, Q, K] "
            "per cross-attention site, in program order; stdout: JSON with the sites and, where the metadata gives each word a "
            "region, the maps' IoU (threshold 0.4; max-normalised as DAAM: iou / miou; min-max-normalised: iou_minmax / miou_minmax)",
            {{{"out", "MAPS.npy", "the per-word maps"},
              {"raw-dir", "DIR", "the cross-attention probabilities per site"},
              {"sample-out", "OUT.npy|OUT.png", "the sample"},
              {"step-from", "A", "first step of the maps (default 0)", ints(0, 10000)},
              {"step-to", "B", "last step of the maps (default -1: the last)", ints(-1, 10000)},
              {"site", "I", "one cross-attention site, counted among cross-attention sites as --raw-dir's files (default -1: all)", ints(-1, 1000)},
              {"head", "H", "one head (default -1: all)", ints(-1, 1000)}},
             diffusionOptions(),
             modelOptions()},
            cmdCrossAttention};
}

}   // namespace pellucid::cli
