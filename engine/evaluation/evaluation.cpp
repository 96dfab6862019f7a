#include "engine/evaluation/evaluation.h"

#include "engine/evaluation/agreement.h"

#include "engine/core/errors.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace pellucid {

Evaluator::Evaluator(int classes, int topK, int bins) : mClasses(classes), mTopK(std::max(1, topK)), mBins(std::max(1, bins)) { }

void Evaluator::add(const TensorValue &logits, const std::vector<int> &labels)
{
    const Shape &s = logits.shape();
    if (s.size() != 2 || s[1] != mClasses)
        throw Error(ErrorCode::BadInput, "Evaluation needs logits [N, " + std::to_string(mClasses) + "], got " + shapeToString(s));
    if (int64_t(labels.size()) != s[0])
        throw Error(ErrorCode::BadInput, "Got " + std::to_string(labels.size()) + " labels for " + std::to_string(s[0]) + " outputs");
    for (int64_t n = 0; n < s[0]; ++n) {
        const int label = labels[size_t(n)];
        if (label < 0 || label >= mClasses)
            throw Error(ErrorCode::BadInput, "Label " + std::to_string(label) + " is outside the model's " + std::to_string(mClasses) + " classes");
        const float *row = logits.data() + n * mClasses;
        const int64_t item = mSeen++;
        if (!std::all_of(row, row + mClasses, [](float v) { return std::isfinite(v); })) {
            mNonFinite.push_back(item);   // a NaN/Inf input (or a model that makes one): reported, not scored
            continue;
        }
        const float mx = *std::max_element(row, row + mClasses);
        double sum = 0;
        for (int c = 0; c < mClasses; ++c) sum += std::exp(double(row[c]) - mx);
        const int pred = int(std::max_element(row, row + mClasses) - row);
        int above = 0;   // classes scoring strictly higher than the true one
        for (int c = 0; c < mClasses; ++c) above += row[c] > row[label];
        mLabels.push_back(label);
        mPred.push_back(pred);
        mConf.push_back(float(1.0 / sum));   // exp(max - max) / Σ
        mInTopK.push_back(above < mTopK);
    }
}

EvalResult Evaluator::finish() const
{
    EvalResult r;
    r.samples = int64_t(mLabels.size());
    r.nonFinite = mNonFinite;
    r.topK = mTopK;
    r.confusion.assign(size_t(mClasses), std::vector<int64_t>(size_t(mClasses), 0));
    int64_t correct = 0, inTop = 0;
    for (size_t i = 0; i < mLabels.size(); ++i) {
        ++r.confusion[size_t(mLabels[i])][size_t(mPred[i])];
        correct += mLabels[i] == mPred[i];
        inTop += mInTopK[i];
    }
    if (r.samples) {
        r.top1 = double(correct) / double(r.samples);
        r.topK_accuracy = double(inTop) / double(r.samples);
    }
    r.precision.assign(size_t(mClasses), 0);
    r.recall.assign(size_t(mClasses), 0);
    r.f1.assign(size_t(mClasses), 0);
    r.support.assign(size_t(mClasses), 0);
    for (int c = 0; c < mClasses; ++c) {
        int64_t tp = r.confusion[size_t(c)][size_t(c)], predicted = 0, actual = 0;
        for (int k = 0; k < mClasses; ++k) {
            predicted += r.confusion[size_t(k)][size_t(c)];
            actual += r.confusion[size_t(c)][size_t(k)];
        }
        r.support[size_t(c)] = actual;
        r.precision[size_t(c)] = predicted ? double(tp) / double(predicted) : 0;
        r.recall[size_t(c)] = actual ? double(tp) / double(actual) : 0;
        const double p = r.precision[size_t(c)], q = r.recall[size_t(c)];
        r.f1[size_t(c)] = p + q > 0 ? 2 * p * q / (p + q) : 0;
        r.macroF1 += r.f1[size_t(c)] / mClasses;
    }
    r.calibration.resize(size_t(mBins));
    for (int b = 0; b < mBins; ++b) {
        r.calibration[size_t(b)].lo = double(b) / mBins;
        r.calibration[size_t(b)].hi = double(b + 1) / mBins;
    }
    for (size_t i = 0; i < mConf.size(); ++i) {
        const int b = std::min(mBins - 1, int(double(mConf[i]) * mBins));
        auto &bin = r.calibration[size_t(b)];
        bin.confidence += mConf[i];
        bin.accuracy += mLabels[i] == mPred[i];
        ++bin.count;
    }
    for (auto &bin : r.calibration) {
        if (!bin.count) continue;
        bin.confidence /= double(bin.count);
        bin.accuracy /= double(bin.count);
        r.ece += double(bin.count) / double(std::max<int64_t>(1, r.samples)) * std::fabs(bin.accuracy - bin.confidence);
    }
    r.predictions = mPred;
    r.confidences = mConf;
    return r;
}

