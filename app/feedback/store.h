#pragma once
// Human feedback on explanations and generated results, in one SQLite database per project (Qt SQL): region
// masks (where the evidence should be), verdicts on an explanation, ratings of generated samples. Every row
// says exactly what was judged (the model's and the input's SHA-256, the method with all its parameters as
// sessions store them, the target, the map's hash), by whom and when. The input's bytes are kept too, so a
// report can recompute maps after the file moved.
//
// Safety: schema versioned (PRAGMA user_version, migrations in order), WAL journal, every write one
// IMMEDIATE transaction with a busy timeout (two app instances on one file lose nothing), a file that is not
// SQLite, fails its integrity check, belongs to another program or has a newer schema is refused with one
// line and never written. Merge copies rows by their uid, so merging twice adds nothing.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pellucid::feedback {

/// One judgement. Fields not used by its kind stay empty / zero.
struct Annotation {
    int64_t id = 0;     // row in this database (0 until stored)
    std::string uid;    // the same in every database it is merged into (made when stored)
    std::string kind;   // "mask" | "verdict" | "rating"
    std::string modelSha, modelPath;
    std::string inputSha, inputPath;   // masks and verdicts: the input judged
    std::string annotator;
    std::string created;   // ISO 8601 UTC (made when stored)
    // The explanation: the method, its parameters (JSON, as sessions store them), the explained class and
    // the SHA-256 of the map's float32 values (verdicts; a mask drawn over an overlay may name them too).
    std::string method, params, mapSha;
    int target = -1;
    // A mask: width × height bytes, non-zero = inside.
    int maskWidth = 0, maskHeight = 0;
    std::vector<uint8_t> mask;
    std::string verdict;              // "agree" | "disagree" | "unsure"
    int rating = 0;                   // 1–5
    std::vector<std::string> flags;   // ratings: "artefact", "wrong class", …
    std::string source;               // ratings: "latent" | "diffusion" | "generation"
    std::string sample;               // ratings: what was generated (JSON: seed, latent, prompt, …)
    std::string note;
};

/// Which rows to read; empty fields match everything.
struct Filter {
    std::string kind, annotator, modelSha, method, inputSha;
};

/// An input's bytes, kept once per SHA-256.
struct InputBlob {
    std::string sha, path;
    std::vector<uint8_t> bytes;
};

struct MergeResult {
    int64_t added = 0, alreadyThere = 0;
};

class Store {
public:
    static constexpr int kSchemaVersion = 1;
    /// Opens the database at `path`, creating it (and its folder) when absent. `readOnly`: never writes
    /// (merge sources, reports). Throws Error naming the file and the problem.
    explicit Store(const std::string &path, bool readOnly = false);
    ~Store();
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;

    const std::string &path() const;
    int schemaVersion() const;

    /// Stores the rows, and the inputs they judge, in one transaction (all or none); fills id, uid and
    /// created. Checks each row first (kind, verdict, rating 1–5, mask size) and throws Error(BadInput)
    /// naming the problem.
    void add(std::vector<Annotation> &rows, const std::vector<InputBlob> &inputs = {});
    int64_t add(Annotation &row, const std::vector<InputBlob> &inputs = {});
    /// An input's bytes on their own (one transaction); the newest path is kept.
    void putInput(const std::string &sha, const std::string &path, const std::vector<uint8_t> &bytes);
    /// The bytes stored for an input; empty when none.
    std::vector<uint8_t> inputBytes(const std::string &sha) const;
    std::string inputPath(const std::string &sha) const;

    std::vector<Annotation> annotations(const Filter &filter = {}) const;
    int64_t count() const;
    /// Removes one row (the GUI's table). False when there was none.
    bool remove(int64_t id);

    /// Copies every row (and input) of another database that this one lacks (by uid), in one transaction.
    MergeResult merge(const std::string &otherPath);

    /// "ok", or what SQLite's integrity check found.
    std::string integrity() const;

    /// Every row as CSV (masks as their size and area) or JSON (masks as run-length pairs), by extension.
    void exportTo(const std::string &outPath) const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

/// SHA-256 (lowercase hex) of a file's bytes / of bytes. Throws Error(FileNotFound) for a missing file.
std::string sha256File(const std::string &path);
std::string sha256Bytes(const void *data, size_t size);
/// The database used when none is chosen: feedback.sqlite in the user's data folder.
std::string defaultDatabasePath();

}   // namespace pellucid::feedback
