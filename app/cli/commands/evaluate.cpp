// pellucid-cli evaluate: top-1/top-k accuracy, per-class precision/recall/F1, confusion matrix, calibration (ECE)
#include "app/cli/cli.h"

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
    const Dataset data = Dataset::open(a.need("data"), s.metadata.labels);
    int classes = 0;   // from the first batch's output (the dry run may not know the shape)
    std::unique_ptr<Evaluator> ev;
    const size_t n = a.has("limit") ? std::min(data.size(), size_t(toInt(a.need("limit"), "--limit"))) : data.size();
    const size_t batch = size_t(std::max(1, toInt(a.get("batch", "256"), "--batch")));
    const auto t0 = std::chrono::steady_clock::now();
    double modelMs = 0;
    for (size_t b = 0; b < n; b += batch) {
        const size_t e = std::min(n, b + batch);
        const TensorValue x = data.batch(b, e, s.metadata.input, s.inputShape);
        const auto m0 = std::chrono::steady_clock::now();
        const TensorValue logits = model->forward(x, {}).outputs.at(0);
        modelMs += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - m0).count();
        if (!ev) {
            if (logits.shape().size() != 2)
                throw Error(ErrorCode::BadInput, "Evaluation needs a classifier with output [N, classes], not " + shapeToString(logits.shape()));
            classes = int(logits.dim(1));
            ev = std::make_unique<Evaluator>(classes, toInt(a.get("topk", "5"), "--topk"));
        }
        ev->add(logits, std::vector<int>(data.labels().begin() + long(b), data.labels().begin() + long(e)));
        if (isatty(2)) std::fprintf(stderr, "\r%zu/%zu", e, n);
    }
    if (isatty(2)) std::fprintf(stderr, "\n");
    const double totalMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!ev) throw Error(ErrorCode::BadInput, "The dataset is empty");
    const EvalResult r = ev->finish();
    Json j = Json::object();
    j["model"] = s.path;
    j["data"] = a.need("data");
    j["samples"] = r.samples;
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
        std::printf("%lld samples: top-1 %.4f, top-%d %.4f, macro F1 %.4f, ECE %.4f, %.0f images/s\n", (long long)r.samples, r.top1,
                    r.topK, r.topK_accuracy, r.macroF1, r.ece, j.find("images_per_second")->asNumber());
        for (int c = 0; c < classes; ++c)
            std::printf("  %-14.14s P %.3f  R %.3f  F1 %.3f  (%lld)\n", per.asArray()[size_t(c)].find("label")->asString().c_str(),
                        r.precision[size_t(c)], r.recall[size_t(c)], r.f1[size_t(c)], (long long)r.support[size_t(c)]);
    }
    return 0;
}

} // namespace

Command evaluateCommand()
{
    return {"evaluate",
            "--model M --data D [--topk 5] [--batch 256] [--limit N] [--json]",
            "top-1/top-k accuracy, per-class precision/recall/F1, confusion matrix, calibration (ECE)",
            "D: a folder with one sub-folder per class, IDX images (labels beside), or a CSV path,label",
            {{{"data", "D", "the labelled dataset"},
             {"topk", "K", "top-k accuracy (default 5)"},
             {"batch", "N", "items per model pass (default 256)"},
             {"limit", "N", "the first N items"},
             {"json", "", "JSON instead of a table"}}, modelOptions()},
            cmdEvaluate};
}

} // namespace pellucid::cli
