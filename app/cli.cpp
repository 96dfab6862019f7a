// pellucid-cli: the engine without a window.
//   pellucid-cli info --model M
//   pellucid-cli layers --model M [--json]
//   pellucid-cli predict --model M --input X [--topk K]
//   pellucid-cli activations --model M --input X --layer PATH --out OUT.npy|OUT.png
// Common options: --device auto|cpu|cuda, --input-shape 1,3,224,224, --input-dtype float32|int64, --threads N,
// --precision fp32|bf16|fp16.
// Exit status: 0 success; 1 usage error; 2 any other error (one line on stderr); 3 the result holds NaN/Inf
// (the output is still written, so it can be inspected).
#include "app/composer.h"
#include "app/dataset.h"
#include "app/imageinput.h"
#include "app/tokenizer.h"
#include "engine/attention.h"
#include "app/session.h"
#include "engine/attribution.h"
#include "engine/errors.h"
#include "engine/jobs.h"
#include "engine/json.h"
#include "engine/model.h"
#include "engine/evaluation.h"
#include "engine/projection.h"
#include "engine/sanity.h"
#include "engine/generative.h"
#include "engine/genmetrics.h"
#include "engine/npy.h"
#include "engine/recommender.h"

#include <QFileInfo>
#include <QGuiApplication>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <string>

using namespace pellucid;

namespace {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

const char *kUsage =
    "usage: pellucid-cli COMMAND [options]\n"
    "  info        --model M                          model metadata, input spec and device (JSON)\n"
    "  layers      --model M [--json]                 every tappable layer: path, op, output shape\n"
    "  predict     --model M --input X [--topk K]     top-k classes (JSON)\n"
    "  activations --model M --input X --layer PATH --out OUT.npy|OUT.png\n"
    "  attribute   --model M --input X --method METHOD --target K [--layer PATH] [--steps N]\n"
    "              [--integration gauss-legendre|riemann-left|riemann-right|riemann-middle|riemann-trapezoid]\n"
    "              [--baseline zero|blur|uniform|FILE.npy] [--window C,H,W] [--stride C,H,W] [--samples N]\n"
    "              [--stdev S] [--seed S] [--contrast K2] [--noise-base METHOD] [--noise-type smoothgrad|smoothgrad-sq|vargrad]\n"
    "              [--superpixels slic|grid] [--superpixel-size PX] [--feature-mask FILE.npy] [--grid N] [--fill V]\n"
    "              [--internal-batch N] [--memory-budget-mb N] --out OUT.npy|OUT.png\n"
    "              METHOD: saliency inputxgrad ig guided-backprop deconvnet smoothgrad gradcam gradcam++ layercam\n"
    "              scorecam guided-gradcam occlusion lime kernelshap; --target K or --target predicted\n"
    "              batch: --input-dir D (or --input BATCH.npy) --out-dir O [--shard I/N] [--format npy|png]\n"
    "              (one result + JSON sidecar per item; items already done are skipped)\n"
    "  merge       --out-dir O                        index.json of a (sharded) batch run\n"
    "  figure      --session S.json --out FIG.pdf|FIG.svg|FIG.png [--raw]\n"
    "              the session's composed figure, without a display (--raw: the numbers beside it)\n"
    "  recommend   --model M [--data D] --user U [--topn N] [--json]   top-N with each score decomposed\n"
    "  influence   --model M [--data D] --user U --item I [--topn N] [--json]\n"
    "              which of the user's interactions pushed the item up: exact leave-one-out refit and the fast\n"
    "              similarity approximation, their agreement, and the smallest removal set (counterfactual)\n"
    "  rec-eval    --model M [--data D] [--heldout H] [--k K] [--threshold R] [--json]\n"
    "              precision@K, recall@K, catalogue coverage, RMSE on held-out interactions\n"
    "  evaluate    --model M --data D [--topk 5] [--batch 256] [--limit N] [--json]\n"
    "              top-1/top-k accuracy, per-class precision/recall/F1, confusion matrix, calibration (ECE)\n"
    "              D: a folder with one sub-folder per class, IDX images (labels beside), or a CSV path,label\n"
    "  faithfulness --model M --data D --method M1[,M2…] [attribution options] [--steps 20] [--limit 50]\n"
    "              [--blur-sigma S] [--robustness] [--json]   deletion and insertion curves and their AUC (Petsiuk\n"
    "              et al.); --robustness adds infidelity and max-sensitivity (Captum's definitions)\n"
    "  sanity      --model M --input X --method METHOD [attribution options] [--json]\n"
    "              model-parameter randomisation test (Adebayo et al.): Spearman and SSIM per randomised layer\n"
    "  project     --model M --data D --layer L --method pca|tsne|umap --out OUT.npy|OUT.csv [--dims 2] [--limit N]\n"
    "              t-SNE: [--perplexity 30] [--iterations 1000] [--theta 0.5 (Barnes–Hut; 0 exact)] [--seed S]\n"
    "              UMAP: [--neighbours 15] [--min-dist 0.1] [--epochs auto] [--seed S]\n"
    "              the layer's activations (pooled) projected per item\n"
    "  traverse    --model M --z Z.npy --dim I --range A:B --steps N --out OUT.npy|OUT.png|OUT.gif|OUT.mp4\n"
    "              the decoder on z + t·e_I for t = linspace(A, B, N) (I zero-based): [N, C, H, W]\n"
    "              or --direction DIR.npy instead of --dim: z + t·d\n"
    "  direction   --encoder E --data D --from A --to B --out DIR.npy [--limit N]\n"
    "              an attribute direction: mean code of class B minus mean code of class A (encoder μ)\n"
    "              --method pca --encoder E --data D [--k 5]: principal directions of the encoded items [k, D]\n"
    "              --method ganspace --model G --layer L [--k 5] [--count 2000] [--seed S]: PCA of layer L over\n"
    "              sampled codes carried back to latent space by regression (GANSpace) [k, D]\n"
    "  counterfactual --model DEC --classifier C (--encoder E --input IMG | --z Z.npy) --target K --out OUT.png|OUT.npy\n"
    "              [--steps 300] [--lr 0.05] [--lambda 0.05] [--stop 0.9] [--extra-steps 0] [--path-out PATH.npy]\n"
    "              nearest code the classifier assigns to K (gradient steps on −log p(K) + λ‖z − z0‖²); the PNG\n"
    "              shows the path and the difference image; exit 4 when K was not reached\n"
    "  interpolate --model M --z Z0.npy --z-end Z1.npy --steps N --mode lerp|slerp --out OUT.npy|OUT.png\n"
    "  sample      --model M --count N --seed S [--truncation T] [--codes-out Z.npy] --out OUT.npy|OUT.png\n"
    "              codes as torch.manual_seed(S); torch.randn(N, D) draws them\n"
    "  gen-metrics --model G --classifier C [--layer L] [--data D] [--encoder E] [--count N] [--seed S] [--json]\n"
    "              Inception Score and diversity of N samples (C's logits / L's pooled features), Fréchet distance to\n"
    "              N items of D, and with a VAE encoder E: reconstruction SSIM/PSNR and KL per latent dimension\n"
    "  attention   --model M (--input X.npy|IMAGE | --text \"...\") --out OUT.npy [--rollout | --grad-rollout [--target K]]\n"
    "              attention probabilities float32 [batch, layers, heads, query, key] in layer order (fused kernels\n"
    "              rewritten to explicit ones); --rollout: [batch, L, L] (Abnar & Zuidema); --grad-rollout: Chefer et al.\n"
    "              --text uses the tokenizer the metadata names (or --tokenizer F); --truncate cuts long texts\n"
    "  tokenize    --tokenizer F --text \"...\" [--lowercase 0|1] [--max-length N [--truncate]]\n"
    "              ids and tokens as JSON (WordPiece vocab.txt or SentencePiece .model)\n"
    "generators: --class K picks the class of a conditional generator (role conditional_generator: forward(z, class)).\n"
    "options: --role classifier|generator|decoder|encoder|conditional_generator (overrides the metadata role)\n"
    "         --device auto|cpu|cuda  --input-shape 1,3,224,224  --input-dtype float32|int64  --threads N\n"
    "         --precision fp32|bf16|fp16 (forward-only commands; kept only when it leaves the prediction unchanged)\n"
    "X is a .npy tensor used exactly as given (batch included) or an image preprocessed per the metadata.\n";

struct Args {
    std::string command;
    std::map<std::string, std::string> values;
    std::set<std::string> flags;
    bool has(const std::string &k) const { return values.count(k) > 0; }
    std::string need(const std::string &k) const
    {
        auto it = values.find(k);
        if (it == values.end()) throw UsageError("missing --" + k);
        return it->second;
    }
    std::string get(const std::string &k, const std::string &def) const
    {
        auto it = values.find(k);
        return it == values.end() ? def : it->second;
    }
};

Args parse(int argc, char **argv)
{
    static const std::set<std::string> flagNames = {"json", "help", "raw", "robustness", "rollout", "grad-rollout", "truncate"};
    static const std::set<std::string> valueNames = {
        "model", "input", "layer", "out", "topk", "device", "input-shape", "input-dtype", "threads", "precision", "method",
        "target", "contrast", "steps", "integration", "baseline", "window", "stride", "samples", "stdev", "seed",
        "noise-base", "noise-type", "feature-mask", "grid", "fill", "internal-batch", "memory-budget-mb",
        "superpixels", "superpixel-size", "input-dir", "out-dir", "shard", "format", "session",
        "data", "items", "heldout", "user", "item", "k", "threshold", "topn", "batch", "limit", "blur-sigma",
        "dims", "perplexity", "iterations", "z", "z-end", "dim", "range", "mode", "count", "truncation", "codes-out", "cols",
        "classifier", "encoder", "direction", "from", "to", "lr", "lambda", "stop", "extra-steps", "path-out", "role", "class", "neighbours", "min-dist", "epochs", "theta", "text", "tokenizer", "lowercase", "max-length"};
    Args a;
    if (argc < 2) throw UsageError("no command given");
    a.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + s + "'");
        s = s.substr(2);
        std::string value;
        const auto eq = s.find('=');
        if (eq != std::string::npos) { value = s.substr(eq + 1); s = s.substr(0, eq); }
        if (flagNames.count(s)) { a.flags.insert(s); continue; }
        if (!valueNames.count(s)) throw UsageError("unknown option --" + s);
        if (eq == std::string::npos) {
            if (i + 1 >= argc) throw UsageError("--" + s + " needs a value");
            value = argv[++i];
        }
        a.values[s] = value;
    }
    return a;
}

