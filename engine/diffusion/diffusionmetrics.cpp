#include "engine/diffusion/diffusionmetrics.h"

#include "engine/core/errors.h"
#include "engine/generative/genmetrics.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <random>

namespace pellucid {

namespace {

std::string alnum(const std::string &s)
{
    std::string out;
    for (unsigned char ch : s)
        if (std::isalnum(ch)) out += char(std::tolower(ch));
    return out;
}

int argmaxRow(const TensorValue &logits, int64_t row)
{
    const int64_t K = logits.dim(1);
    int best = 0;
    for (int64_t k = 1; k < K; ++k)
        if (logits.at(row * K + k) > logits.at(row * K + best)) best = int(k);
    return best;
}

}   // namespace

std::vector<int> wordClasses(const Model &denoiser, const DiffusionConfig &c, const std::vector<std::string> &labels)
{
    std::vector<int> out(c.vocab.size(), -1);
    const Json &raw = denoiser.summary().metadata.raw;
    if (const Json *wc = raw.isObject() ? raw.find("word_classes") : nullptr; wc && wc->isArray()) {
        for (size_t i = 0; i < out.size() && i < wc->size(); ++i) {
            const Json &v = wc->asArray()[i];
            if (v.isNumber() && v.asInt() >= 0 && v.asInt() < int64_t(labels.size())) out[i] = int(v.asInt());
        }
        return out;
    }
    for (size_t i = 0; i < out.size(); ++i)
        for (size_t k = 0; k < labels.size(); ++k)
            if (!c.vocab[i].empty() && alnum(c.vocab[i]) == alnum(labels[k])) out[i] = int(k);
    return out;
}

DiffusionMetrics diffusionMetrics(Model &denoiser, Model &classifier, const TensorValue &real, const std::vector<int> &realLabels,
                                  const DiffusionMetricsOptions &o)
{
    const auto t0 = std::chrono::steady_clock::now();
    const DiffusionConfig c = diffusionConfig(denoiser);
    if (o.count < 2) throw Error(ErrorCode::BadInput, "Metrics need at least 2 samples");
    const std::vector<std::string> &labels = classifier.summary().metadata.labels;
    const std::vector<int> classes = wordClasses(denoiser, c, labels);
    // The prompt's positions and where each belongs (a region that belongs to no position is not scored).
    std::vector<DiffusionRegion> regions;
    int64_t maxToken = -1;
    for (const DiffusionRegion &r : c.regions)
        if (r.token >= 0) regions.push_back(r), maxToken = std::max<int64_t>(maxToken, r.token);
    const int64_t P = c.promptLength > 0 ? c.promptLength : std::max<int64_t>(1, maxToken + 1);
    // Maps are scored when words have regions and the denoiser has cross-attention.
    bool mapsScored = false;
    if (maxToken >= 0)
        for (const DenoiserSite &site : denoiserSites(denoiser)) mapsScored = mapsScored || site.cross;
    if (regions.empty()) {
        DiffusionRegion whole;
        whole.name = "image";
        whole.token = 0;
        regions.push_back(whole);   // all-zero box: the whole image
    }
    // Words to draw from: those with a class (all but the null word when none has).
    std::vector<int64_t> pool;
    for (size_t i = 0; i < c.vocab.size(); ++i)
        if (int64_t(i) != c.nullId && !c.vocab[i].empty() && classes[i] >= 0) pool.push_back(int64_t(i));
    const bool classed = !pool.empty();
    if (!classed)
        for (size_t i = 0; i < c.vocab.size(); ++i)
            if (int64_t(i) != c.nullId && !c.vocab[i].empty()) pool.push_back(int64_t(i));
    if (pool.empty()) throw Error(ErrorCode::BadInput, "The vocabulary has no word but the null word");
    std::map<int, std::vector<int64_t>> realOf;   // class → real items
    for (size_t i = 0; i < realLabels.size(); ++i) realOf[realLabels[i]].push_back(int64_t(i));

    DiffusionMetrics m;
    m.samples = o.count;
    m.featureLayer = o.layer.empty() ? "logits" : o.layer;
    std::mt19937_64 rng(o.seed);
    const std::vector<TensorValue> masks = regionMasks(c, P);
    std::vector<TensorValue> images;
    std::vector<double> iouSum(regions.size(), 0.0), iouSum2(regions.size(), 0.0);
    std::vector<int> iouCount(regions.size(), 0);
    for (int i = 0; i < o.count; ++i) {
        if (o.cancelled && o.cancelled()) throw Error(ErrorCode::Cancelled, "Cancelled");
        std::vector<int64_t> prompt(static_cast<size_t>(P));
        for (auto &id : prompt) id = pool[size_t(rng() % pool.size())];
        DiffusionRequest r;
        r.cond = prompt;
        r.steps = o.steps;
        r.seed = o.seed + uint64_t(i);
        r.sampler = o.sampler;
        r.guidance = o.guidance;
        r.cancelled = o.cancelled;
        r.captureAttention = mapsScored;
        const DiffusionResult res = sampleDiffusion(denoiser, r);
        images.push_back(res.sample);
        m.prompts.push_back(prompt);
        if (r.captureAttention && !res.crossSites.empty()) {
            std::vector<TensorValue> mk = masks;
            for (size_t k = 0; k < mk.size(); ++k)
                if (prompt[k] == c.nullId) mk[k] = TensorValue();
            const TensorValue maps = wordHeatMaps(res);
            const std::vector<double> iou = mapIoU(maps, mk, o.iouThreshold), iou2 = mapIoU(maps, mk, o.iouThreshold, true);
            for (size_t rr = 0; rr < regions.size(); ++rr) {
                const int tok = regions[rr].token;
                if (tok >= 0 && size_t(tok) < iou.size() && !std::isnan(iou[size_t(tok)]))
                    iouSum[rr] += iou[size_t(tok)], iouSum2[rr] += iou2[size_t(tok)], ++iouCount[rr];
            }
        }
        if (o.progress) o.progress(i + 1, o.count);
    }
    m.images = concatRows(images);

    // Each region of every sample through the classifier.
    std::vector<TensorValue> feats(regions.size()), logits(regions.size());
    for (size_t rr = 0; rr < regions.size(); ++rr)
        feats[rr] = classifierFeatures(classifier, o.layer, classifierInput(classifier, c, m.images, regions[rr]), logits[rr]);
    std::vector<float> allLogits;
    int64_t K = logits[0].dim(1), hits = 0, scored = 0;
    for (size_t rr = 0; rr < regions.size(); ++rr) {
        allLogits.insert(allLogits.end(), logits[rr].data(), logits[rr].data() + logits[rr].numel());
        const int tok = std::max(0, regions[rr].token);
        for (int i = 0; i < o.count; ++i) {
            const int want = size_t(tok) < m.prompts[size_t(i)].size() ? classes[size_t(m.prompts[size_t(i)][size_t(tok)])] : -1;
            if (want < 0) continue;
            ++scored;
            hits += argmaxRow(logits[rr], i) == want;
        }
    }
    m.inceptionScore = inceptionScore(TensorValue({int64_t(regions.size()) * o.count, K}, std::move(allLogits)));
    if (classed && scored) m.promptAccuracy = double(hits) / double(scored);
    auto sideBySide = [&](const std::vector<TensorValue> &parts) {
        const int64_t n = parts[0].dim(0);
        int64_t D = 0;
        for (const auto &p : parts) D += p.dim(1);
        std::vector<float> v;
        v.reserve(size_t(n * D));
        for (int64_t i = 0; i < n; ++i)
            for (const auto &p : parts) v.insert(v.end(), p.data() + i * p.dim(1), p.data() + (i + 1) * p.dim(1));
        return TensorValue({n, D}, std::move(v));
    };
    const TensorValue fake = sideBySide(feats);

    // Composites of real items: for sample i, region r, the next real item of the class of the word placed there.
    if (real.numel() > 0 && classed) {
        if (real.shape().size() != 4 || int64_t(realLabels.size()) != real.dim(0))
            throw Error(ErrorCode::BadInput, "Real items must be [M, C, h, w] with one label each");
        std::map<int, size_t> next;
        std::vector<std::vector<int64_t>> pick(regions.size());
        for (int i = 0; i < o.count; ++i)
            for (size_t rr = 0; rr < regions.size(); ++rr) {
                const int tok = std::max(0, regions[rr].token);
                const int cls = size_t(tok) < m.prompts[size_t(i)].size() ? classes[size_t(m.prompts[size_t(i)][size_t(tok)])] : -1;
                const auto it = realOf.find(cls);
                if (it == realOf.end() || it->second.empty())
                    throw Error(ErrorCode::BadInput,
                                "No real item of class " + std::to_string(cls) + " ("
                                    + (cls >= 0 && size_t(cls) < labels.size() ? labels[size_t(cls)] : "?") + ") to compare with");
                pick[rr].push_back(it->second[next[cls]++ % it->second.size()]);
            }
        std::vector<TensorValue> realFeats(regions.size());
        std::vector<float> realLogitsAll;
        int64_t realHits = 0, realScored = 0;
        for (size_t rr = 0; rr < regions.size(); ++rr) {
            std::vector<TensorValue> rows;
            for (int64_t j : pick[rr]) rows.push_back(real.rows(j, j + 1));
            TensorValue lg;
            realFeats[rr] = classifierFeatures(classifier, o.layer, concatRows(rows), lg);
            realLogitsAll.insert(realLogitsAll.end(), lg.data(), lg.data() + lg.numel());
            for (size_t i = 0; i < pick[rr].size(); ++i) {
                ++realScored;
                realHits += argmaxRow(lg, int64_t(i)) == realLabels[size_t(pick[rr][i])];
            }
        }
        m.realItems = int64_t(regions.size()) * o.count;
        m.realInceptionScore = inceptionScore(TensorValue({m.realItems, K}, std::move(realLogitsAll)));
        m.realAccuracy = double(realHits) / double(std::max<int64_t>(1, realScored));
        m.frechetDistance = frechetDistance(fake, sideBySide(realFeats));
    }
    if (mapsScored) {
        double sum = 0, sum2 = 0;
        int n = 0;
        for (size_t rr = 0; rr < regions.size(); ++rr) {
            m.regionIou.push_back(iouCount[rr] ? iouSum[rr] / iouCount[rr] : NAN);
            m.regionIouMinMax.push_back(iouCount[rr] ? iouSum2[rr] / iouCount[rr] : NAN);
            if (iouCount[rr]) sum += m.regionIou.back(), sum2 += m.regionIouMinMax.back(), ++n;
        }
        if (n) m.miou = sum / n, m.miouMinMax = sum2 / n;
    }
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return m;
}

}   // namespace pellucid
