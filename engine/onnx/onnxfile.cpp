#include "engine/onnx/onnxfile.h"

#include "engine/core/errors.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace pellucid {
namespace {

// The protocol-buffer wire format: a key varint (field << 3 | wire type), then a varint (0), 8 bytes (1),
// a length-prefixed run (2) or 4 bytes (5). Groups (3, 4) are not used by ONNX and are refused.
class Reader {
public:
    Reader(const char *p, size_t n, const std::string &path) : p(reinterpret_cast<const unsigned char *>(p)), end(this->p + n), path(&path) { }

    bool done() const { return p >= end; }

    [[noreturn]] void fail(const std::string &what) const { throw Error(ErrorCode::BadInput, *path + ": not a valid ONNX file (" + what + ")"); }

    uint64_t varint()
    {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p >= end) fail("a number runs past the end");
            const unsigned char b = *p++;
            v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        fail("a number longer than ten bytes");
    }

    /// The next field: its number and wire type; for length-delimited fields `sub` is its bytes.
    bool next(uint32_t &field, int &wire, Reader &sub, uint64_t &value)
    {
        if (done()) return false;
        const uint64_t key = varint();
        field = uint32_t(key >> 3);
        wire = int(key & 7);
        if (field == 0) fail("field number 0");
        switch (wire) {
        case 0: value = varint(); break;
        case 1:
            if (size_t(end - p) < 8) fail("a fixed64 runs past the end");
            p += 8;
            break;
        case 5:
            if (size_t(end - p) < 4) fail("a fixed32 runs past the end");
            p += 4;
            break;
        case 2: {
            const uint64_t n = varint();
            if (n > uint64_t(end - p)) fail("a length-delimited field of " + std::to_string(n) + " bytes runs past the end");
            sub = Reader(reinterpret_cast<const char *>(p), size_t(n), *path);
            p += n;
            break;
        }
        default: fail("wire type " + std::to_string(wire));
        }
        return true;
    }

    std::string str() const { return std::string(reinterpret_cast<const char *>(p), size_t(end - p)); }

private:
    const unsigned char *p, *end;
    const std::string *path;
};

constexpr size_t kMaxNodes = 1000000;

void readShape(Reader r, Shape &shape)
{
    uint32_t f;
    int w;
    Reader sub = r;
    uint64_t v = 0;
    while (r.next(f, w, sub, v)) {
        if (f != 1 || w != 2) continue;   // dim
        int64_t dim = -1;
        uint32_t f2;
        int w2;
        Reader s2 = sub;
        uint64_t v2 = 0;
        while (sub.next(f2, w2, s2, v2))
            if (f2 == 1 && w2 == 0) dim = int64_t(v2) > 0 ? int64_t(v2) : -1;   // dim_value; dim_param stays -1
        if (shape.size() > 64) r.fail("an input of more than 64 dimensions");
        shape.push_back(dim);
    }
}

void readValueInfo(Reader r, std::string &name, Shape &shape, bool &hasShape)
{
    uint32_t f;
    int w;
    Reader sub = r;
    uint64_t v = 0;
    while (r.next(f, w, sub, v)) {
        if (f == 1 && w == 2) name = sub.str();
        if (f != 2 || w != 2) continue;   // type
        uint32_t f2;
        int w2;
        Reader t = sub;
        uint64_t v2 = 0;
        while (sub.next(f2, w2, t, v2)) {
            if (f2 != 1 || w2 != 2) continue;   // tensor_type
            uint32_t f3;
            int w3;
            Reader s = t;
            uint64_t v3 = 0;
            while (t.next(f3, w3, s, v3))
                if (f3 == 2 && w3 == 2) {   // shape
                    hasShape = true;
                    readShape(s, shape);
                }
        }
    }
}