int toInt(const std::string &s, const std::string &what)
{
    try {
        size_t n = 0;
        const int v = std::stoi(s, &n);
        if (n != s.size()) throw std::invalid_argument(s);
        return v;
    } catch (const std::exception &) {
        throw UsageError(what + " must be an integer, not '" + s + "'");
    }
}

double toDouble(const std::string &s, const std::string &what)
{
    try {
        size_t n = 0;
        const double v = std::stod(s, &n);
        if (n != s.size() || !std::isfinite(v)) throw std::invalid_argument(s);
        return v;
    } catch (const std::exception &) {
        throw UsageError(what + " must be a number, not '" + s + "'");
    }
}

std::vector<int64_t> intList(const std::string &s, const std::string &what)
{
    std::vector<int64_t> out;
    std::string part;
    for (char c : s + ",") {
        if (c == ',') { if (!part.empty()) out.push_back(toInt(part, what)); part.clear(); }
        else part += c;
    }
    return out;
}

Json shapeJson(const Shape &s)
{
    Json j = Json::array();
    for (int64_t d : s) j.push(Json(d));
    return j;
}

std::unique_ptr<Model> loadModel(const Args &a)
{
    LoadOptions o;
    const std::string dev = a.get("device", "auto");
    if (dev == "cpu") o.device = DevicePreference::Cpu;
    else if (dev == "cuda") o.device = DevicePreference::Cuda;
    else if (dev != "auto") throw UsageError("--device must be auto, cpu or cuda");
    o.role = a.get("role", "");
    if (a.has("input-shape")) {
        std::string s = a.need("input-shape"), part;
        for (char c : s + ",") {
            if (c == ',') { if (!part.empty()) o.inputShape.push_back(toInt(part, "--input-shape")); part.clear(); }
            else part += c;
        }
    }
    o.inputDtype = a.get("input-dtype", "");
    if (a.has("threads")) o.threads = toInt(a.need("threads"), "--threads");
    if (a.has("precision") && !parsePrecision(a.need("precision"), o.precision))
        throw Error(ErrorCode::BadInput, "--precision must be fp32, fp16 or bf16 (got " + a.need("precision") + ")");
    auto m = Model::load(a.need("model"), o);
    if (!m->summary().precisionNote.empty()) std::cerr << "pellucid-cli: " << m->summary().precisionNote << "\n";
    return m;
}

/// A second model named by --KEY (a classifier, an encoder), with the main model's options but not its --role.
std::unique_ptr<Model> loadCompanion(const Args &a, const std::string &key)
{
    Args c = a;
    c.values["model"] = a.need(key);
    c.values.erase("role");
    return loadModel(c);
}

Json predictionsJson(const std::vector<Prediction> &top)
{
    Json arr = Json::array();
    for (const auto &p : top) {
        Json j = Json::object();
        j["index"] = p.index;
        j["label"] = p.label;
        j["probability"] = double(p.probability);
        j["logit"] = double(p.logit);
        arr.push(j);
    }
    return arr;
}

AttributionParams attributionParams(const Args &a)
{
    AttributionParams p;
    if (!parseMethod(a.need("method"), p.method)) throw UsageError("unknown --method '" + a.need("method") + "'");
    const std::string target = a.need("target");
    if (target == "predicted") {
        p.target.kind = AttributionTarget::Kind::Predicted;
    } else {
        p.target.kind = AttributionTarget::Kind::Class;
        p.target.classIndex = toInt(target, "--target");
    }
    if (a.has("contrast")) {
        if (p.target.kind != AttributionTarget::Kind::Class) throw UsageError("--contrast needs a class --target");
        p.target.kind = AttributionTarget::Kind::Contrast;
        p.target.otherClass = toInt(a.need("contrast"), "--contrast");
    }
    p.layer = a.get("layer", "");
    if (a.has("steps")) p.steps = toInt(a.need("steps"), "--steps");
    if (a.has("integration") && !parseIntegration(a.need("integration"), p.integration))
        throw UsageError("unknown --integration '" + a.need("integration") + "'");
    const std::string baseline = a.get("baseline", "zero");
    if (baseline == "zero") p.baseline = BaselineKind::Zero;
    else if (baseline == "blur") p.baseline = BaselineKind::Blur;
    else if (baseline == "uniform") p.baseline = BaselineKind::Uniform;
    else { p.baseline = BaselineKind::Tensor; p.baselineTensor = readNpy(baseline); }
    if (a.has("window")) p.window = intList(a.need("window"), "--window");
    if (a.has("stride")) p.stride = intList(a.need("stride"), "--stride");
    if (a.has("samples")) p.samples = toInt(a.need("samples"), "--samples");
    if (a.has("stdev")) p.stdev = float(toDouble(a.need("stdev"), "--stdev"));
    if (a.has("seed")) p.seed = uint64_t(toInt(a.need("seed"), "--seed"));
    if (a.has("noise-base") && !parseMethod(a.need("noise-base"), p.noiseBase))
        throw UsageError("unknown --noise-base '" + a.need("noise-base") + "'");
    const std::string noise = a.get("noise-type", "smoothgrad");
    if (noise == "smoothgrad") p.noise = NoiseType::SmoothGrad;
    else if (noise == "smoothgrad-sq") p.noise = NoiseType::SmoothGradSquared;
    else if (noise == "vargrad") p.noise = NoiseType::VarGrad;
    else throw UsageError("--noise-type must be smoothgrad, smoothgrad-sq or vargrad");
    if (a.has("feature-mask")) p.featureMask = readNpy(a.need("feature-mask"));
    if (a.has("grid")) p.gridCells = toInt(a.need("grid"), "--grid");
    if (a.has("fill")) p.fill = float(toDouble(a.need("fill"), "--fill"));
    if (a.has("internal-batch")) p.internalBatch = toInt(a.need("internal-batch"), "--internal-batch");
    if (a.has("memory-budget-mb")) p.memoryBudgetBytes = int64_t(toInt(a.need("memory-budget-mb"), "--memory-budget-mb")) << 20;
    const std::string superpixels = a.get("superpixels", a.has("feature-mask") ? "mask" : "slic");
    if (superpixels != "grid" && superpixels != "slic" && superpixels != "mask")
        throw UsageError("--superpixels must be slic or grid");
    return p;
}

