// pellucid-cli merge: index.json of a (sharded) batch run
#include "app/cli/cli.h"

#include "engine/core/errors.h"
#include "engine/core/files.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

namespace pellucid::cli {

namespace {

/// Builds OUT-DIR/index.json from the per-item sidecars of a (possibly sharded) batch run.
int cmdMerge(const Args &a)
{
    namespace fs = std::filesystem;
    const std::string dir = a.need("out-dir");
    if (!fs::is_directory(dir)) throw Error(ErrorCode::FileNotFound, "Output folder not found: " + dir);
    std::vector<std::pair<std::string, Json>> entries;
    for (const auto &e : fs::directory_iterator(dir)) {
        if (e.path().extension() != ".json" || e.path().filename() == "index.json") continue;
        std::string text;
        if (!readTextFile(e.path().string(), text)) throw Error(ErrorCode::IoError, "Cannot read " + e.path().string());
        Json j;
        try {
            j = Json::parse(text);
        } catch (const std::exception &ex) {
            throw Error(ErrorCode::BadInput, e.path().string() + ": " + ex.what());
        }
        const Json *item = j.find("item");
        const Json *output = j.find("output");
        if (!item || !output) continue;   // not one of ours
        if (!fs::exists(fs::path(dir) / output->asString()))
            throw Error(ErrorCode::BadInput, "Item " + item->asString() + ": its result " + output->asString() + " is missing");
        entries.emplace_back(item->asString(), j);
    }
    std::sort(entries.begin(), entries.end(), [](const auto &x, const auto &y) { return x.first < y.first; });
    for (size_t i = 1; i < entries.size(); ++i)
        if (entries[i].first == entries[i - 1].first) throw Error(ErrorCode::BadInput, "Item " + entries[i].first + " appears twice");
    Json index = Json::object();
    index["count"] = int64_t(entries.size());
    Json list = Json::array();
    for (auto &e : entries) list.push(e.second);
    index["items"] = list;
    writeTextAtomically(dir + "/index.json", index.dump(1) + "\n");
    std::cout << "{\"count\": " << entries.size() << ", \"index\": \"" << dir << "/index.json\"}\n";
    return 0;
}

}   // namespace

Command mergeCommand()
{
    return {"merge", "--out-dir O", "index.json of a (sharded) batch run", "", {{{"out-dir", "O", "the batch run's output folder"}}}, cmdMerge};
}

}   // namespace pellucid::cli
