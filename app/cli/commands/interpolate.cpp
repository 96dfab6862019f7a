// pellucid-cli interpolate: decoded codes between two codes
#include "app/cli/cli.h"

#include "engine/core/npy.h"
#include "engine/generative/generative.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdInterpolate(const Args &a)
{
    auto model = loadGenerator(a);
    const TensorValue z0 = checkCode(*model, readNpy(a.need("z")), "code --z");
    const TensorValue z1 = checkCode(*model, readNpy(a.need("z-end")), "code --z-end");
    const std::string mode = a.get("mode", "lerp");
    if (mode != "lerp" && mode != "slerp") throw UsageError("--mode must be lerp or slerp");
    const TensorValue images = decodeCodes(
        *model, interpolateCodes(z0, z1, toInt(a.need("steps"), "--steps"), mode == "slerp" ? InterpolationMode::Slerp : InterpolationMode::Lerp),
        toInt(a.get("class", "-1"), "--class"));
    writeImages(a.need("out"), images, toInt(a.get("cols", "0"), "--cols"));
    std::cout << "{\"shape\": " << shapeJson(images.shape()).dump() << "}\n";
    return 0;
}

}   // namespace

Command interpolateCommand()
{
    return {"interpolate",
            "--model M --z Z0.npy --z-end Z1.npy --steps N --mode lerp|slerp --out OUT.npy|OUT.png",
            "decoded codes between two codes",
            "",
            {{{"z", "Z0.npy", "the first code"},
              {"z-end", "Z1.npy", "the last code"},
              {"steps", "N", "frames", ints(1, 1000)},
              {"mode", "lerp|slerp", "linear or spherical (default lerp)"},
              {"out", "OUT.npy|OUT.png|OUT.gif|OUT.mp4", "the decoded frames"},
              {"class", "K", "the class of a conditional generator", ints(0, 16777215)},
              {"cols", "N", "PNG grid columns", ints(1, 256)}},
             modelOptions()},
            cmdInterpolate};
}

}   // namespace pellucid::cli
