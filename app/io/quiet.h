#pragma once
// Library chatter on stderr kept from the user: OpenCV's codecs (libpng, GStreamer, FFmpeg) print their own
// lines beside Pellucid's one-line messages.
#include <cstdio>
#include <fcntl.h>
#include <mutex>
#include <unistd.h>

namespace pellucid {

/// Runs `f` with the process's stderr sent to /dev/null: libpng ("libpng error: Read Error") and GStreamer
/// print to it from inside OpenCV's codecs, beside (before) our own one-line message. One at a time; our
/// own messages are written after these calls return.
template <class F>
inline auto withoutLibraryChatter(F &&f) -> decltype(f())
{
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    std::fflush(stderr);
    const int saved = dup(2);
    const int null = ::open("/dev/null", O_WRONLY);
    if (saved >= 0 && null >= 0) dup2(null, 2);
    if (null >= 0) close(null);
    struct Restore {
        int saved;
        ~Restore()
        {
            std::fflush(stderr);
            if (saved >= 0) {
                dup2(saved, 2);
                close(saved);
            }
        }
    } restore{saved};
    return f();
}

}   // namespace pellucid
