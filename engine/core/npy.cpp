#include "engine/core/npy.h"

#include "engine/core/files.h"

#include <algorithm>
#include <cmath>

#include "engine/core/errors.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <type_traits>
#include <sstream>

namespace pellucid {
namespace {

/// Integers beyond ±2^24, which float32 cannot hold exactly, are reported through `beyond` (checked before
/// the conversion rounds them).
template <typename T>
void convert(const char *raw, size_t n, std::vector<float> &out, bool swap, bool *beyond = nullptr, int64_t *first = nullptr)
{
    for (size_t i = 0; i < n; ++i) {
        T v;
        char bytes[sizeof(T)];
        std::memcpy(bytes, raw + i * sizeof(T), sizeof(T));
        if (swap)
            for (size_t b = 0; b < sizeof(T) / 2; ++b) std::swap(bytes[b], bytes[sizeof(T) - 1 - b]);
        std::memcpy(&v, bytes, sizeof(T));
        if constexpr (std::is_integral_v<T> && sizeof(T) >= 4) {
            if (beyond && !*beyond && (double(v) > 16777216.0 || double(v) < -16777216.0)) {
                *beyond = true;
                *first = int64_t(v);
            }
        }
        out[i] = float(v);
    }
}

float halfToFloat(uint16_t h)
{
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0)
            bits = sign;
        else {
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3FF;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000 | (mant << 13);
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

/// The header's dict parsed strictly: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } — the three
/// keys once each, a shape of non-negative integers. Anything else is refused by name.
struct NpyHeader {
    std::string descr;
    bool fortran = false;
    Shape shape;
};

NpyHeader parseNpyHeader(const std::string &path, const std::string &h)
{
    auto bad = [&](const std::string &what) { return Error(ErrorCode::BadInput, path + ": malformed .npy header (" + what + ")"); };
    size_t p = 0;
    auto skip = [&] {
        while (p < h.size() && (h[p] == ' ' || h[p] == '\t' || h[p] == '\n' || h[p] == '\r')) ++p;
    };
    auto expect = [&](char c) {
        skip();
        if (p >= h.size() || h[p] != c) throw bad(std::string("expected '") + c + "'");
        ++p;
    };
    auto quoted = [&] {
        skip();
        if (p >= h.size() || (h[p] != '\'' && h[p] != '"')) throw bad("expected a quoted string");
        const char q = h[p++];
        const size_t e = h.find(q, p);
        if (e == std::string::npos) throw bad("unterminated string");
        std::string v = h.substr(p, e - p);
        p = e + 1;
        return v;
    };
    // The closing bracket c next (after blanks): consumed.
    auto closes = [&](char c) {
        skip();
        if (p >= h.size() || h[p] != c) return false;
        ++p;
        return true;
    };
    NpyHeader out;
    bool haveDescr = false, haveOrder = false, haveShape = false;
    expect('{');
    while (!closes('}')) {
        const std::string key = quoted();
        expect(':');
        skip();
        if (key == "descr" && !haveDescr) {
            out.descr = quoted();
            haveDescr = true;
        } else if (key == "fortran_order" && !haveOrder) {
            if (h.compare(p, 4, "True") == 0) {
                out.fortran = true;
                p += 4;
            } else if (h.compare(p, 5, "False") == 0) {
                p += 5;
            } else {
                throw bad("fortran_order must be True or False");
            }
            haveOrder = true;
        } else if (key == "shape" && !haveShape) {
            expect('(');
            while (!closes(')')) {
                const size_t start = p;
                while (p < h.size() && h[p] >= '0' && h[p] <= '9') ++p;
                if (p == start) throw bad("the shape holds '" + h.substr(start, 8) + "', not a non-negative integer");
                if (p - start > 15) throw bad("a dimension of the shape has more than 15 digits");
                out.shape.push_back(std::stoll(h.substr(start, p - start)));
                skip();
                if (p < h.size() && h[p] == ',') {
                    ++p;
                    continue;
                }
                skip();
                if (p >= h.size() || h[p] != ')') throw bad("the shape holds '" + h.substr(p, 8) + "' after a dimension");
            }
            haveShape = true;
        } else {
            throw bad(key == "descr" || key == "fortran_order" || key == "shape" ? "'" + key + "' given twice" : "unknown key '" + key + "'");
        }
        skip();
        if (p < h.size() && h[p] == ',')
            ++p;
        else if (p >= h.size() || h[p] != '}')
            throw bad("expected ',' or '}' after the value of '" + key + "'");
    }
    skip();
    if (p != h.size()) throw bad("text after the dict");
    if (!haveDescr || !haveOrder || !haveShape)
        throw bad(std::string("missing '") + (!haveDescr ? "descr" : !haveOrder ? "fortran_order" : "shape") + "'");
    return out;
}

/// Printable form of bytes read from a file, for messages: control and non-ASCII bytes as \xNN.
std::string printable(const std::string &s, size_t max = 40)
{
    std::string out;
    for (size_t i = 0; i < s.size() && i < max; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += char(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    if (s.size() > max) out += "…";
    return out;
}

}   // namespace

TensorValue readNpy(const std::string &path)
{
    // Regular files only, the data's size checked against the file before anything is allocated.
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw Error(ErrorCode::FileNotFound, "Input file not found: " + path);
    const uint64_t fileSize = checkInputFile(path, kMaxNpyBytes + (uint64_t(1) << 20));
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::FileNotFound, "Cannot open " + path);
    char magic[6];
    in.read(magic, 6);
    if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw Error(ErrorCode::BadInput, path + " is not a .npy file (missing the \\x93NUMPY magic)");
    unsigned char ver[2];
    in.read(reinterpret_cast<char *>(ver), 2);
    if (!in) throw Error(ErrorCode::BadInput, path + ": truncated .npy header");
    if (ver[0] < 1 || ver[0] > 3 || ver[1] != 0)
        throw Error(ErrorCode::BadInput,
                    path + ": unsupported .npy format version " + std::to_string(ver[0]) + "." + std::to_string(ver[1])
                        + " (NumPy writes 1.0, 2.0 and 3.0)");
    uint32_t headerLen = 0;
    if (ver[0] == 1) {
        unsigned char l[2];
        in.read(reinterpret_cast<char *>(l), 2);
        headerLen = l[0] | (l[1] << 8);
    } else {
        unsigned char l[4];
        in.read(reinterpret_cast<char *>(l), 4);
        headerLen = l[0] | (l[1] << 8) | (l[2] << 16) | (uint32_t(l[3]) << 24);
    }
    if (!in) throw Error(ErrorCode::BadInput, path + ": truncated .npy header");
    const uint64_t prefix = ver[0] == 1 ? 10 : 12;
    if (headerLen > (uint32_t(1) << 20) || prefix + headerLen > fileSize)
        throw Error(ErrorCode::BadInput,
                    path + ": the .npy header claims " + std::to_string(headerLen) + " bytes, but the file holds "
                        + std::to_string(fileSize - std::min(fileSize, prefix)) + " after its prefix");
    std::string header(headerLen, '\0');
    in.read(header.data(), headerLen);
    if (!in) throw Error(ErrorCode::BadInput, path + ": truncated .npy header");
    const NpyHeader hd = parseNpyHeader(path, header);
    const std::string &descr = hd.descr;
    const bool fortran = hd.fortran;
    const Shape &shape = hd.shape;
    static const std::set<std::string> kinds = {"f4", "f8", "f2", "i8", "i4", "i2", "i1", "u1", "u2", "u4", "b1"};
    if (descr.size() != 3 || (descr[0] != '<' && descr[0] != '>' && descr[0] != '|' && descr[0] != '=') || !kinds.count(descr.substr(1)))
        throw Error(ErrorCode::BadInput,
                    path + ": unsupported dtype '" + printable(descr) + "' (float16/32/64, int8/16/32/64, uint8/16/32 and bool are read)");
    const char kind = descr[1];
    const int size = descr[2] - '0';
    const bool swap = descr[0] == '>';
    // The element count, checked for overflow and against the bytes the file holds.
    uint64_t count = 1;
    for (int64_t d : shape)
        if (d > (int64_t(1) << 40)) throw Error(ErrorCode::BadInput, path + ": the shape " + shapeToString(shape) + " has a dimension over 2^40");
    const bool empty = std::find(shape.begin(), shape.end(), 0) != shape.end();
    for (int64_t d : shape) {
        if (empty) {
            count = 0;
            break;
        }
        if (count > (uint64_t(1) << 60) / uint64_t(d))   // ≤ 2^60 elements of ≤ 8 bytes: the byte count cannot wrap
            throw Error(ErrorCode::BadInput, path + ": the shape " + shapeToString(shape) + " has more elements than can be counted");
        count *= uint64_t(d);
    }
    const uint64_t need = count * uint64_t(size), have = fileSize - prefix - headerLen;
    if (need > kMaxNpyBytes)
        throw Error(ErrorCode::BadInput,
                    path + ": the shape " + shapeToString(shape) + " needs " + std::to_string(need) + " bytes, over the 4 GiB an .npy may hold here");
    if (need > have)
        throw Error(ErrorCode::BadInput,
                    path + ": truncated data (the shape " + shapeToString(shape) + " needs " + std::to_string(need) + " bytes, the file holds "
                        + std::to_string(have) + ")");
    const size_t n = size_t(count);
    std::vector<char> raw(n * size_t(size));
    in.read(raw.data(), std::streamsize(raw.size()));
    if (size_t(in.gcount()) != raw.size())
        throw Error(ErrorCode::BadInput,
                    path + ": truncated data (expected " + std::to_string(raw.size()) + " bytes for shape " + shapeToString(shape) + ")");
    std::vector<float> values(n);
    bool beyond = false;
    int64_t firstBeyond = 0;
    if (kind == 'f' && size == 4)
        convert<float>(raw.data(), n, values, swap);
    else if (kind == 'f' && size == 8)
        convert<double>(raw.data(), n, values, swap);
    else if (kind == 'f' && size == 2) {
        for (size_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, raw.data() + 2 * i, 2);
            if (swap) h = uint16_t((h >> 8) | (h << 8));
            values[i] = halfToFloat(h);
        }
    } else if (kind == 'i' && size == 8)
        convert<int64_t>(raw.data(), n, values, swap, &beyond, &firstBeyond);
    else if (kind == 'i' && size == 4)
        convert<int32_t>(raw.data(), n, values, swap, &beyond, &firstBeyond);
    else if (kind == 'i' && size == 2)
        convert<int16_t>(raw.data(), n, values, swap);
    else if (kind == 'i' && size == 1)
        convert<int8_t>(raw.data(), n, values, swap);
    else if (kind == 'u' && size == 1)
        convert<uint8_t>(raw.data(), n, values, swap);
    else if (kind == 'u' && size == 2)
        convert<uint16_t>(raw.data(), n, values, swap);
    else if (kind == 'u' && size == 4)
        convert<uint32_t>(raw.data(), n, values, swap, &beyond, &firstBeyond);
    else if (kind == 'b' && size == 1)
        convert<uint8_t>(raw.data(), n, values, swap);
    else
        throw Error(ErrorCode::BadInput, path + ": unsupported dtype '" + descr + "'");

    // The element type, kept as a tag: integers travel as float32, exactly up to ±2^24 (token ids, class
    // indices, masks); larger ones are refused rather than rounded.
    std::string dtype = "float32";
    if (kind == 'i')
        dtype = "int" + std::to_string(size * 8);
    else if (kind == 'u')
        dtype = "uint" + std::to_string(size * 8);
    else if (kind == 'b')
        dtype = "bool";
    else if (kind == 'f' && size != 4)
        dtype = "float" + std::to_string(size * 8);
    if (beyond)
        throw Error(ErrorCode::BadInput,
                    path + ": " + dtype + " value " + std::to_string(firstBeyond)
                        + " is beyond ±16,777,216, which Pellucid's float32 tensors cannot hold exactly");
    if (fortran && shape.size() > 1) {
        // Reorder column-major data into C order.
        std::vector<float> c(n);
        std::vector<int64_t> idx(shape.size(), 0);
        for (size_t f = 0; f < n; ++f) {
            size_t ci = 0;
            for (size_t d = 0; d < shape.size(); ++d) ci = ci * size_t(shape[d]) + size_t(idx[d]);
            c[ci] = values[f];
            for (size_t d = 0; d < shape.size(); ++d) {   // Fortran order: first index fastest
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
            }
        }
        values.swap(c);
    }
    return TensorValue(shape, std::move(values)).withDtype(dtype);
}

void writeNpy(const std::string &path, const TensorValue &t)
{
    // What is written must be what NumPy reads back: as many values as the shape holds.
    if (t.numel() != shapeNumel(t.shape()))
        throw Error(ErrorCode::BadInput,
                    "Nothing valid to write to " + path + ": " + std::to_string(t.numel()) + " values for the shape " + shapeToString(t.shape()));
    std::ostringstream h;
    h << "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (size_t i = 0; i < t.shape().size(); ++i) h << t.shape()[i] << (t.shape().size() == 1 ? "," : (i + 1 < t.shape().size() ? ", " : ""));
    h << "), }";
    std::string header = h.str();
    const size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';

    writeFileAtomically(path, [&](std::ostream &out) {
        out.write("\x93NUMPY\x01\x00", 8);
        const uint16_t len = uint16_t(header.size());
        const char l[2] = {char(len & 0xFF), char(len >> 8)};
        out.write(l, 2);
        out.write(header.data(), std::streamsize(header.size()));
        out.write(reinterpret_cast<const char *>(t.data()), std::streamsize(size_t(t.numel()) * 4));
    });
}

}   // namespace pellucid
