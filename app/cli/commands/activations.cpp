// pellucid-cli activations: the layer's output for the input
#include "app/cli/cli.h"

#include "app/io/imageinput.h"
#include "engine/core/npy.h"
#include "engine/runtime/jobs.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdActivations(const Args &a)
{
    const std::string out = a.need("out");
    const bool png = endsWith(out, ".png");
    const bool npy = endsWith(out, ".npy");
    if (!png && !npy) throw UsageError("--out must end in .npy or .png");
    const std::string layer = a.need("layer");
    auto model = loadModel(a);
    const TensorValue input = loadInput(a, *model);
    auto r = computeActivations(*model, input, 0, layer, 1, 16);
    if (npy)
        writeNpy(out, r->activation);
    else
        writeActivationPng(out, r->activation);
    if (r->stats.nanCount || r->stats.infCount) {
        std::cerr << "pellucid-cli: layer " << layer << " contains " << r->stats.nanCount << " NaN and " << r->stats.infCount
                  << " Inf values (written to " << out << ")\n";
        return 3;
    }
    return 0;
}

}   // namespace

Command activationsCommand()
{
    return {"activations",
            "--model M --input X --layer PATH --out OUT.npy|OUT.png",
            "the layer's output for the input",
            "",
            {{{"input", "X", "the input (.npy or an image)"},
              {"layer", "PATH", "the layer tapped (module path, or path[i] for a tuple output)"},
              {"out", "OUT.npy|OUT.png", "the activation tensor, or its channel maps as a picture"}},
             modelOptions(),
             preprocessingOptions()},
            cmdActivations};
}

}   // namespace pellucid::cli
