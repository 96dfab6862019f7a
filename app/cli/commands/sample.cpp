// pellucid-cli sample: decoded random codes
#include "app/cli/cli.h"

#include "engine/core/npy.h"
#include "engine/generative/generative.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdSample(const Args &a)
{
    auto model = loadGenerator(a);
    const int64_t D = latentDim(*model);
    const TensorValue codes = sampleCodes(toInt(a.need("count"), "--count"), D, uint64_t(toInt(a.get("seed", "0"), "--seed")),
                                          a.has("truncation") ? toDouble(a.need("truncation"), "--truncation") : 0.0);
    const TensorValue images = decodeCodes(*model, codes, toInt(a.get("class", "-1"), "--class"));
    writeImages(a.need("out"), images, toInt(a.get("cols", "0"), "--cols"));
    if (a.has("codes-out")) writeNpy(a.need("codes-out"), codes);
    std::cout << "{\"shape\": " << shapeJson(images.shape()).dump() << "}\n";
    return 0;
}

}   // namespace

Command sampleCommand()
{
    return {"sample",
            "--model M --count N --seed S [--truncation T] [--codes-out Z.npy] --out OUT.npy|OUT.png",
            "decoded random codes",
            "codes as torch.manual_seed(S); torch.randn(N, D) draws them",
            {{{"count", "N", "samples", ints(1, 10000)},
              {"seed", "S", "random seed (default 0)", registryRange("seed")},
              {"truncation", "T", "resample |z| > T", positive(100)},
              {"codes-out", "Z.npy", "the codes drawn"},
              {"out", "OUT.npy|OUT.png|OUT.gif|OUT.mp4", "the samples"},
              {"class", "K", "the class of a conditional generator", ints(0, 16777215)},
              {"cols", "N", "PNG grid columns", ints(1, 256)}},
             modelOptions()},
            cmdSample};
}

}   // namespace pellucid::cli
