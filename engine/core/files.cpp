#include "engine/core/files.h"

#include "engine/core/errors.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace pellucid {

void commitTemporary(const std::string &tmp, const std::string &path)
{
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw Error(ErrorCode::IoError, "Cannot write " + path + ": " + ec.message());
    }
}

void writeFileAtomically(const std::string &path, const std::function<void(std::ostream &)> &write, bool binary)
{
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
        if (!out) throw Error(ErrorCode::IoError, "Cannot write " + path + " (is the folder there and writable?)");
        try {
            write(out);
        } catch (...) {
            out.close();
            std::remove(tmp.c_str());
            throw;
        }
        out.flush();
        if (!out) {
            out.close();
            std::remove(tmp.c_str());
            throw Error(ErrorCode::IoError, "Failed while writing " + path);
        }
    }
    commitTemporary(tmp, path);
}

void writeTextAtomically(const std::string &path, const std::string &text)
{
    writeFileAtomically(
        path, [&](std::ostream &out) { out << text; }, false);
}

bool readTextFile(const std::string &path, std::string &text)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

std::vector<std::string> splitList(const std::string &s, char separator)
{
    std::vector<std::string> out;
    std::string part;
    for (char c : s) {
        if (c == separator) {
            if (!part.empty()) out.push_back(part);
            part.clear();
        } else {
            part += c;
        }
    }
    if (!part.empty()) out.push_back(part);
    return out;
}

}   // namespace pellucid
