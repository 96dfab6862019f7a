// pellucid-cli predict: top-k classes (JSON)
#include "app/cli/cli.h"

#include "app/io/imageinput.h"
#include "engine/core/errors.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdPredict(const Args &a)
{
    const int k = toInt(a.get("topk", "5"), "--topk");
    if (k < 1) throw UsageError("--topk must be at least 1");
    auto model = loadModel(a);
    const std::string inputPath = a.need("input");
    const TensorValue input = loadInput(a, *model);
    const ForwardResult r = model->forward(input, {});
    if (r.outputs.empty()) throw Error(ErrorCode::ModelError, "The model returned no tensor");
    const TensorValue &logits = r.outputs[0];
    Json j = Json::object();
    j["model"] = model->summary().path;
    j["input"] = inputPath;
    j["input_shape"] = shapeJson(input.shape());
    j["output_shape"] = shapeJson(logits.shape());
    const int64_t batch = logits.shape().size() >= 2 ? logits.dim(0) : 1;
    j["top"] = predictionsJson(model->topK(batch > 1 ? logits.slice0(0) : logits, k));
    if (batch > 1) {
        Json all = Json::array();
        for (int64_t b = 0; b < batch; ++b) all.push(predictionsJson(model->topK(logits.slice0(b), k)));
        j["batch"] = all;
    }
    const auto st = logits.stats();
    j["nan_count"] = st.nanCount;
    j["inf_count"] = st.infCount;
    std::cout << j.dump(2) << "\n";
    if (st.nanCount || st.infCount) {
        std::cerr << "pellucid-cli: the model's output contains " << st.nanCount << " NaN and " << st.infCount << " Inf values\n";
        return 3;
    }
    return 0;
}

}   // namespace

Command predictCommand()
{
    return {"predict",
            "--model M --input X [--topk K]",
            "top-k classes (JSON)",
            "",
            {{{"input", "X", "the input (.npy or an image)"}, {"topk", "K", "classes listed (default 5)", ints(1, 1000)}},
             modelOptions(),
             preprocessingOptions()},
            cmdPredict};
}

}   // namespace pellucid::cli