TensorValue blackBaseline(const TensorValue &x, const InputSpec &spec)
{
    if (x.shape().size() != 4) throw Error(ErrorCode::BadInput, "A black baseline needs an image input [N, C, H, W]");
    std::vector<float> black(size_t(x.numel()));
    const int64_t C = x.dim(1), P = x.dim(2) * x.dim(3);
    for (int64_t n = 0; n < x.dim(0); ++n)
        for (int64_t c = 0; c < C; ++c) {
            auto pick = [c](const std::vector<float> &v, float dflt) {
                return v.empty() ? dflt : v[size_t(std::min<int64_t>(c, int64_t(v.size()) - 1))];
            };
            const float value = (spec.rangeLo - pick(spec.mean, 0.f)) / pick(spec.std, 1.f);
            std::fill(black.begin() + (n * C + c) * P, black.begin() + (n * C + c + 1) * P, value);
        }
    return TensorValue(x.shape(), std::move(black));
}

TensorValue gaussianBlur(const TensorValue &input, double sigma)
{
    const Shape &s = input.shape();
    if (s.size() != 4) throw Error(ErrorCode::BadInput, "Blur needs an image input [N, C, H, W], not " + shapeToString(s));
    const int64_t C = s[0] * s[1], H = s[2], W = s[3];
    const int radius = std::max(1, int(std::ceil(3 * sigma)));
    std::vector<double> k(size_t(2 * radius + 1));
    for (int i = -radius; i <= radius; ++i) k[size_t(i + radius)] = std::exp(-0.5 * i * i / (sigma * sigma));
    std::vector<float> tmp(size_t(input.numel())), out(size_t(input.numel()));
    auto reflect = [](int64_t i, int64_t n) {
        while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
        return i;
    };
    for (int64_t c = 0; c < C; ++c) {
        const float *src = input.data() + c * H * W;
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                double acc = 0, norm = 0;
                for (int i = -radius; i <= radius; ++i) {
                    const double w = k[size_t(i + radius)];
                    acc += w * src[y * W + reflect(x + i, W)];
                    norm += w;
                }
                tmp[size_t(c * H * W + y * W + x)] = float(acc / norm);
            }
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                double acc = 0, norm = 0;
                for (int i = -radius; i <= radius; ++i) {
                    const double w = k[size_t(i + radius)];
                    acc += w * tmp[size_t(c * H * W + reflect(y + i, H) * W + x)];
                    norm += w;
                }
                out[size_t(c * H * W + y * W + x)] = float(acc / norm);
            }
    }
    return TensorValue(s, std::move(out));
}

FaithfulnessCurve faithfulnessCurve(Model &model, const TensorValue &input, const TensorValue &attribution, int target, int steps, bool insertion,
                                    const TensorValue &baseline)
{
    const Shape &s = input.shape();
    if (s.size() != 4 || s[0] != 1) throw Error(ErrorCode::BadInput, "Deletion/insertion needs one image input [1, C, H, W]");
    if (baseline.shape() != s)
        throw Error(ErrorCode::BadInput, "The baseline's shape " + shapeToString(baseline.shape()) + " differs from the input's");
    if (steps < 1) throw Error(ErrorCode::BadInput, "Deletion/insertion needs at least 1 step");
    const int64_t C = s[1], H = s[2], W = s[3], P = H * W;
    // Pixel saliency: the attribution summed over its channels, coarser maps (CAMs) upsampled bilinearly.
    const std::vector<double> saliency = pixelSaliency(attribution, H, W);
    std::vector<int64_t> order(static_cast<size_t>(P));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return saliency[size_t(a)] > saliency[size_t(b)]; });
    // Step k changes the first round(k·P/steps) ranked pixels: deletion writes the baseline into the input,
    // insertion writes the input into the baseline.
    const TensorValue &start = insertion ? baseline : input;
    const TensorValue &fill = insertion ? input : baseline;
    std::vector<float> batch(size_t((steps + 1) * C * P));
    for (int k = 0; k <= steps; ++k) {
        float *dst = batch.data() + int64_t(k) * C * P;
        std::copy(start.data(), start.data() + C * P, dst);
        const int64_t n = std::llround(double(k) * double(P) / steps);
        for (int64_t j = 0; j < n; ++j)
            for (int64_t c = 0; c < C; ++c) dst[c * P + order[size_t(j)]] = fill.at(c * P + order[size_t(j)]);
    }
    const TensorValue logits = model.forward(TensorValue({steps + 1, C, H, W}, std::move(batch)), {}).outputs.at(0);
    if (logits.shape().size() != 2 || target < 0 || target >= logits.dim(1))
        throw Error(ErrorCode::BadInput, "Target " + std::to_string(target) + " is not a class of this model");
    FaithfulnessCurve curve;
    const int64_t K = logits.dim(1);
    for (int k = 0; k <= steps; ++k) {
        const float *row = logits.data() + k * K;
        const float mx = *std::max_element(row, row + K);
        double sum = 0;
        for (int64_t c = 0; c < K; ++c) sum += std::exp(double(row[c]) - mx);
        curve.fractions.push_back(double(k) / steps);
        curve.scores.push_back(std::exp(double(row[target]) - mx) / sum);
    }
    for (int k = 1; k <= steps; ++k)
        curve.auc += (curve.fractions[size_t(k)] - curve.fractions[size_t(k - 1)]) * (curve.scores[size_t(k)] + curve.scores[size_t(k - 1)]) / 2;
    return curve;
}

}   // namespace pellucid