/// One input through the method (SLIC superpixels computed per input for LIME / KernelSHAP).
std::shared_ptr<AttributionResult> attributeInput(Model &model, const TensorValue &input, AttributionParams p, const Args &a)
{
    const bool slic = a.get("superpixels", a.has("feature-mask") ? "mask" : "slic") == "slic";
    if (slic && (p.method == AttributionMethod::Lime || p.method == AttributionMethod::KernelShap)) {
        const int side = input.shape().size() == 4 ? int(std::max(input.shape()[2], input.shape()[3])) : 32;
        p.featureMask = slicSegments(input, a.has("superpixel-size") ? toInt(a.need("superpixel-size"), "--superpixel-size")
                                                                     : std::max(2, side / 8));
    }
    return computeAttribution(model, input, p);
}

Json resultJson(const AttributionResult &r)
{
    Json j = Json::object();
    j["method"] = methodName(r.method);
    j["target"] = r.targetClass;
    j["shape"] = shapeJson(r.map.shape());
    if (r.method == AttributionMethod::IntegratedGradients) j["convergence_delta"] = r.convergenceDelta;
    j["model_passes"] = r.modelPasses;
    j["elapsed_ms"] = r.elapsedMs;
    return j;
}

void writeTextAtomically(const std::string &path, const std::string &text)
{
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << text;
        out.flush();
        if (!out) {
            std::remove(tmp.c_str());
            throw Error(ErrorCode::IoError, "Cannot write " + path);
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        throw Error(ErrorCode::IoError, "Cannot write " + path + ": " + ec.message());
    }
}

/// Batch mode: every image / .npy in --input-dir (sorted by name), or every row of an --input .npy batch,
/// one result file per item in --out-dir plus a JSON sidecar; items whose result exists are skipped (resume);
/// --shard I/N keeps the items whose position k in that order has k mod N == I.
int attributeBatch(const Args &a, const AttributionParams &p)
{
    namespace fs = std::filesystem;
    const std::string outDir = a.need("out-dir");
    const std::string format = a.get("format", "npy");
    if (format != "npy" && format != "png") throw UsageError("--format must be npy or png");
    int shard = 0, shards = 1;
    if (a.has("shard")) {
        const std::string s = a.need("shard");
        const auto slash = s.find('/');
        if (slash == std::string::npos) throw UsageError("--shard must be I/N");
        shard = toInt(s.substr(0, slash), "--shard I");
        shards = toInt(s.substr(slash + 1), "--shard N");
        if (shards < 1 || shard < 0 || shard >= shards) throw UsageError("--shard I/N needs 0 <= I < N");
    }
    std::error_code ec;
    fs::create_directories(outDir, ec);
    if (!fs::is_directory(outDir)) throw Error(ErrorCode::IoError, "Cannot create the output folder " + outDir);

    auto model = loadModel(a);
    struct Item {
        std::string id, source;
        int64_t row = -1;
    };
    std::vector<Item> items;
    TensorValue batch;
    if (a.has("input-dir")) {
        const std::string dir = a.need("input-dir");
        if (!fs::is_directory(dir)) throw Error(ErrorCode::FileNotFound, "Input folder not found: " + dir);
        static const std::set<std::string> exts = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".npy"};
        for (const auto &e : fs::directory_iterator(dir)) {
            std::string ext = e.path().extension().string();
            std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
            if (e.is_regular_file() && exts.count(ext)) items.push_back({e.path().filename().string(), e.path().string()});
        }
        std::sort(items.begin(), items.end(), [](const Item &x, const Item &y) { return x.id < y.id; });
    } else {
        batch = readNpy(a.need("input"));
        if (batch.shape().empty()) throw Error(ErrorCode::BadInput, "The --input batch has no batch dimension");
        for (int64_t r = 0; r < batch.dim(0); ++r) {
            char id[32];
            std::snprintf(id, sizeof id, "row%06lld", (long long)r);
            items.push_back({id, a.need("input"), r});
        }
    }
    std::vector<Item> mine;
    for (size_t k = 0; k < items.size(); ++k)
        if (int(k % size_t(shards)) == shard) mine.push_back(items[k]);

    const bool tty = isatty(2);
    int done = 0, skipped = 0, failed = 0;
    auto bar = [&](size_t i, const std::string &what) {
        if (!tty) return;
        const int width = 30, filled = mine.empty() ? width : int(width * i / mine.size());
        std::fprintf(stderr, "\r[%s%s] %zu/%zu  done %d  skipped %d  failed %d  %-30.30s", std::string(size_t(filled), '#').c_str(),
                     std::string(size_t(width - filled), '.').c_str(), i, mine.size(), done, skipped, failed, what.c_str());
        std::fflush(stderr);
    };
    for (size_t i = 0; i < mine.size(); ++i) {
        const Item &it = mine[i];
        const std::string out = outDir + "/" + it.id + "." + format;
        const std::string side = outDir + "/" + it.id + ".json";
        bar(i, it.id);
        if (fs::exists(out) && fs::exists(side)) { ++skipped; continue; }   // both are written atomically
        try {
            TensorValue input;
            if (it.row >= 0) {
                const TensorValue row = batch.slice0(it.row);
                Shape sh = row.shape();
                sh.insert(sh.begin(), 1);
                input = TensorValue(sh, std::vector<float>(row.data(), row.data() + row.numel()));
            } else {
                input = loadInputFile(it.source, model->summary().metadata.input, model->summary().inputShape);
            }
            const auto r = attributeInput(*model, input, p, a);
            if (format == "npy") writeNpy(out, r->map);
            else writeAttributionPng(out, input, r->map, isSignedMethod(p.method));
            Json j = resultJson(*r);
            j["item"] = it.id;
            j["input"] = it.source;
            if (it.row >= 0) j["row"] = it.row;
            j["output"] = it.id + "." + format;
            j["shard"] = std::to_string(shard) + "/" + std::to_string(shards);
            writeTextAtomically(side, j.dump(1) + "\n");
            ++done;
        } catch (const std::exception &e) {
            ++failed;
            if (tty) std::fprintf(stderr, "\n");
            std::cerr << "pellucid-cli: " << it.id << ": " << e.what() << "\n";
        }
    }
    bar(mine.size(), "");
    if (tty) std::fprintf(stderr, "\n");
    Json summary = Json::object();
    summary["items"] = int64_t(mine.size());
    summary["done"] = done;
    summary["skipped"] = skipped;
    summary["failed"] = failed;
    summary["shard"] = std::to_string(shard) + "/" + std::to_string(shards);
    std::cout << summary.dump() << "\n";
    if (failed) {
        std::cerr << "pellucid-cli: " << failed << " of " << mine.size() << " items failed (rerun to retry them)\n";
        return 2;
    }
    return 0;
}

int cmdAttribute(const Args &a)
{
    const AttributionParams p = attributionParams(a);
    if (a.has("input-dir") || a.has("out-dir")) {
        if (!a.has("out-dir")) throw UsageError("--input-dir needs --out-dir");
        if (a.has("out")) throw UsageError("use --out-dir (not --out) in batch mode");
        return attributeBatch(a, p);
    }
    const std::string out = a.need("out");
    const bool png = out.size() > 4 && out.substr(out.size() - 4) == ".png";
    const bool npy = out.size() > 4 && out.substr(out.size() - 4) == ".npy";
    if (!png && !npy) throw UsageError("--out must end in .npy or .png");
    auto model = loadModel(a);
    const TensorValue input = loadInputFile(a.need("input"), model->summary().metadata.input, model->summary().inputShape);
    auto r = attributeInput(*model, input, p, a);
    if (npy) writeNpy(out, r->map);
    else writeAttributionPng(out, input, r->map, isSignedMethod(p.method));
    std::cout << resultJson(*r).dump() << "\n";
    const auto st = r->map.stats();
    if (st.nanCount || st.infCount) {
        std::cerr << "pellucid-cli: the attribution contains " << st.nanCount << " NaN and " << st.infCount
                  << " Inf values (written to " << out << ")\n";
        return 3;
    }
    return 0;
}

