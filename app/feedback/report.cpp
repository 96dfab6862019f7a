#include "app/feedback/report.h"

#include "app/io/imageinput.h"
#include "app/io/quiet.h"
#include "engine/attribution/methods.h"
#include "engine/core/errors.h"
#include "engine/core/files.h"
#include "engine/core/npy.h"
#include "engine/core/stats.h"
#include "engine/generative/generative.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

namespace pellucid::feedback {

namespace {

bool hasNpyExtension(const std::string &path)
{
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    return ext == ".npy";
}

/// A .npy held in memory, through a private temporary file (readNpy reads files).
TensorValue npyFromBytes(const std::vector<uint8_t> &bytes)
{
    char name[] = "/tmp/pellucid-feedback-XXXXXX";
    const int fd = mkstemp(name);
    if (fd < 0) throw Error(ErrorCode::IoError, "Cannot create a temporary file for a stored .npy input");
    close(fd);
    {
        std::ofstream f(name, std::ios::binary);
        f.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    }
    try {
        TensorValue t = readNpy(name);
        std::remove(name);
        return t;
    } catch (...) {
        std::remove(name);
        throw;
    }
}

std::string metricKey(double topPercent)
{
    std::ostringstream s;
    s << "iou_top" << topPercent;
    return s.str();
}

Json intervalJson(const MeanInterval &m)
{
    Json j = Json::array();
    j.push(Json(m.lo));
    j.push(Json(m.hi));
    return j;
}

const char *kVerdicts[] = {"agree", "disagree", "unsure"};
int verdictIndex(const std::string &v)
{
    for (int i = 0; i < 3; ++i)
        if (v == kVerdicts[i]) return i;
    return -1;
}

/// The rated latent samples decoded again and measured beside their ratings (RatingSummary).
void measureRatedSamples(RatingSummary &s, const std::vector<const Annotation *> &rows, const ReportOptions &o)
{
    if (s.source != "latent") {
        s.metricsNote = "measured for latent samples only";
        return;
    }
    try {
        std::vector<float> codes;
        std::vector<double> ratings;
        int64_t dim = -1;
        for (const Annotation *a : rows) {
            const Json j = Json::parse(a->sample);
            if (j.contains("class")) throw Error(ErrorCode::BadInput, "samples of a conditional generator are not measured");
            const auto &z = j.at("code").asArray();
            if (dim >= 0 && int64_t(z.size()) != dim) throw Error(ErrorCode::BadInput, "the rated codes differ in length");
            dim = int64_t(z.size());
            for (const Json &v : z) codes.push_back(float(v.asNumber()));
            ratings.push_back(a->rating);
        }
        if (dim <= 0) throw Error(ErrorCode::BadInput, "no codes stored with the ratings");
        if (sha256File(s.modelPath) != s.modelSha)
            throw Error(ErrorCode::BadInput, "the generator at " + s.modelPath + " changed since it was rated");
        auto generator = Model::load(s.modelPath);
        std::map<std::string, std::unique_ptr<Model>> loaded;
        const Companions c = discoverCompanions(generator->summary(), [&](const std::string &path) -> Model & {
            auto &m = loaded[path];
            if (!m) m = Model::load(path);
            return *m;
        });
        if (c.classifier.empty()) throw Error(ErrorCode::BadInput, "no companion classifier found beside the generator");
        Model &classifier = *loaded.at(c.classifier);
        const TensorValue z({int64_t(rows.size()), dim}, codes);
        const ModelSummary &cs = classifier.summary();
        const std::string layer = cs.metadata.suggestedLayers.empty() ? "" : cs.metadata.suggestedLayers.back();   // as gen-metrics
        TensorValue real;
        if (o.real) real = o.real->batch(0, std::min(o.real->size(), o.realItems), cs.metadata.input, cs.inputShape);
        const GenerativeReport g = generativeReport(*generator, classifier, layer, z, real, nullptr, {});
        s.classifier = c.classifier;
        s.featureLayer = g.featureLayer;
        s.inceptionScore = g.inceptionScore;
        s.diversity = g.diversity;
        s.hasFrechet = g.hasReal;
        s.frechetDistance = g.frechetDistance;
        s.realItems = g.realItems;
        // Each sample's top-1 probability under the classifier, against its rating.
        const TensorValue images = toClassifierInput(decodeCodes(*generator, z), generator->summary(), classifier.summary());
        const TensorValue logits = classifier.forward(images, {}).outputs.at(0);
        const int64_t n = logits.dim(0), k = logits.dim(1);
        std::vector<double> confidence(static_cast<size_t>(n), 0.0);
        std::map<int, std::pair<double, int>> byRating;
        for (int64_t i = 0; i < n; ++i) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < k; ++j) mx = std::max(mx, double(logits.at(i * k + j)));
            for (int64_t j = 0; j < k; ++j) sum += std::exp(double(logits.at(i * k + j)) - mx);
            confidence[size_t(i)] = 1.0 / sum;
            auto &b = byRating[int(ratings[size_t(i)])];
            b.first += confidence[size_t(i)];
            b.second += 1;
        }
        for (const auto &[rating, b] : byRating) s.confidenceByRating[rating] = b.first / b.second;
        s.confidenceSpearman = spearman(ratings, confidence);
        s.hasMetrics = true;
    } catch (const std::exception &e) {
        s.metricsNote = e.what();
    }
}

}   // namespace

