// pellucid-cli compare: one attribution on two models (two checkpoints of one network, or two networks with
// the same input), stacked A then B, with both predictions and the maps' rank correlation.
#include "app/cli/cli.h"

#include "app/io/imageinput.h"
#include "engine/core/errors.h"
#include "engine/core/npy.h"
#include "engine/core/stats.h"

#include <iostream>

namespace pellucid::cli {

namespace {

Json side(Model &model, const TensorValue &input, const AttributionResult &r)
{
    Json j = resultJson(r);
    j["model"] = model.summary().path;
    j["top"] = predictionsJson(model.topK(model.forward(input, {}).outputs.at(0), 5));
    return j;
}

int cmdCompare(const Args &a)
{
    const std::string out = a.need("out");
    if (!endsWith(out, ".npy")) throw UsageError("--out must end in .npy");
    const AttributionParams p = attributionParams(a);
    auto A = loadModel(a);
    auto B = loadCompanion(a, "model-b");
    const std::string inputPath = a.need("input");
    const TensorValue xa = loadInput(a, *A);
    const TensorValue xb = loadInput(a, *B);
    const auto ra = attributeInput(*A, xa, p, a);
    const auto rb = attributeInput(*B, xb, p, a);
    if (ra->map.shape() != rb->map.shape())
        throw Error(ErrorCode::BadInput,
                    "The two models' maps differ in shape (" + shapeToString(ra->map.shape()) + " and " + shapeToString(rb->map.shape())
                        + "); compare needs maps of one shape");
    Shape shape = ra->map.shape();
    shape.insert(shape.begin(), 2);
    std::vector<float> both(ra->map.data(), ra->map.data() + ra->map.numel());
    both.insert(both.end(), rb->map.data(), rb->map.data() + rb->map.numel());
    writeNpy(out, TensorValue(shape, std::move(both)));
    const std::vector<double> va(ra->map.data(), ra->map.data() + ra->map.numel());
    const std::vector<double> vb(rb->map.data(), rb->map.data() + rb->map.numel());
    Json j = Json::object();
    j["a"] = side(*A, xa, *ra);
    j["b"] = side(*B, xb, *rb);
    j["spearman"] = spearman(va, vb);
    j["shape"] = shapeJson(shape);
    j["out"] = out;
    std::cout << j.dump(1) << "\n";
    const auto sa = ra->map.stats(), sb = rb->map.stats();
    if (sa.nanCount || sa.infCount || sb.nanCount || sb.infCount) {
        std::cerr << "pellucid-cli: the maps contain NaN or Inf values (written to " << out << ")\n";
        return 3;
    }
    return 0;
}

}   // namespace

Command compareCommand()
{
    return {"compare",
            "--model A --model-b B --input X --method METHOD --target K [method options] --out OUT.npy",
            "one attribution on two models: [2, …] (A's map, then B's), both predictions, the maps' rank correlation",
            "",
            {{{"model-b", "B", "the second model (same input)"},
              {"input", "X", "the input (.npy or an image), preprocessed per model"},
              {"out", "OUT.npy", "A's map then B's, stacked: [2, …] (each the shape attribute writes)"}},
             modelOptions(),
             preprocessingOptions(),
             attributionOptions()},
            cmdCompare};
}

}   // namespace pellucid::cli
