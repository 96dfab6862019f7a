#include "engine/runtime/threads.h"

#include "engine/core/errors.h"

#include <ATen/Parallel.h>

#include <dlfcn.h>

#include <algorithm>
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
    std::string policy = "the library's own";

    static OpenBlas &get()
    {
        static OpenBlas b = [] {
            OpenBlas o;
            o.setThreads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
            o.getThreads = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
            o.getParallel = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
            o.getConfig = reinterpret_cast<char *(*)()>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
            if (!o.setThreads || !o.getThreads) o.setThreads = nullptr;
            if (o.getThreads) o.startThreads = o.getThreads();
            return o;
        }();
        return b;
    }
    bool ownPool() const { return setThreads && getParallel && getParallel() == 1; }
};

std::mutex gBlasMutex;

void setBlasLocked(OpenBlas &b, int n)
{
    if (!b.setThreads) return;
    b.setThreads(n == 0 ? std::max(1, b.startThreads) : n);
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
                return;
            }
        }
        for (const char *name : {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS"}) {
            if (const char *v = std::getenv(name); v && *v) {
                b.policy = std::string(name) + " (the library's own)";
                return;
            }
        }
        if (b.ownPool()) {
            setBlasLocked(b, 1);
            b.policy = "Pellucid's default: 1 beside LibTorch's threads";
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
    b.policy = n == 0 ? "the library's own" : "set to " + std::to_string(n);
}

BlasInfo blasInfo()
{
    OpenBlas &b = OpenBlas::get();
    std::lock_guard<std::mutex> lock(gBlasMutex);
    BlasInfo i;
    i.adjustable = b.setThreads != nullptr;
    if (!i.adjustable) {
        i.library = "unknown (not OpenBLAS: its threads are its own)";
        i.policy = "the library's own";
        return i;
    }
    std::string config = b.getConfig ? std::string(b.getConfig()) : std::string("OpenBLAS");
    while (!config.empty() && config.back() == ' ') config.pop_back();
    i.ownPool = b.ownPool();
    const int parallel = b.getParallel ? b.getParallel() : -1;
    i.library = config + (parallel == 1 ? " (own threads)" : parallel == 2 ? " (OpenMP)" : parallel == 0 ? " (sequential)" : "");
    i.threads = b.getThreads();
    i.defaultThreads = b.startThreads;
    i.policy = b.policy;
    return i;
}

}   // namespace pellucid