MaskImage readMaskFile(const std::string &path)
{
    checkInputFile(path, kMaxNpyBytes, "mask");
    MaskImage m;
    if (hasNpyExtension(path)) {
        const TensorValue t = readNpy(path);
        Shape s = t.shape();
        while (s.size() > 2 && s[0] == 1) s.erase(s.begin());
        if (s.size() != 2) throw Error(ErrorCode::BadInput, "The mask " + path + " has shape " + shapeToString(t.shape()) + "; it needs [H, W]");
        m.height = int(s[0]);
        m.width = int(s[1]);
        m.pixels.resize(size_t(t.numel()));
        for (int64_t i = 0; i < t.numel(); ++i) {
            if (std::isnan(t.at(i))) throw Error(ErrorCode::BadInput, "The mask " + path + " holds NaN");
            m.pixels[size_t(i)] = t.at(i) != 0;
        }
        return m;
    }
    cv::Mat img = withoutLibraryChatter([&] { return cv::imread(path, cv::IMREAD_UNCHANGED); });
    if (img.empty()) throw Error(ErrorCode::BadInput, "The mask " + path + " is not an image OpenCV can read (PNG, or a .npy)");
    m.width = img.cols;
    m.height = img.rows;
    m.pixels.assign(size_t(img.total()), 0);
    std::vector<cv::Mat> channels;
    cv::split(img, channels);
    // With an alpha channel that varies, the alpha is the mask (a painted layer over transparency); an
    // opaque or absent alpha is left out, the colour channels decide.
    if (channels.size() == 2 || channels.size() == 4) {
        double lo = 0, hi = 0;
        cv::minMaxLoc(channels.back(), &lo, &hi);
        if (lo != hi)
            channels = {channels.back()};
        else
            channels.pop_back();
    }
    for (const cv::Mat &c : channels) {
        cv::Mat nonZero = c != 0;
        for (int y = 0; y < img.rows; ++y)
            for (int x = 0; x < img.cols; ++x)
                if (nonZero.at<uint8_t>(y, x)) m.pixels[size_t(y) * size_t(img.cols) + size_t(x)] = 1;
    }
    return m;
}