int cmdFigure(const Args &a, int argc, char **argv)
{
    const std::string out = a.need("out");
    Session session;
    try {
        session = loadSession(QString::fromStdString(a.need("session")));
    } catch (const SessionError &e) {
        throw Error(ErrorCode::BadInput, e.what());
    }
    for (const QString &w : session.warnings) std::cerr << "pellucid-cli: warning: " << w.toStdString() << "\n";
    if (session.composer.rows.isEmpty() || session.composer.columns.empty())
        throw Error(ErrorCode::BadInput, "The session has no composed figure (its composer has no rows or no columns)");
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);   // fonts and painting; no window is shown
    Args withModel = a;
    withModel.values["model"] = session.modelPath.toStdString();
    auto model = loadModel(withModel);
    const ComposedFigure fig(computeComposer(*model, session.composer), session.composer);
    try {
        const QString path = QString::fromStdString(out);
        const QSizeF mm = exportFigure(fig, path, session.figure);
        Json j = Json::object();
        j["out"] = out;
        j["panels"] = fig.panelCount();
        j["width_mm"] = mm.width();
        j["height_mm"] = mm.height();
        if (a.flags.count("raw")) {
            const QFileInfo fi(path);
            Json files = Json::array();
            for (const QString &f : fig.writeRawData(fi.absolutePath() + "/" + fi.completeBaseName())) files.push(Json(f.toStdString()));
            j["raw"] = files;
        }
        std::cout << j.dump() << "\n";
    } catch (const FigureError &e) {
        throw Error(ErrorCode::IoError, e.what());
    }
    return 0;
}

struct RecContext {
    std::unique_ptr<Model> model;
    MFModel mf;
    InteractionData data;
};

RecContext loadRecommender(const Args &a)
{
    RecContext c;
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    c.model = Model::load(a.need("model"), o);
    c.mf = loadMF(*c.model);
    const std::string data = a.get("data", c.mf.dataPath);
    if (data.empty()) throw UsageError("--data is needed (the model's metadata names no interaction file)");
    c.data = readInteractions(data);
    const std::string items = a.get("items", c.mf.itemsPath);
    if (!items.empty() && std::filesystem::exists(items)) readItemNames(items, c.data);
    for (const auto &r : c.data.rows) {
        if (r.user >= c.mf.users || r.item >= c.mf.items)
            throw Error(ErrorCode::BadInput, data + ": user " + std::to_string(r.user) + " / item " + std::to_string(r.item)
                                                 + " is outside the model's tables (" + std::to_string(c.mf.users) + " users, "
                                                 + std::to_string(c.mf.items) + " items)");
    }
    return c;
}

int64_t toId(const std::string &s, const std::string &what)
{
    const int v = toInt(s, what);
    if (v < 0) throw UsageError(what + " must be a non-negative id");
    return v;
}

Json decompositionJson(const ScoreDecomposition &d)
{
    Json j = Json::object();
    j["item"] = d.item;
    j["name"] = d.name;
    j["score"] = double(d.score);
    j["global"] = double(d.global);
    j["user_bias"] = double(d.userBias);
    j["item_bias"] = double(d.itemBias);
    Json f = Json::array();
    for (float v : d.factors) f.push(Json(double(v)));
    j["factors"] = f;
    return j;
}

int cmdRecommend(const Args &a)
{
    RecContext c = loadRecommender(a);
    const int64_t user = toId(a.need("user"), "--user");
    const int n = toInt(a.get("topn", "10"), "--topn");
    const auto top = recommend(c.mf, c.data, user, n);
    if (a.flags.count("json")) {
        Json j = Json::object();
        j["user"] = user;
        Json items = Json::array();
        for (const auto &d : top) items.push(decompositionJson(d));
        j["items"] = items;
        std::cout << j.dump(1) << "\n";
    } else {
        std::printf("%-6s %-32s %8s %8s %8s %8s %8s\n", "ITEM", "NAME", "SCORE", "GLOBAL", "USER_B", "ITEM_B", "FACTORS");
        for (const auto &d : top) {
            double f = 0;
            for (float v : d.factors) f += v;
            std::printf("%-6lld %-32.32s %8.3f %8.3f %8.3f %8.3f %8.3f\n", (long long)d.item, d.name.c_str(), d.score, d.global,
                        d.userBias, d.itemBias, f);
        }
    }
    return 0;
}

int cmdInfluence(const Args &a)
{
    RecContext c = loadRecommender(a);
    const int64_t user = toId(a.need("user"), "--user"), item = toId(a.need("item"), "--item");
    const auto r = influence(c.mf, c.data, user, item, toInt(a.get("topn", "10"), "--topn"));
    Json j = Json::object();
    j["user"] = user;
    j["item"] = item;
    j["score"] = r.score;
    j["agreement_spearman"] = r.agreement;
    Json rows = Json::array();
    for (const auto &row : r.rows) {
        Json x = Json::object();
        x["item"] = row.item;
        x["name"] = row.name;
        x["rating"] = double(row.rating);
        x["loo"] = row.loo;
        x["similarity"] = row.similarity;
        rows.push(x);
    }
    j["influences"] = rows;
    Json cf = Json::object();
    cf["found"] = r.counterfactual.found;
    Json removed = Json::array();
    for (int64_t v : r.counterfactual.removed) removed.push(Json(v));
    cf["removed"] = removed;
    cf["rank_before"] = r.counterfactual.rankBefore;
    cf["rank_after"] = r.counterfactual.rankAfter;
    j["counterfactual"] = cf;
    if (a.flags.count("json")) {
        std::cout << j.dump(1) << "\n";
    } else {
        std::printf("user %lld, item %lld: score %.3f; LOO vs similarity agreement (Spearman) %.3f\n", (long long)user, (long long)item, r.score, r.agreement);
        for (const auto &row : r.rows)
            std::printf("  %-6lld %-32.32s rating %4.1f  LOO %+8.4f  similarity %+8.4f\n", (long long)row.item, row.name.c_str(), row.rating, row.loo, row.similarity);
    }
    return 0;
}

int cmdRecEval(const Args &a)
{
    RecContext c = loadRecommender(a);
    const std::string held = a.get("heldout", c.mf.heldoutPath);
    if (held.empty()) throw UsageError("--heldout is needed (the model's metadata names no held-out file)");
    const InteractionData h = readInteractions(held);
    const RecMetrics m = evaluateRecommender(c.mf, c.data, h, toInt(a.get("k", "10"), "--k"), toDouble(a.get("threshold", "4"), "--threshold"));
    Json j = Json::object();
    j["k"] = m.k;
    j["precision_at_k"] = m.precisionAtK;
    j["recall_at_k"] = m.recallAtK;
    j["coverage"] = m.coverage;
    j["rmse"] = m.rmse;
    j["users"] = m.usersEvaluated;
    std::cout << j.dump(a.flags.count("json") ? 1 : -1) << "\n";
    return 0;
}

int cmdEvaluate(const Args &a)
{
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    const Dataset data = Dataset::open(a.need("data"), s.metadata.labels);
    int classes = 0;   // from the first batch's output (the dry run may not know the shape)
    std::unique_ptr<Evaluator> ev;
    const size_t n = a.has("limit") ? std::min(data.size(), size_t(toInt(a.need("limit"), "--limit"))) : data.size();
    const size_t batch = size_t(std::max(1, toInt(a.get("batch", "256"), "--batch")));
    const auto t0 = std::chrono::steady_clock::now();
    double modelMs = 0;
    for (size_t b = 0; b < n; b += batch) {
        const size_t e = std::min(n, b + batch);
        const TensorValue x = data.batch(b, e, s.metadata.input, s.inputShape);
        const auto m0 = std::chrono::steady_clock::now();
        const TensorValue logits = model->forward(x, {}).outputs.at(0);
        modelMs += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - m0).count();
        if (!ev) {
            if (logits.shape().size() != 2)
                throw Error(ErrorCode::BadInput, "Evaluation needs a classifier with output [N, classes], not " + shapeToString(logits.shape()));
            classes = int(logits.dim(1));
            ev = std::make_unique<Evaluator>(classes, toInt(a.get("topk", "5"), "--topk"));
        }
        ev->add(logits, std::vector<int>(data.labels().begin() + long(b), data.labels().begin() + long(e)));
        if (isatty(2)) std::fprintf(stderr, "\r%zu/%zu", e, n);
    }
    if (isatty(2)) std::fprintf(stderr, "\n");
    const double totalMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!ev) throw Error(ErrorCode::BadInput, "The dataset is empty");
    const EvalResult r = ev->finish();
    Json j = Json::object();
    j["model"] = s.path;
    j["data"] = a.need("data");
    j["samples"] = r.samples;
    j["top1"] = r.top1;
    j["top" + std::to_string(r.topK)] = r.topK_accuracy;
    j["macro_f1"] = r.macroF1;
    j["ece"] = r.ece;
    Json per = Json::array();
    for (int c = 0; c < classes; ++c) {
        Json x = Json::object();
        x["class"] = c;
        x["label"] = size_t(c) < s.metadata.labels.size() ? s.metadata.labels[size_t(c)] : "class " + std::to_string(c);
        x["precision"] = r.precision[size_t(c)];
        x["recall"] = r.recall[size_t(c)];
        x["f1"] = r.f1[size_t(c)];
        x["support"] = r.support[size_t(c)];
        per.push(x);
    }
    j["per_class"] = per;
    Json conf = Json::array();
    for (const auto &row : r.confusion) {
        Json jr = Json::array();
        for (int64_t v : row) jr.push(Json(v));
        conf.push(jr);
    }
    j["confusion"] = conf;
    Json cal = Json::array();
    for (const auto &b : r.calibration) {
        Json x = Json::object();
        x["lo"] = b.lo;
        x["hi"] = b.hi;
        x["confidence"] = b.confidence;
        x["accuracy"] = b.accuracy;
        x["count"] = b.count;
        cal.push(x);
    }
    j["calibration"] = cal;
    j["images_per_second"] = totalMs > 0 ? double(n) / (totalMs / 1000) : 0;
    j["model_images_per_second"] = modelMs > 0 ? double(n) / (modelMs / 1000) : 0;
    if (a.flags.count("json")) {
        std::cout << j.dump(1) << "\n";
    } else {
        std::printf("%lld samples: top-1 %.4f, top-%d %.4f, macro F1 %.4f, ECE %.4f, %.0f images/s\n", (long long)r.samples, r.top1,
                    r.topK, r.topK_accuracy, r.macroF1, r.ece, j.find("images_per_second")->asNumber());
        for (int c = 0; c < classes; ++c)
            std::printf("  %-14.14s P %.3f  R %.3f  F1 %.3f  (%lld)\n", per.asArray()[size_t(c)].find("label")->asString().c_str(),
                        r.precision[size_t(c)], r.recall[size_t(c)], r.f1[size_t(c)], (long long)r.support[size_t(c)]);
    }
    return 0;
}

