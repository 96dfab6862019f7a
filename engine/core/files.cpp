#include "engine/core/files.h"

#include <cstdlib>

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

namespace {

std::string sizeText(uint64_t bytes)
{
    if (bytes >= (uint64_t(1) << 30) && bytes % (uint64_t(1) << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
    if (bytes >= (uint64_t(1) << 20)) return std::to_string(bytes >> 20) + " MiB";
    return std::to_string(bytes) + " bytes";
}

}   // namespace

uint64_t checkInputFile(const std::string &path, uint64_t maxBytes, const std::string &what)
{
    namespace fs = std::filesystem;
    const std::string name = (what.empty() ? std::string() : what + " ") + path;
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) throw Error(ErrorCode::FileNotFound, name + ": file not found");
    if (fs::is_directory(st)) throw Error(ErrorCode::BadInput, name + " is a folder, not a file");
    if (!fs::is_regular_file(st))
        throw Error(ErrorCode::BadInput, name + " is not a regular file (a pipe, socket or device is not read: it could block or never end)");
    const uint64_t size = fs::file_size(path, ec);
    if (ec) throw Error(ErrorCode::BadInput, name + ": cannot read its size (" + ec.message() + ")");
    if (size > maxBytes)
        throw Error(ErrorCode::BadInput, name + " is " + sizeText(size) + ", over the " + sizeText(maxBytes) + " this reader accepts");
    return size;
}

bool readTextFile(const std::string &path, std::string &text, uint64_t maxBytes)
{
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return false;
    checkInputFile(path, maxBytes);
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

bool parseInteger(const std::string &s, int64_t &out)
{
    size_t p = s.empty() || (s[0] != '-' && s[0] != '+') ? 0 : 1;
    if (p >= s.size() || s.size() - p > 18) return false;   // 18 digits always fit
    int64_t v = 0;
    for (; p < s.size(); ++p) {
        if (s[p] < '0' || s[p] > '9') return false;
        v = v * 10 + (s[p] - '0');
    }
    out = s[0] == '-' ? -v : v;
    return true;
}

std::string resourcesPath()
{
    if (const char *env = std::getenv("PELLUCID_RESOURCES"); env && *env) return env;
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const std::filesystem::path installed = exe.parent_path() / ".." / "share" / "pellucid";
        if (std::filesystem::is_directory(installed / "models", ec)) return std::filesystem::weakly_canonical(installed, ec).string();
    }
    return PELLUCID_SOURCE_RESOURCES;
}

int64_t availableMemoryBytes()
{
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    int64_t kb = 0;
    while (in >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb * 1024;
    return int64_t(4) << 30;
}

}   // namespace pellucid