MaskImage fitMask(const MaskImage &mask, int H, int W, int fileWidth, int fileHeight, const InputSpec &spec)
{
    if (mask.width == W && mask.height == H) return mask;
    if (!(mask.width == fileWidth && mask.height == fileHeight && fileWidth > 0)) {
        std::string file = fileWidth > 0 ? " or the file's " + std::to_string(fileWidth) + "×" + std::to_string(fileHeight) : "";
        throw Error(ErrorCode::BadInput,
                    "The mask is " + std::to_string(mask.width) + "×" + std::to_string(mask.height) + ", not the input's " + std::to_string(W) + "×"
                        + std::to_string(H) + file);
    }
    // The picture's geometry (app/io/imageinput.cpp), with nearest neighbour so the mask stays a mask.
    cv::Mat m(mask.height, mask.width, CV_8U, const_cast<uint8_t *>(mask.pixels.data()));
    cv::Mat g = m.clone();
    if (spec.resize > 0) {
        const double s = double(spec.resize) / double(std::min(g.rows, g.cols));
        const int h = g.rows <= g.cols ? spec.resize : int(double(g.rows) * s);
        const int w = g.cols <= g.rows ? spec.resize : int(double(g.cols) * s);
        if (h != g.rows || w != g.cols) cv::resize(g, g, cv::Size(w, h), 0, 0, cv::INTER_NEAREST);
    }
    if (spec.cropH > 0 && spec.cropW > 0) {
        if (spec.cropH > g.rows || spec.cropW > g.cols) throw Error(ErrorCode::BadInput, "The mask is smaller than the model's crop");
        const int top = int(std::lround((g.rows - spec.cropH) / 2.0)), left = int(std::lround((g.cols - spec.cropW) / 2.0));
        g = g(cv::Rect(left, top, int(spec.cropW), int(spec.cropH))).clone();
    }
    if (g.rows != H || g.cols != W) cv::resize(g, g, cv::Size(W, H), 0, 0, cv::INTER_NEAREST);
    MaskImage out;
    out.width = W;
    out.height = H;
    out.pixels.assign(g.datastart, g.dataend);
    return out;
}

TensorValue inputFromBytes(const Model &model, const std::vector<uint8_t> &bytes, const std::string &path)
{
    const ModelSummary &s = model.summary();
    if (hasNpyExtension(path)) return npyFromBytes(bytes);
    std::vector<unsigned char> b(bytes.begin(), bytes.end());
    return imageBytesToTensor(b, s.metadata.input, s.inputShape);
}

std::pair<int, int> imageFileSize(const std::vector<uint8_t> &bytes)
{
    if (bytes.empty()) return {0, 0};
    const cv::Mat raw(1, int(bytes.size()), CV_8U, const_cast<uint8_t *>(bytes.data()));
    const cv::Mat img = withoutLibraryChatter([&] { return cv::imdecode(raw, cv::IMREAD_UNCHANGED); });
    return img.empty() ? std::pair<int, int>{0, 0} : std::pair<int, int>{img.cols, img.rows};
}

AttributionParams defaultReportParams(AttributionMethod method, const ModelSummary &summary)
{
    AttributionParams p;
    p.method = method;
    p.target.kind = AttributionTarget::Kind::Predicted;
    const MethodInfo &info = methodInfo(method);
    if (info.needsLayer) p.layer = suggestedCamLayer(summary);
    if (info.defaultSamples > 0) p.samples = std::max(info.defaultSamples, info.minSamples);
    return p;
}

