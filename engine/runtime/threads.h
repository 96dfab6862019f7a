#pragma once
// LibTorch's CPU threads (intra-op: BLAS, convolutions, the projections' loops over points).

namespace pellucid {

/// Sets the threads: 0 is every core, unless OMP_NUM_THREADS is set (then it decides). Throws Error(BadInput)
/// outside 0–256. Model::load applies its LoadOptions::threads through this.
void setCpuThreads(int threads);
/// The threads now in use.
int cpuThreads();

}   // namespace pellucid
