#pragma once
// Embedding projections of feature vectors (activations pooled over a dataset): PCA with explained
// variance (block power iteration, exact to tolerance for the leading components) and exact t-SNE
// (van der Maaten & Hinton 2008: perplexity-calibrated affinities, early exaggeration, momentum) with
// progress and cancel.
#include "engine/tensorvalue.h"

#include <functional>
#include <vector>

namespace pellucid {

struct PcaResult {
    TensorValue projected;                 // [N, k]
    TensorValue components;                // [k, D], unit rows
    std::vector<double> explainedVariance; // per component
    std::vector<double> explainedRatio;    // of the total variance
};

/// `features` [N, D]. Throws Error(BadInput) when k exceeds min(N, D).
PcaResult pca(const TensorValue &features, int k, unsigned seed = 0);

struct TsneOptions {
    int dims = 2;
    double perplexity = 30;
    int iterations = 1000;
    double learningRate = 200;
    unsigned seed = 0;
    std::function<bool()> cancelled;
    std::function<void(int iteration, double kl, const TensorValue &embedding)> progress;   // every 50 iterations
};

/// `features` [N, D] → [N, dims]. Memory and time grow as N²: meant for up to a few thousand points.
TensorValue tsne(const TensorValue &features, const TsneOptions &options = {});

/// Pools a layer's activations to one vector per item: [N, C, H, W] averaged over H×W, transformer tokens
/// [N, T, C] over T, [N, F] as is.
TensorValue poolActivations(const TensorValue &activation);

/// Mean fraction of each point's k nearest neighbours in `high` that are also among its k nearest in `low`.
double neighbourhoodPreservation(const TensorValue &high, const TensorValue &low, int k);

} // namespace pellucid
