// pellucid-cli attribute: an attribution map of the input (Captum's conventions)
#include "app/cli/cli.h"

#include "app/io/imageinput.h"
#include "engine/core/errors.h"
#include "engine/core/files.h"
#include "engine/core/npy.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace pellucid::cli {

namespace {

/// Batch mode: every image / .npy in --input-dir (sorted by name), or every row of an --input .npy batch,
/// one result file per item in --out-dir plus a JSON sidecar; items whose result exists are skipped (resume);
/// --shard I/N keeps the items whose position k in that order has k mod N == I.
int attributeBatch(const Args &a, const AttributionParams &p)
{
    namespace fs = std::filesystem;
    const std::string outDir = a.need("out-dir");
    const std::string format = a.get("format", "npy");
    if (format != "npy" && format != "png") throw UsageError("--format must be npy or png");
    int shard = 0, shards = 1;
    if (a.has("shard")) {
        const std::string s = a.need("shard");
        const auto slash = s.find('/');
        if (slash == std::string::npos) throw UsageError("--shard must be I/N");
        shard = toInt(s.substr(0, slash), "--shard I");
        shards = toInt(s.substr(slash + 1), "--shard N");
        if (shards < 1 || shard < 0 || shard >= shards) throw UsageError("--shard I/N needs 0 <= I < N");
    }
    std::error_code ec;
    fs::create_directories(outDir, ec);
    if (!fs::is_directory(outDir)) throw Error(ErrorCode::IoError, "Cannot create the output folder " + outDir);

    auto model = loadModel(a);
    struct Item {
        std::string id, source;
        int64_t row = -1;
    };
    std::vector<Item> items;
    TensorValue batch;
    if (a.has("input-dir")) {
        const std::string dir = a.need("input-dir");
        if (!fs::is_directory(dir)) throw Error(ErrorCode::FileNotFound, "Input folder not found: " + dir);
        static const std::set<std::string> exts = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".npy"};
        for (const auto &e : fs::directory_iterator(dir)) {
            std::string ext = e.path().extension().string();
            std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
            if (e.is_regular_file() && exts.count(ext)) items.push_back({e.path().filename().string(), e.path().string()});
        }
        std::sort(items.begin(), items.end(), [](const Item &x, const Item &y) { return x.id < y.id; });
    } else {
        batch = readNpy(a.need("input"));
        if (batch.shape().empty()) throw Error(ErrorCode::BadInput, "The --input batch has no batch dimension");
        for (int64_t r = 0; r < batch.dim(0); ++r) {
            char id[32];
            std::snprintf(id, sizeof id, "row%06lld", (long long)r);
            items.push_back({id, a.need("input"), r});
        }
    }
    std::vector<Item> mine;
    for (size_t k = 0; k < items.size(); ++k)
        if (int(k % size_t(shards)) == shard) mine.push_back(items[k]);

