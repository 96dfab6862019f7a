#pragma once
// LibTorch's CPU threads (intra-op: convolutions, element-wise work, the projections' loops over points) and
// the BLAS library's own threads.
//
// Debian's LibTorch calls OpenBLAS (libopenblas0-pthread) for matrix products: a second pool of threads beside
// LibTorch's OpenMP team, whose threads spin (sched_yield in a loop) for a while after each product. On a machine
// with as many cores as LibTorch's threads, the two pools take turns stealing each other's cores: ResNet-18 224²
// forward + backward at 2 threads on 2 cores took 70–82 ms with OpenBLAS's 2 threads and 45–46 ms with 1, live
// Grad-CAM frames went 21–26 → 42–43 frames/s (README, Performance). Where matrix products make the work (a ViT,
// a language model) the BLAS's own threads pay, but only while LibTorch's sleep between regions
// (OMP_WAIT_POLICY=PASSIVE: ViT-B/16 IG 8.3–10.0 s with 2, 15.0–15.8 s with 1); with LibTorch's threads spinning
// (the default) one BLAS thread is still faster (the demo language model's batched pass 103 ms against 216).
// So each model picks (Model::blasThreads, applied when it loads and when a job takes it): one BLAS thread where
// long convolutions make most of its multiply-adds or LibTorch's threads spin, the library's own count otherwise.
// A BLAS that runs on OpenMP (one pool with LibTorch's) or is not OpenBLAS is left as it is.

#include <string>

namespace pellucid {

/// Sets the threads: 0 is every core, unless OMP_NUM_THREADS is set (then it decides). Throws Error(BadInput)
/// outside 0–256. Model::load applies its LoadOptions::threads through this. The first call also reads the
/// BLAS settings of the environment (applyBlasDefault).
void setCpuThreads(int threads);
/// The threads now in use.
int cpuThreads();

/// The BLAS library LibTorch calls, as found in the process (OpenBLAS is asked through its C API).
struct BlasInfo {
    std::string library;    // "OpenBLAS 0.3.21 ... (own threads)", or "unknown (not OpenBLAS)"
    /// It runs its own threads beside LibTorch's (OpenBLAS built for pthreads), and Pellucid sets their count
    /// (an OpenMP build's count is LibTorch's team: left alone).
    bool adjustable = false;
    int threads = 0;            // its threads now (0: unknown)
    int defaultThreads = 0;     // what it started with (its environment variables, or every core)
    std::string policy;         // why it has that many: a model's choice (BlasChoice::why), "set to 2", "PELLUCID_BLAS_THREADS=1", …
};
BlasInfo blasInfo();

/// Sets the BLAS library's threads for the rest of the process (models' choices no longer apply): n ≥ 1 that
/// many, 0 what it started with. Throws Error(BadInput) outside 0–256; a BLAS without a pool of its own (not
/// OpenBLAS, or OpenBLAS on OpenMP) is left alone (blasInfo().adjustable says which). Not while another thread
/// is inside a BLAS call: the engine's worker thread is the one that computes.
void setBlasThreads(int n);

/// Once per process (setCpuThreads calls it): PELLUCID_BLAS_THREADS=N in the environment (0: the library's own
/// count; another value is ignored with a line on stderr), OPENBLAS_NUM_THREADS or GOTO_NUM_THREADS fix the
/// count for the process, as setBlasThreads does (OMP_NUM_THREADS, which OpenBLAS also reads, is taken for
/// LibTorch's team and fixes nothing here).
void applyBlasDefault();

/// What a model's work should run with: `threads` 1, or 0 for the library's own count, and why.
struct BlasChoice {
    int threads = 0;
    std::string why;
};
/// Convolutions of at least this many multiply-adds a pass (ResNet-18 224²: 1.8e9; the demo CNN: 7.4e6) run long
/// enough for idle BLAS threads to take a core from them; below it the classifier's products gain more from the
/// BLAS's second thread (the demo's live frames under PASSIVE: 1,024–1,072 frames/s with 2, 526–865 with 1).
constexpr double kLongConvolutionMacs = 1e8;
/// The choice for work whose multiply-adds are `convolutionShare` convolutions (0–1; negative: unknown), its
/// convolutions `convolutionMacs` a pass: 1 where LibTorch's threads spin (OMP_WAIT_POLICY not PASSIVE) or long
/// convolutions make ≥ 3/4 of it; the library's own count otherwise.
BlasChoice blasChoiceFor(double convolutionShare, double convolutionMacs);
/// Applies a model's choice where the BLAS has its own pool and nothing fixed the count (a no-op otherwise, and
/// when it already has that count).
void useBlasChoice(const BlasChoice &choice);

}   // namespace pellucid
