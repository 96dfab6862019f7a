#include "engine/runtime/threads.h"

#include "engine/core/errors.h"

#include <ATen/Parallel.h>

#include <dlfcn.h>
#include <strings.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace pellucid {

namespace {

// OpenBLAS's C API, looked up in the process (LibTorch links the BLAS; a build on MKL has none of these).
struct OpenBlas {
    void (*setThreads)(int) = nullptr;
    int (*getThreads)() = nullptr;
    int (*getParallel)() = nullptr;   // 0 sequential, 1 its own threads (pthreads), 2 OpenMP
    char *(*getConfig)() = nullptr;
    int startThreads = 0;
    int current = 0;
    bool pinned = false;   // the environment or setBlasThreads fixed the count
    std::string policy = "the library's own";

    static OpenBlas &get()
    {
        static OpenBlas b = [] {
            OpenBlas o;
            o.setThreads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
            o.getThreads = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
            o.getParallel = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
            o.getConfig = reinterpret_cast<char *(*)()>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
            if (o.getThreads) o.startThreads = o.current = o.getThreads();
            // Only a pool of its own is told: an OpenMP build's openblas_set_num_threads sets the OpenMP team's
            // size, which is LibTorch's (setCpuThreads).
            o.ownPool = o.setThreads && o.getThreads && o.getParallel && o.getParallel() == 1;
            return o;
        }();
        return b;
    }
    bool ownPool = false;
};

std::mutex gBlasMutex;

void setBlasLocked(OpenBlas &b, int n)
{
    if (!b.ownPool) return;
    const int want = n == 0 ? std::max(1, b.startThreads) : n;
    if (want == b.current) return;
    b.setThreads(want);
    b.current = want;
}

}   // namespace

void setCpuThreads(int threads)
{
    // 0: every core (LibTorch's own default is one thread on some builds, e.g. Debian's), unless
    // OMP_NUM_THREADS says otherwise.
    if (threads < 0 || threads > 256) throw Error(ErrorCode::BadInput, "threads must be 0 (every core) to 256, not " + std::to_string(threads));
    if (threads > 0)
        at::set_num_threads(threads);
    else if (!std::getenv("OMP_NUM_THREADS"))
        at::set_num_threads(int(std::max(1u, std::thread::hardware_concurrency())));
    applyBlasDefault();
}

int cpuThreads() { return at::get_num_threads(); }

void applyBlasDefault()
{
    static std::once_flag once;
    std::call_once(once, [] {
        OpenBlas &b = OpenBlas::get();
        std::lock_guard<std::mutex> lock(gBlasMutex);
        if (const char *v = std::getenv("PELLUCID_BLAS_THREADS"); v && *v) {
            char *end = nullptr;
            const long n = std::strtol(v, &end, 10);
            if (end && *end == '\0' && n >= 0 && n <= 256) {
                setBlasLocked(b, int(n));
                b.policy = "PELLUCID_BLAS_THREADS=" + std::string(v);
                b.pinned = true;
                return;
            }
            std::fprintf(stderr, "pellucid: PELLUCID_BLAS_THREADS=%s is not 0 to 256; ignored\n", v);
        }
        for (const char *name : {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS"}) {
            if (const char *v = std::getenv(name); v && *v) {
                b.policy = std::string(name) + " (the library's own)";
                b.pinned = true;
                return;
            }
        }
    });
}

void setBlasThreads(int n)
{
    if (n < 0 || n > 256) throw Error(ErrorCode::BadInput, "BLAS threads must be 0 (the library's own count) to 256, not " + std::to_string(n));
    applyBlasDefault();
    OpenBlas &b = OpenBlas::get();
    std::lock_guard<std::mutex> lock(gBlasMutex);
    setBlasLocked(b, n);
    b.pinned = true;
    b.policy = n == 0 ? "the library's own" : "set to " + std::to_string(n);
}

BlasChoice blasChoiceFor(double convolutionShare, double convolutionMacs)
{
    const char *wait = std::getenv("OMP_WAIT_POLICY");
    const bool passive = wait && strcasecmp(wait, "PASSIVE") == 0;   // libgomp reads it without case
    if (!passive) return {1, "LibTorch's threads spin between regions (OMP_WAIT_POLICY is not PASSIVE)"};
    if (convolutionShare < 0) return {0, "the model's work is not known (no dry run)"};
    char text[160];
    if (convolutionShare >= 0.75 && convolutionMacs >= kLongConvolutionMacs) {
        std::snprintf(text, sizeof text, "convolutions make %.0f %% of the model's multiply-adds, %.2g a pass", 100.0 * convolutionShare,
                      convolutionMacs);
        return {1, text};
    }
    if (convolutionShare >= 0.75) {
        std::snprintf(text, sizeof text, "convolutions make %.0f %% of the model's multiply-adds, but only %.2g a pass", 100.0 * convolutionShare,
                      convolutionMacs);
        return {0, text};
    }
    std::snprintf(text, sizeof text, "matrix products make %.0f %% of the model's multiply-adds", 100.0 * (1.0 - convolutionShare));
    return {0, text};
}

void useBlasChoice(const BlasChoice &choice)
{
    applyBlasDefault();
    OpenBlas &b = OpenBlas::get();
    if (!b.ownPool) return;
    std::lock_guard<std::mutex> lock(gBlasMutex);
    if (b.pinned) return;
    setBlasLocked(b, choice.threads);
    b.policy = choice.why;
}

BlasInfo blasInfo()
{
    OpenBlas &b = OpenBlas::get();
    std::lock_guard<std::mutex> lock(gBlasMutex);
    BlasInfo i;
    i.adjustable = b.ownPool;
    if (!b.getThreads) {
        i.library = "unknown (not OpenBLAS: its threads are its own)";
        i.policy = "the library's own";
        return i;
    }
    std::string config = b.getConfig ? std::string(b.getConfig()) : std::string("OpenBLAS");
    while (!config.empty() && config.back() == ' ') config.pop_back();
    const int parallel = b.getParallel ? b.getParallel() : -1;
    i.library = config + (parallel == 1 ? " (own threads)" : parallel == 2 ? " (OpenMP)" : parallel == 0 ? " (sequential)" : "");
    i.threads = b.getThreads();
    i.defaultThreads = b.startThreads;
    i.policy = b.policy;
    return i;
}

}   // namespace pellucid
