#pragma once
// Units of a layer — its channels — and what each one makes a generator draw or a classifier decide: unit
// maps, the causal effect of removing units on a classifier's probabilities, interventions that set units
// (everywhere or inside a region: GAN Dissection / GANPaint, Bau et al. 2019), and SeFa's closed-form latent
// directions (Shen & Zhou 2021). Works on any TorchScript generator, VAE decoder or classifier, traced or
// scripted: a unit is set by replacing the layer's output inside a clone of forward (the graph rewrite of
// engine/runtime/graphtaps.h), as an eager forward hook that returns a modified output would.
#include "engine/core/tensorvalue.h"
#include "engine/generative/generative.h"
#include "engine/runtime/model.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pellucid {

/// The units of a layer: its output is [N, U, h, w] (or [N, U]: no spatial extent, h = w = 0).
struct UnitLayer {
    std::string layer;   // the module path
    int64_t units = 0, height = 0, width = 0;
};
/// Measured on one forward of `input` (a batch of the model's input); throws Error(BadInput) naming the shape
/// when the layer's output has no channel dimension.
UnitLayer unitLayer(Model &model, const std::string &layer, const TensorValue &input);

/// Units of a layer set to a value: everywhere, or only where `mask` [h, w] (at the layer's resolution) is
/// nonzero. `values`: one per unit, or one for all; empty = 0 (ablation).
struct UnitEdit {
    std::string layer;
    std::vector<int64_t> units;
    std::vector<double> values;
    TensorValue mask;
};
/// Checks the edit against the layer (unit indices, the mask's size, finite values); throws Error(BadInput).
void checkEdit(const UnitLayer &layer, const UnitEdit &edit);
/// The model's first output for `input` with the edit applied (batched).
TensorValue forwardWithEdit(Model &model, const TensorValue &input, const UnitEdit &edit);
/// Codes [N, D] decoded by an (unconditional) generator with the edit applied: [N, C, H, W].
TensorValue decodeWithEdit(Model &generator, const TensorValue &codes, const UnitEdit &edit);

/// What each unit of a generator layer draws over `codes` seeded codes.
struct UnitMaps {
    UnitLayer layer;
    TensorValue codes;         // [N, D]: torch.manual_seed(seed); torch.randn(N, D)
    TensorValue images;        // [N, C, H, W]: the generated images
    TensorValue activations;   // [N, U, h, w]
    TensorValue meanMaps;      // [U, h, w]: the mean over the codes
    TensorValue peaks;         // [N, U]: each code's largest activation of each unit
    double quantileLevel = 0.99;
    std::vector<double> quantile;                   // per unit: that quantile of its activations (every code and position)
    std::vector<std::vector<int64_t>> topSamples;   // per unit: codes by peak activation, highest first (up to topK)
};
UnitMaps generatorUnitMaps(Model &generator, const std::string &layer, int64_t count, uint64_t seed, double quantileLevel = 0.99, int topK = 8);
/// The same over any batch of the model's inputs (a classifier's dataset items): `codes` is empty and
/// `images` holds the inputs as given.
UnitMaps unitMapsOfInputs(Model &model, const TensorValue &inputs, const std::string &layer, double quantileLevel = 0.99, int topK = 8);
/// Per unit, where code `sample` activates it above its quantile: the activation upsampled (bilinear,
/// align_corners false) to the image's H × W, thresholded: [U, H, W] of 0 / 1.
TensorValue unitRegions(const UnitMaps &maps, int64_t sample);

/// The causal effect of units on a classifier's probabilities.
struct Dissection {
    UnitLayer layer;
    int64_t classes = 0;
    std::vector<std::string> labels;
    TensorValue effect;                          // [U, K]: mean of p_k(original) − p_k(unit u zeroed)
    std::vector<double> baseProbability;         // [K]: mean p_k of the originals (over each class's items for a classifier)
    std::vector<int64_t> itemsPerClass;          // classifier dissection: the items of each class (a class with none has effect 0)
    int64_t samples = 0;                         // codes or items measured
    std::vector<std::vector<int64_t>> ranking;   // per class: units by effect, largest first
    std::vector<std::vector<double>> removal;    // per class: the effect of removing its top n units together, n = 1…
};
struct DissectOptions {
    int curveUnits = 20;   // removal curves up to this many units (at most the layer's)
    /// The layer's outputs over all samples are kept while they fit in this many bytes; beyond it each is
    /// computed again when an edit needs it (memory bounded, one more forward to the layer per edit).
    int64_t keepBytes = int64_t(256) << 20;
    std::function<void(int64_t done, int64_t total)> progress;
    std::function<bool()> cancelled;
};
/// effect[u, k] = mean over `count` seeded codes of p_k(C(G(z))) − p_k(C(G(z) with unit u of `layer` set to
/// 0)); the generator's output range mapped to the classifier's input (as the counterfactual does).
Dissection dissectGenerator(Model &generator, Model &classifier, const std::string &layer, int64_t count, uint64_t seed,
                            const DissectOptions &options = {});
/// effect[u, k] = mean over the items of class k of p_k(x) − p_k(x with unit u of `layer` zeroed).
/// `items` [N, …] in the classifier's input space, `labels` one per item.
Dissection dissectClassifier(Model &classifier, const TensorValue &items, const std::vector<int> &labels, const std::string &layer,
                             const DissectOptions &options = {});

/// SeFa: the unit eigenvectors of AᵀA, A the weight of the generator's first layer that takes z (a Linear
/// [out, D], or a transposed convolution's [D, out, kh, kw] as [out·kh·kw, D]), eigenvalues descending, each
/// vector's largest-magnitude entry positive. `layer` empty: the first Linear / ConvTranspose the forward calls.
/// explainedRatio: each eigenvalue's share of their sum; sigma: 1 (the prior's spread along a unit vector).
struct SefaResult {
    DirectionSet directions;
    std::string layer;
    std::vector<double> eigenvalues;
};
SefaResult sefaDirections(Model &generator, const std::string &layer, int k);

}   // namespace pellucid
