#include "engine/runtime/threads.h"

#include "engine/core/errors.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

namespace pellucid {

void setCpuThreads(int threads)
{
    // 0: every core (LibTorch's own default is one thread on some builds, e.g. Debian's), unless
    // OMP_NUM_THREADS says otherwise.
    if (threads < 0 || threads > 256) throw Error(ErrorCode::BadInput, "threads must be 0 (every core) to 256, not " + std::to_string(threads));
    if (threads > 0)
        at::set_num_threads(threads);
    else if (!std::getenv("OMP_NUM_THREADS"))
        at::set_num_threads(int(std::max(1u, std::thread::hardware_concurrency())));
}

int cpuThreads() { return at::get_num_threads(); }

}   // namespace pellucid