int cmdFaithfulness(const Args &a)
{
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    const Dataset data = Dataset::open(a.need("data"), s.metadata.labels);
    const int steps = toInt(a.get("steps", "20"), "--steps");
    const size_t n = std::min(data.size(), size_t(toInt(a.get("limit", "50"), "--limit")));
    std::vector<std::string> methods;
    {
        std::string m = a.need("method"), part;
        for (char c : m + ",") {
            if (c == ',') { if (!part.empty()) methods.push_back(part); part.clear(); }
            else part += c;
        }
    }
    Json out = Json::object();
    out["model"] = s.path;
    out["items"] = int64_t(n);
    out["steps"] = steps;
    Json results = Json::object();
    for (const std::string &name : methods) {
        Args one = a;
        one.values["method"] = name;
        if (!one.has("target")) one.values["target"] = "predicted";
        const AttributionParams p = attributionParams(one);
        double del = 0, ins = 0, infid = 0, sens = 0;
        std::vector<double> delCurve(size_t(steps + 1), 0.0), insCurve(size_t(steps + 1), 0.0);
        for (size_t i = 0; i < n; ++i) {
            const TensorValue x = data.batch(i, i + 1, s.metadata.input, s.inputShape);
            const auto r = attributeInput(*model, x, p, one);
            // Deletion paints removed pixels black (the normalised value of the lowest input); insertion starts
            // from a blurred copy (RISE).
            const double sigma = a.has("blur-sigma") ? toDouble(a.need("blur-sigma"), "--blur-sigma") : std::max(1.0, double(std::max(x.dim(2), x.dim(3))) / 10.0);
            const auto d = faithfulnessCurve(*model, x, r->map, r->targetClass, steps, false, blackBaseline(x, s.metadata.input));
            const auto in = faithfulnessCurve(*model, x, r->map, r->targetClass, steps, true, gaussianBlur(x, sigma));
            del += d.auc / double(n);
            ins += in.auc / double(n);
            if (a.flags.count("robustness")) {
                infid += infidelity(*model, x, r->map.shape() == x.shape() ? r->map : TensorValue(x.shape(), std::vector<float>(size_t(x.numel()), 0.f)),
                                    r->targetClass, 20, 0.003 * (s.metadata.input.std.empty() ? 1.0 : 1.0 / s.metadata.input.std[0])) / double(n);
                AttributionParams fixedTarget = p;
                fixedTarget.target.kind = AttributionTarget::Kind::Class;
                fixedTarget.target.classIndex = r->targetClass;
                sens = std::max(sens, maxSensitivity(*model, x, [&](const TensorValue &xx) { return attributeInput(*model, xx, fixedTarget, one)->map; }, 5, 0.02));
            }
            for (int k = 0; k <= steps; ++k) {
                delCurve[size_t(k)] += d.scores[size_t(k)] / double(n);
                insCurve[size_t(k)] += in.scores[size_t(k)] / double(n);
            }
        }
        Json m = Json::object();
        m["deletion_auc"] = del;
        m["insertion_auc"] = ins;
        Json dc = Json::array(), ic = Json::array();
        for (int k = 0; k <= steps; ++k) { dc.push(Json(delCurve[size_t(k)])); ic.push(Json(insCurve[size_t(k)])); }
        m["deletion_curve"] = dc;
        if (a.flags.count("robustness")) {
            m["infidelity"] = infid;
            m["max_sensitivity"] = sens;
        }
        m["insertion_curve"] = ic;
        results[name] = m;
    }
    out["methods"] = results;
    if (a.flags.count("json")) {
        std::cout << out.dump(1) << "\n";
    } else {
        std::printf("%zu items, %d steps (lower deletion AUC and higher insertion AUC are better)\n", n, steps);
        for (const auto &[name, m] : results.asObject())
            std::printf("  %-16s deletion AUC %.4f   insertion AUC %.4f\n", name.c_str(), m.find("deletion_auc")->asNumber(), m.find("insertion_auc")->asNumber());
    }
    return 0;
}

int cmdProject(const Args &a)
{
    const std::string method = a.need("method");
    if (method != "pca" && method != "tsne" && method != "umap") throw UsageError("--method must be pca, tsne or umap");
    const std::string out = a.need("out");
    const bool csv = out.size() > 4 && out.substr(out.size() - 4) == ".csv";
    if (!csv && !(out.size() > 4 && out.substr(out.size() - 4) == ".npy")) throw UsageError("--out must end in .npy or .csv");
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    const Dataset data = Dataset::open(a.need("data"), s.metadata.labels);
    const std::string layer = a.need("layer");
    const std::string path = model->resolveLayer(layer).path;
    const size_t n = a.has("limit") ? std::min(data.size(), size_t(toInt(a.need("limit"), "--limit"))) : data.size();
    // Activations pooled to one vector per item: spatial maps averaged over H×W, tokens over T.
    std::vector<float> feats;
    int64_t dim = 0;
    for (size_t b = 0; b < n; b += 256) {
        const size_t e = std::min(n, b + 256);
        const TensorValue pooled = poolActivations(model->forward(data.batch(b, e, s.metadata.input, s.inputShape), {layer}).taps.at(path).at(0));
        dim = pooled.dim(1);
        feats.insert(feats.end(), pooled.data(), pooled.data() + pooled.numel());
    }
    const TensorValue X({int64_t(n), dim}, std::move(feats));
    const int dims = toInt(a.get("dims", "2"), "--dims");
    TensorValue Y;
    Json j = Json::object();
    if (method == "pca") {
        const PcaResult r = pca(X, dims);
        Y = r.projected;
        Json ratio = Json::array();
        for (double v : r.explainedRatio) ratio.push(Json(v));
        j["explained_variance_ratio"] = ratio;
    } else if (method == "umap") {
        UmapOptions o;
        o.dims = dims;
        o.neighbours = toInt(a.get("neighbours", "15"), "--neighbours");
        o.minDist = toDouble(a.get("min-dist", "0.1"), "--min-dist");
        o.epochs = toInt(a.get("epochs", "0"), "--epochs");
        o.seed = unsigned(toInt(a.get("seed", "0"), "--seed"));
        o.progress = [](int epoch, const TensorValue &) {
            if (isatty(2)) std::fprintf(stderr, "\rUMAP epoch %d", epoch);
        };
        Y = umap(X, o);
        if (isatty(2)) std::fprintf(stderr, "\n");
    } else {
        TsneOptions o;
        o.dims = dims;
        o.perplexity = toDouble(a.get("perplexity", "30"), "--perplexity");
        o.iterations = toInt(a.get("iterations", "1000"), "--iterations");
        o.theta = toDouble(a.get("theta", dims == 2 ? "0.5" : "0"), "--theta");
        o.seed = unsigned(toInt(a.get("seed", "0"), "--seed"));
        o.progress = [](int it, double kl, const TensorValue &) {
            if (isatty(2)) std::fprintf(stderr, "\rt-SNE iteration %d, KL %.4f", it, kl);
        };
        Y = tsne(X, o);
        if (isatty(2)) std::fprintf(stderr, "\n");
    }
    if (csv) {
        std::ostringstream text;
        text << "item,label";
        for (int k = 0; k < dims; ++k) text << ",c" << k;
        text << "\n";
        for (size_t i = 0; i < n; ++i) {
            text << '"' << data.itemName(i) << "\"," << data.label(i);
            for (int k = 0; k < dims; ++k) text << ',' << Y.at(int64_t(i) * dims + k);
            text << "\n";
        }
        writeTextAtomically(out, text.str());
    } else {
        writeNpy(out, Y);
    }
    j["items"] = int64_t(n);
    j["features"] = dim;
    j["out"] = out;
    std::cout << j.dump() << "\n";
    return 0;
}