void readGraph(Reader r, OnnxFileInfo &info)
{
    uint32_t f;
    int w;
    Reader sub = r;
    uint64_t v = 0;
    std::set<std::string> initializers;
    std::vector<std::pair<std::string, Shape>> inputs;
    while (r.next(f, w, sub, v)) {
        if (w != 2) continue;
        if (f == 1) {   // node
            OnnxFileInfo::Node node;
            uint32_t f2;
            int w2;
            Reader s = sub;
            uint64_t v2 = 0;
            bool firstOutput = true;
            while (sub.next(f2, w2, s, v2)) {
                if (w2 != 2) continue;
                if (f2 == 2 && firstOutput) {
                    node.output = s.str();
                    firstOutput = false;
                } else if (f2 == 3) {
                    node.name = s.str();
                } else if (f2 == 4) {
                    node.op = s.str();
                } else if (f2 == 7) {
                    node.domain = s.str();
                }
            }
            if (info.nodes.size() >= kMaxNodes) r.fail("more than a million nodes");
            info.nodes.push_back(std::move(node));
        } else if (f == 5) {   // initializer (TensorProto: dims 1, packed or not; name 8)
            std::string name;
            std::vector<uint64_t> dims;
            uint32_t f2;
            int w2;
            Reader s = sub;
            uint64_t v2 = 0;
            while (sub.next(f2, w2, s, v2)) {
                if (f2 == 1 && w2 == 0) {
                    dims.push_back(v2);
                } else if (f2 == 1 && w2 == 2) {   // packed
                    Reader packed = s;
                    while (!packed.done()) dims.push_back(packed.varint());
                } else if (f2 == 8 && w2 == 2) {
                    name = s.str();
                }
            }
            int64_t numel = 1;
            // Saturated at 2^50: a hostile file's dims must not overflow the count (a fuzzed input did).
            constexpr int64_t kCap = int64_t(1) << 50;
            for (uint64_t d : dims) {
                int64_t next = 0;
                numel = d > uint64_t(kCap) || __builtin_mul_overflow(numel, int64_t(d), &next) ? kCap : std::min(next, kCap);
            }
            info.initializerValues = std::min(info.initializerValues + numel, int64_t(1) << 60);
            initializers.insert(name);
        } else if (f == 11 || f == 12) {   // input, output
            std::string name;
            Shape shape;
            bool hasShape = false;
            readValueInfo(sub, name, shape, hasShape);
            if (f == 12)
                info.outputs.push_back(name);
            else
                inputs.emplace_back(name, hasShape ? shape : Shape{});
        }
    }
    // Older exporters list the weights among the inputs too.
    for (auto &in : inputs)
        if (!initializers.count(in.first)) {
            info.inputs.push_back(in.first);
            info.inputShapes.push_back(in.second);
        }
}

}   // namespace

OnnxFileInfo parseOnnxFile(const std::string &bytes, const std::string &path)
{
    OnnxFileInfo info;
    Reader r(bytes.data(), bytes.size(), path);
    if (bytes.empty()) r.fail("the file is empty");
    uint32_t f;
    int w;
    Reader sub = r;
    uint64_t v = 0;
    bool graph = false;
    while (r.next(f, w, sub, v)) {
        if (f == 1 && w == 0) {
            info.irVersion = int64_t(v);
        } else if (f == 2 && w == 2) {
            info.producer = sub.str() + (info.producer.empty() ? "" : " " + info.producer);
        } else if (f == 3 && w == 2) {
            info.producer += (info.producer.empty() ? "" : " ") + sub.str();
        } else if (f == 7 && w == 2) {
            if (graph) r.fail("two graphs");
            graph = true;
            readGraph(sub, info);
        } else if (f == 8 && w == 2) {   // opset_import: domain 1, version 2
            std::string domain;
            int64_t version = 0;
            uint32_t f2;
            int w2;
            Reader s = sub;
            uint64_t v2 = 0;
            while (sub.next(f2, w2, s, v2)) {
                if (f2 == 1 && w2 == 2) domain = s.str();
                if (f2 == 2 && w2 == 0) version = int64_t(v2);
            }
            info.opsets.emplace_back(domain, version);
        } else if (f == 14 && w == 2) {   // metadata_props: key 1, value 2
            std::string key, value;
            uint32_t f2;
            int w2;
            Reader s = sub;
            uint64_t v2 = 0;
            while (sub.next(f2, w2, s, v2)) {
                if (f2 == 1 && w2 == 2) key = s.str();
                if (f2 == 2 && w2 == 2) value = s.str();
            }
            info.metadata[key] = value;
        }
    }
    if (!graph) r.fail("no graph");
    if (info.irVersion <= 0 || info.irVersion > 100) r.fail("IR version " + std::to_string(info.irVersion));
    if (info.nodes.empty()) r.fail("the graph has no nodes");
    if (info.inputs.empty()) r.fail("the graph has no input");
    return info;
}

}   // namespace pellucid
