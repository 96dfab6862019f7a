#pragma once
// General file and string helpers (no torch): atomic writes and list splitting, one definition each.
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

/// The whole file as text; false when it cannot be opened.
bool readTextFile(const std::string &path, std::string &text);

/// "a,b,,c" → {"a", "b", "c"}: the non-empty pieces between separators.
std::vector<std::string> splitList(const std::string &s, char separator = ',');

}   // namespace pellucid