int cmdSanity(const Args &a)
{
    Args one = a;
    if (!one.has("target")) one.values["target"] = "predicted";
    AttributionParams p = attributionParams(one);
    auto model = loadModel(a);
    const TensorValue x = loadInputFile(a.need("input"), model->summary().metadata.input, model->summary().inputShape);
    // Fix the explained class to the original prediction, so randomisation changes the map, not the target.
    if (p.target.kind == AttributionTarget::Kind::Predicted) {
        const auto top = model->topK(model->forward(x, {}).outputs.at(0), 1);
        p.target.kind = AttributionTarget::Kind::Class;
        p.target.classIndex = top.empty() ? 0 : top[0].index;
    }
    const SanityResult r = cascadingRandomization(*model, [&](Model &m) { return attributeInput(m, x, p, one)->map; },
                                                  uint64_t(toInt(a.get("seed", "0"), "--seed")));
    Json j = Json::object();
    j["method"] = methodName(p.method);
    j["target"] = p.target.classIndex;
    Json steps = Json::array();
    for (const auto &st : r.steps) {
        Json x2 = Json::object();
        x2["randomised_down_to"] = st.layer;
        x2["spearman"] = st.spearman;
        x2["ssim"] = st.ssim;
        steps.push(x2);
    }
    j["steps"] = steps;
    j["insensitive"] = r.insensitive;
    if (a.flags.count("json")) {
        std::cout << j.dump(1) << "\n";
    } else {
        std::printf("%s, class %d: layers randomised from the top (Spearman / SSIM with the original map)\n", methodName(p.method), p.target.classIndex);
        for (const auto &st : r.steps) std::printf("  %-28s %+.3f  %.3f\n", st.layer.c_str(), st.spearman, st.ssim);
        if (r.insensitive) std::printf("  FLAGGED: the map barely depends on the model's parameters\n");
    }
    return 0;
}

void writeImages(const std::string &out, const TensorValue &images, int cols)
{
    auto ends = [&](const char *e) { return out.size() > 4 && out.substr(out.size() - 4) == e; };
    if (ends(".npy")) writeNpy(out, images);
    else if (ends(".png")) writeImageGridPng(out, images, cols);
    else if (ends(".gif") || ends(".mp4")) writeAnimation(out, images);
    else throw UsageError("--out must end in .npy, .png, .gif or .mp4");
}

int cmdTraverse(const Args &a)
{
    auto model = loadModel(a);
    const TensorValue z = checkCode(*model, readNpy(a.need("z")), "code --z");
    const std::string range = a.need("range");
    const auto colon = range.find(':');
    if (colon == std::string::npos) throw UsageError("--range must be A:B");
    const double lo = toDouble(range.substr(0, colon), "--range A"), hi = toDouble(range.substr(colon + 1), "--range B");
    const int steps = toInt(a.need("steps"), "--steps");
    const TensorValue codes = a.has("direction") ? moveAlong(z, readNpy(a.need("direction")), lo, hi, steps)
                                                 : traverseCodes(z, toInt(a.need("dim"), "--dim"), lo, hi, steps);
    const TensorValue images = decodeCodes(*model, codes, toInt(a.get("class", "-1"), "--class"));
    writeImages(a.need("out"), images, toInt(a.get("cols", "0"), "--cols"));
    std::cout << "{\"shape\": " << shapeJson(images.shape()).dump() << "}\n";
    return 0;
}

int cmdInterpolate(const Args &a)
{
    auto model = loadModel(a);
    const TensorValue z0 = checkCode(*model, readNpy(a.need("z")), "code --z");
    const TensorValue z1 = checkCode(*model, readNpy(a.need("z-end")), "code --z-end");
    const std::string mode = a.get("mode", "lerp");
    if (mode != "lerp" && mode != "slerp") throw UsageError("--mode must be lerp or slerp");
    const TensorValue images = decodeCodes(*model, interpolateCodes(z0, z1, toInt(a.need("steps"), "--steps"),
                                                                   mode == "slerp" ? InterpolationMode::Slerp : InterpolationMode::Lerp),
                                           toInt(a.get("class", "-1"), "--class"));
    writeImages(a.need("out"), images, toInt(a.get("cols", "0"), "--cols"));
    std::cout << "{\"shape\": " << shapeJson(images.shape()).dump() << "}\n";
    return 0;
}

int cmdSample(const Args &a)
{
    auto model = loadModel(a);
    const int64_t D = latentDim(*model);
    const TensorValue codes = sampleCodes(toInt(a.need("count"), "--count"), D, uint64_t(toInt(a.get("seed", "0"), "--seed")),
                                          a.has("truncation") ? toDouble(a.need("truncation"), "--truncation") : 0.0);
    const TensorValue images = decodeCodes(*model, codes, toInt(a.get("class", "-1"), "--class"));
    writeImages(a.need("out"), images, toInt(a.get("cols", "0"), "--cols"));
    if (a.has("codes-out")) writeNpy(a.need("codes-out"), codes);
    std::cout << "{\"shape\": " << shapeJson(images.shape()).dump() << "}\n";
    return 0;
}

int cmdGenMetrics(const Args &a)
{
    auto gen = loadModel(a);
    auto cls = loadCompanion(a, "classifier");
    const int64_t count = toInt(a.get("count", "500"), "--count");
    const TensorValue codes = sampleCodes(count, latentDim(*gen), uint64_t(toInt(a.get("seed", "0"), "--seed")));
    const std::string layer = a.get("layer", cls->summary().metadata.suggestedLayers.empty() ? "" : cls->summary().metadata.suggestedLayers.back());
    TensorValue real, realForEncoder;
    std::unique_ptr<Model> enc;
    if (a.has("data")) {
        const Dataset data = Dataset::open(a.need("data"), cls->summary().metadata.labels);
        const size_t n = std::min(data.size(), size_t(count));
        real = data.batch(0, n, cls->summary().metadata.input, cls->summary().inputShape);
        if (a.has("encoder")) {
            enc = loadCompanion(a, "encoder");
            realForEncoder = data.batch(0, n, enc->summary().metadata.input, enc->summary().inputShape);
        }
    }
    const GenerativeReport g = generativeReport(*gen, *cls, layer, codes, real, enc.get(), realForEncoder);
    Json j = Json::object();
    j["samples"] = g.samples;
    j["feature_layer"] = g.featureLayer;
    j["inception_score"] = g.inceptionScore;
    j["diversity"] = g.diversity;
    if (g.hasReal) {
        j["frechet_distance"] = g.frechetDistance;
        j["real_inception_score"] = g.realInceptionScore;
        j["real_diversity"] = g.realDiversity;
    }
    if (g.hasReconstruction) {
        j["reconstruction_ssim"] = g.reconstructionSsim;
        j["reconstruction_psnr_db"] = g.reconstructionPsnr;
        Json kj = Json::array();
        for (double v : g.klPerDim) kj.push(Json(v));
        j["kl_per_dim"] = kj;
        j["active_units"] = g.activeUnits;
    }
    std::cout << j.dump(a.flags.count("json") ? 1 : -1) << "\n";
    return 0;
}

Json directionSetJson(const DirectionSet &d)
{
    Json j = Json::object();
    j["shape"] = shapeJson(d.directions.shape());
    Json r = Json::array(), s = Json::array();
    for (double v : d.explainedRatio) r.push(Json(v));
    for (double v : d.sigma) s.push(Json(v));
    j["explained_ratio"] = r;
    j["sigma"] = s;
    return j;
}

