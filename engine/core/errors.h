#pragma once
// Errors are values with a human message; the engine throws pellucid::Error internally and reports
// it to callers as a JobEvent (async) or lets the CLI print it (sync).
#include <stdexcept>
#include <string>
#include <vector>

namespace pellucid {

enum class ErrorCode {
    FileNotFound,
    NotTorchScript,
    CorruptArchive,
    BadMetadata,
    BadInput,   // wrong shape, undecodable image, malformed .npy, ...
    UnknownLayer,
    ModelError,   // the model's forward raised
    NoModel,
    IoError,
    Cancelled,
    Internal,
};

const char *errorCodeName(ErrorCode code);

class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string &message) : std::runtime_error(message), mCode(code) { }
    ErrorCode code() const { return mCode; }

private:
    ErrorCode mCode;
};

/// Levenshtein distance between two strings.
size_t editDistance(const std::string &a, const std::string &b);
/// Up to `limit` candidates closest to `name` (edit distance, then shared prefix), best first.
std::vector<std::string> closestNames(const std::string &name, const std::vector<std::string> &candidates, size_t limit = 3);

}   // namespace pellucid
