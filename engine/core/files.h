#pragma once
// General file and string helpers (no torch): atomic writes and list splitting, one definition each.
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace pellucid {

/// Writes PATH.tmp through `write`, then renames it to PATH, so a failed write never leaves a half-written
/// file (the temporary is removed). Throws Error(IoError) naming PATH.
void writeFileAtomically(const std::string &path, const std::function<void(std::ostream &)> &write, bool binary = true);
void writeTextAtomically(const std::string &path, const std::string &text);
/// Renames an already written temporary to PATH (removing the temporary on failure); throws Error(IoError).
void commitTemporary(const std::string &tmp, const std::string &path);

/// Ceilings on what readers load whole (README, Notes and known limits).
constexpr uint64_t kMaxTextFileBytes = uint64_t(256) << 20;   // sessions, CSV, vocabularies, JSON, corpora
constexpr uint64_t kMaxNpyBytes = uint64_t(4) << 30;          // an .npy file's data

/// Checks `path` before it is opened: it must exist and be a regular file (a FIFO would block forever, a
/// device such as /dev/zero never ends, a folder is not a file) of at most maxBytes bytes. Throws
/// Error(FileNotFound) or Error(BadInput) naming `what` (e.g. "--input" or "the model") and the path.
/// Returns the file's size.
uint64_t checkInputFile(const std::string &path, uint64_t maxBytes, const std::string &what = "");

/// The whole file as text; false when it cannot be opened. Throws Error (checkInputFile) for a FIFO, a
/// device or a file over maxBytes.
bool readTextFile(const std::string &path, std::string &text, uint64_t maxBytes = kMaxTextFileBytes);

/// "a,b,,c" → {"a", "b", "c"}: the non-empty pieces between separators.
std::vector<std::string> splitList(const std::string &s, char separator = ',');
/// A whole decimal number, optionally signed, that fits int64 (no spaces, no other characters); false otherwise.
bool parseInteger(const std::string &s, int64_t &out);

/// Where the demo models, samples and example sessions are — one lookup for the app, the CLI and the bench:
/// $PELLUCID_RESOURCES, else the installed share/pellucid beside the running program (/usr/share/pellucid for
/// /usr/bin/pellucid), else the source tree's resources/.
std::string resourcesPath();

/// The memory the kernel reports available (/proc/meminfo's MemAvailable) in bytes; 4 GiB where it cannot be
/// read. The runner's default memory budget and the CPU block list's cap are fractions of it.
int64_t availableMemoryBytes();

}   // namespace pellucid
