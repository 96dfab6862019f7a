#include "engine/runtime/archive.h"

#include "engine/core/errors.h"

#include <algorithm>
#ifdef PELLUCID_HAVE_ZLIB
#include <zlib.h>
#endif
#include <fstream>
#include <memory>
#include <vector>

namespace pellucid {
namespace {

uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

struct Entry {
    uint64_t size = 0, compressed = 0, offset = 0;
    int method = 0;
};

class File {
public:
    File(const std::string &path) : mPath(path), mIn(path, std::ios::binary)
    {
        if (!mIn) throw Error(ErrorCode::FileNotFound, "Cannot open " + path);
        mIn.seekg(0, std::ios::end);
        mSize = uint64_t(mIn.tellg());
    }
    uint64_t size() const { return mSize; }
    std::vector<unsigned char> read(uint64_t at, uint64_t n)
    {
        if (at > mSize || n > mSize - at)
            throw Error(ErrorCode::CorruptArchive, mPath + ": the zip directory points outside the file (a truncated or corrupt archive)");
        std::vector<unsigned char> b(static_cast<size_t>(n));
        mIn.seekg(std::streamoff(at));
        mIn.read(reinterpret_cast<char *>(b.data()), std::streamsize(n));
        if (uint64_t(mIn.gcount()) != n) throw Error(ErrorCode::CorruptArchive, mPath + ": cannot read the archive");
        return b;
    }

private:
    std::string mPath;
    std::ifstream mIn;
    uint64_t mSize = 0;
};

/// FNV-1a 64 of `n` bytes, continuing from `h` (the archive's fingerprint).
uint64_t fnv1a(const unsigned char *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/// The central directory: name → entry (sizes from the zip64 extra field where the 32-bit ones overflow); its
/// bytes are folded into `hash`.
std::map<std::string, Entry> centralDirectory(File &f, const std::string &path, uint64_t &hash)
{
    const uint64_t tail = std::min<uint64_t>(f.size(), 65557);
    if (tail < 22) throw Error(ErrorCode::NotTorchScript, path + " is not a TorchScript archive (too short for a zip file)");
    const std::vector<unsigned char> t = f.read(f.size() - tail, tail);
    int64_t eocd = -1;
    for (int64_t i = int64_t(tail) - 22; i >= 0; --i)
        if (le(&t[size_t(i)], 4) == 0x06054b50) {
            eocd = i;
            break;
        }
    if (eocd < 0) throw Error(ErrorCode::CorruptArchive, path + " is a truncated or corrupt TorchScript archive (its zip directory is missing)");
    const unsigned char *e = &t[size_t(eocd)];
    uint64_t entries = le(e + 10, 2), cdSize = le(e + 12, 4), cdOffset = le(e + 16, 4);
    if (entries == 0xffff || cdSize == 0xffffffff || cdOffset == 0xffffffff) {
        // Zip64: the locator just before the end record gives the zip64 end record.
        if (eocd < 20 || le(&t[size_t(eocd - 20)], 4) != 0x07064b50)
            throw Error(ErrorCode::CorruptArchive, path + ": a zip64 archive without its locator");
        const uint64_t at = le(&t[size_t(eocd - 20) + 8], 8);
        const std::vector<unsigned char> z = f.read(at, 56);
        if (le(z.data(), 4) != 0x06064b50) throw Error(ErrorCode::CorruptArchive, path + ": a corrupt zip64 end record");
        entries = le(z.data() + 32, 8);
        cdSize = le(z.data() + 40, 8);
        cdOffset = le(z.data() + 48, 8);
    }
    if (cdSize > (uint64_t(256) << 20)) throw Error(ErrorCode::CorruptArchive, path + ": a zip directory of " + std::to_string(cdSize) + " bytes");
    const std::vector<unsigned char> cd = f.read(cdOffset, cdSize);
    hash = fnv1a(cd.data(), cd.size(), hash);
    std::map<std::string, Entry> out;
    size_t p = 0;
    for (uint64_t k = 0; k < entries; ++k) {
        if (p + 46 > cd.size() || le(&cd[p], 4) != 0x02014b50) throw Error(ErrorCode::CorruptArchive, path + ": a corrupt zip directory");
        Entry en;
        en.method = int(le(&cd[p + 10], 2));
        en.compressed = le(&cd[p + 20], 4);
        en.size = le(&cd[p + 24], 4);
        const size_t nameLen = size_t(le(&cd[p + 28], 2)), extraLen = size_t(le(&cd[p + 30], 2)), commentLen = size_t(le(&cd[p + 32], 2));
        en.offset = le(&cd[p + 42], 4);
        if (p + 46 + nameLen + extraLen + commentLen > cd.size()) throw Error(ErrorCode::CorruptArchive, path + ": a corrupt zip directory");
        const std::string name(reinterpret_cast<const char *>(&cd[p + 46]), nameLen);
        // Zip64 extra field (id 1): the 64-bit values of the fields that are 0xffffffff, in this order.
        const size_t extraEnd = p + 46 + nameLen + extraLen;
        for (size_t x = p + 46 + nameLen; x + 4 <= extraEnd;) {
            const uint64_t id = le(&cd[x], 2), len = le(&cd[x + 2], 2);
            if (x + 4 + len > extraEnd)
                throw Error(ErrorCode::CorruptArchive, path + ": a corrupt zip directory (an extra field runs past its entry)");
            if (id == 1) {
                size_t q = x + 4;
                auto take = [&](uint64_t &field) {
                    if (field == 0xffffffff && q + 8 <= x + 4 + len) {
                        field = le(&cd[q], 8);
                        q += 8;
                    }
                };
                take(en.size);
                take(en.compressed);
                take(en.offset);
            }
            x += 4 + size_t(len);
        }
        if (!out.emplace(name, en).second)
            throw Error(ErrorCode::CorruptArchive, path + ": the record " + name + " appears twice in the zip directory");
        p += 46 + nameLen + extraLen + commentLen;
    }
    return out;
}

/// The bytes of a record: stored, or deflated (torch.jit.save compresses some debug pickles) when zlib is
/// there; the inflated bytes must be exactly the size the directory gives. `ok` false: a method this check
/// cannot read.
/// Where a record's stored bytes begin: after its local header (30 bytes, then its own name and extra field).
uint64_t storedStart(File &f, const std::string &path, const std::string &name, const Entry &en)
{
    const std::vector<unsigned char> h = f.read(en.offset, 30);
    if (le(h.data(), 4) != 0x04034b50) throw Error(ErrorCode::CorruptArchive, path + ": the record " + name + " has no local header");
    const uint64_t start = en.offset + 30 + le(h.data() + 26, 2) + le(h.data() + 28, 2);
    if (start > f.size() || en.compressed > f.size() - start)
        throw Error(ErrorCode::CorruptArchive, path + ": the record " + name + " lies outside the file (a truncated archive)");
    return start;
}

std::vector<unsigned char> recordBytes(File &f, const std::string &path, const std::string &name, const Entry &en, bool &ok)
{
    ok = true;
    const uint64_t start = storedStart(f, path, name, en);
    if (en.method == 0) return f.read(start, en.size);
#ifdef PELLUCID_HAVE_ZLIB
    if (en.method == 8) {
        const std::vector<unsigned char> packed = f.read(start, en.compressed);
        std::vector<unsigned char> out(size_t(en.size) + 1);   // one more: a stream longer than declared shows
        z_stream z{};
        if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error(ErrorCode::Internal, "zlib could not start");
        z.next_in = const_cast<unsigned char *>(packed.data());
        z.avail_in = uInt(packed.size());
        z.next_out = out.data();
        z.avail_out = uInt(out.size());
        const int rc = inflate(&z, Z_FINISH);
        const uint64_t produced = z.total_out;
        inflateEnd(&z);
        if (rc != Z_STREAM_END || produced != en.size)
            throw Error(ErrorCode::CorruptArchive,
                        path + ": the compressed record " + name + " does not inflate to the " + std::to_string(en.size)
                            + " bytes its directory entry gives");
        out.resize(size_t(en.size));
        return out;
    }
#endif
    ok = false;
    return {};
}

// ---- A walk over a pickle's opcodes: just enough values to see the storage references.

struct Value {
    enum Kind { Other, Mark, Int, Str, Global, Tuple } kind = Other;
    int64_t i = 0;
    std::string s, s2;
    std::vector<std::shared_ptr<Value>> items;
};
using V = std::shared_ptr<Value>;

struct StorageRef {
    std::string type, key;
    int64_t numel = 0;
};

/// What a walk over a pickle found: its STOP; an opcode this walk does not follow (then nothing is concluded:
/// LibTorch decides); or a pickle that cannot be read — an argument or a length running past the record's end,
/// a stack or memo reference to nothing, no STOP — which LibTorch's unpickler must not see (it reserves what a
/// length says before reading: a few bytes claim gigabytes).
enum class Walk { Stop, Unknown, Corrupt };

Walk walkPickle(const std::vector<unsigned char> &b, std::vector<StorageRef> &refs)
{
    std::vector<V> stack;
    std::map<uint64_t, V> memo;
    size_t p = 0;
    auto make = [](Value::Kind k) {
        auto v = std::make_shared<Value>();
        v->kind = k;
        return v;
    };
    auto need = [&](uint64_t n) { return p <= b.size() && n <= b.size() - p; };
    auto pop = [&]() -> V {
        if (stack.empty()) return nullptr;
        V v = stack.back();
        stack.pop_back();
        return v;
    };
    // Items are kept only for short flat tuples (a storage reference is 5 scalars): no deep chains of
    // values, no quadratic copying for long lists.
    auto keep = [](const V &v) {
        if (v->kind != Value::Tuple) return;
        bool flat = v->items.size() <= 8;
        for (const V &x : v->items) flat = flat && x->kind != Value::Tuple && x->kind != Value::Mark;
        if (!flat) {
            v->kind = Value::Other;
            v->items.clear();
        }
    };
    // Pops through the last mark: the number of values above it (−1: no mark), moved into items when at most
    // 8 (longer runs cannot be a storage reference and are dropped).
    auto popToMark = [&](std::vector<V> &items) -> int64_t {
        size_t m = stack.size();
        while (m > 0 && stack[m - 1]->kind != Value::Mark) --m;
        if (m == 0) return -1;
        const int64_t n = int64_t(stack.size() - m);
        if (n <= 8) items.assign(stack.begin() + long(m), stack.end());
        stack.resize(m - 1);
        return n;
    };
    auto line = [&](std::string &out) {
        const size_t e = p;
        while (p < b.size() && b[p] != '\n') ++p;
        if (p >= b.size()) return false;
        out.assign(reinterpret_cast<const char *>(&b[e]), p - e);
        ++p;
        return true;
    };
    auto str = [&](uint64_t n) -> V {
        if (!need(size_t(n))) return nullptr;
        V v = make(Value::Str);
        v->s.assign(reinterpret_cast<const char *>(&b[p]), size_t(n));
        p += size_t(n);
        return v;
    };
    while (p < b.size()) {
        const unsigned char op = b[p++];
        switch (op) {
        case 0x80:   // PROTO
            if (!need(1)) return Walk::Corrupt;
            ++p;
            break;
        case 0x95:   // FRAME
            if (!need(8)) return Walk::Corrupt;
            p += 8;
            break;
        case '.': return Walk::Stop;
        case '(': stack.push_back(make(Value::Mark)); break;
        case 'J':
        case 'K':
        case 'M': {
            const size_t n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
            if (!need(n)) return Walk::Corrupt;
            V v = make(Value::Int);
            v->i = op == 'J' ? int64_t(int32_t(le(&b[p], 4))) : int64_t(le(&b[p], int(n)));
            p += n;
            stack.push_back(v);
            break;
        }
        case 0x8a: {   // LONG1
            if (!need(1)) return Walk::Corrupt;
            const size_t n = b[p++];
            if (!need(n) || n > 8) return Walk::Corrupt;
            V v = make(Value::Int);
            v->i = int64_t(le(&b[p], int(n)));
            if (n > 0 && n < 8 && (b[p + n - 1] & 0x80)) v->i -= int64_t(1) << (8 * n);
            p += n;
            stack.push_back(v);
            break;
        }
        case 'N':
        case 0x88:
        case 0x89:
        case ']':
        case '}':
        case ')':
        case 0x8f: stack.push_back(make(Value::Other)); break;
        case 'X':
        case 0x8c:
        case 0x8d:
        case 'T':
        case 'U': {
            const size_t n = op == 'X' || op == 'T' ? 4 : op == 0x8d ? 8 : 1;
            if (!need(n)) return Walk::Corrupt;
            const uint64_t len = le(&b[p], int(n));
            p += n;
            V v = str(len);
            if (!v) return Walk::Corrupt;
            stack.push_back(v);
            break;
        }
        case 'B':
        case 'C':
        case 0x8e: {
            const size_t n = op == 'B' ? 4 : op == 'C' ? 1 : 8;
            if (!need(n)) return Walk::Corrupt;
            const uint64_t len = le(&b[p], int(n));
            p += n;
            if (!need(size_t(len))) return Walk::Corrupt;
            p += size_t(len);
            stack.push_back(make(Value::Other));
            break;
        }
        case 'G':
            if (!need(8)) return Walk::Corrupt;
            p += 8;
            stack.push_back(make(Value::Other));
            break;
        case 'c': {   // GLOBAL module\nname\n
            V v = make(Value::Global);
            if (!line(v->s) || !line(v->s2)) return Walk::Corrupt;
            stack.push_back(v);
            break;
        }
        case 0x93: {   // STACK_GLOBAL
            V name = pop(), module = pop();
            if (!name || !module) return Walk::Corrupt;
            V v = make(Value::Global);
            v->s = module->s;
            v->s2 = name->s;
            stack.push_back(v);
            break;
        }
        case 't':
        case 'l':
        case 'd': {
            V v = make(op == 't' ? Value::Tuple : Value::Other);
            const int64_t n = popToMark(v->items);
            if (n < 0) return Walk::Corrupt;
            if (op != 't' || n > 8) {
                v->kind = Value::Other;
                v->items.clear();
            }
            keep(v);
            stack.push_back(v);
            break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {
            V v = make(Value::Tuple);
            for (int k = 0; k < op - 0x84; ++k) {
                V x = pop();
                if (!x) return Walk::Corrupt;
                v->items.insert(v->items.begin(), x);
            }
            keep(v);
            stack.push_back(v);
            break;
        }
        case 'a':
            if (!pop()) return Walk::Corrupt;
            break;
        case 's':
            if (!pop() || !pop()) return Walk::Corrupt;
            break;
        case 'e':
        case 'u':
        case 0x90: {
            std::vector<V> items;
            if (popToMark(items) < 0) return Walk::Corrupt;
            break;
        }
        case 'q':
        case 'r': {
            const size_t n = op == 'q' ? 1 : 4;
            if (!need(n) || stack.empty()) return Walk::Corrupt;
            memo[le(&b[p], int(n))] = stack.back();
            p += n;
            break;
        }
        case 0x94:
            if (stack.empty()) return Walk::Corrupt;
            memo[memo.size()] = stack.back();
            break;
        case 'h':
        case 'j': {
            const size_t n = op == 'h' ? 1 : 4;
            if (!need(n)) return Walk::Corrupt;
            const auto it = memo.find(le(&b[p], int(n)));
            p += n;
            if (it == memo.end()) return Walk::Corrupt;
            stack.push_back(it->second);
            break;
        }
        case 'Q': {   // BINPERSID
            V id = pop();
            if (!id) return Walk::Corrupt;
            if (id->kind == Value::Tuple && id->items.size() >= 5 && id->items[0]->kind == Value::Str && id->items[0]->s == "storage"
                && id->items[1]->kind == Value::Global && id->items[2]->kind == Value::Str && id->items[4]->kind == Value::Int
                && !(id->items[3]->kind == Value::Str && id->items[3]->s == "meta"))   // meta tensors have no data
                refs.push_back({id->items[1]->s2, id->items[2]->s, id->items[4]->i});
            stack.push_back(make(Value::Other));
            break;
        }
        case 'R':
            if (!pop() || !pop()) return Walk::Corrupt;
            stack.push_back(make(Value::Other));
            break;
        case 'b':
            if (!pop()) return Walk::Corrupt;
            break;
        case 0x81:
            if (!pop() || !pop()) return Walk::Corrupt;
            stack.push_back(make(Value::Other));
            break;
        case 0x92:
            if (!pop() || !pop() || !pop()) return Walk::Corrupt;
            stack.push_back(make(Value::Other));
            break;
        case '0':
            if (!pop()) return Walk::Corrupt;
            break;
        case '1': {
            std::vector<V> items;
            if (popToMark(items) < 0) return Walk::Corrupt;
            break;
        }
        case '2':
            if (stack.empty()) return Walk::Corrupt;
            stack.push_back(stack.back());
            break;
        default: return Walk::Unknown;   // INST, OBJ, EXT*, text opcodes: not written by torch.jit.save
        }
    }
    return Walk::Corrupt;   // no STOP
}

int64_t elementSize(const std::string &storage)
{
    static const std::map<std::string, int64_t> sizes = {
        {"FloatStorage", 4},        {"DoubleStorage", 8},         {"HalfStorage", 2},  {"BFloat16Storage", 2}, {"LongStorage", 8},
        {"IntStorage", 4},          {"ShortStorage", 2},          {"CharStorage", 1},  {"ByteStorage", 1},     {"BoolStorage", 1},
        {"ComplexFloatStorage", 8}, {"ComplexDoubleStorage", 16}, {"QInt8Storage", 1}, {"QUInt8Storage", 1},   {"QInt32Storage", 4},
    };
    const auto it = sizes.find(storage);
    return it == sizes.end() ? 0 : it->second;
}

}   // namespace

ArchiveCheck checkTorchScriptArchive(const std::string &path)
{
    File f(path);
    ArchiveCheck out;
    uint64_t hash = 0xcbf29ce484222325ull;
    const std::map<std::string, Entry> dir = centralDirectory(f, path, hash);
    for (const auto &[name, en] : dir) {
        out.records[name] = en.size;
        if (en.method == 0 && en.compressed != en.size)
            throw Error(ErrorCode::CorruptArchive,
                        path + ": the record " + name + " claims " + std::to_string(en.size) + " bytes stored in " + std::to_string(en.compressed));
        if (en.method == 8 && en.size / 1032 > en.compressed + 1)   // deflate expands at most 1032:1
            throw Error(ErrorCode::CorruptArchive,
                        path + ": the compressed record " + name + " claims " + std::to_string(en.size) + " bytes from "
                            + std::to_string(en.compressed) + " (more than deflate can expand)");
        if (en.offset > f.size() || en.compressed > f.size() - std::min(f.size(), en.offset))
            throw Error(ErrorCode::CorruptArchive, path + ": the record " + name + " lies outside the file (a truncated archive)");
    }
    // Every pickle (ROOT/data.pkl, ROOT/constants.pkl, code/*.debug_pkl, …) must be readable to its end; the
    // storages of ROOT/data.pkl and ROOT/constants.pkl are checked against their tensor folder (ROOT/data/KEY).
    for (const auto &[name, en] : dir) {
        const bool pickle =
            name.size() > 4 && (name.compare(name.size() - 4, 4, ".pkl") == 0 || name.compare(name.size() - 10, 10, ".debug_pkl") == 0);
        if (!pickle || name.find("/extra/") != std::string::npos) continue;   // extra files are the user's bytes
        if (en.size > (uint64_t(512) << 20) || en.compressed > (uint64_t(512) << 20)) {
            out.pickleUnderstood = false;
            continue;
        }
        bool readable = true;
        const std::vector<unsigned char> bytes = recordBytes(f, path, name, en, readable);
        if (!readable) {
            out.pickleUnderstood = false;
            continue;
        }
        std::vector<StorageRef> refs;
        const Walk walk = walkPickle(bytes, refs);
        if (walk == Walk::Corrupt)
            throw Error(ErrorCode::CorruptArchive, path + ": the pickle " + name + " is corrupt (it runs past its record or refers to nothing)");
        if (walk == Walk::Unknown) {
            out.pickleUnderstood = false;
            continue;
        }
        // Storages: ROOT/data.pkl and ROOT/constants.pkl only (not a user's extra file of the same name deeper down).
        const size_t slash = name.find('/');
        if (slash == std::string::npos || name.find('/', slash + 1) != std::string::npos) continue;
        const std::string base = name.substr(slash + 1);
        if (base != "data.pkl" && base != "constants.pkl") continue;
        const std::string folder = name.substr(0, name.size() - 4) + "/";   // ROOT/data/ or ROOT/constants/
        for (const StorageRef &r : refs) {
            const int64_t item = elementSize(r.type);
            if (item == 0) continue;   // a storage type this check does not know: LibTorch decides
            if (r.numel < 0 || uint64_t(r.numel) > UINT64_MAX / uint64_t(item))
                throw Error(ErrorCode::CorruptArchive,
                            path + ": " + base + " gives the tensor " + r.key + " " + std::to_string(r.numel) + " elements");
            const auto it = dir.find(folder + r.key);
            if (it == dir.end()) {
                if (r.numel == 0) continue;   // an empty storage has no record
                throw Error(ErrorCode::CorruptArchive,
                            path + ": " + base + " refers to the tensor record " + folder + r.key + ", which the archive lacks");
            }
            const uint64_t needBytes = uint64_t(r.numel) * uint64_t(item);
            if (it->second.size < needBytes)
                throw Error(ErrorCode::CorruptArchive,
                            path + ": the tensor record " + folder + r.key + " holds " + std::to_string(it->second.size) + " bytes, its " + r.type
                                + " needs " + std::to_string(needBytes) + " (a truncated or corrupt model)");
            ++out.storages;
        }
    }
    // The fingerprint: the directory (every record's name, size and CRC-32) and the bytes of every record that
    // is not a tensor's (code, pickles, version, extra files), as stored, local header included.
    for (const auto &[name, en] : dir) {
        const size_t slash = name.find('/');
        if (slash != std::string::npos && (name.compare(slash, 6, "/data/") == 0 || name.compare(slash, 11, "/constants/") == 0)) continue;
        const uint64_t start = storedStart(f, path, name, en);
        const std::vector<unsigned char> bytes = f.read(en.offset, start - en.offset + en.compressed);
        hash = fnv1a(bytes.data(), bytes.size(), hash);
    }
    out.fingerprint = hash ^ (f.size() * 0x9e3779b97f4a7c15ull);
    return out;
}

}   // namespace pellucid
