#pragma once
// Classification evaluation and explanation-quality metrics over datasets (plain C++ over Model).
#include "engine/runtime/metadata.h"
#include "engine/runtime/model.h"
#include "engine/core/tensorvalue.h"

#include <vector>

namespace pellucid {

struct CalibrationBin {
    double lo = 0, hi = 0, confidence = 0, accuracy = 0;
    int64_t count = 0;
};

struct EvalResult {
    int64_t samples = 0;
    std::vector<int64_t> nonFinite;   // items (in the order added) whose logits hold NaN/Inf: skipped, not counted in samples
    int topK = 5;
    double top1 = 0, topK_accuracy = 0;
    std::vector<std::vector<int64_t>> confusion;   // [true][predicted]
    std::vector<double> precision, recall, f1;     // per class
    std::vector<int64_t> support;
    double macroF1 = 0;
    std::vector<CalibrationBin> calibration;   // reliability diagram (10 bins of top-1 confidence)
    double ece = 0;                            // expected calibration error
    std::vector<int> predictions;              // per sample
    std::vector<float> confidences;            // per sample (top-1 softmax probability)
};

/// Accumulates logits and labels batch by batch, then computes every figure.
class Evaluator {
public:
    Evaluator(int classes, int topK = 5, int calibrationBins = 10);
    /// `logits` [N, classes]; `labels` N class indices. Throws Error(BadInput) for a label out of range.
    void add(const TensorValue &logits, const std::vector<int> &labels);
    EvalResult finish() const;

private:
    int mClasses, mTopK, mBins;
    std::vector<int> mLabels, mPred;
    std::vector<float> mConf;
    std::vector<char> mInTopK;
    std::vector<int64_t> mNonFinite;
    int64_t mSeen = 0;
};

struct FaithfulnessCurve {
    std::vector<double> fractions;   // 0 … 1
    std::vector<double> scores;      // the target's probability after each step
    double auc = 0;                  // trapezoid area under the curve
};

/// Deletion (insertion) curve of Petsiuk et al. 2018: pixels ranked by the attribution (summed over
/// channels) are replaced by `baseline` (inserted into it) a fraction 1/steps at a time; the target's
/// softmax probability is recorded after each step. One batched forward of steps + 1 inputs.
/// `baseline` has the input's shape (zeros for deletion; a blurred copy for insertion, as in RISE).
FaithfulnessCurve faithfulnessCurve(Model &model, const TensorValue &input, const TensorValue &attribution, int target, int steps, bool insertion,
                                    const TensorValue &baseline);

/// Deletion's baseline: every pixel black (the lowest raw value), normalised as the input spec normalises.
TensorValue blackBaseline(const TensorValue &input, const InputSpec &spec);

/// A Gaussian blur of each channel of a [1, C, H, W] tensor (insertion's starting image).
TensorValue gaussianBlur(const TensorValue &input, double sigma);

}   // namespace pellucid