Report feedbackReport(const Store &store, const ReportOptions &o, const WorkflowSink &sink)
{
    Report r;
    r.database = store.path();
    r.topPercent = o.topPercent;
    if (!(o.topPercent > 0 && o.topPercent <= 100)) throw Error(ErrorCode::BadInput, "Top-k % needs 0 < k <= 100");
    std::vector<AttributionMethod> methods;
    if (o.methods.empty()) {
        methods = allMethods();
    } else {
        for (const std::string &name : o.methods) {
            AttributionMethod m;
            if (!parseMethod(name, m)) throw Error(ErrorCode::BadInput, "Unknown method '" + name + "' (methods: " + methodNames() + ")");
            methods.push_back(m);
        }
    }
    std::string onlySha;
    if (!o.modelPath.empty()) onlySha = sha256File(o.modelPath);

    std::vector<Annotation> all = store.annotations();
    if (!onlySha.empty()) all.erase(std::remove_if(all.begin(), all.end(), [&](const Annotation &a) { return a.modelSha != onlySha; }), all.end());
    std::vector<const Annotation *> masks, verdicts, ratings;
    for (const Annotation &a : all) (a.kind == "mask" ? masks : a.kind == "verdict" ? verdicts : ratings).push_back(&a);

    // Each method's figures over the masks, model by model.
    std::map<AttributionMethod, std::vector<double>> pointing, energy, iou, auc;
    std::map<AttributionMethod, std::string> errors;
    std::map<AttributionMethod, int64_t> failures;
    std::map<std::string, std::vector<const Annotation *>> byModel;
    for (const Annotation *a : masks) byModel[a->modelSha].push_back(a);
    const int64_t total = int64_t(masks.size() * methods.size());
    int64_t done = 0;
    for (const auto &[sha, items] : byModel) {
        std::string path = !o.modelPath.empty() ? o.modelPath : items.front()->modelPath;
        std::unique_ptr<Model> model;
        try {
            if (o.modelPath.empty() && sha256File(path) != sha)
                throw Error(ErrorCode::BadInput, "the file at " + path + " changed since it was annotated");
            model = Model::load(path);
        } catch (const std::exception &e) {
            r.skipped.push_back(std::to_string(items.size()) + " masks of model " + sha.substr(0, 12) + " (" + path + "): " + e.what()
                                + "; give --model FILE");
            done += int64_t(items.size() * methods.size());
            continue;
        }
        const ModelSummary &summary = model->summary();
        std::map<std::string, TensorValue> inputs;
        std::vector<std::pair<const Annotation *, PixelMask>> usable;
        for (const Annotation *a : items) {
            try {
                if (!inputs.count(a->inputSha)) {
                    const std::vector<uint8_t> bytes = store.inputBytes(a->inputSha);
                    if (bytes.empty()) throw Error(ErrorCode::BadInput, "its input is not in the database");
                    inputs[a->inputSha] = inputFromBytes(*model, bytes, a->inputPath);
                }
                const TensorValue &x = inputs[a->inputSha];
                if (x.shape().size() != 4) throw Error(ErrorCode::BadInput, "its input " + shapeToString(x.shape()) + " is not an image");
                if (a->maskWidth != x.dim(3) || a->maskHeight != x.dim(2))
                    throw Error(ErrorCode::BadInput,
                                "its mask is " + std::to_string(a->maskWidth) + "×" + std::to_string(a->maskHeight) + ", the input "
                                    + std::to_string(x.dim(3)) + "×" + std::to_string(x.dim(2)));
                if (std::none_of(a->mask.begin(), a->mask.end(), [](uint8_t v) { return v != 0; }))
                    throw Error(ErrorCode::BadInput, "its mask is empty");
                usable.emplace_back(a, PixelMask(a->mask.begin(), a->mask.end()));
            } catch (const std::exception &e) {
                r.skipped.push_back("mask " + std::to_string(a->id) + " (" + a->annotator + ", " + a->inputPath + "): " + e.what());
                done += int64_t(methods.size());
            }
        }
        r.maskItems += int64_t(usable.size());
        for (AttributionMethod m : methods) {
            for (const auto &[a, mask] : usable) {
                sink.check();
                AttributionParams p = defaultReportParams(m, summary);
                // An annotation's own parameters for this method, when it stored them.
                const Annotation *own = a->method == methodName(m) && !a->params.empty() ? a : nullptr;
                for (const Annotation *v : verdicts)
                    if (!own && v->modelSha == sha && v->inputSha == a->inputSha && v->method == methodName(m) && !v->params.empty()) own = v;
                try {
                    if (own) p = attributionParamsFromJson(Json::parse(own->params));
                    const TensorValue &x = inputs[a->inputSha];
                    const auto result = explainInput(*model, x, p);
                    const MaskAgreement g = maskAgreement(pixelSaliency(result->map, x.dim(2), x.dim(3)), mask, o.topPercent);
                    pointing[m].push_back(g.pointing);
                    energy[m].push_back(g.energy);
                    iou[m].push_back(g.iouTop);
                    auc[m].push_back(g.auc);
                } catch (const Error &e) {
                    if (e.code() == ErrorCode::Cancelled) throw;
                    errors[m] = e.what();
                    ++failures[m];
                } catch (const std::exception &e) {
                    errors[m] = e.what();
                    ++failures[m];
                }
                sink.report(++done, total, "feedback report");
            }
        }
    }

    for (AttributionMethod m : methods) {
        MethodReport mr;
        mr.method = methodName(m);
        mr.items = int64_t(pointing[m].size());
        mr.pointing = meanInterval(pointing[m]);
        mr.energy = meanInterval(energy[m]);
        mr.iouTop = meanInterval(iou[m]);
        mr.auc = meanInterval(auc[m]);
        if (mr.items == 0 && errors.count(m)) mr.error = errors[m];
        if (mr.items > 0 && failures[m] > 0)   // ranked over fewer items than the others: said
            r.skipped.push_back(mr.method + " failed on " + std::to_string(failures[m]) + " of " + std::to_string(failures[m] + mr.items)
                                + " masks: " + errors[m]);
        for (const Annotation *v : verdicts)
            if (v->method == mr.method) {
                mr.agree += v->verdict == "agree";
                mr.disagree += v->verdict == "disagree";
                mr.unsure += v->verdict == "unsure";
            }
        r.methods.push_back(std::move(mr));
    }
    auto rank = [](const MeanInterval &m) { return std::isnan(m.mean) ? -1.0 : m.mean; };
    std::stable_sort(r.methods.begin(), r.methods.end(), [&](const MethodReport &a, const MethodReport &b) {
        if (rank(a.pointing) != rank(b.pointing)) return rank(a.pointing) > rank(b.pointing);
        return rank(a.energy) > rank(b.energy);
    });

    // Between annotators: masks on the same input, verdicts on the same model, input and method (each
    // annotator's latest).
    std::map<std::string, std::map<std::string, const Annotation *>> masksByInput;
    for (const Annotation *a : masks) masksByInput[a->inputSha][a->annotator] = a;
    double iouSum = 0;
    for (const auto &[input, byAnnotator] : masksByInput)
        for (auto i = byAnnotator.begin(); i != byAnnotator.end(); ++i)
            for (auto k = std::next(i); k != byAnnotator.end(); ++k)
                if (i->second->mask.size() == k->second->mask.size()) {
                    iouSum +=
                        maskIoU(PixelMask(i->second->mask.begin(), i->second->mask.end()), PixelMask(k->second->mask.begin(), k->second->mask.end()));
                    ++r.maskPairs;
                }
    r.maskIoU = r.maskPairs ? iouSum / double(r.maskPairs) : std::nan("");
    std::map<std::string, std::map<std::string, int>> verdictOf;   // item → annotator → verdict
    std::set<std::string> annotators;
    for (const Annotation *v : verdicts) {
        verdictOf[v->modelSha + "|" + v->inputSha + "|" + v->method][v->annotator] = verdictIndex(v->verdict);
        annotators.insert(v->annotator);
    }
    for (auto i = annotators.begin(); i != annotators.end(); ++i)
        for (auto k = std::next(i); k != annotators.end(); ++k) {
            std::vector<int> a, b;
            for (const auto &[item, by] : verdictOf)
                if (by.count(*i) && by.count(*k)) {
                    a.push_back(by.at(*i));
                    b.push_back(by.at(*k));
                }
            if (a.empty()) continue;
            r.kappas.push_back({*i, *k, int64_t(a.size()), cohenKappa(a, b)});
        }

    // Ratings of generated samples, per source and model.
    std::map<std::pair<std::string, std::string>, std::vector<const Annotation *>> rated;
    for (const Annotation *a : ratings) rated[{a->source, a->modelSha}].push_back(a);
    for (const auto &[key, rows] : rated) {
        RatingSummary s;
        s.source = key.first;
        s.modelSha = key.second;
        s.modelPath = rows.front()->modelPath;
        s.count = int64_t(rows.size());
        std::vector<double> values;
        for (const Annotation *a : rows) {
            values.push_back(a->rating);
            for (const std::string &f : a->flags) ++s.flags[f];
        }
        s.rating = meanInterval(values);
        measureRatedSamples(s, rows, o);
        r.ratings.push_back(std::move(s));
    }
    return r;
}

