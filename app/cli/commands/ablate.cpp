// pellucid-cli ablate: a generator's images with units of a layer set to a value (everywhere or in a mask)
#include "app/cli/cli.h"

#include "engine/core/npy.h"
#include "engine/generative/dissection.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdAblate(const Args &a)
{
    auto gen = loadGenerator(a);
    const int64_t D = latentDim(*gen);
    TensorValue z = readNpy(a.need("z"));
    if (z.shape().size() == 1 && z.dim(0) == D) z = TensorValue({1, D}, std::vector<float>(z.data(), z.data() + z.numel()));
    if (z.shape().size() != 2 || z.dim(1) != D)
        throw Error(ErrorCode::BadInput,
                    a.need("z") + ": the codes are " + shapeToString(z.shape()) + "; " + gen->summary().fileName + " takes [N, " + std::to_string(D)
                        + "] (or [" + std::to_string(D) + "])");
    UnitEdit e;
    e.layer = a.need("layer");
    e.units = intList(a.need("units"), "--units");
    if (a.has("value")) e.values = {toDouble(a.need("value"), "--value")};
    if (a.has("mask")) {
        e.mask = readNpy(a.need("mask"));
        if (e.mask.shape().size() == 3 && e.mask.dim(0) == 1)
            e.mask = TensorValue({e.mask.dim(1), e.mask.dim(2)}, std::vector<float>(e.mask.data(), e.mask.data() + e.mask.numel()));
    }
    const TensorValue images = decodeWithEdit(*gen, z, e);
    writeImages(a.need("out"), images, toInt(a.get("cols", "0"), "--cols"));
    Json j = Json::object();
    j["shape"] = shapeJson(images.shape());
    j["layer"] = e.layer;
    Json u = Json::array();
    for (int64_t v : e.units) u.push(Json(v));
    j["units"] = u;
    j["value"] = e.values.empty() ? 0.0 : e.values[0];
    j["masked"] = e.mask.numel() > 0;
    std::cout << j.dump(-1) << "\n";
    return 0;
}

}   // namespace

Command ablateCommand()
{
    return {"ablate",
            "--model G --layer L --units 2,5,7 [--value V] [--mask MASK.npy] --z Z.npy --out OUT.npy|OUT.png",
            "a generator's images with units of a layer set to a value (everywhere or in a mask)",
            "G(z) with units U of layer L set to V (default 0: removed; a high value inserts what they draw), only where\n"
            "MASK [h, w] (at L's resolution) is nonzero when given; Z.npy holds codes [N, D] (or [D])",
            {{{"layer", "L", "the generator layer"},
              {"units", "2,5,7", "the units (channels) of L"},
              {"value", "V", "the value they are set to (default 0)", reals(-1e6, 1e6)},
              {"mask", "MASK.npy", "where: [h, w] at the layer's resolution, nonzero inside"},
              {"z", "Z.npy", "the codes"},
              {"out", "OUT.npy|OUT.png", "the images"},
              {"cols", "N", "PNG grid columns", ints(1, 256)}},
             modelOptions()},
            cmdAblate};
}

}   // namespace pellucid::cli
