#pragma once
// A TorchScript archive checked before LibTorch reads it (no torch here): LibTorch trusts the archive — a
// tensor whose record is shorter than its storage is read past the record's end (garbage weights or a
// crash inside the loader). The zip's central directory gives every record's size; the pickles
// (data.pkl, constants.pkl) are walked opcode by opcode for their storage references ('storage', type, key,
// location, numel), and each must have a record of at least numel × the type's size.
#include <cstdint>
#include <map>
#include <string>

namespace pellucid {

struct ArchiveCheck {
    std::map<std::string, uint64_t> records;   // name → uncompressed size
    int storages = 0;                          // storage references checked
    bool pickleUnderstood = true;              // false: a pickle used an opcode the walk does not follow
    uint64_t fingerprint = 0;                  // of the zip directory and every non-tensor record's bytes
};

/// Throws Error(NotTorchScript) for a file too short for a zip archive, Error(CorruptArchive) naming the record for
/// a missing or short tensor record or a zip directory that points outside the file.
ArchiveCheck checkTorchScriptArchive(const std::string &path);

}   // namespace pellucid
