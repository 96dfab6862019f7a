// pellucid-cli traverse: the decoder on z + t·e_I for t = linspace(A, B, N) (I zero-based): [N, C, H, W]
#include "app/cli/cli.h"

#include "engine/core/npy.h"
#include "engine/generative/generative.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdTraverse(const Args &a)
{
    auto model = loadGenerator(a);
    const TensorValue z = checkCode(*model, readNpy(a.need("z")), "code --z");
    const std::string range = a.need("range");
    const auto colon = range.find(':');
    if (colon == std::string::npos) throw UsageError("--range must be A:B");
    const double lo = toDouble(range.substr(0, colon), "--range A"), hi = toDouble(range.substr(colon + 1), "--range B");
    const int steps = toInt(a.need("steps"), "--steps");
    const TensorValue codes = a.has("direction") ? moveAlong(z, readNpy(a.need("direction")), lo, hi, steps)
                                                 : traverseCodes(z, toInt(a.need("dim"), "--dim"), lo, hi, steps);
    const TensorValue images = decodeCodes(*model, codes, toInt(a.get("class", "-1"), "--class"));
    writeImages(a.need("out"), images, toInt(a.get("cols", "0"), "--cols"));
    std::cout << "{\"shape\": " << shapeJson(images.shape()).dump() << "}\n";
    return 0;
}

}   // namespace

Command traverseCommand()
{
    return {"traverse",
            "--model M --z Z.npy --dim I --range A:B --steps N --out OUT.npy|OUT.png|OUT.gif|OUT.mp4",
            "the decoder on z + t·e_I for t = linspace(A, B, N) (I zero-based): [N, C, H, W]",
            "or --direction DIR.npy instead of --dim: z + t·d",
            {{{"z", "Z.npy", "the code"},
              {"dim", "I", "the latent dimension moved", ints(0, 1000000)},
              {"direction", "DIR.npy", "a direction instead of --dim"},
              {"range", "A:B", "the offsets", reals(-1e6, 1e6)},
              {"steps", "N", "frames", ints(1, 1000)},
              {"out", "OUT.npy|OUT.png|OUT.gif|OUT.mp4", "the decoded frames"},
              {"class", "K", "the class of a conditional generator", ints(0, 16777215)},
              {"cols", "N", "PNG grid columns", ints(1, 256)}},
             modelOptions()},
            cmdTraverse};
}

}   // namespace pellucid::cli
