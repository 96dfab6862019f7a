#pragma once
// Embedding projections of feature vectors (activations pooled over a dataset): PCA with explained
// variance (block power iteration, exact to tolerance for the leading components), t-SNE (van der Maaten &
// Hinton 2008: perplexity-calibrated affinities, early exaggeration, momentum) — exact, or over sparse
// affinities (3·perplexity nearest neighbours) with the repulsion by Barnes–Hut (van der Maaten 2014: a
// quadtree with θ) or by FFT-accelerated interpolation (Linderman et al. 2019, FIt-SNE: the charges
// interpolated onto an equispaced grid, the kernel applied there as one FFT convolution) for tens of
// thousands of points — and UMAP (McInnes et al. 2018), all with progress and cancel.
#include "engine/core/tensorvalue.h"

#include <functional>
#include <vector>

namespace pellucid {

struct PcaResult {
    TensorValue projected;                   // [N, k]
    TensorValue components;                  // [k, D], unit rows
    std::vector<double> explainedVariance;   // per component
    std::vector<double> explainedRatio;      // of the total variance
};

/// `features` [N, D]. Throws Error(BadInput) when k exceeds min(N, D).
PcaResult pca(const TensorValue &features, int k, unsigned seed = 0);

/// How the sparse t-SNE computes its repulsive forces: Auto is Barnes–Hut below 10,000 points and the
/// interpolation from there on (as openTSNE chooses).
enum class TsneRepulsion { Auto, BarnesHut, Interpolation };

struct TsneOptions {
    int dims = 2;
    double perplexity = 30;
    int iterations = 1000;
    double learningRate = 0;                         // 0: automatic, max(N / 12 / 4, 50) (Belkina et al. 2019)
    double theta = 0.5;                              // > 0: sparse affinities (2-D only), Barnes–Hut angle θ; 0: exact O(N²) gradients
    TsneRepulsion repulsion = TsneRepulsion::Auto;   // with θ > 0
    unsigned seed = 0;
    std::function<bool()> cancelled;
    std::function<void(int iteration, double kl, const TensorValue &embedding)> progress;   // every 50 iterations
};

/// `features` [N, D] → [N, dims]. With θ > 0 (and dims = 2) sparse: memory O(N·perplexity), time
/// O(N log N) per iteration (Barnes–Hut) or O(N + G log G) over a grid of G nodes (interpolation);
/// θ = 0 is exact, memory and time O(N²) (a few thousand points).
TensorValue tsne(const TensorValue &features, const TsneOptions &options = {});
TensorValue tsneSparse(const TensorValue &features, const TsneOptions &options);
/// The repulsion actually used for N points.
TsneRepulsion tsneRepulsionFor(int64_t n, TsneRepulsion requested);

/// t-SNE's unnormalised repulsion on a 2-D embedding Y [N, 2]: forces[i] = Σ_j≠i q_ij² (y_i − y_j) and
/// Z = Σ_i Σ_j≠i q_ij, q_ij = 1 / (1 + |y_i − y_j|²), by Barnes–Hut (θ) or by interpolation (3 nodes per
/// grid cell, at least 50 cells a side and at least one per unit of the embedding's extent).
struct TsneRepulsiveForces {
    TensorValue forces;   // [N, 2]
    double z = 0;
};
TsneRepulsiveForces tsneRepulsion(const TensorValue &embedding, TsneRepulsion method, double theta = 0.5);

/// Exact k nearest neighbours (Euclidean, self excluded) by blocked matrix products: [N·k] indices and
/// distances, each row sorted by distance.
struct KnnGraph {
    int k = 0;
    std::vector<int32_t> index;
    std::vector<float> distance;
};
KnnGraph nearestNeighbours(const TensorValue &features, int k, const std::function<bool()> &cancelled = {});

struct UmapOptions {
    int dims = 2;
    int neighbours = 15;
    double minDist = 0.1, spread = 1.0;
    int epochs = 0;   // 0: 500 below 10,000 points, else 200 (as umap-learn)
    int negativeSamples = 5;
    double learningRate = 1.0;
    unsigned seed = 0;
    std::function<bool()> cancelled;
    std::function<void(int epoch, const TensorValue &embedding)> progress;   // every 10 epochs
};
/// The curve 1 / (1 + a·d^(2b)) fitted to UMAP's target membership for (minDist, spread).
void umapCurve(double minDist, double spread, double &a, double &b);
/// UMAP: fuzzy k-nearest-neighbour graph (ρ, σ calibrated to log2 k), union symmetrisation, PCA
/// initialisation scaled to ±10, and SGD with negative sampling. `features` [N, D] → [N, dims].
TensorValue umap(const TensorValue &features, const UmapOptions &options = {});

/// Pools a layer's activations to one vector per item: [N, C, H, W] averaged over H×W, transformer tokens
/// [N, T, C] over T, [N, F] as is.
TensorValue poolActivations(const TensorValue &activation);

/// Mean fraction of each point's k nearest neighbours in `high` that are also among its k nearest in `low`.
double neighbourhoodPreservation(const TensorValue &high, const TensorValue &low, int k);

}   // namespace pellucid
