// pellucid-cli diffuse: a denoiser's sample for a prompt (DDIM or DDPM, classifier-free guidance)
#include "app/cli/cli.h"

#include "engine/core/npy.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdDiffuse(const Args &a)
{
    auto model = loadModel(a);
    const DiffusionConfig c = diffusionConfig(*model);
    const DiffusionRequest r = diffusionRequest(a, c);
    const std::string out = a.need("out");
    checkOutputExtension(a, "out", {".npy", ".png"});
    checkOutputExtension(a, "trajectory-out", {".npy", ".png", ".gif", ".mp4"});
    checkOutputExtension(a, "states-out", {".npy"});
    const DiffusionResult res = sampleDiffusion(*model, r);
    writeDiffusionImages(out, c, res.sample);
    if (a.has("trajectory-out")) writeDiffusionImages(a.need("trajectory-out"), c, res.trajectory);
    if (a.has("states-out")) writeNpy(a.need("states-out"), res.states);
    std::cout << diffusionJson(c, r, res).dump() << "\n";
    return 0;
}

}   // namespace

Command diffuseCommand()
{
    return {"diffuse",
            "--model D (--cond-ids C.npy | --prompt \"…\") --steps N --seed S [--sampler ddim|ddpm] [--guidance G] --out OUT.npy|OUT.png "
            "[--trajectory-out T.npy]",
            "a diffusion denoiser's sample for a prompt",
            "the model: forward(x_t float [B, C, H, W], t int64 [B], cond int64 [B, K]) -> ε (or v), metadata role \"denoiser\"\n"
            "OUT: the final sample [1, C, H, W] (.npy in the image range; .png mapped to [0, 1]); T: x̂₀ of each step [N, C, H, W], "
            "first step first (.npy, or a .png grid / .gif / .mp4); stdout: JSON (cond, words, steps, sampler, guidance, shape, "
            "denoiser_calls, seconds)",
            {{{"out", "OUT.npy|OUT.png", "the final sample"},
              {"trajectory-out", "T.npy|T.png|T.gif|T.mp4", "x̂₀ of every step"},
              {"states-out", "X.npy", "x_t after every step [N, C, H, W]"}},
             diffusionOptions(),
             modelOptions()},
            cmdDiffuse};
}

}   // namespace pellucid::cli
