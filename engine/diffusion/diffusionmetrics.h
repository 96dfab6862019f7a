#pragma once
// How good a denoiser's samples are, through its companion classifier (the existing generative metrics): N
// seeded prompts drawn from the vocabulary, each sampled; each region of each sample (the whole image without
// regions) through the classifier: Inception Score of the crops, the share the classifier calls the word the
// prompt put there, and the Fréchet distance of the samples' features (each region's pooled features side by
// side) to those of composites of real items of the same words; and the per-word maps' IoU with the regions.
#include "engine/diffusion/diffusion.h"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace pellucid {

struct DiffusionMetricsOptions {
    int count = 100;     // samples
    uint64_t seed = 0;   // prompts from std::mt19937_64(seed); sample i uses seed + i
    int steps = 50;
    double guidance = 1.0;
    Sampler sampler = Sampler::Ddim;
    std::string layer;   // the classifier's feature layer for the Fréchet distance ("": its logits)
    double iouThreshold = 0.4;
    std::function<bool()> cancelled;
    std::function<void(int done, int total)> progress;
};

struct DiffusionMetrics {
    int64_t samples = 0, realItems = 0;
    std::string featureLayer;
    std::vector<std::vector<int64_t>> prompts;
    TensorValue images;   // [N, C, H, W] in the image range
    double inceptionScore = NAN, realInceptionScore = NAN, frechetDistance = NAN;
    double promptAccuracy = NAN, realAccuracy = NAN;   // regions the classifier calls the prompt's word
    double miou = NAN;                                 // mean over regions of regionIou
    std::vector<double> regionIou;                     // per region, mean over samples (its word not null): DAAM's max-normalised maps
    double miouMinMax = NAN;                           // the same with min-max-normalised maps (mapIoU's minMax)
    std::vector<double> regionIouMinMax;
    double seconds = 0;
};

/// The classifier's class of each vocabulary id: the metadata's "word_classes" (one per id, −1: none), else the
/// label equal to the word ignoring case and anything but letters and digits (−1 when none is).
std::vector<int> wordClasses(const Model &denoiser, const DiffusionConfig &c, const std::vector<std::string> &labels);

/// The metrics of `o.count` samples. `real` are real items as the classifier takes them [M, C, h, w] with their
/// classes (empty: no Fréchet distance); a word whose class has no real item is an Error(BadInput).
DiffusionMetrics diffusionMetrics(Model &denoiser, Model &classifier, const TensorValue &real, const std::vector<int> &realLabels,
                                  const DiffusionMetricsOptions &o);

/// Seconds of `passes` raw denoiser passes with the inputs a sampling step of `r` gives it (both passes batched
/// under guidance), without the sampler around them: what pellucid-bench measures the sampler against.
double rawDenoiserPasses(Model &model, const DiffusionRequest &r, int passes);

}   // namespace pellucid