Json reportJson(const Report &r)
{
    Json j = Json::object();
    j["database"] = Json(r.database);
    j["top_percent"] = Json(r.topPercent);
    j["items"] = Json(r.maskItems);
    Json methods = Json::array();
    for (const MethodReport &m : r.methods) {
        Json e = Json::object();
        e["method"] = Json(m.method);
        e["items"] = Json(m.items);
        auto put = [&](const std::string &key, const MeanInterval &v) {
            e[key] = m.items ? Json(v.mean) : Json(nullptr);
            e[key + "_ci95"] = m.items ? intervalJson(v) : Json(nullptr);
        };
        put("pointing_game", m.pointing);
        put("energy_pointing_game", m.energy);
        put(metricKey(r.topPercent), m.iouTop);
        put("auc", m.auc);
        Json v = Json::object();
        v["agree"] = Json(m.agree);
        v["disagree"] = Json(m.disagree);
        v["unsure"] = Json(m.unsure);
        e["verdicts"] = std::move(v);
        if (!m.error.empty()) e["error"] = Json(m.error);
        methods.push(std::move(e));
    }
    j["methods"] = std::move(methods);
    Json agreement = Json::object();
    agreement["mask_pairs"] = Json(r.maskPairs);
    agreement["mask_iou"] = Json(r.maskIoU);   // null without pairs
    Json kappas = Json::array();
    for (const AnnotatorPair &p : r.kappas) {
        Json k = Json::object();
        k["annotators"] = Json(Json::Array{Json(p.first), Json(p.second)});
        k["items"] = Json(p.items);
        k["kappa"] = Json(p.kappa);
        kappas.push(std::move(k));
    }
    agreement["verdict_kappa"] = std::move(kappas);
    j["agreement"] = std::move(agreement);
    Json ratings = Json::array();
    for (const RatingSummary &s : r.ratings) {
        Json e = Json::object();
        e["source"] = Json(s.source);
        e["model_sha256"] = Json(s.modelSha);
        e["model_path"] = Json(s.modelPath);
        e["count"] = Json(s.count);
        e["mean_rating"] = Json(s.rating.mean);
        e["mean_rating_ci95"] = intervalJson(s.rating);
        Json f = Json::object();
        for (const auto &[flag, n] : s.flags) f[flag] = Json(n);
        e["flags"] = std::move(f);
        if (s.hasMetrics) {
            e["classifier"] = Json(s.classifier);
            e["inception_score"] = Json(s.inceptionScore);
            e["diversity"] = Json(s.diversity);
            e["rating_confidence_spearman"] = Json(s.confidenceSpearman);
            e["feature_layer"] = Json(s.featureLayer);
            if (s.hasFrechet) {
                e["frechet_distance"] = Json(s.frechetDistance);
                e["real_items"] = Json(s.realItems);
            }
            Json by = Json::object();
            for (const auto &[rating, c] : s.confidenceByRating) by[std::to_string(rating)] = Json(c);
            e["confidence_by_rating"] = std::move(by);
        } else {
            e["metrics_note"] = Json(s.metricsNote);
        }
        ratings.push(std::move(e));
    }
    j["ratings"] = std::move(ratings);
    Json skipped = Json::array();
    for (const std::string &s : r.skipped) skipped.push(Json(s));
    j["skipped"] = std::move(skipped);
    return j;
}

