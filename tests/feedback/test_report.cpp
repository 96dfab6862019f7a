// The feedback report (app/feedback/report.h) on the demo classifier: each method's figures are its map
// (default parameters, or those an annotation stored) against each mask, as computed directly; methods are
// ranked by pointing game; annotator agreement, ratings, filters and skipped items.
#include "app/feedback/report.h"
#include "app/io/imageinput.h"
#include "engine/attribution/methods.h"
#include "engine/core/errors.h"
#include "engine/generative/generative.h"
#include "tests/common/testkit.h"

#include <QCoreApplication>
#include <opencv2/imgcodecs.hpp>
#include <QTemporaryDir>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

using namespace pellucid;
using namespace pellucid::feedback;

namespace {

const std::string kDemo = std::string(PELLUCID_RESOURCES_DIR) + "/models/fashion_mnist_cnn.pt";
const char *kSamples[] = {"0-t-shirt-top.png", "7-sneaker.png", "9-ankle-boot.png"};

std::string sample(const char *name) { return std::string(PELLUCID_RESOURCES_DIR) + "/samples/" + name; }

std::vector<uint8_t> bytesOf(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

QTemporaryDir &scratch()
{
    static QTemporaryDir dir;
    return dir;
}

/// A mask: the item's silhouette (raw pixel > 40 of 255), or its left half when `left`.
std::vector<uint8_t> maskOf(const TensorValue &x, const InputSpec &spec, bool left = false)
{
    const int64_t H = x.dim(2), W = x.dim(3);
    std::vector<uint8_t> m(size_t(H * W));
    const double mean = spec.mean.empty() ? 0 : spec.mean[0], std = spec.std.empty() ? 1 : spec.std[0];
    for (int64_t i = 0; i < H * W; ++i) {
        const double raw = x.at(i) * std + mean;   // back to [0, 1]
        m[size_t(i)] = left ? (i % W) < W / 2 : raw > 40.0 / 255.0;
    }
    return m;
}

struct Fixture {
    std::string db;
    std::string modelSha;
    std::unique_ptr<Model> model;
    std::vector<TensorValue> inputs;
    std::vector<std::vector<uint8_t>> masks;
};

Fixture &fixture()
{
    static Fixture f = [] {
        Fixture f;
        f.db = scratch().filePath("report.sqlite").toStdString();
        f.model = Model::load(kDemo);
        f.modelSha = sha256File(kDemo);
        Store s(f.db);
        const ModelSummary &sum = f.model->summary();
        std::vector<Annotation> rows;
        for (const char *name : kSamples) {
            const std::string path = sample(name);
            const std::vector<uint8_t> bytes = bytesOf(path);
            const std::string sha = sha256Bytes(bytes.data(), bytes.size());
            s.putInput(sha, path, bytes);
            const TensorValue x = imageFileToTensor(path, sum.metadata.input, sum.inputShape);
            f.inputs.push_back(x);
            f.masks.push_back(maskOf(x, sum.metadata.input));
            Annotation a;
            a.kind = "mask";
            a.modelSha = f.modelSha;
            a.modelPath = kDemo;
            a.inputSha = sha;
            a.inputPath = path;
            a.annotator = "alice";
            a.maskWidth = int(x.dim(3));
            a.maskHeight = int(x.dim(2));
            a.mask = f.masks.back();
            rows.push_back(a);
        }
        s.add(rows);
        return f;
    }();
    return f;
}

AttributionParams withMethod(const char *name)
{
    AttributionMethod m;
    if (!parseMethod(name, m)) throw std::runtime_error(name);
    return defaultReportParams(m, fixture().model->summary());
}

MaskAgreement direct(const AttributionParams &p, size_t item)
{
    Fixture &f = fixture();
    const TensorValue &x = f.inputs[item];
    const auto r = explainInput(*f.model, x, p);
    return maskAgreement(pixelSaliency(r->map, x.dim(2), x.dim(3)), PixelMask(f.masks[item].begin(), f.masks[item].end()), 10);
}

const MethodReport *find(const Report &r, const std::string &method)
{
    for (const MethodReport &m : r.methods)
        if (m.method == method) return &m;
    return nullptr;
}

bool near(double a, double b) { return std::abs(a - b) <= 1e-9; }

}   // namespace

TEST(each_method_is_its_map_against_each_mask)
{
    Fixture &f = fixture();
    const Store s(f.db, true);
    ReportOptions o;
    o.methods = {"saliency", "gradcam", "occlusion"};
    const Report r = feedbackReport(s, o);
    CHECK_EQ(r.maskItems, int64_t(3));
    CHECK_EQ(r.methods.size(), size_t(3));
    CHECK(r.skipped.empty());
    for (const char *name : {"saliency", "gradcam", "occlusion"}) {
        const MethodReport *m = find(r, name);
        CHECK(m && m->items == 3 && m->error.empty());
        if (!m) continue;
        std::vector<double> pg, en, io, au;
        for (size_t i = 0; i < 3; ++i) {
            const MaskAgreement g = direct(withMethod(name), i);
            pg.push_back(g.pointing);
            en.push_back(g.energy);
            io.push_back(g.iouTop);
            au.push_back(g.auc);
        }
        CHECK_MSG(near(m->pointing.mean, meanInterval(pg).mean), name << " pointing " << m->pointing.mean);
        CHECK_MSG(near(m->energy.mean, meanInterval(en).mean) && near(m->energy.lo, meanInterval(en).lo), name << " energy");
        CHECK_MSG(near(m->iouTop.mean, meanInterval(io).mean), name << " iou");
        CHECK_MSG(near(m->auc.mean, meanInterval(au).mean), name << " auc");
    }
    // Ranked by pointing game, then energy.
    for (size_t i = 1; i < r.methods.size(); ++i)
        CHECK(r.methods[i - 1].pointing.mean > r.methods[i].pointing.mean
              || (r.methods[i - 1].pointing.mean == r.methods[i].pointing.mean && r.methods[i - 1].energy.mean >= r.methods[i].energy.mean));
    // The contract's keys.
    const Json j = reportJson(r);
    for (const Json &m : j.at("methods").asArray())
        for (const char *key : {"method", "items", "pointing_game", "energy_pointing_game", "iou_top10", "auc", "verdicts"})
            CHECK_MSG(m.contains(key), key);
    CHECK(reportText(r).find("pointing game") != std::string::npos);
}

TEST(an_annotation_s_own_parameters_are_used_for_its_method)
{
    Fixture &f = fixture();
    const std::string db = scratch().filePath("own.sqlite").toStdString();
    {
        Store s(db);
        s.merge(f.db);
        // A verdict on Grad-CAM at features.6 on the sneaker: the report uses that layer there.
        Annotation v;
        v.kind = "verdict";
        v.modelSha = f.modelSha;
        v.modelPath = kDemo;
        v.inputSha = s.annotations()[1].inputSha;
        v.inputPath = sample(kSamples[1]);
        v.annotator = "bob";
        v.verdict = "agree";
        v.method = "gradcam";
        AttributionParams p = withMethod("gradcam");
        p.layer = "features.6";
        v.params = attributionParamsToJson(p).dump();
        s.add(v);
    }
    const Store s(db, true);
    ReportOptions o;
    o.methods = {"gradcam"};
    const Report r = feedbackReport(s, o);
    AttributionParams own = withMethod("gradcam");
    own.layer = "features.6";
    std::vector<double> en = {direct(withMethod("gradcam"), 0).energy, direct(own, 1).energy, direct(withMethod("gradcam"), 2).energy};
    CHECK_MSG(near(r.methods[0].energy.mean, meanInterval(en).mean), r.methods[0].energy.mean << " vs " << meanInterval(en).mean);
    CHECK(!near(direct(own, 1).energy, direct(withMethod("gradcam"), 1).energy));   // the layer matters here
    CHECK_EQ(r.methods[0].agree, int64_t(1));
}

TEST(agreement_between_annotators_and_ratings)
{
    Fixture &f = fixture();
    const std::string db = scratch().filePath("people.sqlite").toStdString();
    Store s(db);
    const auto base = Store(f.db, true).annotations();
    std::vector<Annotation> rows;
    // Bob draws the left half of the t-shirt: one pair of masks on one input.
    Annotation bobMask = base[0];
    bobMask.uid.clear();
    bobMask.annotator = "bob";
    bobMask.mask = maskOf(f.inputs[0], f.model->summary().metadata.input, true);
    rows.push_back(base[0]);
    rows.push_back(bobMask);
    const std::vector<uint8_t> tshirt = bytesOf(sample(kSamples[0]));
    s.putInput(base[0].inputSha, sample(kSamples[0]), tshirt);
    // Verdicts of alice and bob on four (input, method) items: agree on 3 of 4.
    const char *methods[] = {"saliency", "gradcam", "lime", "ig"};
    const char *alice[] = {"agree", "agree", "disagree", "unsure"}, *bob[] = {"agree", "agree", "disagree", "agree"};
    for (int k = 0; k < 4; ++k)
        for (int who = 0; who < 2; ++who) {
            Annotation v = base[1];
            v.uid.clear();
            v.kind = "verdict";
            v.mask.clear();
            v.annotator = who ? "bob" : "alice";
            v.method = methods[k];
            v.verdict = who ? bob[k] : alice[k];
            rows.push_back(v);
        }
    for (int k : {5, 4, 2}) {
        Annotation g;
        g.kind = "rating";
        g.modelSha = std::string(64, 'e');
        g.modelPath = "/g.pt";
        g.annotator = "carol";
        g.rating = k;
        g.source = "latent";
        if (k == 2) g.flags = {"artefact"};
        rows.push_back(g);
    }
    s.add(rows);
    ReportOptions o;
    o.methods = {"saliency"};
    const Report r = feedbackReport(s, o);
    CHECK_EQ(r.maskPairs, int64_t(1));
    CHECK(near(r.maskIoU, maskIoU(PixelMask(f.masks[0].begin(), f.masks[0].end()), PixelMask(bobMask.mask.begin(), bobMask.mask.end()))));
    CHECK_EQ(r.kappas.size(), size_t(1));
    // By hand: labels a = (0, 0, 1, 2), b = (0, 0, 1, 0): p_o = 3/4; p_e = (1/2)(3/4) + (1/4)(1/4) + (1/4)(0) = 7/16.
    CHECK(r.kappas[0].items == 4 && near(r.kappas[0].kappa, (0.75 - 7.0 / 16.0) / (1 - 7.0 / 16.0)));
    CHECK_EQ(r.ratings.size(), size_t(1));
    CHECK(r.ratings[0].count == 3 && near(r.ratings[0].rating.mean, 11.0 / 3.0) && r.ratings[0].flags.at("artefact") == 1);
    CHECK_EQ(r.maskItems, int64_t(2));   // both masks are items
}

TEST(filters_and_skipped_items_are_said)
{
    Fixture &f = fixture();
    const std::string db = scratch().filePath("moved.sqlite").toStdString();
    {
        Store s(db);
        s.merge(f.db);
        Annotation moved = s.annotations()[0];
        moved.uid.clear();
        moved.modelSha = std::string(64, 'd');
        moved.modelPath = "/nowhere/model.pt";
        s.add(moved);
    }
    const Store s(db, true);
    ReportOptions o;
    o.methods = {"saliency"};
    Report r = feedbackReport(s, o);
    CHECK_EQ(r.maskItems, int64_t(3));
    CHECK_EQ(r.skipped.size(), size_t(1));
    CHECK_MSG(r.skipped[0].find("/nowhere/model.pt") != std::string::npos && r.skipped[0].find("--model") != std::string::npos, r.skipped[0]);
    o.modelPath = kDemo;   // only the demo's annotations: nothing skipped
    r = feedbackReport(s, o);
    CHECK(r.skipped.empty() && r.maskItems == 3);
    o.methods = {"nonsense"};
    CHECK_THROWS_WITH(feedbackReport(s, o), Error, "Unknown method 'nonsense'");
}

TEST(rated_latent_samples_are_measured_beside_their_ratings)
{
    const std::string decoder = std::string(PELLUCID_RESOURCES_DIR) + "/models/vae_decoder.pt";
    auto gen = Model::load(decoder);
    const int64_t dim = latentDim(*gen);
    const TensorValue z = sampleCodes(6, dim, 3);
    const std::string db = scratch().filePath("ratings.sqlite").toStdString();
    Store s(db);
    const int ratings[] = {1, 2, 3, 4, 5, 5};
    std::vector<Annotation> rows;
    for (int i = 0; i < 6; ++i) {
        Annotation a;
        a.kind = "rating";
        a.modelSha = sha256File(decoder);
        a.modelPath = decoder;
        a.annotator = "dana";
        a.rating = ratings[i];
        a.source = "latent";
        Json code = Json::array();
        for (int64_t d = 0; d < dim; ++d) code.push(Json(double(z.at(i * dim + d))));
        Json sample = Json::object();
        sample["view"] = Json("gallery");
        sample["code"] = std::move(code);
        a.sample = sample.dump();
        rows.push_back(a);
    }
    s.add(rows);
    const Report r = feedbackReport(s, {});
    CHECK_EQ(r.ratings.size(), size_t(1));
    const RatingSummary &g = r.ratings[0];
    CHECK_MSG(g.hasMetrics, g.metricsNote);
    if (!g.hasMetrics) return;
    auto cls = Model::load(g.classifier);
    const std::string layer = cls->summary().metadata.suggestedLayers.empty() ? "" : cls->summary().metadata.suggestedLayers.back();
    const GenerativeReport direct = generativeReport(*gen, *cls, layer, z, {}, nullptr, {});
    CHECK(std::abs(g.inceptionScore - direct.inceptionScore) < 1e-9 && std::abs(g.diversity - direct.diversity) < 1e-9);
    CHECK(!g.hasFrechet);
    // With real images (the first 200 Fashion-MNIST test items): the Fréchet distance as gen-metrics has it.
    const Dataset real = Dataset::open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", cls->summary().metadata.labels);
    ReportOptions o;
    o.real = &real;
    o.realItems = 200;
    const Report withReal = feedbackReport(s, o);
    const TensorValue realBatch = real.batch(0, 200, cls->summary().metadata.input, cls->summary().inputShape);
    const GenerativeReport directReal = generativeReport(*gen, *cls, layer, z, realBatch, nullptr, {});
    CHECK(withReal.ratings[0].hasFrechet && withReal.ratings[0].realItems == 200);
    CHECK(std::abs(withReal.ratings[0].frechetDistance - directReal.frechetDistance) < 1e-9);
    CHECK(g.confidenceSpearman >= -1 && g.confidenceSpearman <= 1);
    CHECK_EQ(g.confidenceByRating.size(), size_t(5));
    CHECK(near(g.rating.mean, 20.0 / 6.0));
    CHECK(reportJson(r).at("ratings").asArray()[0].contains("inception_score"));
}

TEST(mask_files_are_read_and_fitted)
{
    const std::string npy = scratch().filePath("m.npy").toStdString();
    {
        // A [1, 2, 3] float mask written by hand: header + 6 floats.
        std::vector<float> v = {0, 1, 0, 0.5f, 0, 0};
        std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }";
        header.resize(118 - 1, ' ');
        header += '\n';
        std::ofstream out(npy, std::ios::binary);
        out.write("\x93NUMPY\x01\x00", 8);
        const uint16_t len = uint16_t(header.size());
        out.write(reinterpret_cast<const char *>(&len), 2);
        out << header;
        out.write(reinterpret_cast<const char *>(v.data()), std::streamsize(v.size() * 4));
    }
    const MaskImage m = readMaskFile(npy);
    CHECK(m.width == 3 && m.height == 2 && m.pixels == std::vector<uint8_t>({0, 1, 0, 1, 0, 0}));
    // Nearest-neighbour from the file's own size (6 × 4) to the model's (3 × 2).
    MaskImage big;
    big.width = 6;
    big.height = 4;
    big.pixels.assign(24, 0);
    for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 2; ++x) big.pixels[size_t(y * 6 + x)] = 1;   // the top-left 2 × 2
    const MaskImage fitted = fitMask(big, 2, 3, 6, 4);
    CHECK(fitted.pixels == std::vector<uint8_t>({1, 0, 0, 0, 0, 0}));
    CHECK_THROWS_WITH(fitMask(big, 2, 3, 0, 0), Error, "not the input's 3×2");
    // The picture's geometry: a 40 × 20 file, shorter side resized to 10 (20 × 10), centre crop 10 × 10 (columns
    // 5–14 of the resized, i.e. 10–29 of the file): a mask of the file's columns 10–19 lands on the crop's left half.
    MaskImage wide;
    wide.width = 40;
    wide.height = 20;
    wide.pixels.assign(800, 0);
    for (int y = 0; y < 20; ++y)
        for (int x = 10; x < 20; ++x) wide.pixels[size_t(y * 40 + x)] = 1;
    InputSpec spec;
    spec.resize = 10;
    spec.cropH = spec.cropW = 10;
    const MaskImage cropped = fitMask(wide, 10, 10, 40, 20, spec);
    int64_t left = 0, right = 0;
    for (int y = 0; y < 10; ++y)
        for (int x = 0; x < 10; ++x) (x < 5 ? left : right) += cropped.pixels[size_t(y * 10 + x)];
    CHECK_EQ(left, int64_t(50));
    CHECK_EQ(right, int64_t(0));
    // An RGBA mask painted over transparency: the alpha decides (opaque black paint counts).
    cv::Mat rgba(4, 4, CV_8UC4, cv::Scalar(0, 0, 0, 0));
    rgba.at<cv::Vec4b>(1, 2) = cv::Vec4b(0, 0, 0, 255);
    const std::string png = scratch().filePath("alpha.png").toStdString();
    cv::imwrite(png, rgba);
    const MaskImage alpha = readMaskFile(png);
    CHECK_EQ(std::count(alpha.pixels.begin(), alpha.pixels.end(), uint8_t(1)), std::ptrdiff_t(1));
    CHECK_EQ(int(alpha.pixels[1 * 4 + 2]), 1);
    // Opaque everywhere: the colour decides.
    cv::Mat opaque(4, 4, CV_8UC4, cv::Scalar(0, 0, 0, 255));
    opaque.at<cv::Vec4b>(3, 3) = cv::Vec4b(255, 255, 255, 255);
    cv::imwrite(png, opaque);
    const MaskImage colour = readMaskFile(png);
    CHECK_EQ(std::count(colour.pixels.begin(), colour.pixels.end(), uint8_t(1)), std::ptrdiff_t(1));
    CHECK_THROWS_WITH(readMaskFile(scratch().filePath("none.png").toStdString()), Error, "none.png");
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    return testkit::runAll(argc, argv);
}