/// Encoder μ codes of up to `limit` dataset items: [N, D].
int cmdDirection(const Args &a)
{
    const std::string method = a.get("method", "attribute");
    const std::string out = a.need("out");
    if (method == "ganspace") {
        auto gen = loadModel(a);
        const DirectionSet d = principalDirectionsOfActivation(*gen, a.need("layer"), toInt(a.get("k", "5"), "--k"),
                                                               toInt(a.get("count", "2000"), "--count"), uint64_t(toInt(a.get("seed", "0"), "--seed")));
        writeNpy(out, d.directions);
        std::cout << directionSetJson(d).dump(-1) << "\n";
        return 0;
    }
    if (method != "attribute" && method != "pca") throw UsageError("--method must be attribute, pca or ganspace");
    auto enc = loadCompanion(a, "encoder");
    const ModelSummary &s = enc->summary();
    const Dataset data = Dataset::open(a.need("data"), s.metadata.labels);
    const size_t limit = size_t(toInt(a.get("limit", "1000"), "--limit"));
    if (method == "pca") {
        const DirectionSet d = principalDirectionsOfCodes(encodeDataset(*enc, data, limit), toInt(a.get("k", "5"), "--k"));
        writeNpy(out, d.directions);
        std::cout << directionSetJson(d).dump(-1) << "\n";
        return 0;
    }
    const int from = toInt(a.need("from"), "--from"), to = toInt(a.need("to"), "--to");
    auto meanOf = [&](int cls) {
        std::vector<float> all;
        Shape item;
        size_t count = 0;
        for (size_t i = 0; i < data.size() && count < limit; ++i) {
            if (data.label(i) != cls) continue;
            const TensorValue x = data.batch(i, i + 1, s.metadata.input, s.inputShape);
            item.assign(x.shape().begin() + 1, x.shape().end());
            all.insert(all.end(), x.data(), x.data() + x.numel());
            ++count;
        }
        if (!count) throw Error(ErrorCode::BadInput, "The dataset has no item of class " + std::to_string(cls));
        item.insert(item.begin(), int64_t(count));
        return meanCode(*enc, TensorValue(item, std::move(all)));
    };
    const TensorValue ma = meanOf(from), mb = meanOf(to);
    std::vector<float> d(size_t(ma.numel()));
    for (int64_t j = 0; j < ma.numel(); ++j) d[size_t(j)] = mb.at(j) - ma.at(j);
    const TensorValue dir({1, ma.numel()}, std::move(d));
    writeNpy(out, dir);
    writeNpy(out.substr(0, out.size() - 4) + "_from.npy", ma);
    std::cout << "{\"shape\": " << shapeJson(dir.shape()).dump() << "}\n";
    return 0;
}

int cmdCounterfactual(const Args &a)
{
    auto dec = loadModel(a);
    auto cls = loadCompanion(a, "classifier");
    TensorValue z0;
    if (a.has("z")) {
        z0 = checkCode(*dec, readNpy(a.need("z")), "code --z");
    } else {
        auto enc = loadCompanion(a, "encoder");
        const TensorValue x = loadInputFile(a.need("input"), enc->summary().metadata.input, enc->summary().inputShape);
        z0 = checkCode(*dec, enc->forward(x, {}).outputs.at(0), "encoded input");
    }
    CounterfactualOptions o;
    o.target = toInt(a.need("target"), "--target");
    o.steps = toInt(a.get("steps", "300"), "--steps");
    o.learningRate = toDouble(a.get("lr", "0.05"), "--lr");
    o.distanceWeight = toDouble(a.get("lambda", "0.05"), "--lambda");
    o.stopProbability = toDouble(a.get("stop", "0.9"), "--stop");
    o.extraSteps = toInt(a.get("extra-steps", "0"), "--extra-steps");
    const CounterfactualResult r = latentCounterfactual(*dec, *cls, z0, o);
    const std::string out = a.need("out");
    const int64_t S = r.path.dim(0);
    if (out.size() > 4 && out.substr(out.size() - 4) == ".npy") {
        writeNpy(out, decodeCodes(*dec, r.path));
    } else {
        // Up to 8 frames evenly spaced along the path's length, then (for a still) the difference.
        const bool still = out.size() > 4 && out.substr(out.size() - 4) == ".png";
        writeImages(out, counterfactualStrip(*dec, r, 8, still), 0);
    }
    if (a.has("path-out")) writeNpy(a.need("path-out"), r.path);
    const auto &labels = cls->summary().metadata.labels;
    auto name = [&](int c) { return c >= 0 && size_t(c) < labels.size() ? labels[size_t(c)] : std::to_string(c); };
    Json j = Json::object();
    j["reached"] = r.reached;
    j["steps"] = S - 1;
    j["target"] = o.target;
    j["target_label"] = name(o.target);
    j["start_class"] = r.predicted.front();
    j["start_label"] = name(r.predicted.front());
    j["final_class"] = r.predicted.back();
    j["final_label"] = name(r.predicted.back());
    j["start_probability"] = r.targetProbability.front();
    j["final_probability"] = r.targetProbability.back();
    j["latent_distance"] = r.distance.back();
    double l1 = 0;
    for (int64_t i = 0; i < r.difference.numel(); ++i) l1 += std::abs(r.difference.at(i));
    j["mean_abs_pixel_change"] = l1 / double(std::max<int64_t>(1, r.difference.numel()));
    std::cout << j.dump(a.flags.count("json") ? 1 : -1) << "\n";
    return r.reached ? 0 : 4;
}

/// The tokenizer a text model names in its metadata ("tokenizer": {"file", "lowercase", "max_length"}),
/// or --tokenizer F; --truncate chooses truncation over an error for a text longer than max_length.
std::unique_ptr<Tokenizer> tokenizerFor(const Args &a, const ModelSummary *s)
{
    TokenizerOptions o;
    o.truncate = a.flags.count("truncate") > 0;
    std::string file;
    if (s) {
        tokenizerFromMetadata(*s, file, o);
        if (o.maxLength == 0 && s->inputShape.size() == 2 && s->inputShapeSource == "metadata") o.maxLength = int(s->inputShape[1]);
    }
    if (a.has("tokenizer")) file = a.need("tokenizer");   // --tokenizer wins over the metadata's
    if (a.has("lowercase")) o.lowercase = a.need("lowercase") != "0";
    if (a.has("max-length")) o.maxLength = toInt(a.need("max-length"), "--max-length");
    if (file.empty()) throw UsageError("no tokenizer: the model's metadata names none; give --tokenizer F");
    return Tokenizer::open(file, o);
}

Json tokenizedJson(const Tokenized &t)
{
    Json j = Json::object(), ids = Json::array(), toks = Json::array();
    for (int64_t id : t.ids) ids.push(Json(id));
    for (const auto &tok : t.tokens) toks.push(Json(tok));
    j["ids"] = ids;
    j["tokens"] = toks;
    j["truncated"] = t.truncated;
    return j;
}

int cmdTokenize(const Args &a)
{
    const auto tok = tokenizerFor(a, nullptr);
    Json j = tokenizedJson(tok->encode(a.need("text")));
    j["tokenizer"] = tok->kind();
    std::cout << j.dump(-1) << "\n";
    return 0;
}

int cmdAttention(const Args &a)
{
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    TensorValue input;
    Json info = Json::object();
    if (a.has("text")) {
        const auto tok = tokenizerFor(a, &s);
        const Tokenized t = tok->encode(a.need("text"));
        std::vector<float> ids(t.ids.begin(), t.ids.end());
        const int64_t n = int64_t(ids.size());   // before the vector is moved
        input = TensorValue({1, n}, std::move(ids));
        info["tokens"] = tokenizedJson(t);
    } else {
        input = loadInputFile(a.need("input"), s.metadata.input, s.inputShape);
    }
    const std::string out = a.need("out");
    if (!(out.size() > 4 && out.substr(out.size() - 4) == ".npy")) throw UsageError("--out must end in .npy");
    const AttentionResult r = computeAttention(*model, input);
    TensorValue result;
    if (a.flags.count("grad-rollout")) result = gradientRollout(*model, input, a.has("target") ? toInt(a.need("target"), "--target") : -1);
    else if (a.flags.count("rollout")) result = attentionRollout(r.layers);
    else result = stackAttention(r);
    writeNpy(out, result);
    Json kinds = Json::array();
    for (const auto &k : r.kinds) kinds.push(Json(k));
    info["layers"] = int64_t(r.layers.size());
    info["sites"] = kinds;
    info["shape"] = shapeJson(result.shape());
    info["out"] = out;
    std::cout << info.dump(-1) << "\n";
    return 0;
}

