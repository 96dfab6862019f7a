#pragma once
// Writes an .npy file byte by byte from a given header dict and data (for tests of the reader's refusals:
// headers NumPy would never write). The header is padded as NumPy pads it; major 1 has a 2-byte length,
// others a 4-byte one. Returns the path.
#include <cstdint>
#include <fstream>
#include <string>

namespace testkit {

inline std::string writeRawNpy(const std::string &path, const std::string &header, const std::string &data, int major = 1)
{
    std::string h = header;
    const size_t prefix = major == 1 ? 10 : 12;
    h.append((64 - (prefix + h.size() + 1) % 64) % 64, ' ');
    h += '\n';
    std::ofstream f(path, std::ios::binary);
    f.write("\x93NUMPY", 6);
    f.put(char(major));
    f.put(0);
    const uint32_t n = uint32_t(h.size());
    f.put(char(n & 0xff));
    f.put(char((n >> 8) & 0xff));
    if (major != 1) {
        f.put(char((n >> 16) & 0xff));
        f.put(char(n >> 24));
    }
    f << h << data;
    return path;
}

}   // namespace testkit
