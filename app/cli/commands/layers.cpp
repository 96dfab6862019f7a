// pellucid-cli layers: every tappable layer: path, op, output shape
#include "app/cli/cli.h"

#include <cstdio>
#include <iostream>

namespace pellucid::cli {

namespace {

int cmdLayers(const Args &a)
{
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    if (a.flag("json")) {
        Json arr = Json::array();
        for (const auto &l : s.layers) {
            if (l.calls == 0) continue;
            Json j = Json::object();
            j["path"] = l.path;
            j["op"] = l.op;
            Json shapes = Json::array();
            for (const auto &sh : l.outputShapes) shapes.push(shapeJson(sh));
            j["output_shapes"] = shapes;
            j["output_shape"] = l.outputShapes.empty() ? Json() : shapeJson(l.outputShapes[0]);
            j["parameters"] = l.parameters;
            j["calls"] = l.calls;
            j["leaf"] = l.leaf;
            arr.push(j);
        }
        std::cout << arr.dump(2) << "\n";
        return 0;
    }
    std::printf("%-40s %-22s %-24s %s\n", "PATH", "OP", "OUTPUT", "PARAMS");
    for (const auto &l : s.layers) {
        if (l.calls == 0) continue;
        std::string shapes;
        for (const auto &sh : l.outputShapes) shapes += (shapes.empty() ? "" : " ") + shapeToString(sh);
        if (shapes.empty()) shapes = "?";
        std::printf("%-40s %-22s %-24s %lld\n", l.path.c_str(), l.op.c_str(), shapes.c_str(), (long long)l.parameters);
    }
    return 0;
}

}   // namespace

Command layersCommand()
{
    return {"layers",
            "--model M [--json]",
            "every tappable layer: path, op, output shape",
            "",
            {{{"json", "", "JSON instead of a table"}}, modelOptions()},
            cmdLayers};
}

}   // namespace pellucid::cli