/// Builds OUT-DIR/index.json from the per-item sidecars of a (possibly sharded) batch run.
int cmdMerge(const Args &a)
{
    namespace fs = std::filesystem;
    const std::string dir = a.need("out-dir");
    if (!fs::is_directory(dir)) throw Error(ErrorCode::FileNotFound, "Output folder not found: " + dir);
    std::vector<std::pair<std::string, Json>> entries;
    for (const auto &e : fs::directory_iterator(dir)) {
        if (e.path().extension() != ".json" || e.path().filename() == "index.json") continue;
        std::ifstream in(e.path());
        std::stringstream text;
        text << in.rdbuf();
        Json j;
        try {
            j = Json::parse(text.str());
        } catch (const std::exception &ex) {
            throw Error(ErrorCode::BadInput, e.path().string() + ": " + ex.what());
        }
        const Json *item = j.find("item");
        const Json *output = j.find("output");
        if (!item || !output) continue;   // not one of ours
        if (!fs::exists(fs::path(dir) / output->asString()))
            throw Error(ErrorCode::BadInput, "Item " + item->asString() + ": its result " + output->asString() + " is missing");
        entries.emplace_back(item->asString(), j);
    }
    std::sort(entries.begin(), entries.end(), [](const auto &x, const auto &y) { return x.first < y.first; });
    for (size_t i = 1; i < entries.size(); ++i)
        if (entries[i].first == entries[i - 1].first)
            throw Error(ErrorCode::BadInput, "Item " + entries[i].first + " appears twice");
    Json index = Json::object();
    index["count"] = int64_t(entries.size());
    Json list = Json::array();
    for (auto &e : entries) list.push(e.second);
    index["items"] = list;
    writeTextAtomically(dir + "/index.json", index.dump(1) + "\n");
    std::cout << "{\"count\": " << entries.size() << ", \"index\": \"" << dir << "/index.json\"}\n";
    return 0;
}

int cmdInfo(const Args &a)
{
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    Json j = Json::object();
    j["model"] = s.path;
    j["device"] = s.device;
    j["torch"] = s.torchVersion;
    j["metadata"] = metadataToJson(s.metadata);
    Json in = Json::object();
    in["shape"] = shapeJson(s.inputShape);
    in["source"] = s.inputShapeSource;
    in["dtype"] = s.metadata.input.dtype;
    j["input"] = in;
    Json outs = Json::array();
    for (const auto &o : s.outputShapes) outs.push(shapeJson(o));
    j["outputs"] = outs;
    j["parameters"] = s.parameterCount;
    int taps = 0;
    for (const auto &l : s.layers) taps += l.calls > 0;
    j["layers"] = taps;
    if (!s.dryRunError.empty()) j["dry_run_error"] = s.dryRunError;
    std::cout << j.dump(2) << "\n";
    return 0;
}

int cmdLayers(const Args &a)
{
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    if (a.flags.count("json")) {
        Json arr = Json::array();
        for (const auto &l : s.layers) {
            if (l.calls == 0) continue;
            Json j = Json::object();
            j["path"] = l.path;
            j["op"] = l.op;
            Json shapes = Json::array();
            for (const auto &sh : l.outputShapes) shapes.push(shapeJson(sh));
            j["output_shapes"] = shapes;
            j["output_shape"] = l.outputShapes.empty() ? Json() : shapeJson(l.outputShapes[0]);
            j["parameters"] = l.parameters;
            j["calls"] = l.calls;
            j["leaf"] = l.leaf;
            arr.push(j);
        }
        std::cout << arr.dump(2) << "\n";
        return 0;
    }
    std::printf("%-40s %-22s %-24s %s\n", "PATH", "OP", "OUTPUT", "PARAMS");
    for (const auto &l : s.layers) {
        if (l.calls == 0) continue;
        std::string shapes;
        for (const auto &sh : l.outputShapes) shapes += (shapes.empty() ? "" : " ") + shapeToString(sh);
        if (shapes.empty()) shapes = "?";
        std::printf("%-40s %-22s %-24s %lld\n", l.path.c_str(), l.op.c_str(), shapes.c_str(), (long long)l.parameters);
    }
    return 0;
}

int cmdPredict(const Args &a)
{
    const int k = toInt(a.get("topk", "5"), "--topk");
    if (k < 1) throw UsageError("--topk must be at least 1");
    auto model = loadModel(a);
    const std::string inputPath = a.need("input");
    const TensorValue input = loadInputFile(inputPath, model->summary().metadata.input, model->summary().inputShape);
    const ForwardResult r = model->forward(input, {});
    if (r.outputs.empty()) throw Error(ErrorCode::ModelError, "The model returned no tensor");
    const TensorValue &logits = r.outputs[0];
    Json j = Json::object();
    j["model"] = model->summary().path;
    j["input"] = inputPath;
    j["input_shape"] = shapeJson(input.shape());
    j["output_shape"] = shapeJson(logits.shape());
    const int64_t batch = logits.shape().size() >= 2 ? logits.dim(0) : 1;
    j["top"] = predictionsJson(model->topK(batch > 1 ? logits.slice0(0) : logits, k));
    if (batch > 1) {
        Json all = Json::array();
        for (int64_t b = 0; b < batch; ++b) all.push(predictionsJson(model->topK(logits.slice0(b), k)));
        j["batch"] = all;
    }
    const auto st = logits.stats();
    j["nan_count"] = st.nanCount;
    j["inf_count"] = st.infCount;
    std::cout << j.dump(2) << "\n";
    if (st.nanCount || st.infCount) {
        std::cerr << "pellucid-cli: the model's output contains " << st.nanCount << " NaN and " << st.infCount
                  << " Inf values\n";
        return 3;
    }
    return 0;
}

int cmdActivations(const Args &a)
{
    const std::string out = a.need("out");
    const bool png = out.size() > 4 && out.substr(out.size() - 4) == ".png";
    const bool npy = out.size() > 4 && out.substr(out.size() - 4) == ".npy";
    if (!png && !npy) throw UsageError("--out must end in .npy or .png");
    const std::string layer = a.need("layer");
    auto model = loadModel(a);
    const TensorValue input = loadInputFile(a.need("input"), model->summary().metadata.input, model->summary().inputShape);
    auto r = computeActivations(*model, input, 0, layer, 1, 16);
    if (npy) writeNpy(out, r->activation);
    else writeActivationPng(out, r->activation);
    if (r->stats.nanCount || r->stats.infCount) {
        std::cerr << "pellucid-cli: layer " << layer << " contains " << r->stats.nanCount << " NaN and "
                  << r->stats.infCount << " Inf values (written to " << out << ")\n";
        return 3;
    }
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    try {
        const Args a = parse(argc, argv);
        if (a.command == "help" || a.command == "--help" || a.flags.count("help")) {
            std::cout << kUsage;
            return 0;
        }
        if (a.command == "info") return cmdInfo(a);
        if (a.command == "layers") return cmdLayers(a);
        if (a.command == "predict") return cmdPredict(a);
        if (a.command == "activations") return cmdActivations(a);
        if (a.command == "attribute") return cmdAttribute(a);
        if (a.command == "merge") return cmdMerge(a);
        if (a.command == "figure") return cmdFigure(a, argc, argv);
        if (a.command == "recommend") return cmdRecommend(a);
        if (a.command == "influence") return cmdInfluence(a);
        if (a.command == "rec-eval") return cmdRecEval(a);
        if (a.command == "evaluate") return cmdEvaluate(a);
        if (a.command == "faithfulness") return cmdFaithfulness(a);
        if (a.command == "project") return cmdProject(a);
        if (a.command == "sanity") return cmdSanity(a);
        if (a.command == "traverse") return cmdTraverse(a);
        if (a.command == "interpolate") return cmdInterpolate(a);
        if (a.command == "sample") return cmdSample(a);
        if (a.command == "gen-metrics") return cmdGenMetrics(a);
        if (a.command == "direction") return cmdDirection(a);
        if (a.command == "counterfactual") return cmdCounterfactual(a);
        if (a.command == "attention") return cmdAttention(a);
        if (a.command == "tokenize") return cmdTokenize(a);
        throw UsageError("unknown command '" + a.command + "'");
    } catch (const UsageError &e) {
        std::cerr << "pellucid-cli: " << e.what() << "\n" << kUsage;
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "pellucid-cli: " << e.what() << "\n";
        return 2;
    }
}
