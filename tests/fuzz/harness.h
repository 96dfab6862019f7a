#pragma once
// Shared by the libFuzzer harnesses (tests/fuzz/fuzz_<parser>.cpp): a private scratch folder the input is
// written to (every parser reads files, so each run also passes the input-file checks), and the rule every
// harness enforces: a parser either returns or throws a std::runtime_error carrying its one-line message
// (pellucid::Error, SessionError, the JSON reader's errors). Anything else — std::logic_error from stoi,
// std::bad_alloc, length_error, an unknown exception — aborts, so libFuzzer records the input as a crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <unistd.h>

namespace fuzz {

inline const std::string &scratch()
{
    // Never freed: the exit handler that removes the folder runs after static destructors would have.
    static const std::string *dir = [] {
        std::string t = (std::filesystem::temp_directory_path() / "pellucid-fuzz-XXXXXX").string();
        if (!mkdtemp(t.data())) {
            std::perror("mkdtemp");
            std::abort();
        }
        auto *d = new std::string(t);
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(*dir, ec);
        });
        return d;
    }();
    return *dir;
}

/// Writes `bytes` to <scratch>/<name> and returns the path.
inline std::string writeFile(const std::string &name, const std::string &bytes)
{
    const std::string path = scratch() + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        std::abort();
    }
    return path;
}

inline std::string writeFile(const std::string &name, const uint8_t *data, size_t size)
{
    return writeFile(name, std::string(reinterpret_cast<const char *>(data), size));
}

/// Two files from one input: its first two bytes (little-endian) give the first part's length (cut to what
/// is there), the rest is the second part. Seeds are made by tests/fuzz/make_seeds.py.
inline std::pair<std::string, std::string> splitTwo(const uint8_t *data, size_t size)
{
    if (size < 2) return {};
    const size_t want = size_t(data[0]) | size_t(data[1]) << 8;
    const size_t first = std::min(want, size - 2);
    const char *p = reinterpret_cast<const char *>(data) + 2;
    return {std::string(p, first), std::string(p + first, size - 2 - first)};
}

/// Runs `parse`; a std::runtime_error is the parser's clear refusal, anything else a bug.
template <class F>
void guarded(F &&parse)
{
    try {
        parse();
    } catch (const std::runtime_error &) {
    } catch (const std::exception &e) {
        std::fprintf(stderr, "pellucid-fuzz: a parser threw %s (not a one-line error): %s\n", typeid(e).name(), e.what());
        std::abort();
    } catch (...) {
        std::fprintf(stderr, "pellucid-fuzz: a parser threw a non-std exception\n");
        std::abort();
    }
}

/// A property the harness checks on accepted input (a round trip): abort with `what` when it fails.
inline void require(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "pellucid-fuzz: %s\n", what);
        std::abort();
    }
}

}   // namespace fuzz
