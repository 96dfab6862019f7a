#include "engine/core/errors.h"

#include <algorithm>
#include <tuple>

namespace pellucid {

const char *errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::FileNotFound: return "file-not-found";
    case ErrorCode::NotTorchScript: return "not-torchscript";
    case ErrorCode::CorruptArchive: return "corrupt-archive";
    case ErrorCode::BadMetadata: return "bad-metadata";
    case ErrorCode::BadInput: return "bad-input";
    case ErrorCode::UnknownLayer: return "unknown-layer";
    case ErrorCode::ModelError: return "model-error";
    case ErrorCode::NoModel: return "no-model";
    case ErrorCode::IoError: return "io-error";
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::Internal: return "internal";
    }
    return "unknown";
}

size_t editDistance(const std::string &a, const std::string &b)
{
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        prev.swap(cur);
    }
    return prev[b.size()];
}

std::vector<std::string> closestNames(const std::string &name, const std::vector<std::string> &candidates, size_t limit)
{
    std::vector<std::tuple<size_t, size_t, std::string>> scored;
    for (const auto &c : candidates) {
        size_t prefix = 0;
        while (prefix < c.size() && prefix < name.size() && c[prefix] == name[prefix]) ++prefix;
        scored.emplace_back(editDistance(name, c), name.size() - prefix, c);
    }
    std::sort(scored.begin(), scored.end());
    std::vector<std::string> out;
    for (const auto &s : scored) {
        if (out.size() >= limit) break;
        out.push_back(std::get<2>(s));
    }
    return out;
}

}   // namespace pellucid
