// pellucid-cli reweight: a denoiser's sample with one word's cross-attention scaled (prompt-to-prompt)
#include "app/cli/cli.h"

#include "engine/core/npy.h"

#include <algorithm>
#include <cmath>
#include <iostream>

namespace pellucid::cli {

namespace {

int cmdReweight(const Args &a)
{
    auto model = loadModel(a);
    const DiffusionConfig c = diffusionConfig(*model);
    DiffusionRequest r = diffusionRequest(a, c);
    const std::string out = a.need("out");
    checkOutputExtension(a, "out", {".npy", ".png"});
    checkOutputExtension(a, "original-out", {".npy", ".png"});
    r.reweightToken = toInt(a.need("token"), "--token");
    r.reweightFactor = toDouble(a.need("factor"), "--factor");
    if (size_t(r.reweightToken) >= r.cond.size())
        throw UsageError("--token " + std::to_string(r.reweightToken) + " is outside the prompt's " + std::to_string(r.cond.size()) + " positions");
    const DiffusionResult res = sampleDiffusion(*model, r);
    writeDiffusionImages(out, c, res.sample);
    Json j = diffusionJson(c, r, res);
    j["token"] = int64_t(r.reweightToken);
    j["word"] = idsToWords(c, {r.cond[size_t(r.reweightToken)]}).front();
    j["factor"] = r.reweightFactor;
    if (a.has("original-out") || a.flag("difference")) {
        // The same seed, sampler and guidance without the edit: what re-weighting changed.
        DiffusionRequest plain = r;
        plain.reweightToken = -1;
        plain.reweightFactor = 1;
        const DiffusionResult orig = sampleDiffusion(*model, plain);
        if (a.has("original-out")) writeDiffusionImages(a.need("original-out"), c, orig.sample);
        double maxAbs = 0, sumAbs = 0;
        for (int64_t i = 0; i < res.sample.numel(); ++i) {
            const double d = std::fabs(double(res.sample.at(i)) - double(orig.sample.at(i)));
            maxAbs = std::max(maxAbs, d);
            sumAbs += d;
        }
        j["max_abs_difference"] = maxAbs;
        j["mean_abs_difference"] = sumAbs / double(std::max<int64_t>(1, res.sample.numel()));
    }
    std::cout << j.dump() << "\n";
    return 0;
}

}   // namespace

Command reweightCommand()
{
    return {"reweight",
            "--model D (--cond-ids C.npy | --prompt \"…\") --token J --factor F --steps N --seed S --out OUT.npy",
            "a denoiser's sample with one word's cross-attention re-weighted (prompt-to-prompt)",
            "the cross-attention probabilities of prompt position J (0-based) times F at every cross-attention site and step "
            "(the conditional pass; not renormalised); OUT [1, C, H, W]; --original-out / --difference: the unedited sample of "
            "the same seed and what changed",
            {{{"token", "J", "the prompt position re-weighted (0-based)", ints(0, 100000)},
              {"factor", "F", "the factor its attention is multiplied by", reals(0, 1000)},
              {"out", "OUT.npy|OUT.png", "the re-weighted sample"},
              {"original-out", "O.npy|O.png", "the sample without re-weighting (same seed)"},
              {"difference", "", "report the largest and mean change from the unedited sample"}},
             diffusionOptions(),
             modelOptions()},
            cmdReweight};
}

}   // namespace pellucid::cli
