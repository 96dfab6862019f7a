// pellucid-cli evaluate: top-1/top-k accuracy, per-class precision/recall/F1, confusion matrix, calibration (ECE)
#include "app/cli/cli.h"

#include "app/workflows/workflows.h"
#include "engine/core/files.h"

#include "app/io/dataset.h"
#include "engine/core/errors.h"
#include "engine/evaluation/evaluation.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace pellucid::cli {

namespace {

int cmdEvaluate(const Args &a)
{
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    const Dataset data = openDataset(a, s.metadata.labels);
    WorkflowSink sink;
    if (isatty(2))
        sink.progress = [](int64_t done, int64_t total, const std::string &) {
            std::fprintf(stderr, "\r%lld/%lld", (long long)done, (long long)total);
        };
    const DatasetEvaluation ev =
        evaluateDataset(*model, data, a.has("limit") ? size_t(toInt(a.need("limit"), "--limit")) : 0,
                        size_t(std::max(1, toInt(a.get("batch", "256"), "--batch"))), toInt(a.get("topk", "5"), "--topk"), sink);
    if (isatty(2)) std::fprintf(stderr, "\n");
    const EvalResult &r = ev.result;
    const int classes = ev.classes;
    const size_t n = ev.items;
    const double totalMs = ev.totalMs, modelMs = ev.modelMs;
    Json j = Json::object();
    j["model"] = s.path;
    j["data"] = a.need("data");
    j["samples"] = r.samples;
    // Items whose outputs hold NaN/Inf (a NaN pixel, an Inf in an .npy): named, left out of every metric.
    Json bad = Json::array();
    for (int64_t i : r.nonFinite) bad.push(Json(data.itemName(size_t(i))));
    j["non_finite"] = bad;
    if (!r.nonFinite.empty())
        std::fprintf(stderr, "pellucid-cli: %zu item(s) gave NaN/Inf outputs and were left out (first: %s)\n", r.nonFinite.size(),
                     data.itemName(size_t(r.nonFinite[0])).c_str());
    j["top1"] = r.top1;
    j["top" + std::to_string(r.topK)] = r.topK_accuracy;
    j["macro_f1"] = r.macroF1;
    j["ece"] = r.ece;
    Json per = Json::array();
    for (int c = 0; c < classes; ++c) {
        Json x = Json::object();
        x["class"] = c;
        x["label"] = size_t(c) < s.metadata.labels.size() ? s.metadata.labels[size_t(c)] : "class " + std::to_string(c);
        x["precision"] = r.precision[size_t(c)];
        x["recall"] = r.recall[size_t(c)];
        x["f1"] = r.f1[size_t(c)];
        x["support"] = r.support[size_t(c)];
        per.push(x);
    }
    j["per_class"] = per;
    Json conf = Json::array();
    for (const auto &row : r.confusion) {
        Json jr = Json::array();
        for (int64_t v : row) jr.push(Json(v));
        conf.push(jr);
    }
    j["confusion"] = conf;
    Json cal = Json::array();
    for (const auto &b : r.calibration) {
        Json x = Json::object();
        x["lo"] = b.lo;
        x["hi"] = b.hi;
        x["confidence"] = b.confidence;
        x["accuracy"] = b.accuracy;
        x["count"] = b.count;
        cal.push(x);
    }
    j["calibration"] = cal;
    j["images_per_second"] = totalMs > 0 ? double(n) / (totalMs / 1000) : 0;
    j["model_images_per_second"] = modelMs > 0 ? double(n) / (modelMs / 1000) : 0;
    if (a.flag("json")) {
        std::cout << j.dump(1) << "\n";
    } else {
        std::printf("%lld samples: top-1 %.4f, top-%d %.4f, macro F1 %.4f, ECE %.4f, %.0f images/s\n", (long long)r.samples, r.top1, r.topK,
                    r.topK_accuracy, r.macroF1, r.ece, j.find("images_per_second")->asNumber());
        for (int c = 0; c < classes; ++c)
            std::printf("  %-14.14s P %.3f  R %.3f  F1 %.3f  (%lld)\n", per.asArray()[size_t(c)].find("label")->asString().c_str(),
                        r.precision[size_t(c)], r.recall[size_t(c)], r.f1[size_t(c)], (long long)r.support[size_t(c)]);
    }
    return 0;
}

}   // namespace

Command evaluateCommand()
{
    return {"evaluate",
            "--model M --data D [--topk 5] [--batch 256] [--limit N] [--json]",
            "top-1/top-k accuracy, per-class precision/recall/F1, confusion matrix, calibration (ECE)",
            "D: a folder with one sub-folder per class, IDX images (labels beside), or a CSV path,label",
            {{{"data", "D", "the labelled dataset"},
              {"split", "test|train", "a folder of IDX files: which split (default test)"},
              {"topk", "K", "top-k accuracy (default 5)", ints(1, 1000)},
              {"batch", "N", "items per model pass (default 256)", ints(1, 65536)},
              {"limit", "N", "the first N items", ints(1, 10000000)},
              {"json", "", "JSON instead of a table"}},
             modelOptions(),
             preprocessingOptions()},
            cmdEvaluate};
}

}   // namespace pellucid::cli