    const bool tty = isatty(2);
    int done = 0, skipped = 0, failed = 0;
    auto bar = [&](size_t i, const std::string &what) {
        if (!tty) return;
        const int width = 30, filled = mine.empty() ? width : int(width * i / mine.size());
        std::fprintf(stderr, "\r[%s%s] %zu/%zu  done %d  skipped %d  failed %d  %-30.30s", std::string(size_t(filled), '#').c_str(),
                     std::string(size_t(width - filled), '.').c_str(), i, mine.size(), done, skipped, failed, what.c_str());
        std::fflush(stderr);
    };
    for (size_t i = 0; i < mine.size(); ++i) {
        const Item &it = mine[i];
        const std::string out = outDir + "/" + it.id + "." + format;
        const std::string side = outDir + "/" + it.id + ".json";
        bar(i, it.id);
        if (fs::exists(out) && fs::exists(side)) {
            ++skipped;
            continue;
        }   // both are written atomically
        try {
            TensorValue input;
            if (it.row >= 0) {
                const TensorValue row = batch.slice0(it.row);
                Shape sh = row.shape();
                sh.insert(sh.begin(), 1);
                input = TensorValue(sh, std::vector<float>(row.data(), row.data() + row.numel()));
            } else {
                input = loadInputFile(it.source, model->summary().metadata.input, model->summary().inputShape);
            }
            const auto r = attributeInput(*model, input, p, a);
            if (format == "npy")
                writeNpy(out, r->map);
            else
                writeAttributionPng(out, input, r->map, isSignedMethod(p.method));
            Json j = resultJson(*r);
            j["item"] = it.id;
            j["input"] = it.source;
            if (it.row >= 0) j["row"] = it.row;
            j["output"] = it.id + "." + format;
            j["shard"] = std::to_string(shard) + "/" + std::to_string(shards);
            writeTextAtomically(side, j.dump(1) + "\n");
            ++done;
        } catch (const std::exception &e) {
            ++failed;
            if (tty) std::fprintf(stderr, "\n");
            std::cerr << "pellucid-cli: " << it.id << ": " << e.what() << "\n";
        }
    }
    bar(mine.size(), "");
    if (tty) std::fprintf(stderr, "\n");
    Json summary = Json::object();
    summary["items"] = int64_t(mine.size());
    summary["done"] = done;
    summary["skipped"] = skipped;
    summary["failed"] = failed;
    summary["shard"] = std::to_string(shard) + "/" + std::to_string(shards);
    std::cout << summary.dump() << "\n";
    if (failed) {
        std::cerr << "pellucid-cli: " << failed << " of " << mine.size() << " items failed (rerun to retry them)\n";
        return 2;
    }
    return 0;
}

int cmdAttribute(const Args &a)
{
    const AttributionParams p = attributionParams(a);
    if (a.has("input-dir") || a.has("out-dir")) {
        if (!a.has("out-dir")) throw UsageError("--input-dir needs --out-dir");
        if (a.has("out")) throw UsageError("use --out-dir (not --out) in batch mode");
        return attributeBatch(a, p);
    }
    const std::string out = a.need("out");
    const bool png = endsWith(out, ".png");
    const bool npy = endsWith(out, ".npy");
    if (!png && !npy) throw UsageError("--out must end in .npy or .png");
    auto model = loadModel(a);
    const TensorValue input = loadInput(a, *model);
    auto r = attributeInput(*model, input, p, a);
    if (npy)
        writeNpy(out, r->map);
    else
        writeAttributionPng(out, input, r->map, isSignedMethod(p.method));
    std::cout << resultJson(*r).dump() << "\n";
    const auto st = r->map.stats();
    if (st.nanCount || st.infCount) {
        std::cerr << "pellucid-cli: the attribution contains " << st.nanCount << " NaN and " << st.infCount << " Inf values (written to " << out
                  << ")\n";
        return 3;
    }
    return 0;
}

}   // namespace

Command attributeCommand()
{
    return {"attribute",
            "--model M --input X --method METHOD --target K [method options] --out OUT.npy|OUT.png",
            "an attribution map of the input (Captum's conventions)",
            "METHOD: " + methodNames()
                + "\n"
                  "--target K or --target predicted\n"
                  "batch: --input-dir D (or --input BATCH.npy) --out-dir O [--shard I/N] [--format npy|png]\n"
                  "  (one result + JSON sidecar per item; items already done are skipped)",
            {{{"input", "X", "the input, or a .npy batch in batch mode"},
              {"out", "OUT.npy|OUT.png", "the map, or the map over the input"},
              {"input-dir", "D", "batch mode: every image / .npy in D"},
              {"out-dir", "O", "batch mode: one result and sidecar per item"},
              {"shard", "I/N", "batch mode: the items k with k mod N == I"},
              {"format", "npy|png", "batch mode: result format (default npy)"}},
             modelOptions(),
             preprocessingOptions(),
             attributionOptions()},
            cmdAttribute};
}

}   // namespace pellucid::cli
