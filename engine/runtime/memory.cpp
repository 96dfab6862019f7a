#include "engine/runtime/memory.h"

#include "engine/core/files.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/version.h>

#include <malloc.h>
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#if defined(__SANITIZE_ADDRESS__)
#define PELLUCID_NO_BLOCK_REUSE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PELLUCID_NO_BLOCK_REUSE 1
#endif
#endif

namespace pellucid {
namespace {

/// At most a quarter of the available memory (4 GiB at most, 256 MiB at least) on the free list.
int64_t capBytes() { return std::clamp<int64_t>(availableMemoryBytes() / 4, int64_t(256) << 20, int64_t(4) << 30); }

struct State {
    using Clock = std::chrono::steady_clock;
    std::mutex mutex;
    std::multimap<size_t, void *> free;   // usable size → block
    int scopes = 0;
    bool enabled = true;
    int64_t cap = 0;
    int lingerMs = kCpuBlockLingerMs;
    CpuBlockStats stats;
    // The list's release after the last scope closed: a thread (started with the first linger) waits for
    // `releaseAt` and frees the list then unless a scope is open.
    std::condition_variable wake;
    Clock::time_point releaseAt;
    bool releasePending = false, reaperStarted = false;

    void releaseLocked()
    {
        for (auto &[size, p] : free) c10::free_cpu(p);
        free.clear();
        stats.cachedBytes = 0;
        releasePending = false;
    }

    /// The last scope closed: the list goes now, or after the linger.
    void lastScopeClosedLocked()
    {
        if (lingerMs <= 0 || free.empty()) {
            releaseLocked();
            return;
        }
        releaseAt = Clock::now() + std::chrono::milliseconds(lingerMs);
        releasePending = true;
        if (!reaperStarted) {
            reaperStarted = true;
            std::thread([this] { reap(); }).detach();   // State is never destroyed
        }
        wake.notify_all();
    }

    void reap()
    {
        std::unique_lock<std::mutex> lock(mutex);
        for (;;) {
            wake.wait(lock, [this] { return releasePending; });
            while (releasePending && Clock::now() < releaseAt) {
                const Clock::time_point at = releaseAt;   // a scope closing later moves it (and wakes this thread)
                wake.wait_until(lock, at);
            }
            if (releasePending && scopes == 0) releaseLocked();
        }
    }
};

State &state()
{
    static State *s = [] {
        auto *st = new State;   // never destroyed: blocks may be freed during static destruction
        const char *env = std::getenv("PELLUCID_CPU_BLOCK_REUSE");
        st->enabled = !(env && std::strcmp(env, "0") == 0);
        st->cap = capBytes();
        // A fork (the model's first load runs in a child, runtime/model.cpp) must not copy the mutex while the
        // reaper or another thread holds it; the child has no reaper thread.
        pthread_atfork([] { state().mutex.lock(); }, [] { state().mutex.unlock(); },
                       [] {
                           State &c = state();
                           c.reaperStarted = false;
                           c.releasePending = false;
                           c.mutex.unlock();
                       });
        return st;
    }();
    return *s;
}

void release(void *p)
{
    if (!p) return;
    const size_t n = malloc_usable_size(p);
    if (n >= size_t(kMinReusedBytes)) {
        State &s = state();
        std::lock_guard<std::mutex> lock(s.mutex);
        if (s.scopes > 0 && s.enabled && s.stats.cachedBytes + int64_t(n) <= s.cap) {
            s.free.emplace(n, p);
            s.stats.cachedBytes += int64_t(n);
            s.stats.peakCachedBytes = std::max(s.stats.peakCachedBytes, s.stats.cachedBytes);
            ++s.stats.kept;
            return;
        }
    }
    c10::free_cpu(p);
}

// LibTorch 2.3 made Allocator::allocate non-const and added the pure virtual copy_data.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define PELLUCID_TORCH_2_3 1
#define PELLUCID_ALLOCATE_CONST
#else
#define PELLUCID_TORCH_2_3 0
#define PELLUCID_ALLOCATE_CONST const
#endif

class ReusingAllocator final : public c10::Allocator {
public:
#if PELLUCID_TORCH_2_3
    void copy_data(void *dest, const void *src, std::size_t count) const override { default_copy_data(dest, src, count); }
#endif
    c10::DataPtr allocate(size_t n) PELLUCID_ALLOCATE_CONST override
    {
        if (n >= size_t(kMinReusedBytes)) {
            State &s = state();
            std::lock_guard<std::mutex> lock(s.mutex);
            if (s.scopes > 0 && s.enabled) {
                const auto it = s.free.lower_bound(n);
                if (it != s.free.end() && it->first <= n + n / 4) {
                    void *p = it->second;
                    s.stats.cachedBytes -= int64_t(it->first);
                    s.free.erase(it);
                    ++s.stats.reused;
                    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
                }
                ++s.stats.fresh;
            }
        }
        void *p = c10::alloc_cpu(n);
        return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
    }
    c10::DeleterFnPtr raw_deleter() const override { return &release; }
};

void install()
{
#ifndef PELLUCID_NO_BLOCK_REUSE
    static std::once_flag once;
    std::call_once(once, [] {
        static ReusingAllocator allocator;
        c10::SetCPUAllocator(&allocator, 1);
    });
#endif
}

}   // namespace

CpuBlockReuse::CpuBlockReuse()
{
    install();
    State &s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    ++s.scopes;
    s.releasePending = false;   // the lingering list serves this computation
}

CpuBlockReuse::~CpuBlockReuse()
{
    State &s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    if (--s.scopes == 0) s.lastScopeClosedLocked();
}

CpuBlockStats cpuBlockStats()
{
    State &s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    CpuBlockStats out = s.stats;
    out.scopes = s.scopes;
    return out;
}

void setCpuBlockReuse(bool on)
{
    State &s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.enabled = on;
    if (!on) s.releaseLocked();
}

void setCpuBlockLinger(int ms)
{
    State &s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.lingerMs = std::max(0, ms);
    if (s.scopes == 0) s.releaseLocked();
}

int cpuBlockLingerMs()
{
    State &s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    return s.lingerMs;
}

bool cpuBlockReuse()
{
    State &s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    return s.enabled && cpuBlockReuseAvailable();
}

bool cpuBlockReuseAvailable()
{
#ifdef PELLUCID_NO_BLOCK_REUSE
    return false;
#else
    return true;
#endif
}

}   // namespace pellucid
