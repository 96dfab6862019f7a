#pragma once
// Reuse of large CPU blocks while a computation runs. A forward pass allocates its activations afresh and
// frees them at the end; glibc hands blocks of more than its mmap threshold (128 KiB, growing to 32 MiB at
// most) to the kernel on every free, and trims its heaps above twice that, so the next pass faults every page
// in again and the kernel zeroes it: on ResNet-18 224², 2 cores, a batch of 16 forwards took 585 ms, 5/8 of it
// in the kernel, and 209 ms with the blocks kept (README, Performance). Inside a CpuBlockReuse scope, CPU
// tensors' blocks of kMinReusedBytes or more go to a free list when freed and come back for requests of the
// same size (up to a quarter larger); when the outermost scope closes the list is kept kCpuBlockLingerMs
// longer and then freed, unless another computation opened a scope meanwhile and took it over — so calls that
// follow one another (a user's next method, the next image) find their blocks as Python's heap keeps its
// pages, and nothing is held once the engine has been idle that long. LibTorch's CPU allocator is replaced by
// one that does this (c10::SetCPUAllocator) on the first scope; outside scopes it allocates and frees as the
// default one does. A stream of computations
// (live input: a frame's job after another's) holds a scope of its own for as long as it runs, so each frame
// reuses the blocks of the one before (the GUI's LiveFeature, pellucid-bench's live frames).

#include <cstdint>

namespace pellucid {

class CpuBlockReuse {
public:
    CpuBlockReuse();
    ~CpuBlockReuse();
    CpuBlockReuse(const CpuBlockReuse &) = delete;
    CpuBlockReuse &operator=(const CpuBlockReuse &) = delete;
};

/// Counters since the program started (kept across scopes), and the bytes the free list holds now.
struct CpuBlockStats {
    int64_t reused = 0;        // requests served from the free list
    int64_t fresh = 0;         // requests of kMinReusedBytes or more that found no block there
    int64_t kept = 0;          // frees that went to the free list
    int64_t cachedBytes = 0;   // on the free list now
    int64_t peakCachedBytes = 0;
    int scopes = 0;            // CpuBlockReuse objects alive now
};
CpuBlockStats cpuBlockStats();

/// On by default; PELLUCID_CPU_BLOCK_REUSE=0 in the environment or setCpuBlockReuse(false) turns it off
/// (scopes then change nothing: the A/B of `pellucid-bench --no-block-reuse`).
void setCpuBlockReuse(bool on);
bool cpuBlockReuse();
/// False in the sanitizer build (a kept block would hide a use after free from AddressSanitizer).
bool cpuBlockReuseAvailable();

constexpr int64_t kMinReusedBytes = int64_t(256) << 10;
/// How long the list outlives the last scope (a thread frees it then). ResNet-18 224², 2 cores, Grad-CAM calls
/// one after another: 36–38 ms with the list freed at once (its activations faulted in afresh), 22 ms kept.
constexpr int kCpuBlockLingerMs = 500;
/// 0: the list is freed the moment the last scope closes (the tests; the A/B of the bench).
void setCpuBlockLinger(int ms);
int cpuBlockLingerMs();

}   // namespace pellucid
