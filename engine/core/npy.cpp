#include "engine/core/npy.h"

#include "engine/core/files.h"

#include <cmath>

#include "engine/core/errors.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace pellucid {
namespace {

std::string headerField(const std::string &header, const std::string &key)
{
    const auto k = header.find("'" + key + "'");
    if (k == std::string::npos) return {};
    auto p = header.find(':', k);
    if (p == std::string::npos) return {};
    ++p;
    while (p < header.size() && header[p] == ' ') ++p;
    if (header[p] == '(') {
        const auto e = header.find(')', p);
        return header.substr(p, e - p + 1);
    }
    if (header[p] == '\'') {
        const auto e = header.find('\'', p + 1);
        return header.substr(p + 1, e - p - 1);
    }
    const auto e = header.find_first_of(",}", p);
    return header.substr(p, e - p);
}

template <typename T>
void convert(const char *raw, size_t n, std::vector<float> &out, bool swap)
{
    for (size_t i = 0; i < n; ++i) {
        T v;
        char bytes[sizeof(T)];
        std::memcpy(bytes, raw + i * sizeof(T), sizeof(T));
        if (swap)
            for (size_t b = 0; b < sizeof(T) / 2; ++b) std::swap(bytes[b], bytes[sizeof(T) - 1 - b]);
        std::memcpy(&v, bytes, sizeof(T));
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

}   // namespace

TensorValue readNpy(const std::string &path)
{
    if (!std::filesystem::exists(path)) throw Error(ErrorCode::FileNotFound, "Input file not found: " + path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::FileNotFound, "Cannot open " + path);
    char magic[6];
    in.read(magic, 6);
    if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw Error(ErrorCode::BadInput, path + " is not a .npy file (missing the \\x93NUMPY magic)");
    unsigned char ver[2];
    in.read(reinterpret_cast<char *>(ver), 2);
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
    std::string header(headerLen, '\0');
    in.read(header.data(), headerLen);
    if (!in) throw Error(ErrorCode::BadInput, path + ": truncated .npy header");

    const std::string descr = headerField(header, "descr");
    const bool fortran = headerField(header, "fortran_order").find("True") != std::string::npos;
    const std::string shapeText = headerField(header, "shape");
    Shape shape;
    {
        std::string digits;
        for (char c : shapeText) {
            if (std::isdigit((unsigned char)c))
                digits += c;
            else if (!digits.empty()) {
                shape.push_back(std::stoll(digits));
                digits.clear();
            }
        }
    }
    if (descr.size() < 3) throw Error(ErrorCode::BadInput, path + ": unreadable dtype '" + descr + "'");
    const char endian = descr[0];
    const char kind = descr[1];
    const int size = std::stoi(descr.substr(2));
    const bool swap = endian == '>';
    const size_t n = size_t(shapeNumel(shape));
    std::vector<char> raw(n * size_t(size));
    in.read(raw.data(), std::streamsize(raw.size()));
    if (size_t(in.gcount()) != raw.size())
        throw Error(ErrorCode::BadInput,
                    path + ": truncated data (expected " + std::to_string(raw.size()) + " bytes for shape " + shapeToString(shape) + ")");
    std::vector<float> values(n);
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
        convert<int64_t>(raw.data(), n, values, swap);
    else if (kind == 'i' && size == 4)
        convert<int32_t>(raw.data(), n, values, swap);
    else if (kind == 'i' && size == 2)
        convert<int16_t>(raw.data(), n, values, swap);
    else if (kind == 'i' && size == 1)
        convert<int8_t>(raw.data(), n, values, swap);
    else if (kind == 'u' && size == 1)
        convert<uint8_t>(raw.data(), n, values, swap);
    else if (kind == 'u' && size == 2)
        convert<uint16_t>(raw.data(), n, values, swap);
    else if (kind == 'u' && size == 4)
        convert<uint32_t>(raw.data(), n, values, swap);
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
    if (kind == 'i' || kind == 'u')
        for (size_t i = 0; i < n; ++i)
            if (std::fabs(values[i]) > 16777216.0f)
                throw Error(ErrorCode::BadInput,
                            path + ": " + dtype + " value " + std::to_string(int64_t(values[i]))
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
