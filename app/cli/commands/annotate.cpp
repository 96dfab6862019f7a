// pellucid-cli annotate: a human region mask and/or a verdict on an explanation, into a feedback database
#include "app/cli/cli.h"

#include "app/feedback/report.h"
#include "app/feedback/store.h"
#include "engine/core/errors.h"
#include "engine/core/files.h"

#include <QCoreApplication>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>

namespace pellucid::cli {

namespace {

std::vector<uint8_t> fileBytes(const std::string &path)
{
    checkInputFile(path, kMaxNpyBytes, "input");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(ErrorCode::FileNotFound, "Input not found: " + path);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string defaultAnnotator()
{
    for (const char *var : {"PELLUCID_ANNOTATOR", "USER", "LOGNAME"})
        if (const char *v = std::getenv(var); v && *v) return v;
    return "anonymous";
}

int cmdAnnotate(const Args &given)
{
    if (!given.has("mask") && !given.has("verdict")) throw UsageError("annotate needs --mask, --verdict, or both");
    if (given.has("verdict") && !given.has("method")) throw UsageError("--verdict needs the --method it judges");
    const std::string verdict = given.get("verdict", "");
    if (!verdict.empty() && verdict != "agree" && verdict != "disagree" && verdict != "unsure")
        throw UsageError("--verdict must be agree, disagree or unsure");
    Args a = given;
    if (!a.has("target")) a.values["target"] = "predicted";
    int argc = 1;
    char name[] = "pellucid-cli";
    char *argv[] = {name, nullptr};
    QCoreApplication app(argc, argv);   // Qt SQL loads its SQLite driver as a plugin

    feedback::Store store(a.need("db"));
    auto model = loadModel(a);
    const std::string modelPath = a.need("model"), inputPath = a.need("input");
    const std::string modelSha = feedback::sha256File(modelPath);
    const std::vector<uint8_t> bytes = fileBytes(inputPath);
    const std::string inputSha = feedback::sha256Bytes(bytes.data(), bytes.size());
    const TensorValue x = loadInput(a, *model);
    const std::string annotator = a.get("annotator", defaultAnnotator());
    if (annotator.empty()) throw UsageError("--annotator needs a name");

    auto base = [&](const char *kind) {
        feedback::Annotation r;
        r.kind = kind;
        r.modelSha = modelSha;
        r.modelPath = modelPath;
        r.inputSha = inputSha;
        r.inputPath = inputPath;
        r.annotator = annotator;
        r.note = a.get("note", "");
        return r;
    };
    std::vector<feedback::Annotation> rows;
    Json out = Json::object();
    if (a.has("mask")) {
        if (x.shape().size() != 4) throw Error(ErrorCode::BadInput, "A mask needs an image input [1, C, H, W], not " + shapeToString(x.shape()));
        const auto [fileW, fileH] = feedback::imageFileSize(bytes);
        const feedback::MaskImage m = feedback::fitMask(feedback::readMaskFile(a.need("mask")), int(x.dim(2)), int(x.dim(3)), fileW, fileH);
        int64_t area = 0;
        for (uint8_t v : m.pixels) area += v;
        if (area == 0) throw Error(ErrorCode::BadInput, "The mask " + a.need("mask") + " marks no pixel (non-zero = inside)");
        feedback::Annotation r = base("mask");
        r.maskWidth = m.width;
        r.maskHeight = m.height;
        r.mask = m.pixels;
        rows.push_back(std::move(r));
        out["mask_area"] = Json(area);
        out["mask_size"] = Json(Json::Array{Json(int64_t(m.width)), Json(int64_t(m.height))});
    }
    if (!verdict.empty()) {
        const AttributionParams p = attributionParams(a);
        const auto result = attributeInput(*model, x, p, a);
        feedback::Annotation r = base("verdict");
        r.verdict = verdict;
        r.method = methodName(p.method);
        r.params = attributionParamsToJson(p).dump();
        r.target = result->targetClass;
        r.mapSha = feedback::sha256Bytes(result->map.data(), size_t(result->map.numel()) * sizeof(float));
        rows.push_back(std::move(r));
        out["target"] = Json(int64_t(result->targetClass));
        out["map_sha256"] = Json(rows.back().mapSha);
    }
    store.add(rows, {{inputSha, inputPath, bytes}});   // rows and input in one transaction
    Json list = Json::array();
    for (const feedback::Annotation &r : rows) {
        Json e = Json::object();
        e["id"] = Json(r.id);
        e["uid"] = Json(r.uid);
        e["kind"] = Json(r.kind);
        list.push(std::move(e));
    }
    out["database"] = Json(store.path());
    out["annotator"] = Json(annotator);
    out["model_sha256"] = Json(modelSha);
    out["input_sha256"] = Json(inputSha);
    out["annotations"] = std::move(list);
    std::cout << out.dump() << "\n";
    return 0;
}

}   // namespace

Command annotateCommand()
{
    return {"annotate",
            "--db DB --model M --input X --mask MASK.png|MASK.npy [--annotator NAME] [--verdict agree|disagree|unsure --method METHOD "
            "[attribution options]] [--note \"…\"]",
            "a human region mask and/or a verdict on an explanation, into a feedback database",
            "A mask is a PNG (non-zero = inside) or a .npy of the input's spatial size (or of the image file's, when the model\n"
            "resizes it). --verdict judges METHOD's map of the input (computed now; its parameters, target and hash stored).\n"
            "The database is created when absent; --annotator defaults to $PELLUCID_ANNOTATOR or $USER.",
            {{{"db", "DB", "the feedback database (SQLite)"},
              {"input", "X", "the input judged (an image or a .npy)"},
              {"mask", "MASK.png|MASK.npy", "where the evidence should be (non-zero = inside)"},
              {"annotator", "NAME", "who judged (default $PELLUCID_ANNOTATOR or $USER)"},
              {"verdict", "agree|disagree|unsure", "a verdict on METHOD's map of the input"},
              {"note", "TEXT", "a note kept with the annotation"}},
             modelOptions(),
             attributionOptions()},   // no preprocessing overrides: the report recomputes maps as the metadata says
            cmdAnnotate};
}

}   // namespace pellucid::cli
