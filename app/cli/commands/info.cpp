// pellucid-cli info: model metadata, input spec and device (JSON)
#include "app/cli/cli.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdInfo(const Args &a)
{
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    Json j = Json::object();
    j["model"] = s.path;
    j["device"] = s.device;
    j["torch"] = s.torchVersion;
    j["format"] = s.format;     // "torchscript" or "onnx"
    j["runtime"] = s.runtime;   // "LibTorch 1.13.0", "OpenCV DNN 4.6.0"
    j["metadata"] = metadataToJson(s.metadata);
    Json in = Json::object();
    in["shape"] = shapeJson(s.inputShape);
    in["source"] = s.inputShapeSource;
    in["dtype"] = s.metadata.input.dtype;
    j["input"] = in;
    Json outs = Json::array();
    for (const auto &o : s.outputShapes) outs.push(shapeJson(o));
    j["outputs"] = outs;
    j["parameters"] = s.parameterCount;
    int taps = 0;
    for (const auto &l : s.layers) taps += l.calls > 0;
    j["layers"] = taps;
    if (!s.dryRunError.empty()) j["dry_run_error"] = s.dryRunError;
    std::cout << j.dump(2) << "\n";
    return 0;
}

}   // namespace

Command infoCommand()
{
    return {"info", "--model M", "model metadata, input spec and device (JSON)", "", {{}, modelOptions(), preprocessingOptions()}, cmdInfo};
}

}   // namespace pellucid::cli