std::string reportText(const Report &r)
{
    std::ostringstream s;
    char line[512];
    s << "Feedback report of " << r.database << ": " << r.maskItems << " masks, methods ranked by pointing game (95 % intervals)\n";
    std::snprintf(line, sizeof line, "%-20s %6s  %-18s %-18s %-18s %-18s %s\n", "method", "items", "pointing game", "energy pointing",
                  ("IoU top " + std::to_string(int(r.topPercent)) + " %").c_str(), "ROC-AUC", "verdicts a/d/u");
    s << line;
    auto cell = [](const MeanInterval &m, int64_t items) {
        char c[64];
        if (!items || std::isnan(m.mean))
            std::snprintf(c, sizeof c, "-");
        else if (std::isnan(m.lo))
            std::snprintf(c, sizeof c, "%.3f (n = %lld)", m.mean, (long long)m.n);
        else
            std::snprintf(c, sizeof c, "%.3f ± %.3f", m.mean, (m.hi - m.lo) / 2);
        return std::string(c);
    };
    for (const MethodReport &m : r.methods) {
        std::snprintf(line, sizeof line, "%-20s %6lld  %-18s %-18s %-18s %-18s %lld/%lld/%lld", m.method.c_str(), (long long)m.items,
                      cell(m.pointing, m.items).c_str(), cell(m.energy, m.items).c_str(), cell(m.iouTop, m.items).c_str(),
                      cell(m.auc, m.items).c_str(), (long long)m.agree, (long long)m.disagree, (long long)m.unsure);
        s << line << (m.error.empty() ? std::string() : "  (" + m.error + ")") << "\n";
    }
    if (r.maskPairs) {
        std::snprintf(line, sizeof line, "Masks of different annotators on one input: %lld pairs, mean IoU %.3f\n", (long long)r.maskPairs,
                      r.maskIoU);
        s << line;
    }
    for (const AnnotatorPair &p : r.kappas) {
        std::snprintf(line, sizeof line, "Verdicts of %s and %s: %lld items, Cohen's kappa %.3f\n", p.first.c_str(), p.second.c_str(),
                      (long long)p.items, p.kappa);
        s << line;
    }
    for (const RatingSummary &g : r.ratings) {
        std::snprintf(line, sizeof line, "Ratings of %s samples of %s: %lld, mean %.2f ± %.2f", g.source.empty() ? "generated" : g.source.c_str(),
                      g.modelPath.c_str(), (long long)g.count, g.rating.mean, (g.rating.hi - g.rating.lo) / 2);
        s << line;
        for (const auto &[flag, n] : g.flags) s << ", " << flag << " " << n;
        if (g.hasMetrics) {
            std::snprintf(line, sizeof line,
                          "; the same samples: inception score %.3f, diversity %.3f, Spearman rho(rating, classifier confidence) %.3f",
                          g.inceptionScore, g.diversity, g.confidenceSpearman);
            s << line;
            if (g.hasFrechet) {
                std::snprintf(line, sizeof line, ", Frechet distance %.3f to %lld real images", g.frechetDistance, (long long)g.realItems);
                s << line;
            }
        } else if (!g.metricsNote.empty()) {
            s << " (not measured: " << g.metricsNote << ")";
        }
        s << "\n";
    }
    for (const std::string &k : r.skipped) s << "skipped: " << k << "\n";
    return s.str();
}

}   // namespace pellucid::feedback
