#pragma once
// pellucid-bench --versus-captum (engine/bench/versus_captum.cpp): Pellucid's attribution methods beside
// Captum's on the same TorchScript file, input, target, settings and threads.
#include "engine/runtime/model.h"

#include <string>
#include <vector>

namespace pellucid {

struct VersusCaptumOptions {
    std::vector<std::string> methods = {"saliency", "inputxgrad", "ig", "smoothgrad", "guided-backprop", "gradcam", "occlusion", "lime", "kernelshap"};
    int target = 3;
    int rounds = 5;
    int igSteps = 32;             // Gauss–Legendre points
    int tunnelSamples = 25;       // SmoothGrad
    int surrogateSamples = 200;   // LIME, KernelSHAP (over a grid of grid² cells)
    int grid = 8;
    int64_t window = 32, stride = 16;                      // occlusion: window × window over every channel
    std::vector<int> perturbationsPerEval = {1, 16, 64};   // Captum's perturbations_per_eval, the best kept
    std::string python = "/usr/bin/python3";
    std::string script;    // packaging/bench/captum_methods.py
    std::string workDir;   // where the input and the maps are exchanged
    std::string jsonOut;
    /// The torchvision architecture of the file (resnet18, …): Captum then runs the methods it can only run
    /// through module hooks (guided backprop, Grad-CAM) on that eager model with the file's weights.
    std::string eager;
    std::string layer;   // the layer of layer methods (Grad-CAM); empty: the suggested CAM layer
    bool fastKernels = false;       // also time Pellucid with fast kernels (methods they apply to), in the same rounds
    bool float64Reference = true;   // measure both sides' maps against Captum's on a float64 copy (deterministic methods)
    /// Pause before each timed call (0: the calls follow one another). A pause lets the other side's idle
    /// OpenBLAS threads, which yield in a loop for a while after their last call, go to sleep first; both
    /// sides then start cold (on the demo both were slower with 200 ms: README, Performance).
    int settleMs = 0;
    int64_t internalBatch = 0;   // Pellucid's samples per pass (AttributionParams::internalBatch); 0: its own choice
    /// Captum's process gets OPENBLAS_NUM_THREADS=N (0: OpenBLAS's own count, as a user who sets nothing runs
    /// it); -1: the same count as Pellucid's BLAS (blasInfo: the model's choice, engine/runtime/threads.h).
    int captumBlasThreads = -1;
};

/// Prints the table (and writes jsonOut); returns the process's exit status.
int runVersusCaptum(Model &model, const TensorValue &input, const VersusCaptumOptions &options);

}   // namespace pellucid
