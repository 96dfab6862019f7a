// pellucid-cli's contract: commands, flags, JSON output, .npy shapes, exit status and one-line errors.
#include "engine/core/json.h"

#include <gif_lib.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>
#include "engine/attribution/methods.h"
#include "engine/core/files.h"
#include "engine/core/npy.h"
#include "tests/common/fixtures.h"
#include "tests/common/rawnpy.h"
#include "tests/common/shell.h"
#include "tests/common/testkit.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <cstdio>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace pellucid;

namespace {

using testkit::Run;

// Each shard (TESTKIT_SHARD, tests/gui/CMakeLists.txt) writes in its own folder, so shards run side by side.
std::string shardFolder()
{
    const auto [k, n] = testkit::shard();
    const std::string dir = std::string(PELLUCID_TMP) + "/cli_shard" + std::to_string(k) + "of" + std::to_string(n);
    std::filesystem::create_directories(dir);
    return dir;
}

const std::string demo = fixtures::resources("models/fashion_mnist_cnn.pt");
const std::string tmp = shardFolder();

Run cli(const std::string &args) { return testkit::runShell(std::string(PELLUCID_CLI) + " " + args, tmp + "/cli_stderr.txt"); }

int lines(const std::string &s)
{
    int n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

}   // namespace

TEST(info_json)
{
    const Run r = cli("info --model " + demo);
    CHECK_EQ(r.status, 0);
    const Json j = Json::parse(r.out);
    CHECK_EQ(j.find("device")->asString(), std::string("cpu"));
    CHECK_EQ(j.find("metadata")->find("labels")->size(), size_t(10));
    CHECK_EQ(j.find("input")->find("shape")->size(), size_t(4));
    CHECK_EQ(j.find("input")->find("source")->asString(), std::string("metadata"));
}

TEST(layers_json_and_text)
{
    const Run r = cli("layers --model " + demo + " --json");
    CHECK_EQ(r.status, 0);
    const Json j = Json::parse(r.out);
    CHECK_EQ(j.size(), size_t(19));
    bool found = false;
    for (const Json &l : j.asArray())
        if (l.find("path")->asString() == "features.9") {
            found = true;
            CHECK_EQ(l.find("op")->asString(), std::string("ReLU"));
            CHECK_EQ(l.find("output_shape")->asArray()[1].asInt(), int64_t(64));
        }
    CHECK(found);
    const Run t = cli("layers --model " + demo);
    CHECK_EQ(t.status, 0);
    CHECK(t.out.find("features.7") != std::string::npos && t.out.find("Conv2d") != std::string::npos);
}

TEST(predict_image_and_npy)
{
    const Run r = cli("predict --model " + demo + " --input " + fixtures::resources("samples/7-sneaker.png") + " --topk 3");
    CHECK_EQ(r.status, 0);
    const Json j = Json::parse(r.out);
    CHECK_EQ(j.find("top")->size(), size_t(3));
    CHECK_EQ(j.find("top")->asArray()[0].find("label")->asString(), std::string("Sneaker"));
    // A .npy input is used exactly as given, batch included.
    writeNpy(tmp + "/batch.npy", TensorValue({2, 1, 28, 28}, std::vector<float>(2 * 784, 0.1f)));
    const Run b = cli("predict --model " + demo + " --input " + tmp + "/batch.npy");
    CHECK_EQ(b.status, 0);
    const Json jb = Json::parse(b.out);
    CHECK_EQ(jb.find("batch")->size(), size_t(2));
    CHECK_EQ(jb.find("top")->size(), size_t(5));
}

TEST(activations_npy_exact_shape_and_png)
{
    const std::string out = tmp + "/act.npy";
    std::remove(out.c_str());
    const Run r =
        cli("activations --model " + demo + " --input " + fixtures::resources("samples/0-t-shirt-top.png") + " --layer features.6 --out " + out);
    CHECK_EQ(r.status, 0);
    const TensorValue t = readNpy(out);
    CHECK(t.shape() == (Shape{1, 32, 14, 14}));
    const std::string png = tmp + "/act.png";
    std::remove(png.c_str());
    CHECK_EQ(cli("activations --model " + demo + " --input " + fixtures::resources("samples/0-t-shirt-top.png") + " --layer features.6 --out " + png)
                 .status,
             0);
    FILE *f = fopen(png.c_str(), "rb");
    CHECK(f != nullptr);
    if (f) {
        unsigned char sig[8] = {};
        CHECK_EQ(fread(sig, 1, 8, f), size_t(8));
        CHECK(sig[1] == 'P' && sig[2] == 'N' && sig[3] == 'G');
        fclose(f);
    }
}

TEST(taps_through_cli_match_eager_hooks)
{
    const std::string out = tmp + "/tap.npy";
    const Run r = cli("activations --model " + fixtures::path("seqcnn_scripted.pt") + " --input " + fixtures::path("seqcnn_input.npy")
                      + " --layer features.3.relu --out " + out);
    CHECK_EQ(r.status, 0);
    const double diff = fixtures::maxAbsDiff(readNpy(out), readNpy(fixtures::path("seqcnn__features.3.relu__0.npy")));
    CHECK(diff < 1e-5);
}

TEST(errors_exit_nonzero_with_one_line)
{
    struct Case {
        std::string args, needle;
    };
    const std::string img = fixtures::resources("samples/7-sneaker.png");
    writeNpy(tmp + "/wrong.npy", TensorValue({1, 3, 28, 28}, std::vector<float>(3 * 784, 0.f)));
    const std::vector<Case> cases = {
        {"info --model /nonexistent.pt", "not found"},
        {"info --model " + fixtures::path("manifest.json"), "not a TorchScript archive"},
        {"predict --model " + demo + " --input " + tmp + "/wrong.npy", "[1, 1, 28, 28]"},
        {"predict --model " + demo + " --input " + fixtures::path("manifest.json"), "Cannot decode image"},
        {"activations --model " + demo + " --input " + img + " --layer features.99 --out " + tmp + "/x.npy", "Did you mean"},
        {"predict --model " + fixtures::path("thrower_scripted.pt") + " --input " + fixtures::path("thrower_input.npy"), "Thrower expects 7"},
        {"activations --model " + demo + " --input " + img + " --layer features.1 --out /nonexistent-dir/x.npy", "Cannot write"},
    };
    for (const auto &c : cases) {
        const Run r = cli(c.args);
        CHECK_MSG(r.status == 2, c.args << " -> " << r.status);
        CHECK_MSG(r.err.find(c.needle) != std::string::npos, c.args << " stderr: " << r.err);
        CHECK_MSG(lines(r.err) == 1, "not one line: " << r.err);
    }
    CHECK_EQ(cli("frobnicate").status, 1);
    CHECK_EQ(cli("predict --model " + demo).status, 1);   // missing --input
}

TEST(nan_output_exits_nonzero_after_writing)
{
    const Run r = cli("predict --model " + fixtures::path("nannet_scripted.pt") + " --input " + fixtures::path("nannet_input.npy"));
    CHECK_EQ(r.status, 3);
    CHECK(r.err.find("NaN") != std::string::npos);
    CHECK(Json::parse(r.out).find("nan_count")->asInt() > 0);
}

TEST(attribution_reference_cases_match_captum)
{
    // Every run of every ../shared/reference/attribution/*/case.json, on each TorchScript file it names.
    namespace fs = std::filesystem;
    int runs = 0, fastRuns = 0;
    for (const auto &dir : fs::directory_iterator(fixtures::reference("attribution"))) {
        const fs::path caseFile = dir.path() / "case.json";
        if (!fs::exists(caseFile)) continue;
        std::ifstream in(caseFile);
        std::stringstream text;
        text << in.rdbuf();
        const Json c = Json::parse(text.str());
        // "max|ours-expected| <= A * max|expected| + B"
        double relTol = 1e-4, absTol = 1e-6;
        if (const Json *t = c.find("tolerance")) {
            std::smatch m;
            const std::string tol = t->asString();
            if (std::regex_search(tol, m, std::regex(R"(<=\s*([0-9.eE+-]+)\s*\*\s*max\|expected\|\s*\+\s*([0-9.eE+-]+))"))) {
                relTol = std::stod(m[1].str());
                absTol = std::stod(m[2].str());
            }
        }
        const std::string input = (dir.path() / c.find("input")->asString()).string();
        for (const Json &model : c.find("models")->asArray()) {
            for (const Json &run : c.find("runs")->asArray()) {
                std::string args, method;
                const std::vector<Json> &given = run.find("args")->asArray();
                for (size_t i = 0; i + 1 < given.size(); ++i)
                    if (given[i].asString() == "--method") method = given[i + 1].asString();
                for (const Json &a : given) {
                    std::string v = a.asString();
                    if (v.size() > 4 && v.substr(v.size() - 4) == ".npy" && fs::exists(dir.path() / v)) v = (dir.path() / v).string();
                    args += " '" + v + "'";
                }
                const std::string out = tmp + "/ref_" + std::to_string(runs) + ".npy";
                const Run r = cli("attribute --model " + (dir.path() / model.asString()).string() + " --input " + input + " --out " + out + args);
                ++runs;
                const std::string what = dir.path().filename().string() + "/" + model.asString() + " " + run.find("expected")->asString();
                CHECK_MSG(r.status == 0, what << ": " << r.err);
                if (r.status != 0) continue;
                const TensorValue expected = readNpy((dir.path() / run.find("expected")->asString()).string());
                const double diff = fixtures::maxAbsDiff(readNpy(out), expected);
                CHECK_MSG(diff <= relTol * fixtures::maxAbs(expected) + absTol, what << ": max diff " << diff);
                CHECK_EQ(Json::parse(r.out).find("kernels")->asString(), std::string("exact"));
                // The fast kernels (frozen, BatchNorm folded, channels-last) on the methods they apply to: the
                // same reference within the same tolerance.
                if (const MethodInfo *info = findMethod(method); info && info->outputOnly) {
                    const Run f = cli("attribute --model " + (dir.path() / model.asString()).string() + " --input " + input + " --out " + out + args
                                      + " --fast-kernels");
                    CHECK_MSG(f.status == 0, what << " --fast-kernels: " << f.err);
                    if (f.status != 0) continue;
                    CHECK_MSG(Json::parse(f.out).find("kernels")->asString() == "fast", what << ": " << f.out);
                    const double fd = fixtures::maxAbsDiff(readNpy(out), expected);
                    CHECK_MSG(fd <= relTol * fixtures::maxAbs(expected) + absTol, what << " --fast-kernels: max diff " << fd);
                    ++fastRuns;
                }
            }
        }
    }
    CHECK(runs >= 18);
    CHECK(fastRuns >= 14);   // 7 output-only runs (saliency, input × gradient, 3 IG, guided backprop, occlusion) × 2 files
}

TEST(lime_and_kernelshap_over_slic_superpixels)
{
    const std::string img = fixtures::resources("samples/9-ankle-boot.png");
    for (const char *method : {"lime", "kernelshap"}) {
        const std::string out = tmp + "/" + method + ".npy";
        const Run r = cli(std::string("attribute --model ") + demo + " --input " + img + " --method " + method
                          + " --target 9 --samples 300 --seed 1 --superpixels slic --superpixel-size 4 --out " + out);
        CHECK_MSG(r.status == 0, r.err);
        const TensorValue m = readNpy(out);
        CHECK(m.shape() == (Shape{1, 1, 28, 28}));
        std::set<float> values;
        for (int64_t i = 0; i < m.numel(); ++i) values.insert(m.at(i));
        CHECK_MSG(values.size() > 10 && values.size() < 200, method << ": " << values.size() << " distinct values");
    }
    // A grid instead of SLIC: exactly gridCells² values at most.
    const Run g = cli("attribute --model " + demo + " --input " + img
                      + " --method kernelshap --target 9 --samples 100 --superpixels grid --grid 4 --out " + tmp + "/grid.npy");
    CHECK_EQ(g.status, 0);
    std::set<float> gv;
    const TensorValue gm = readNpy(tmp + "/grid.npy");
    for (int64_t i = 0; i < gm.numel(); ++i) gv.insert(gm.at(i));
    CHECK(gv.size() <= 16 && gv.size() > 1);
}

namespace {
std::string slurp(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}
}   // namespace

TEST(batch_runs_shard_resume_and_merge)
{
    namespace fs = std::filesystem;
    const std::string root = tmp + "/batch";
    fs::remove_all(root);
    fs::create_directories(root + "/in");
    for (const auto &e : fs::directory_iterator(fixtures::resources("samples")))
        fs::copy_file(e.path(), root + "/in/" + e.path().filename().string());
    const std::string common = "attribute --model " + demo + " --input-dir " + root + "/in --method ig --steps 8 --target predicted";
    // Unsharded.
    Run r = cli(common + " --out-dir " + root + "/all");
    CHECK_MSG(r.status == 0, r.err);
    CHECK_EQ(Json::parse(r.out).find("done")->asInt(), int64_t(10));
    // Three shards into one folder: together they are the unsharded run, no item twice.
    int64_t total = 0;
    for (int i = 0; i < 3; ++i) {
        r = cli(common + " --out-dir " + root + "/sharded --shard " + std::to_string(i) + "/3");
        CHECK_EQ(r.status, 0);
        total += Json::parse(r.out).find("done")->asInt();
    }
    CHECK_EQ(total, int64_t(10));
    int files = 0;
    for (const auto &e : fs::directory_iterator(root + "/all")) {
        if (e.path().extension() != ".npy") continue;
        ++files;
        const std::string other = root + "/sharded/" + e.path().filename().string();
        CHECK_MSG(fs::exists(other) && slurp(other) == slurp(e.path().string()), other);
    }
    CHECK_EQ(files, 10);
    // Resume: done items are skipped; a removed one is redone.
    fs::remove(root + "/all/3-dress.png.npy");
    r = cli(common + " --out-dir " + root + "/all");
    CHECK_EQ(Json::parse(r.out).find("skipped")->asInt(), int64_t(9));
    CHECK_EQ(Json::parse(r.out).find("done")->asInt(), int64_t(1));
    // Merge builds one index with every item once.
    r = cli("merge --out-dir " + root + "/sharded");
    CHECK_MSG(r.status == 0, r.err);
    const Json index = Json::parse(slurp(root + "/sharded/index.json"));
    CHECK_EQ(index.find("count")->asInt(), int64_t(10));
    std::set<std::string> ids;
    for (const Json &it : index.find("items")->asArray()) ids.insert(it.find("item")->asString());
    CHECK_EQ(ids.size(), size_t(10));
    // A .npy batch: one item per row.
    writeNpy(root + "/rows.npy", TensorValue({3, 1, 28, 28}, std::vector<float>(3 * 784, 0.2f)));
    r = cli("attribute --model " + demo + " --input " + root + "/rows.npy --method saliency --target 1 --out-dir " + root + "/rows");
    CHECK_EQ(r.status, 0);
    CHECK(fs::exists(root + "/rows/row000002.npy"));
    // Bad shard and a missing folder.
    CHECK_EQ(cli(common + " --out-dir " + root + "/x --shard 3/3").status, 1);
    CHECK_EQ(cli("attribute --model " + demo + " --input-dir /nonexistent --method saliency --target 1 --out-dir " + root + "/y").status, 2);
}

TEST(headless_figure_from_a_session)
{
    const std::string dir = tmp + "/figure";
    std::filesystem::create_directories(dir);
    const std::string session = dir + "/s.json";
    std::ofstream(session) << "{\"pellucid_session\": 1, \"model\": {\"path\": \"" << demo << "\"},"
                           << " \"composer\": {\"rows\": [\"" << fixtures::resources("samples/1-trouser.png") << "\"],"
                           << " \"columns\": [{\"kind\": \"input\"}, {\"kind\": \"attribution\", \"params\": {\"method\": \"inputxgrad\"}},"
                           << " {\"kind\": \"activation\", \"layer\": \"features.2\"}]},"
                           << " \"figure\": {\"width_mm\": 183, \"dpi\": 100}}";
    const Run r = cli("figure --session " + session + " --out " + dir + "/fig.png --raw");
    CHECK_MSG(r.status == 0, r.err);
    const Json j = Json::parse(r.out);
    CHECK_EQ(j.find("panels")->asInt(), int64_t(3));
    CHECK_EQ(j.find("raw")->size(), size_t(2));
    CHECK(std::filesystem::exists(dir + "/fig.png"));
    // The raw numbers are the engine's: input × gradient for the predicted class.
    const TensorValue raw = readNpy(dir + "/fig_r0_c1.npy");
    CHECK(raw.shape() == (Shape{1, 1, 28, 28}));
    // Errors: unknown format, corrupt and future sessions, a session without a composed figure.
    CHECK(cli("figure --session " + session + " --out " + dir + "/fig.bmp").err.find("Unknown figure format") != std::string::npos);
    std::ofstream(dir + "/bad.json") << "{\"pellucid_session\": 1,";
    Run bad = cli("figure --session " + dir + "/bad.json --out " + dir + "/x.pdf");
    CHECK(bad.status == 2 && bad.err.find("corrupt") != std::string::npos);
    std::ofstream(dir + "/future.json") << "{\"pellucid_session\": 7}";
    bad = cli("figure --session " + dir + "/future.json --out " + dir + "/x.pdf");
    CHECK(bad.status == 2 && bad.err.find("newer") != std::string::npos);
    std::ofstream(dir + "/empty.json") << "{\"pellucid_session\": 1, \"model\": {\"path\": \"" << demo << "\"}}";
    bad = cli("figure --session " + dir + "/empty.json --out " + dir + "/x.pdf");
    CHECK(bad.status == 2 && bad.err.find("no composed figure") != std::string::npos);
    CHECK(!std::filesystem::exists(dir + "/x.pdf"));
}

TEST(recommender_commands)
{
    const std::string model = fixtures::path("rec_mf.pt");
    Run r = cli("recommend --model " + model + " --user 0 --topn 2 --json");
    CHECK_MSG(r.status == 0, r.err);
    const Json j = Json::parse(r.out);
    CHECK_EQ(j.find("items")->size(), size_t(2));
    const Json &first = j.find("items")->asArray()[0];
    double sum = first.find("global")->asNumber() + first.find("user_bias")->asNumber() + first.find("item_bias")->asNumber();
    for (const Json &f : first.find("factors")->asArray()) sum += f.asNumber();
    CHECK(std::fabs(sum - first.find("score")->asNumber()) < 1e-5);
    r = cli("influence --model " + model + " --user 0 --item 4 --topn 1 --json");
    CHECK_MSG(r.status == 0, r.err);
    const Json inf = Json::parse(r.out);
    CHECK_EQ(inf.find("influences")->size(), size_t(4));
    CHECK(inf.find("counterfactual")->contains("removed"));
    r = cli("rec-eval --model " + model + " --k 2 --json");
    CHECK_EQ(r.status, 0);
    CHECK(Json::parse(r.out).find("precision_at_k")->isNumber());
    // Bad input: an unknown user, a CSV with a bad rating (line number), an item outside the model.
    r = cli("recommend --model " + model + " --user 42");
    CHECK(r.status == 2 && r.err.find("Unknown user id 42") != std::string::npos);
    std::ofstream(tmp + "/bad_ratings.csv") << "userId,movieId,rating\n0,1,4\n0,2,x\n";
    r = cli("recommend --model " + model + " --user 0 --data " + tmp + "/bad_ratings.csv");
    CHECK(r.status == 2 && r.err.find("line 3") != std::string::npos);
    std::ofstream(tmp + "/big_ratings.csv") << "userId,movieId,rating\n0,1,4\n0,60,5\n";
    r = cli("recommend --model " + model + " --user 0 --data " + tmp + "/big_ratings.csv");
    CHECK(r.status == 2 && r.err.find("outside the model's tables") != std::string::npos);
}

TEST(evaluate_and_faithfulness_commands)
{
    const std::string model = fixtures::path("linear_traced.pt");
    Run r = cli("evaluate --model " + model + " --data " + fixtures::path("evalset/eval.csv") + " --topk 2 --json");
    CHECK_MSG(r.status == 0, r.err);
    const Json j = Json::parse(r.out);
    std::ifstream in(fixtures::path("evalset/expected.json"));
    std::stringstream text;
    text << in.rdbuf();
    const Json e = Json::parse(text.str());
    CHECK(std::fabs(j.find("top1")->asNumber() - e.find("top1")->asNumber()) < 1e-9);
    CHECK(std::fabs(j.find("top2")->asNumber() - e.find("top2")->asNumber()) < 1e-9);
    CHECK(std::fabs(j.find("macro_f1")->asNumber() - e.find("macro_f1")->asNumber()) < 1e-9);
    CHECK_EQ(j.find("confusion")->asArray()[2].asArray()[1].asInt(), e.find("confusion")->asArray()[2].asArray()[1].asInt());
    // The demo model on the Fashion-MNIST IDX test files (first 500 images).
    r = cli("evaluate --model " + demo + " --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --limit 500 --json");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(Json::parse(r.out).find("top1")->asNumber() > 0.85);
    r = cli("faithfulness --model " + demo
            + " --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --method saliency,gradcam --layer features.9 --limit 4 --steps 8 "
              "--json");
    CHECK_MSG(r.status == 0, r.err);
    const Json f = Json::parse(r.out);
    for (const char *m : {"saliency", "gradcam"}) {
        const Json &x = *f.find("methods")->find(m);
        CHECK(x.find("deletion_auc")->asNumber() > 0 && x.find("deletion_auc")->asNumber() < 1);
        CHECK_EQ(x.find("insertion_curve")->size(), size_t(9));
    }
    // Bad datasets: missing, a CSV with a non-numeric label (line number), a folder without classes.
    CHECK(cli("evaluate --model " + model + " --data /nonexistent/set").err.find("Dataset not found") != std::string::npos);
    std::ofstream(tmp + "/bad_eval.csv") << "path,label\nitem0.npy,1\nitem1.npy,cat\n";
    r = cli("evaluate --model " + model + " --data " + tmp + "/bad_eval.csv");
    CHECK(r.status == 2 && r.err.find("line 3") != std::string::npos);
    std::filesystem::create_directories(tmp + "/emptyset");
    CHECK(cli("evaluate --model " + model + " --data " + tmp + "/emptyset").err.find("no class sub-folders") != std::string::npos);
}

TEST(project_command)
{
    const std::string data = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    Run r = cli("project --model " + demo + " --data " + data + " --layer classifier.3 --method pca --limit 300 --out " + tmp + "/pca.npy");
    CHECK_MSG(r.status == 0, r.err);
    const Json j = Json::parse(r.out);
    const auto &ratio = j.find("explained_variance_ratio")->asArray();
    CHECK(ratio[0].asNumber() >= ratio[1].asNumber() && ratio[1].asNumber() > 0);
    CHECK(readNpy(tmp + "/pca.npy").shape() == (Shape{300, 2}));
    r = cli("project --model " + demo + " --data " + data + " --layer features.9 --method tsne --limit 100 --perplexity 10 --iterations 250 --out "
            + tmp + "/tsne.csv");
    CHECK_MSG(r.status == 0, r.err);
    std::ifstream in(tmp + "/tsne.csv");
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) ++lines;
    CHECK_EQ(lines, 101);
    // UMAP of 400 items: labels stay together (10-NN label agreement far above chance).
    r = cli("project --model " + demo + " --data " + data + " --layer classifier.3 --method umap --limit 400 --out " + tmp + "/u.npy");
    CHECK_MSG(r.status == 0, r.err);
    const TensorValue u = readNpy(tmp + "/u.npy");
    CHECK(u.shape() == (Shape{400, 2}));
    r = cli("project --model " + demo + " --data " + data + " --layer classifier.3 --method umap --limit 400 --out " + tmp + "/u.csv");
    CHECK_MSG(r.status == 0, r.err);
    std::ifstream ucsv(tmp + "/u.csv");
    std::vector<int> labels;
    std::getline(ucsv, line);
    while (std::getline(ucsv, line)) {
        const auto c1 = line.find("\","), c2 = line.find(',', c1 + 2);
        labels.push_back(std::stoi(line.substr(c1 + 2, c2 - c1 - 2)));
    }
    CHECK_EQ(labels.size(), size_t(400));
    // Of 400 points of a 2-D embedding, how many have a nearest neighbour with their own label.
    auto sameLabelNeighbours = [&](const TensorValue &y) {
        int agree = 0;
        for (int i = 0; i < 400 && labels.size() == 400 && y.numel() == 800; ++i) {
            int best = -1;
            double bd = 1e300;
            for (int j = 0; j < 400; ++j) {
                const double d = std::pow(y.at(2 * i) - y.at(2 * j), 2) + std::pow(y.at(2 * i + 1) - y.at(2 * j + 1), 2);
                if (j != i && d < bd) {
                    bd = d;
                    best = j;
                }
            }
            agree += labels[size_t(best)] == labels[size_t(i)];
        }
        return agree;
    };
    const int agree = sameLabelNeighbours(u);
    CHECK_MSG(agree > 300, agree << " of 400 nearest neighbours share the label");
    // The FFT-interpolated t-SNE asked for by name on the same 400 items: labels stay together as well.
    r = cli("project --model " + demo + " --data " + data + " --layer classifier.3 --method tsne --repulsion fft --limit 400 --out " + tmp
            + "/t.npy");
    CHECK_MSG(r.status == 0, r.err);
    const TensorValue t = readNpy(tmp + "/t.npy");
    CHECK(t.shape() == (Shape{400, 2}));
    const int tAgree = sameLabelNeighbours(t);
    CHECK_MSG(tAgree > 300, tAgree << " of 400 nearest neighbours share the label (t-SNE, FFT)");
    r = cli("project --model " + demo + " --data " + data + " --layer classifier.3 --method tsne --repulsion quadtree --limit 400 --out " + tmp
            + "/t.npy");
    CHECK_EQ(r.status, 1);
    CHECK_MSG(r.err.find("--repulsion must be auto, bh or fft") != std::string::npos, r.err);
    CHECK_EQ(cli("project --model " + demo + " --data " + data + " --layer features.9 --method isomap --out " + tmp + "/u.npy").status, 1);
}

TEST(sanity_and_robustness_commands)
{
    Run r = cli("sanity --model " + demo + " --input " + fixtures::resources("samples/9-ankle-boot.png") + " --method saliency --json");
    CHECK_MSG(r.status == 0, r.err);
    const Json j = Json::parse(r.out);
    CHECK_EQ(j.find("steps")->asArray().front().find("randomised_down_to")->asString(), std::string("classifier.5"));
    CHECK(j.find("steps")->asArray().back().find("spearman")->asNumber() < 0.5);
    CHECK(!j.find("insensitive")->asBool());
    r = cli("faithfulness --model " + demo
            + " --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --method inputxgrad --limit 2 --steps 5 --robustness --json");
    CHECK_MSG(r.status == 0, r.err);
    const Json parsed = Json::parse(r.out);   // kept: m refers into it
    const Json &m = *parsed.find("methods")->find("inputxgrad");
    CHECK(m.find("infidelity")->asNumber() >= 0 && m.find("max_sensitivity")->asNumber() > 0);
}

TEST(generative_commands)
{
    const std::string g = fixtures::path("gen_tiny.pt");
    Run r = cli("traverse --model " + g + " --z " + fixtures::path("gen_z0.npy") + " --dim 2 --range -2:3 --steps 5 --out " + tmp + "/trav.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/trav.npy"), readNpy(fixtures::path("gen_traverse.npy"))) < 1e-6);
    r = cli("interpolate --model " + g + " --z " + fixtures::path("gen_z0.npy") + " --z-end " + fixtures::path("gen_z1.npy")
            + " --steps 6 --mode slerp --out " + tmp + "/slerp.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/slerp.npy"), readNpy(fixtures::path("gen_slerp.npy"))) < 1e-6);
    r = cli("sample --model " + g + " --count 3 --seed 7 --codes-out " + tmp + "/codes.npy --out " + tmp + "/samples.png");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/codes.npy"), readNpy(fixtures::path("gen_sample_codes.npy"))) < 1e-7);
    CHECK(std::filesystem::file_size(tmp + "/samples.png") > 50);
    // Bad input: a code of the wrong size, a classifier without a generator role, a bad --range.
    writeNpy(tmp + "/z5.npy", TensorValue({1, 5}, std::vector<float>(5, 0.f)));
    r = cli("traverse --model " + g + " --z " + tmp + "/z5.npy --dim 0 --range -1:1 --steps 3 --out " + tmp + "/x.npy");
    CHECK(r.status == 2 && r.err.find("codes are [1, 4]") != std::string::npos);
    r = cli("sample --model " + demo + " --count 2 --out " + tmp + "/x.npy");
    CHECK(r.status == 2 && r.err.find("no generator role") != std::string::npos);
    CHECK_EQ(cli("traverse --model " + g + " --z " + fixtures::path("gen_z0.npy") + " --dim 0 --range 1 --steps 3 --out " + tmp + "/x.npy").status,
             1);
}

TEST(animations_gif_and_mp4)
{
    const std::string g = fixtures::path("gen_tiny.pt");
    const std::string args = "interpolate --model " + g + " --z " + fixtures::path("gen_z0.npy") + " --z-end " + fixtures::path("gen_z1.npy")
        + " --steps 9 --mode slerp --out ";
    Run r = cli(args + tmp + "/anim.gif");
    CHECK_MSG(r.status == 0, r.err);
    int error = 0;
    GifFileType *gif = DGifOpenFileName((tmp + "/anim.gif").c_str(), &error);
    CHECK(gif != nullptr);
    if (gif) {
        CHECK(DGifSlurp(gif) == GIF_OK);
        CHECK_EQ(gif->ImageCount, 9);
        CHECK_EQ(gif->SWidth, 24);   // 6 px × scale 4
        DGifCloseFile(gif, &error);
    }
    r = cli(args + tmp + "/anim.mp4");
    CHECK_MSG(r.status == 0, r.err);
    cv::VideoCapture video(tmp + "/anim.mp4", cv::CAP_FFMPEG);
    CHECK(video.isOpened());
    int frames = 0;
    cv::Mat f;
    while (video.read(f)) ++frames;
    CHECK_EQ(frames, 9);
    CHECK_EQ(cli(args + tmp + "/anim.avi").status, 1);
}

TEST(attribute_direction_moves_sneakers_to_ankle_boots)
{
    // The VAE demo: mean code of sneakers (7) → mean code of ankle boots (9); the bundled classifier
    // recognises the decoded endpoints.
    const std::string idx = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    Run r = cli("direction --encoder " + fixtures::resources("models/vae_encoder.pt") + " --data " + idx + " --from 7 --to 9 --limit 200 --out " + tmp
                + "/dir.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(readNpy(tmp + "/dir.npy").shape() == (Shape{1, 16}));
    r = cli("traverse --model " + fixtures::resources("models/vae_decoder.pt") + " --z " + tmp + "/dir_from.npy --direction " + tmp
            + "/dir.npy --range 0:1 --steps 5 --out " + tmp + "/dirtrav.npy");
    CHECK_MSG(r.status == 0, r.err);
    const TensorValue frames = readNpy(tmp + "/dirtrav.npy");
    const Json info = Json::parse(cli("info --model " + demo).out);
    const double mean = info.find("metadata")->find("input")->find("mean")->asArray()[0].asNumber();
    const double sd = info.find("metadata")->find("input")->find("std")->asArray()[0].asNumber();
    auto classify = [&](int k) {
        std::vector<float> v(784);
        for (int i = 0; i < 784; ++i) v[size_t(i)] = float((frames.at(int64_t(k) * 784 + i) - mean) / sd);
        writeNpy(tmp + "/frame.npy", TensorValue({1, 1, 28, 28}, v));
        return Json::parse(cli("predict --model " + demo + " --input " + tmp + "/frame.npy --topk 1").out)
            .find("top")
            ->asArray()[0]
            .find("label")
            ->asString();
    };
    CHECK_EQ(classify(0), std::string("Sneaker"));
    CHECK_EQ(classify(4), std::string("Ankle boot"));
    CHECK(cli("direction --encoder " + fixtures::resources("models/vae_encoder.pt") + " --data " + idx + " --from 42 --to 9 --limit 10 --out " + tmp
              + "/x.npy")
              .err.find("no item of class 42")
          != std::string::npos);
}

TEST(conditional_generator_and_role_options)
{
    const std::string g = fixtures::path("cgen_tiny.pt");
    Run r = cli("interpolate --model " + g + " --z " + fixtures::path("gen_z0.npy") + " --z-end " + fixtures::path("gen_z1.npy")
                + " --steps 3 --mode lerp --class 2 --out " + tmp + "/clerp.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/clerp.npy"), readNpy(fixtures::path("cgen_lerp_class2.npy"))) < 1e-6);
    r = cli("sample --model " + g + " --count 2 --seed 1 --out " + tmp + "/x.npy");
    CHECK(r.status == 2 && r.err.find("choose a class between 0 and 2") != std::string::npos);
    // --role: the tiny generator opened as a classifier is not a generator; an unknown role is named.
    r = cli("sample --model " + fixtures::path("gen_tiny.pt") + " --role classifier --count 2 --out " + tmp + "/x.npy");
    CHECK(r.status == 2 && r.err.find("no generator role") != std::string::npos);
    r = cli("sample --model " + fixtures::path("gen_tiny.pt") + " --role painter --count 2 --out " + tmp + "/x.npy");
    CHECK(r.status == 2 && r.err.find("Unknown model role 'painter'") != std::string::npos);
    // gen-metrics on a conditional generator: samples take the classes in turn.
    r = cli("gen-metrics --model " + g + " --classifier " + fixtures::path("gen_classifier.pt") + " --count 12 --json");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(Json::parse(r.out).find("inception_score")->asNumber() >= 1.0);
}

TEST(principal_directions_commands)
{
    // GANSpace through the VAE decoder's first layer, and PCA of encoded test images: unit rows [k, 16],
    // explained ratios falling.
    Run r = cli("direction --method ganspace --model " + fixtures::resources("models/vae_decoder.pt") + " --layer fc --k 3 --count 500 --out " + tmp
                + "/gs.npy");
    CHECK_MSG(r.status == 0, r.err);
    const TensorValue gs = readNpy(tmp + "/gs.npy");
    CHECK(gs.shape() == (Shape{3, 16}));
    for (int j = 0; j < 3; ++j) {
        double n = 0;
        for (int i = 0; i < 16; ++i) n += double(gs.at(j * 16 + i)) * gs.at(j * 16 + i);
        CHECK(std::abs(n - 1) < 1e-5);
    }
    const Json j = Json::parse(r.out);
    const auto &ratio = j.find("explained_ratio")->asArray();
    CHECK(ratio.size() == 3 && ratio[0].asNumber() >= ratio[1].asNumber() && ratio[1].asNumber() >= ratio[2].asNumber());
    r = cli("direction --method pca --encoder " + fixtures::resources("models/vae_encoder.pt")
            + " --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --limit 300 --k 2 --out " + tmp + "/pc.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(readNpy(tmp + "/pc.npy").shape() == (Shape{2, 16}));
    r = cli("direction --method ganspace --model " + fixtures::resources("models/vae_decoder.pt") + " --layer nope --out " + tmp + "/x.npy");
    CHECK(r.status == 2 && r.err.find("nope") != std::string::npos);
    CHECK_EQ(cli("direction --method magic --model " + fixtures::resources("models/vae_decoder.pt") + " --out " + tmp + "/x.npy").status, 1);
}

TEST(dissect_ablate_and_sefa_commands)
{
    // Against eager PyTorch's forward hooks (tests/fixtures/make_dissection_fixtures.py).
    const std::string d = fixtures::path("dissect/");
    const std::string gen = d + "gen_traced.pt", cls = d + "cls_scripted.pt";
    Run r = cli("dissect --model " + gen + " --classifier " + cls + " --layer 3 --count 24 --seed 3 --out " + tmp + "/eff.npy --json");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/eff.npy"), readNpy(d + "gen_effect_3.npy")) < 2e-6);
    std::string text;
    CHECK(readTextFile(d + "expected.json", text));
    const Json expected = Json::parse(text);
    Json j = Json::parse(r.out);
    CHECK_EQ(j.find("units")->asInt(), int64_t(5));
    CHECK_EQ(j.find("samples")->asInt(), int64_t(24));
    const auto &per = j.find("per_class")->asArray();
    CHECK_EQ(per.size(), size_t(4));
    for (size_t k = 0; k < 4; ++k) {
        const Json &ref = expected.find("gen_removal_3")->asArray()[k];
        const auto &curve = per[k].find("removal_curve")->asArray();
        const auto &top = per[k].find("top_units")->asArray();
        CHECK_EQ(curve.size(), ref.find("curve")->asArray().size());
        for (size_t n = 0; n < curve.size(); ++n) CHECK(std::abs(curve[n].asNumber() - ref.find("curve")->asArray()[n].asNumber()) < 2e-6);
        for (size_t n = 0; n < top.size(); ++n) CHECK_EQ(top[n].asInt(), ref.find("order")->asArray()[n].asInt());
        CHECK_EQ(per[k].find("label")->asString(), std::string(1, char('w' + k)));
    }
    // Without --json: the summary only.
    r = cli("dissect --model " + gen + " --classifier " + cls + " --layer 1 --count 24 --seed 3 --out " + tmp + "/eff1.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(!Json::parse(r.out).contains("per_class"));
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/eff1.npy"), readNpy(d + "gen_effect_1.npy")) < 2e-6);
    // Classifier dissection over a labelled CSV of .npy items (class 2 has none).
    r = cli("dissect --model " + d + "cls_traced.pt --data " + d + "items/items.csv --layer 0 --out " + tmp + "/ceff.npy --json");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/ceff.npy"), readNpy(d + "cls_effect_0.npy")) < 2e-6);
    j = Json::parse(r.out);
    CHECK_EQ(j.find("classes_without_items")->asArray().size(), size_t(1));
    CHECK_EQ(j.find("per_class")->asArray()[0].find("items")->asInt(), int64_t(10));
    // ablate: units inserted inside a mask, and removed everywhere; a PNG too.
    r = cli("ablate --model " + d + "gen_scripted.pt --layer 1 --units 1,3 --value 1.5 --mask " + d + "mask_4x4.npy --z " + d
            + "ablate_codes.npy --out " + tmp + "/ins.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/ins.npy"), readNpy(d + "ablate_insert.npy")) < 1e-5);
    r = cli("ablate --model " + gen + " --layer 3 --units 0,2,4 --z " + d + "ablate_codes.npy --out " + tmp + "/zero.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/zero.npy"), readNpy(d + "ablate_zero.npy")) < 1e-5);
    r = cli("ablate --model " + gen + " --layer 3 --units 0 --z " + d + "ablate_codes.npy --out " + tmp + "/zero.png");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(!cv::imread(tmp + "/zero.png", cv::IMREAD_UNCHANGED).empty());
    // SeFa against NumPy's eigh.
    r = cli("direction --method sefa --model " + gen + " --k 6 --out " + tmp + "/sefa.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/sefa.npy"), readNpy(d + "sefa_gen.npy")) < 1e-5);
    CHECK_EQ(Json::parse(r.out).find("layer")->asString(), std::string("1"));
    // The demos: the DCGAN's companion classifier is found beside it; the CNN over Fashion-MNIST test items.
    r = cli("dissect --model " + fixtures::resources("models/dcgan_generator.pt") + " --layer net.3 --count 20 --curve-units 3 --out " + tmp
            + "/dc.npy --json");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(readNpy(tmp + "/dc.npy").shape() == (Shape{64, 10}));
    CHECK(r.err.find("fashion_mnist_cnn.pt") != std::string::npos);   // the companion, named on stderr
    CHECK_EQ(Json::parse(r.out).find("per_class")->asArray()[0].find("removal_curve")->asArray().size(), size_t(3));
    r = cli("dissect --model " + demo + " --data /usr/share/datasets/fashion-mnist --limit 100 --layer features.9 --curve-units 2 --out " + tmp
            + "/cnn.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(readNpy(tmp + "/cnn.npy").shape() == (Shape{64, 10}));
    r = cli("direction --method sefa --model " + fixtures::resources("models/dcgan_generator.pt") + " --k 4 --out " + tmp + "/dcsefa.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(readNpy(tmp + "/dcsefa.npy").shape() == (Shape{4, 32}));
    CHECK_EQ(Json::parse(r.out).find("layer")->asString(), std::string("fc.0"));
    // The VAE decoder: the same machinery (its companion classifier found beside it).
    const std::string vae = fixtures::resources("models/vae_decoder.pt");
    r = cli("dissect --model " + vae + " --layer deconv.3 --count 20 --curve-units 2 --out " + tmp + "/vae.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(readNpy(tmp + "/vae.npy").shape() == (Shape{32, 10}));
    r = cli("direction --method sefa --model " + vae + " --k 3 --out " + tmp + "/vsefa.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK_EQ(Json::parse(r.out).find("layer")->asString(), std::string("fc"));
    writeNpy(tmp + "/vz.npy", TensorValue({1, 16}, std::vector<float>(16, 0.3f)));
    r = cli("ablate --model " + vae + " --layer deconv.1 --units 0,5 --z " + tmp + "/vz.npy --out " + tmp + "/vabl.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(readNpy(tmp + "/vabl.npy").shape() == (Shape{1, 1, 28, 28}));
    // Bad input: one line, exit 2 (usage errors exit 1).
    r = cli("ablate --model " + gen + " --layer 1 --units 1,99 --z " + d + "ablate_codes.npy --out " + tmp + "/x.npy");
    CHECK_MSG(r.status == 2 && r.err.find("Unit 99 is outside layer 1's units 0–7") != std::string::npos, r.err);
    r = cli("ablate --model " + gen + " --layer 3 --units 1 --mask " + d + "mask_4x4.npy --z " + d + "ablate_codes.npy --out " + tmp + "/x.npy");
    CHECK_MSG(r.status == 2 && r.err.find("layer 3's units are 8×8") != std::string::npos, r.err);
    r = cli("ablate --model " + gen + " --layer 1 --units 1 --z " + d + "mask_4x4.npy --out " + tmp + "/x.npy");
    CHECK_MSG(r.status == 2 && r.err.find("takes [N, 6]") != std::string::npos, r.err);
    r = cli("dissect --model " + gen + " --layer 1 --count 4 --out " + tmp + "/x.npy");
    CHECK_MSG(r.status == 1 && r.err.find("missing --classifier") != std::string::npos, r.err);
    r = cli("dissect --model " + d + "cls_traced.pt --data " + d + "items/items.csv --layer 0 --seed 3 --out " + tmp + "/x.npy");
    CHECK_EQ(r.status, 1);
    r = cli("direction --method sefa --model " + gen + " --layer 3 --k 2 --out " + tmp + "/x.npy");
    CHECK_MSG(r.status == 2 && r.err.find("not the 6-dimensional code") != std::string::npos, r.err);
    for (const Run &e : {r}) CHECK(std::count(e.err.begin(), e.err.end(), '\n') <= 2);
}

TEST(counterfactual_turns_a_sneaker_into_an_ankle_boot)
{
    const std::string base = "counterfactual --model " + fixtures::resources("models/vae_decoder.pt") + " --classifier " + demo + " --encoder "
        + fixtures::resources("models/vae_encoder.pt") + " --input " + fixtures::resources("samples/7-sneaker.png");
    Run r = cli(base + " --target 9 --out " + tmp + "/cf.png --path-out " + tmp + "/cfpath.npy");
    CHECK_MSG(r.status == 0, r.err);
    const Json j = Json::parse(r.out);
    CHECK(j.find("reached")->asBool());
    CHECK_EQ(j.find("start_label")->asString(), std::string("Sneaker"));
    CHECK_EQ(j.find("final_label")->asString(), std::string("Ankle boot"));
    CHECK(j.find("final_probability")->asNumber() >= 0.9);
    const TensorValue path = readNpy(tmp + "/cfpath.npy");
    CHECK(path.shape().size() == 2 && path.dim(1) == 16 && path.dim(0) == int64_t(j.find("steps")->asNumber()) + 1);
    // The PNG strip: 8 path frames and the difference image.
    const cv::Mat strip = cv::imread(tmp + "/cf.png", cv::IMREAD_UNCHANGED);
    CHECK(!strip.empty() && strip.cols > 8 * strip.rows);
    // The decoded path as .npy: one image per code; the classifier agrees with the reported final class.
    r = cli(base + " --target 9 --out " + tmp + "/cf.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(readNpy(tmp + "/cf.npy").shape() == (Shape{path.dim(0), 1, 28, 28}));
    // An unreachable budget: exit 4 and reached false; a bad target class is named.
    r = cli(base + " --target 9 --steps 1 --out " + tmp + "/x.png");
    CHECK_EQ(r.status, 4);
    CHECK(!Json::parse(r.out).find("reached")->asBool());
    r = cli(base + " --target 11 --out " + tmp + "/x.png");
    CHECK(r.status == 2 && r.err.find("outside the classifier's 0–9") != std::string::npos);
}

TEST(attention_and_tokenize_commands)
{
    const std::string vit = fixtures::reference("attention/vit_sdpa_scripted.pt");
    if (std::filesystem::exists(vit)) {
        Run r = cli("attention --model " + vit + " --input " + fixtures::reference("attention/vit_input.npy") + " --out " + tmp + "/att.npy");
        CHECK_MSG(r.status == 0, r.err);
        CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/att.npy"), readNpy(fixtures::reference("attention/vit_attn.npy"))) < 1e-5);
        CHECK(Json::parse(r.out).find("layers")->asInt() == 2);
        r = cli("attention --model " + vit + " --input " + fixtures::reference("attention/vit_input.npy") + " --rollout --out " + tmp + "/roll.npy");
        CHECK_MSG(r.status == 0, r.err);
        CHECK(readNpy(tmp + "/roll.npy").shape() == (Shape{1, 17, 17}));
        r = cli("attention --model " + vit + " --input " + fixtures::reference("attention/vit_input.npy") + " --grad-rollout --target 3 --out " + tmp
                + "/groll.npy");
        CHECK_MSG(r.status == 0, r.err);
        CHECK(readNpy(tmp + "/groll.npy").shape() == (Shape{1, 17, 17}));
        const std::string text = fixtures::reference("attention/text_mha_traced_nograd.pt");
        r = cli("attention --model " + text + " --input-dtype int64 --input " + fixtures::reference("attention/text_ids.npy") + " --out " + tmp
                + "/tatt.npy");
        CHECK_MSG(r.status == 0, r.err);
        CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/tatt.npy"), readNpy(fixtures::reference("attention/text_attn.npy"))) < 1e-5);
    }
    // A model with no attention site; a missing --out suffix.
    Run r = cli("attention --model " + demo + " --input " + fixtures::resources("samples/7-sneaker.png") + " --out " + tmp + "/x.npy");
    CHECK(r.status == 2 && r.err.find("has no attention site") != std::string::npos);
    // tokenize with a WordPiece vocabulary written here, and with the bundled SentencePiece model.
    {
        std::ofstream v(tmp + "/vocab.txt");
        for (const char *t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "!", "wor", "##ld"}) v << t << "\n";
    }
    r = cli("tokenize --tokenizer " + tmp + "/vocab.txt --text \"Hello, World!\"");
    CHECK_MSG(r.status == 0, r.err);
    const Json j = Json::parse(r.out);
    CHECK_EQ(j.find("tokens")->asArray().size(), size_t(6));
    CHECK_EQ(j.find("tokens")->asArray()[2].asString(), std::string("[UNK]"));   // "," is not in the vocabulary
    CHECK_EQ(j.find("ids")->asArray()[3].asInt(), int64_t(5));
    r = cli("tokenize --tokenizer " + tmp + "/vocab.txt --max-length 4 --text \"hello world hello\"");
    CHECK(r.status == 2 && r.err.find("at most 4") != std::string::npos);
    r = cli("tokenize --tokenizer " + tmp + "/vocab.txt --max-length 4 --truncate --text \"hello world hello\"");
    CHECK(r.status == 0 && Json::parse(r.out).find("truncated")->asBool());
    const std::string textModel = fixtures::resources("models/fortune_transformer.pt");
    if (std::filesystem::exists(textModel)) {
        r = cli("tokenize --tokenizer " + fixtures::resources("models/fortunes_sp.model") + " --text \"the kernel panicked\"");
        CHECK_MSG(r.status == 0, r.err);
        CHECK_EQ(Json::parse(r.out).find("tokenizer")->asString(), std::string("sentencepiece"));
        r = cli("attention --model " + textModel + " --text \"The compiler crashed while the kernel was booting.\" --out " + tmp + "/text.npy");
        CHECK_MSG(r.status == 0, r.err);
        const TensorValue a = readNpy(tmp + "/text.npy");
        const int64_t n = int64_t(Json::parse(r.out).find("tokens")->find("ids")->asArray().size());
        CHECK(a.shape() == (Shape{1, 2, 4, n, n}));
        std::string longText;
        for (int i = 0; i < 200; ++i) longText += "word ";
        r = cli("attention --model " + textModel + " --text \"" + longText + "\" --out " + tmp + "/long.npy");
        CHECK(r.status == 2 && r.err.find("the model takes at most 128") != std::string::npos);
        r = cli("attention --model " + textModel + " --truncate --text \"" + longText + "\" --out " + tmp + "/long.npy");
        CHECK_MSG(r.status == 0, r.err);
        CHECK(readNpy(tmp + "/long.npy").dim(3) == 128);
    }
}

TEST(gen_metrics_command)
{
    const std::string base = "gen-metrics --model " + fixtures::path("gen_tiny.pt") + " --classifier " + fixtures::path("gen_classifier.pt");
    Run r = cli(base + " --data " + fixtures::path("genreal/real.csv") + " --count 12 --json");
    CHECK_MSG(r.status == 0, r.err);
    const Json j = Json::parse(r.out);
    CHECK(j.find("inception_score")->asNumber() >= 1.0 && j.find("inception_score")->asNumber() <= 3.0);
    CHECK(j.find("frechet_distance")->asNumber() >= 0);
    CHECK(j.find("diversity")->asNumber() > 0);
    CHECK_EQ(j.find("feature_layer")->asString(), std::string("1"));
    // Reproducible for a seed.
    const Run again = cli(base + " --data " + fixtures::path("genreal/real.csv") + " --count 12 --json");
    CHECK_EQ(again.out, r.out);
    // A classifier as the "generator": no generator role.
    r = cli("gen-metrics --model " + fixtures::path("gen_classifier.pt") + " --classifier " + fixtures::path("gen_classifier.pt"));
    CHECK(r.status == 2 && r.err.find("no generator role") != std::string::npos);
}

TEST(attribute_png_and_errors)
{
    const std::string png = tmp + "/attr.png";
    const std::string img = fixtures::resources("samples/7-sneaker.png");
    CHECK_EQ(cli("attribute --model " + demo + " --input " + img + " --method gradcam --layer features.9 --target predicted --out " + png).status, 0);
    CHECK(std::filesystem::exists(png) && std::filesystem::file_size(png) > 100);
    const Run bad =
        cli("attribute --model " + demo + " --input " + img + " --method gradcam --layer classifier.2 --target 1 --out " + tmp + "/x.npy");
    CHECK_EQ(bad.status, 2);
    CHECK(bad.err.find("not spatial") != std::string::npos);
    CHECK_EQ(cli("attribute --model " + demo + " --input " + img + " --method nope --target 1 --out " + tmp + "/x.npy").status, 1);
    const Run steps = cli("attribute --model " + demo + " --input " + img + " --method ig --steps 0 --target 1 --out " + tmp + "/x.npy");
    CHECK_EQ(steps.status, 1);
    CHECK(steps.err.find("--steps 0: out of range (integers 1–2000)") != std::string::npos);
}

TEST(precision_option_keeps_the_prediction)
{
    for (const char *sample : {"samples/7-sneaker.png", "samples/9-ankle-boot.png", "samples/1-trouser.png"}) {
        const std::string in = " --input " + fixtures::resources(sample);
        const Run full = cli("predict --model " + demo + in);
        const Run low = cli("predict --model " + demo + in + " --precision bf16");
        CHECK_EQ(full.status, 0);
        CHECK_EQ(low.status, 0);
        const Json a = Json::parse(full.out), b = Json::parse(low.out);
        const Json &ta = a.find("top")->asArray()[0], &tb = b.find("top")->asArray()[0];
        CHECK_EQ(ta.find("label")->asString(), tb.find("label")->asString());
        // Computed in bfloat16: close to float32, yet not identical.
        const double pa = ta.find("probability")->asNumber(), pb = tb.find("probability")->asNumber();
        CHECK_MSG(std::fabs(pa - pb) < 0.02, pa << " vs " << pb);
        CHECK(ta.find("logit")->asNumber() != tb.find("logit")->asNumber());
    }
    const Run bad = cli("predict --model " + demo + " --input " + fixtures::resources("samples/7-sneaker.png") + " --precision fp8");
    CHECK(bad.status != 0);
    CHECK_MSG(bad.err.find("--precision must be fp32, fp16 or bf16 (got fp8)") != std::string::npos, bad.err);
}

TEST(options_belong_to_their_command)
{
    // An option another command owns is an error naming this command (exit 1), as is an unknown one.
    Run r = cli("info --model " + demo + " --steps 5");
    CHECK_EQ(r.status, 1);
    CHECK_MSG(r.err.find("'info'") != std::string::npos, r.err);
    CHECK_MSG(r.err.find("--steps") != std::string::npos, r.err);
    r = cli("info --model " + demo + " --frobnicate 1");
    CHECK_EQ(r.status, 1);
    CHECK_MSG(r.err.find("unknown option --frobnicate") != std::string::npos, r.err);
    // A flag given a value, and a value option missing its value.
    CHECK_EQ(cli("layers --model " + demo + " --json=1").status, 1);
    CHECK_EQ(cli("predict --model " + demo + " --input").status, 1);
    // Usage and per-command help come from the same tables.
    r = cli("help");
    CHECK_EQ(r.status, 0);
    for (const char *c : {"info", "attribute", "compare", "project", "tokenize"})
        CHECK_MSG(r.out.find(std::string("\n  ") + c + " ") != std::string::npos, c << " missing from " << r.out);
    r = cli("help attribute");
    CHECK_EQ(r.status, 0);
    CHECK(r.out.find("usage: pellucid-cli attribute") != std::string::npos);
    CHECK(r.out.find("--integration") != std::string::npos);
    CHECK(r.out.find("--perplexity") == std::string::npos);   // project's, not attribute's
    CHECK_EQ(cli("predict --help").status, 0);
    CHECK_EQ(cli("help frobnicate").status, 1);
}

TEST(compare_two_models_equals_separate_runs)
{
    const std::string img = fixtures::resources("samples/7-sneaker.png");
    const std::string vit = fixtures::resources("models/fashion_mnist_vit.pt");
    const std::string opts = " --input " + img + " --method ig --steps 8 --target 7";
    const Run r = cli("compare --model " + demo + " --model-b " + vit + opts + " --out " + tmp + "/cmp.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK_EQ(cli("attribute --model " + demo + opts + " --out " + tmp + "/cmp_a.npy").status, 0);
    CHECK_EQ(cli("attribute --model " + vit + opts + " --out " + tmp + "/cmp_b.npy").status, 0);
    const TensorValue both = readNpy(tmp + "/cmp.npy"), a = readNpy(tmp + "/cmp_a.npy"), b = readNpy(tmp + "/cmp_b.npy");
    Shape expected = a.shape();
    expected.insert(expected.begin(), 2);
    CHECK(both.shape() == expected);
    double maxDiff = 0, maxAbs = 0;
    std::vector<double> va, vb;
    for (int64_t i = 0; i < a.numel(); ++i) {
        // B − A of the stacked output equals the difference of the separate runs.
        maxDiff = std::max(maxDiff, double(std::abs((both.at(a.numel() + i) - both.at(i)) - (b.at(i) - a.at(i)))));
        maxAbs = std::max(maxAbs, double(std::abs(b.at(i) - a.at(i))));
        va.push_back(a.at(i));
        vb.push_back(b.at(i));
    }
    CHECK_MSG(maxDiff < 1e-6, maxDiff);
    CHECK(maxAbs > 1e-4);   // two different networks: the maps differ
    const Json j = Json::parse(r.out);
    CHECK_EQ(j.find("a")->find("model")->asString(), demo);
    CHECK_EQ(j.find("b")->find("model")->asString(), vit);
    CHECK_EQ(j.find("a")->find("top")->size(), size_t(5));
    CHECK_EQ(j.find("b")->find("top")->asArray()[0].find("index")->asInt(),
             Json::parse(cli("predict --model " + vit + " --input " + img).out).find("top")->asArray()[0].find("index")->asInt());
    // The rank correlation, recomputed here (average ranks of ties).
    auto ranks = [](const std::vector<double> &v) {
        std::vector<size_t> idx(v.size());
        for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
        std::sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return v[x] < v[y]; });
        std::vector<double> rk(v.size());
        for (size_t i = 0; i < idx.size();) {
            size_t k = i;
            while (k + 1 < idx.size() && v[idx[k + 1]] == v[idx[i]]) ++k;
            for (size_t m = i; m <= k; ++m) rk[idx[m]] = (double(i) + double(k)) / 2;
            i = k + 1;
        }
        return rk;
    };
    const auto ra = ranks(va), rb = ranks(vb);
    const double n = double(ra.size()), mean = (n - 1) / 2;
    double num = 0, da = 0, db = 0;
    for (size_t i = 0; i < ra.size(); ++i) {
        num += (ra[i] - mean) * (rb[i] - mean);
        da += (ra[i] - mean) * (ra[i] - mean);
        db += (rb[i] - mean) * (rb[i] - mean);
    }
    CHECK_MSG(std::abs(j.find("spearman")->asNumber() - num / std::sqrt(da * db)) < 1e-9, j.find("spearman")->asNumber());
    // Two checkpoints of one network compare to identical maps and a correlation of 1.
    const Run same = cli("compare --model " + demo + " --model-b " + demo + opts + " --out " + tmp + "/cmp_same.npy");
    CHECK_EQ(same.status, 0);
    CHECK_MSG(std::abs(Json::parse(same.out).find("spearman")->asNumber() - 1.0) < 1e-12, same.out);
    // Maps of different shapes (models with other input sizes) are refused in one line.
    const Run bad = cli("compare --model " + demo + " --model-b " + fixtures::path("seqcnn_traced.pt") + " --input " + img
                        + " --method saliency --target 7 --out " + tmp + "/cmp_bad.npy");
    CHECK_MSG(bad.status == 2, bad.status << " " << bad.err);
    CHECK_EQ(lines(bad.err), 1);
    CHECK_EQ(cli("compare --model " + demo + opts + " --out " + tmp + "/x.npy").status, 1);   // no --model-b
}

TEST(generator_commands_find_their_companion_classifier)
{
    // Without --classifier the classifier beside the generator, trained on its dataset, is used and named.
    const std::string g = fixtures::resources("models/dcgan_generator.pt");
    const std::string c = fixtures::resources("models/fashion_mnist_cnn.pt");
    const Run found = cli("gen-metrics --model " + g + " --count 40 --seed 3");
    CHECK_MSG(found.status == 0, found.err);
    CHECK_MSG(found.err.find("fashion_mnist_cnn.pt") != std::string::npos, found.err);
    const Run given = cli("gen-metrics --model " + g + " --classifier " + c + " --count 40 --seed 3");
    CHECK_EQ(Json::parse(found.out).find("inception_score")->asNumber(), Json::parse(given.out).find("inception_score")->asNumber());
    // A generator alone in its folder has none: a usage error naming --classifier.
    std::filesystem::create_directories(tmp + "/lonely");
    std::filesystem::copy_file(g, tmp + "/lonely/g.pt", std::filesystem::copy_options::overwrite_existing);
    const Run none = cli("gen-metrics --model " + tmp + "/lonely/g.pt --count 10");
    CHECK_EQ(none.status, 1);
    CHECK(none.err.find("missing --classifier") != std::string::npos);
}

TEST(generator_commands_take_a_plain_decoder_and_idx_folders_take_a_split)
{
    // A decoder saved without metadata: the command names its role, the latent size comes from its first
    // Linear layer (or the code given); numbers from eager PyTorch.
    const std::string dec = fixtures::path("tv/plain_decoder.pt");
    Run r = cli("traverse --model " + dec + " --z " + fixtures::path("tv/plain_decoder_z.npy") + " --dim 0 --range -1:1 --steps 3 --out " + tmp
                + "/pd_t.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/pd_t.npy"), readNpy(fixtures::path("tv/plain_decoder_traverse.npy"))) < 1e-5);
    r = cli("sample --model " + dec + " --count 2 --seed 5 --out " + tmp + "/pd_s.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/pd_s.npy"), readNpy(fixtures::path("tv/plain_decoder_sample.npy"))) < 1e-5);
    const Json info = Json::parse(cli("info --model " + dec).out);
    CHECK(info.find("metadata")->find("role") == nullptr || info.find("metadata")->find("role")->asString().empty());   // info leaves it alone
    // --role still overrides: as a classifier the generator commands refuse it by name.
    r = cli("sample --model " + dec + " --count 2 --role classifier --out " + tmp + "/pd_x.npy");
    CHECK_EQ(r.status, 2);
    CHECK(r.err.find("has no generator role") != std::string::npos);

    // A folder of IDX files opens its test split (and says so); --split train the other.
    const std::string folder = "/usr/share/datasets/fashion-mnist";
    r = cli("evaluate --model " + demo + " --data " + folder + " --limit 300 --json");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(r.err.find("the test split: t10k-images-idx3-ubyte.gz") != std::string::npos);
    const Run direct = cli("evaluate --model " + demo + " --data " + folder + "/t10k-images-idx3-ubyte.gz --limit 300 --json");
    CHECK_EQ(Json::parse(r.out).find("top1")->asNumber(), Json::parse(direct.out).find("top1")->asNumber());
    r = cli("evaluate --model " + demo + " --data " + folder + " --split train --limit 300 --json");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(r.err.find("the train split: train-images-idx3-ubyte.gz") != std::string::npos);
    CHECK_EQ(Json::parse(r.out).find("top1")->asNumber(),
             Json::parse(cli("evaluate --model " + demo + " --data " + folder + "/train-images-idx3-ubyte.gz --limit 300 --json").out)
                 .find("top1")
                 ->asNumber());
    r = cli("evaluate --model " + demo + " --data " + folder + " --split validation");
    CHECK_EQ(r.status, 2);
    CHECK(r.err.find("Unknown split 'validation'") != std::string::npos && lines(r.err) == 1);
    CHECK_EQ(cli("info --model " + demo + " --split test").status, 1);   // not an option of info
}

TEST(preprocessing_and_labels_from_the_command_line)
{
    // A torchvision model without metadata: ImageNet preprocessing and labels given as options.
    const std::string m = fixtures::path("tv/resnet_basic_traced.pt");
    const std::string img = fixtures::path("tv/photo_96x72.png");
    const std::string opts =
        " --labels " + fixtures::path("tv/labels_10.txt") + " --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --resize 72 --crop 64";
    Run r = cli("predict --model " + m + " --input " + img + opts);
    CHECK_MSG(r.status == 0, r.err);
    const Json j = Json::parse(r.out);
    CHECK(j.find("top")->asArray()[0].find("label")->asString().rfind("label ", 0) == 0);
    // The same numbers as the tensor torchvision made (to float rounding).
    const Run direct = cli("predict --model " + m + " --input " + fixtures::path("tv/photo_96x72_imagenet_64.npy"));
    const double a = j.find("top")->asArray()[0].find("logit")->asNumber();
    const double b = Json::parse(direct.out).find("top")->asArray()[0].find("logit")->asNumber();
    CHECK_MSG(std::fabs(a - b) < 1e-4, a << " vs " << b);
    r = cli("info --model " + m + opts);
    CHECK_MSG(r.status == 0, r.err);
    const Json info = Json::parse(r.out);
    CHECK_EQ(info.find("metadata")->find("labels")->size(), size_t(10));
    CHECK_EQ(info.find("metadata")->find("input")->find("resize")->asInt(), int64_t(72));
    // Bad values: one line, exit 2 (or 1 for a malformed number).
    r = cli("predict --model " + m + " --input " + img + " --mean 0.5,0.5 --std 0.2");
    CHECK(r.status == 2 && r.err.find("--mean and --std need as many values") != std::string::npos && lines(r.err) == 1);
    r = cli("predict --model " + m + " --input " + img + " --std 0,1,1 --mean 0,0,0");
    CHECK(r.status == 1 && r.err.find("--std 0,1,1: out of range (0 < x ≤ 1000000 each)") != std::string::npos);
    CHECK_EQ(cli("predict --model " + m + " --input " + img + " --resize big").status, 1);
    r = cli("predict --model " + m + " --input " + img + " --labels /nonexistent/labels.txt");
    CHECK(r.status == 2 && r.err.find("Labels file not found") != std::string::npos);
    // traverse keeps its own --range (codes, not pictures).
    CHECK_EQ(cli("traverse --model " + fixtures::path("tv/plain_decoder.pt") + " --z " + fixtures::path("tv/plain_decoder_z.npy")
                 + " --dim 1 --range -2:2 --steps 2 --out " + tmp + "/t2.npy")
                 .status,
             0);
}

TEST(npy_inputs_keep_their_own_dtype)
{
    // int64 token ids run as int64 on a model without metadata (no --input-dtype), as PyTorch's logits say.
    const std::string m = fixtures::path("tv/plain_embedding.pt");
    Run r = cli("predict --model " + m + " --input " + fixtures::path("tv/plain_embedding_ids.npy") + " --topk 3");
    CHECK_MSG(r.status == 0, r.err);
    const TensorValue want = readNpy(fixtures::path("tv/plain_embedding_logits.npy"));
    const Json top = *Json::parse(r.out).find("top");
    for (const Json &p : top.asArray()) CHECK(std::fabs(p.find("logit")->asNumber() - want.at(p.find("index")->asInt())) < 1e-5);
    CHECK(r.err.empty());   // ran as given: nothing to say
    CHECK_EQ(readNpy(fixtures::path("tv/plain_embedding_ids.npy")).dtype(), std::string("int64"));
    // Declared float32 input: the ids are converted, and that is said; a bool mask on a float model likewise.
    r = cli("predict --model " + m + " --input " + fixtures::path("tv/plain_embedding_ids.npy") + " --input-dtype float32");
    CHECK(r.err.find("int64 values are converted to float32") != std::string::npos);
    r = cli("predict --model " + fixtures::path("linear_traced.pt") + " --input " + fixtures::path("tv/mask_bool.npy"));
    CHECK_MSG(r.status == 0, r.err);
    CHECK(r.err.find("bool values are converted to float32") != std::string::npos);
    // Integers beyond what float32 holds exactly are refused by name.
    std::ofstream big(tmp + "/big_ids.npy", std::ios::binary);
    const std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1), }";
    std::string h = header + std::string(64 - (10 + header.size() + 1) % 64, ' ') + "\n";
    big.write("\x93NUMPY\x01\x00", 8);
    const char len[2] = {char(h.size() & 0xFF), char(h.size() >> 8)};
    big.write(len, 2);
    big.write(h.data(), std::streamsize(h.size()));
    const int64_t v = 100000000;
    big.write(reinterpret_cast<const char *>(&v), 8);
    big.close();
    r = cli("predict --model " + m + " --input " + tmp + "/big_ids.npy");
    CHECK(r.status == 2 && r.err.find("beyond ±16,777,216") != std::string::npos);
}

TEST(language_model_commands)
{
    const std::string m = fixtures::path("gpt_tiny_scripted.pt"), prompt = fixtures::path("gpt_tiny_prompt.npy");
    // generate --json: prompt + greedy ids as PyTorch's loop makes them, with per-step details.
    Run r = cli("generate --model " + m + " --ids " + prompt + " --max-new 8 --json");
    CHECK_MSG(r.status == 0, r.err);
    Json j = Json::parse(r.out);
    const TensorValue greedy = readNpy(fixtures::path("gpt_tiny_greedy.npy"));
    CHECK_EQ(j.find("ids")->size(), size_t(greedy.numel()));
    for (int64_t i = 0; i < greedy.numel(); ++i) CHECK_EQ(j.find("ids")->asArray()[size_t(i)].asInt(), int64_t(greedy.at(i)));
    CHECK_EQ(j.find("prompt_length")->asInt(), int64_t(6));
    CHECK_EQ(j.find("tokens")->size(), size_t(14));
    CHECK_EQ(j.find("steps")->size(), size_t(8));
    const Json &step = j.find("steps")->asArray()[0];
    CHECK(step.find("probability") && step.find("entropy") && step.find("top")->size() == 5);
    // Seeded sampling is reproducible.
    const std::string sampled = "generate --model " + fixtures::path("llama_tiny_scripted.pt") + " --ids " + fixtures::path("llama_tiny_prompt.npy")
        + " --max-new 10 --temperature 1.5 --seed 3 --json";
    CHECK_EQ(cli(sampled).out, cli(sampled).out);
    // gen-attribute: [G, P + G], the reference's numbers, zeros from the explained position on.
    const std::string out = tmp + "/genattr.npy";
    r = cli("gen-attribute --model " + m + " --ids " + prompt + " --max-new 8 --method ig --steps 32 --out " + out);
    CHECK_MSG(r.status == 0, r.err);
    j = Json::parse(r.out);
    CHECK_EQ(j.find("method")->asString(), std::string("ig"));
    CHECK(j.find("completeness_max_error") != nullptr);
    const TensorValue a = readNpy(out), want = readNpy(fixtures::path("gpt_tiny_ig.npy"));
    CHECK(a.shape() == (Shape{8, 14}));
    CHECK(fixtures::maxAbsDiff(a, want) < 1e-4);
    // The same continuation given as ids explains the same numbers.
    std::vector<float> cont(greedy.data() + 6, greedy.data() + 14);
    writeNpy(tmp + "/cont.npy", TensorValue({1, 8}, cont).withDtype("int64"));
    r = cli("gen-attribute --model " + m + " --ids " + prompt + " --continuation-ids " + tmp + "/cont.npy --method ig --out " + tmp
            + "/genattr2.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/genattr2.npy"), a) == 0.0);
    // logit-lens: [blocks, L, V], and --json per cell.
    r = cli("logit-lens --model " + m + " --ids " + fixtures::path("gpt_tiny_greedy.npy") + " --out " + tmp + "/lens.npy --json --top 2");
    CHECK_MSG(r.status == 0, r.err);
    j = Json::parse(r.out);
    CHECK(readNpy(tmp + "/lens.npy").shape() == (Shape{2, 14, 40}));
    CHECK_EQ(j.find("cells")->size(), size_t(2));
    CHECK_EQ(j.find("cells")->asArray()[1].asArray()[3].find("top")->size(), size_t(2));
    CHECK_EQ(j.find("cells")->asArray()[1].asArray()[3].find("final_token_rank")->asInt(), int64_t(0));
    // Errors: one line, exit 1 for usage, 2 for bad input.
    r = cli("gen-attribute --model " + m + " --ids " + prompt + " --method sideways --max-new 2 --out " + out);
    CHECK(r.status == 1 && r.err.find("unknown --method 'sideways'") != std::string::npos);
    r = cli("gen-attribute --model " + m + " --ids " + prompt + " --method ig --out " + out);
    CHECK(r.status == 1 && r.err.find("--max-new N") != std::string::npos);
    r = cli("generate --model " + m + " --text hello");
    CHECK(r.status == 1 && r.err.find("no tokenizer") != std::string::npos);
    r = cli("generate --model " + m + " --ids " + prompt + " --text hello");
    CHECK(r.status == 1 && r.err.find("one of them") != std::string::npos);
    writeNpy(tmp + "/badids.npy", TensorValue({1, 2}, {1.f, 77.f}).withDtype("int64"));
    r = cli("generate --model " + m + " --ids " + tmp + "/badids.npy");
    CHECK(r.status == 2 && r.err.find("outside the vocabulary") != std::string::npos);
    r = cli("generate --model " + m + " --ids " + prompt + " --top-p 0");
    CHECK(r.status == 1 && r.err.find("--top-p 0: out of range (0 < x ≤ 1)") != std::string::npos);
    // tuned-lens: PyTorch's translators after 20 Adam steps; logit-lens --tuned reads them.
    r = cli("tuned-lens --model " + m + " --corpus-ids " + fixtures::path("gpt_tiny_corpus.npy") + " --steps 20 --out " + tmp + "/lens_t.npy");
    CHECK_MSG(r.status == 0, r.err);
    j = Json::parse(r.out);
    CHECK(j.find("blocks")->asArray()[0].find("kl_tuned_lens")->asNumber() < j.find("blocks")->asArray()[0].find("kl_logit_lens")->asNumber());
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/lens_t.npy"), readNpy(fixtures::path("gpt_tiny_tuned_lens.npy"))) < 1e-5);
    r = cli("logit-lens --model " + m + " --ids " + fixtures::path("gpt_tiny_greedy.npy") + " --tuned " + tmp + "/lens_t.npy --out " + tmp
            + "/lens2.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK_EQ(Json::parse(r.out).find("lens")->asString(), std::string("tuned"));
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/lens2.npy"), readNpy(tmp + "/lens.npy")) > 1e-4);
    r = cli("logit-lens --model " + fixtures::path("llama_tiny_scripted.pt") + " --ids " + prompt + " --tuned " + tmp + "/lens_t.npy --out " + tmp
            + "/x.npy");
    CHECK(r.status == 2 && r.err.find("this model needs [3, D + 1, D]") != std::string::npos);
    // patch: [blocks, L] as PyTorch's hooks make it, JSON with the probabilities.
    r = cli("patch --model " + m + " --clean-ids " + prompt + " --corrupt-ids " + fixtures::path("gpt_tiny_corrupt.npy") + " --site attn --out " + tmp
            + "/patch.npy --estimate-out " + tmp + "/patch_est.npy");
    CHECK_MSG(r.status == 0, r.err);
    j = Json::parse(r.out);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/patch.npy"), readNpy(fixtures::path("gpt_tiny_patch_attn.npy"))) < 1e-6);
    CHECK(readNpy(tmp + "/patch_est.npy").shape() == (Shape{2, 6}));
    CHECK(j.find("p_clean") && j.find("p_corrupt") && j.find("target") && j.find("attribution_patching_agreement"));
    // --site head: [blocks, heads, L].
    r = cli("patch --model " + m + " --clean-ids " + prompt + " --corrupt-ids " + fixtures::path("gpt_tiny_corrupt.npy") + " --site head --out " + tmp
            + "/patch_head.npy --estimate-out " + tmp + "/patch_head_est.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/patch_head.npy"), readNpy(fixtures::path("gpt_tiny_patch_head.npy"))) < 1e-6);
    CHECK(readNpy(tmp + "/patch_head_est.npy").shape() == (Shape{2, 2, 6}));
    CHECK(Json::parse(r.out).find("heads") && Json::parse(r.out).find("heads")->asInt() == 2);
    r = cli("patch --model " + m + " --clean-ids " + prompt + " --corrupt-ids " + fixtures::path("gpt_tiny_greedy.npy") + " --out " + tmp + "/p.npy");
    CHECK(r.status == 2 && r.err.find("same number of tokens") != std::string::npos);
    r = cli("patch --model " + m + " --clean-ids " + prompt + " --out " + tmp + "/p.npy --site nose");
    CHECK(r.status == 1 && r.err.find("--site must be block, attn, mlp or head") != std::string::npos);
    r = cli("logit-lens --model " + demo + " --ids " + prompt + " --out " + tmp + "/x.npy");
    CHECK(r.status == 2 && r.err.find("no token embedding found") != std::string::npos);
}

TEST(annotate_and_feedback_commands)
{
    // Masks for three samples (the item's silhouette, drawn at the image's size), a verdict each from two
    // annotators, then the report, export and merge exactly as the contract writes them.
    const std::string dir = tmp + "/feedback";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string db = dir + "/a.sqlite", other = dir + "/b.sqlite";
    const std::vector<std::string> names = {"0-t-shirt-top", "7-sneaker", "9-ankle-boot"};
    for (const std::string &n : names) {
        const cv::Mat img = cv::imread(fixtures::resources("samples/" + n + ".png"), cv::IMREAD_GRAYSCALE);
        cv::imwrite(dir + "/" + n + "_mask.png", img > 40);
        const Run r = cli("annotate --db " + db + " --model " + demo + " --input " + fixtures::resources("samples/" + n + ".png") + " --mask " + dir
                          + "/" + n + "_mask.png --annotator alice");
        CHECK_MSG(r.status == 0, r.err);
        if (r.status != 0) return;
        const Json j = Json::parse(r.out);
        CHECK(j.at("mask_area").asInt() == cv::countNonZero(img > 40));
        CHECK(j.at("annotations").asArray().size() == 1 && j.at("annotations").asArray()[0].at("kind").asString() == "mask");
    }
    const std::string sneaker = fixtures::resources("samples/7-sneaker.png");
    Run r = cli("annotate --db " + other + " --model " + demo + " --input " + sneaker
                + " --verdict disagree --method gradcam --layer features.9 --annotator bob --note 'too coarse, misses the sole'");
    CHECK_MSG(r.status == 0, r.err);
    CHECK_EQ(Json::parse(r.out).at("target").asInt(), int64_t(7));
    // A .npy mask of the input's size with a verdict in one call.
    std::vector<float> half(784, 0.f);
    for (int i = 0; i < 784; ++i) half[size_t(i)] = (i % 28) < 14;
    writeNpy(dir + "/left.npy", TensorValue({28, 28}, half));
    r = cli("annotate --db " + db + " --model " + demo + " --input " + sneaker + " --mask " + dir
            + "/left.npy --verdict agree --method gradcam --layer features.9 --annotator carol");
    CHECK_MSG(r.status == 0, r.err);
    CHECK_EQ(Json::parse(r.out).at("annotations").asArray().size(), size_t(2));

    r = cli("feedback --db " + db + " --report --methods saliency,gradcam,guided-backprop --json");
    CHECK_MSG(r.status == 0, r.err);
    Json rep = Json::parse(r.out);
    CHECK_EQ(rep.at("items").asInt(), int64_t(4));
    const auto &methods = rep.at("methods").asArray();
    CHECK_EQ(methods.size(), size_t(3));
    for (const Json &m : methods) {
        CHECK_EQ(m.at("items").asInt(), int64_t(4));
        for (const char *key : {"pointing_game", "energy_pointing_game", "iou_top10", "auc"}) {
            const double v = m.at(key).asNumber();
            CHECK_MSG(v >= 0 && v <= 1, key << " " << v);
        }
    }
    for (size_t i = 1; i < methods.size(); ++i) CHECK(methods[i - 1].at("pointing_game").asNumber() >= methods[i].at("pointing_game").asNumber());
    r = cli("feedback --db " + db + " --report --methods gradcam --model " + demo);
    CHECK_MSG(r.status == 0 && r.out.find("gradcam") != std::string::npos && r.out.find("pointing game") != std::string::npos, r.out << r.err);

    // Merge twice: the second adds nothing; then bob's and carol's verdicts on the same map give a kappa.
    r = cli("feedback --db " + db + " --merge " + other);
    CHECK_MSG(r.status == 0 && Json::parse(r.out).at("added").asInt() == 1, r.out << r.err);
    r = cli("feedback --db " + db + " --merge " + other);
    CHECK_MSG(r.status == 0 && Json::parse(r.out).at("added").asInt() == 0 && Json::parse(r.out).at("already_there").asInt() == 1, r.out);
    rep = Json::parse(cli("feedback --db " + db + " --report --methods gradcam --json").out);
    CHECK_EQ(rep.at("agreement").at("verdict_kappa").asArray().size(), size_t(1));
    CHECK_EQ(rep.at("methods").asArray()[0].at("verdicts").at("disagree").asInt(), int64_t(1));
    CHECK_EQ(rep.at("agreement").at("mask_pairs").asInt(), int64_t(1));   // alice's and carol's masks of the sneaker

    r = cli("feedback --db " + db + " --export " + dir + "/all.csv");
    CHECK_MSG(r.status == 0, r.err);
    std::ifstream csv(dir + "/all.csv");
    std::string line;
    int rows = 0;
    bool quotedNote = false;
    while (std::getline(csv, line)) {
        ++rows;
        quotedNote |= line.find("\"too coarse, misses the sole\"") != std::string::npos;
    }
    CHECK_EQ(rows, 1 + 6);
    CHECK(quotedNote);
    r = cli("feedback --db " + db + " --export " + dir + "/all.json");
    CHECK_EQ(
        Json::parse(std::string(std::istreambuf_iterator<char>(std::ifstream(dir + "/all.json").rdbuf()), {})).at("annotations").asArray().size(),
        size_t(6));

    // Bad input: one line, the database untouched.
    {
        std::ofstream notes(dir + "/notes.db");
        notes << "not a database";
    }
    cv::imwrite(dir + "/small.png", cv::Mat(10, 10, CV_8U, cv::Scalar(255)));
    struct Case {
        std::string args, needle;
    };
    const std::vector<Case> cases = {
        {"annotate --db " + dir + "/notes.db --model " + demo + " --input " + sneaker + " --mask " + dir + "/left.npy", "not an SQLite database"},
        {"annotate --db " + db + " --model " + demo + " --input " + sneaker + " --mask " + dir + "/absent.png", "absent.png"},
        {"annotate --db " + db + " --model " + demo + " --input " + sneaker + " --mask " + dir + "/small.png", "not the input's 28×28"},
        {"feedback --db " + dir + "/notes.db --report", "not an SQLite database"},
        {"feedback --db " + dir + "/absent.sqlite --report", "not found"},
        {"feedback --db " + db + " --merge " + dir + "/notes.db", "not an SQLite database"},
        {"feedback --db " + db + " --report --methods nonsense", "Unknown method 'nonsense'"},
    };
    for (const Case &c : cases) {
        const Run bad = cli(c.args);
        CHECK_MSG(bad.status == 2, c.args << " -> " << bad.status << " " << bad.err);
        CHECK_MSG(bad.err.find(c.needle) != std::string::npos && lines(bad.err) == 1, c.args << " stderr: " << bad.err);
    }
    std::ifstream still(dir + "/notes.db");
    CHECK_EQ(std::string(std::istreambuf_iterator<char>(still), {}), std::string("not a database"));
    CHECK_EQ(cli("annotate --db " + db + " --model " + demo + " --input " + sneaker).status, 1);                        // neither mask nor verdict
    CHECK_EQ(cli("annotate --db " + db + " --model " + demo + " --input " + sneaker + " --verdict agree").status, 1);   // no method
    CHECK_EQ(cli("feedback --db " + db + " --report --export x.csv").status, 1);
    CHECK_EQ(Json::parse(cli("feedback --db " + db + " --export " + dir + "/again.json").out).at("annotations").asInt(), int64_t(6));
}

TEST(onnx_models_through_opencv_dnn)
{
    // The demo exported to ONNX (resources/tools/export_onnx_demo.py: the same weights, its metadata inside).
    const std::string onnx = fixtures::resources("models/fashion_mnist_cnn.onnx");
    const std::string sneaker = fixtures::resources("samples/7-sneaker.png");
    Run r = cli("info --model " + onnx);
    CHECK_MSG(r.status == 0, r.err);
    Json j = Json::parse(r.out);
    CHECK_EQ(j.find("format")->asString(), std::string("onnx"));
    CHECK(j.find("runtime")->asString().rfind("OpenCV DNN", 0) == 0);
    CHECK_EQ(j.find("metadata")->find("labels")->size(), size_t(10));   // from the file's metadata property
    CHECK(j.find("input")->find("shape")->size() == 4);
    CHECK_EQ(Json::parse(cli("info --model " + demo).out).find("format")->asString(), std::string("torchscript"));
    // Predictions equal the TorchScript file's.
    const Json a = Json::parse(cli("predict --model " + onnx + " --input " + sneaker + " --topk 10").out);
    const Json b = Json::parse(cli("predict --model " + demo + " --input " + sneaker + " --topk 10").out);
    CHECK_EQ(a.find("top")->asArray()[0].find("label")->asString(), std::string("Sneaker"));
    for (size_t k = 0; k < 10; ++k) {
        CHECK_EQ(a.find("top")->asArray()[k].find("index")->asInt(), b.find("top")->asArray()[k].find("index")->asInt());
        CHECK(std::fabs(a.find("top")->asArray()[k].find("probability")->asNumber() - b.find("top")->asArray()[k].find("probability")->asNumber())
              < 1e-4);
    }
    // The node list as layers; a node's output equals the module's.
    r = cli("layers --model " + onnx + " --json");
    CHECK_MSG(r.status == 0, r.err);
    bool relu = false;
    const Json layers = Json::parse(r.out);
    for (const Json &l : layers.asArray()) relu = relu || (l.find("path")->asString() == "/features/9/Relu" && l.find("op")->asString() == "Relu");
    CHECK(relu);
    CHECK_EQ(cli("activations --model " + onnx + " --input " + sneaker + " --layer /features/9/Relu --out " + tmp + "/onnx_act.npy").status, 0);
    CHECK_EQ(cli("activations --model " + demo + " --input " + sneaker + " --layer features.9 --out " + tmp + "/ts_act.npy").status, 0);
    CHECK(fixtures::maxAbsDiff(readNpy(tmp + "/onnx_act.npy"), readNpy(tmp + "/ts_act.npy")) < 1e-4);
    // Occlusion and Score-CAM equal the TorchScript model's.
    for (const std::string &m : {std::string("occlusion --window 1,4,4 --stride 1,4,4"), std::string("scorecam")}) {
        const std::string layer = m == "scorecam" ? " --layer " : "";
        r = cli("attribute --model " + onnx + " --input " + sneaker + " --target 7 --method " + m + (layer.empty() ? "" : layer + "/features/9/Relu")
                + " --out " + tmp + "/onnx_map.npy");
        CHECK_MSG(r.status == 0, r.err);
        r = cli("attribute --model " + demo + " --input " + sneaker + " --target 7 --method " + m + (layer.empty() ? "" : layer + "features.9")
                + " --out " + tmp + "/ts_map.npy");
        CHECK_MSG(r.status == 0, r.err);
        const TensorValue ts = readNpy(tmp + "/ts_map.npy");
        const double scale = std::max(1e-6, fixtures::maxAbs(ts));
        CHECK_MSG(fixtures::maxAbsDiff(readNpy(tmp + "/onnx_map.npy"), ts) <= 1e-4 * scale, m);
    }
    // Evaluation over a dataset equals the TorchScript file's.
    const std::string data = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --limit 200 --json";
    const Json ea = Json::parse(cli("evaluate --model " + onnx + " --data " + data).out),
               eb = Json::parse(cli("evaluate --model " + demo + " --data " + data).out);
    CHECK(std::fabs(ea.find("top1")->asNumber() - eb.find("top1")->asNumber()) < 1e-9);
    // Gradient methods and TorchScript-only commands: one line, exit 2.
    r = cli("attribute --model " + onnx + " --input " + sneaker + " --target 7 --method saliency --out " + tmp + "/no.npy");
    CHECK_MSG(r.status == 2 && lines(r.err) == 1 && r.err.find("needs gradients") != std::string::npos
                  && r.err.find("occlusion") != std::string::npos,
              r.err);
    r = cli("attention --model " + onnx + " --input " + sneaker + " --out " + tmp + "/no.npy");
    CHECK_MSG(r.status == 2 && lines(r.err) == 1 && r.err.find("TorchScript") != std::string::npos, r.err);
    // A damaged file: one line naming it.
    r = cli("info --model " + fixtures::path("onnx/truncated.onnx"));
    CHECK_MSG(r.status == 2 && lines(r.err) == 1 && r.err.find("truncated.onnx") != std::string::npos, r.err);
    r = cli("info --model " + fixtures::path("onnx/vit_op13.onnx"));
    CHECK_MSG(r.status == 2 && lines(r.err) == 1 && r.err.find("cannot import") != std::string::npos, r.err);
}

TEST(diffusion_commands_match_eager_pytorch)
{
    // The fixture denoisers' references come from eager PyTorch (tests/fixtures/make_diffusion_fixtures.py).
    const std::string d = fixtures::path("diffusion"), scripted = d + "/softmax_scripted.pt", mha = d + "/mha_traced.pt";
    auto diff = [&](const std::string &got, const std::string &want) { return fixtures::maxAbsDiff(readNpy(got), readNpy(d + "/" + want)); };
    // diffuse: cond ids from a .npy (int64 [1, K]), DDIM, guidance 1 by default; the trajectory first step first.
    writeNpy(tmp + "/cond12.npy", TensorValue({1, 2}, {1.f, 2.f}).withDtype("int64"));
    Run r = cli("diffuse --model " + scripted + " --cond-ids " + tmp + "/cond12.npy --steps 10 --seed 3 --out " + tmp + "/d.npy --trajectory-out "
                + tmp + "/traj.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(diff(tmp + "/d.npy", "ddim_g1_sample.npy") < 1e-4);
    CHECK(diff(tmp + "/traj.npy", "ddim_g1_trajectory.npy") < 1e-4);
    CHECK_EQ(shapeToString(readNpy(tmp + "/d.npy").shape()), std::string("[1, 1, 8, 16]"));
    CHECK_EQ(shapeToString(readNpy(tmp + "/traj.npy").shape()), std::string("[10, 1, 8, 16]"));
    Json j = Json::parse(r.out);
    CHECK_EQ(j.find("words")->asArray()[1].asString(), std::string("dog"));
    CHECK_EQ(j.find("denoiser_calls")->asInt(), 10);
    CHECK_EQ(j.find("first_t")->asInt(), 180);   // T = 200: t_k = 20·k, k = 9 … 0
    // The prompt as ids, DDPM ancestral with guidance (one batched pass per step).
    r = cli("diffuse --model " + scripted + " --prompt 3,4 --steps 10 --seed 7 --sampler ddpm --guidance 1.5 --out " + tmp + "/p.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(diff(tmp + "/p.npy", "ddpm_g15_sample.npy") < 1e-4);
    CHECK_EQ(Json::parse(r.out).find("denoiser_calls")->asInt(), 10);
    // Words (case-insensitive), a PNG.
    r = cli("diffuse --model " + scripted + " --prompt \"Cat dog\" --steps 10 --seed 3 --out " + tmp + "/d.png");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(cv::imread(tmp + "/d.png").cols > 16);
    // A traced model, cosine schedule.
    r = cli("diffuse --model " + d + "/softmax_traced.pt --prompt \"dog sea\" --steps 6 --seed 9 --out " + tmp + "/c.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(diff(tmp + "/c.npy", "cosine_traced_sample.npy") < 1e-4);

    // cross-attention: the DAAM maps [K, H, W], the raw probabilities per cross site, the filters.
    r = cli("cross-attention --model " + scripted + " --prompt \"cat dog\" --steps 8 --seed 5 --guidance 2.5 --out " + tmp + "/maps.npy --raw-dir "
            + tmp + "/raw");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(diff(tmp + "/maps.npy", "ddim_g25_capture_maps.npy") < 1e-5);
    CHECK_EQ(shapeToString(readNpy(tmp + "/maps.npy").shape()), std::string("[2, 8, 16]"));
    for (int i = 0; i < 3; ++i)
        CHECK_MSG(diff(tmp + "/raw/site" + std::to_string(i) + ".npy", "ddim_g25_capture_site" + std::to_string(i) + ".npy") < 3e-5, i);
    CHECK(!std::filesystem::exists(tmp + "/raw/site3.npy"));   // the self-attention site is not there
    j = Json::parse(r.out);
    CHECK_EQ(j.find("cross_sites")->size(), size_t(3));
    CHECK_EQ(j.find("cross_sites")->asArray()[1].find("cross_index")->asInt(), 1);
    CHECK_EQ(j.find("cross_sites")->asArray()[1].find("index")->asInt(), 2);   // after the self-attention site
    CHECK_EQ(j.find("self_sites")->asInt(), 1);
    CHECK_EQ(j.find("iou")->size(), size_t(2));
    CHECK(j.find("miou")->asNumber() >= 0 && j.find("miou")->asNumber() <= 1);
    CHECK(j.find("miou_minmax")->asNumber() >= 0 && j.find("miou_minmax")->asNumber() <= 1);
    r = cli("cross-attention --model " + scripted
            + " --prompt \"cat dog\" --steps 8 --seed 5 --guidance 2.5 --step-from 2 --step-to 4 --site 1 --head 0 --out " + tmp + "/mapsf.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(diff(tmp + "/mapsf.npy", "ddim_g25_capture_maps_filtered.npy") < 1e-5);
    // nn.MultiheadAttention cross-attention, v prediction.
    r = cli("cross-attention --model " + mha + " --prompt \"sea cat\" --steps 8 --seed 1 --guidance 2 --out " + tmp + "/mmaps.npy --raw-dir " + tmp
            + "/mraw");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(diff(tmp + "/mmaps.npy", "mha_v_capture_maps.npy") < 1e-5);
    CHECK(diff(tmp + "/mraw/site2.npy", "mha_v_capture_site2.npy") < 3e-5);

    // reweight: word 1 ×3 under guidance 2.5; the unedited sample of the same seed differs from it.
    r = cli("reweight --model " + scripted + " --prompt \"cat dog\" --token 1 --factor 3 --steps 8 --seed 5 --guidance 2.5 --out " + tmp
            + "/rw.npy --original-out " + tmp + "/orig.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(diff(tmp + "/rw.npy", "reweight_sample.npy") < 1e-4);
    CHECK(diff(tmp + "/orig.npy", "ddim_g25_capture_sample.npy") < 1e-4);
    j = Json::parse(r.out);
    CHECK(j.find("max_abs_difference")->asNumber() > 1e-3);
    CHECK_EQ(j.find("word")->asString(), std::string("dog"));
    r = cli("reweight --model " + mha + " --prompt \"sea cat\" --token 0 --factor 0.25 --steps 8 --seed 1 --guidance 2 --out " + tmp + "/mrw.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(diff(tmp + "/mrw.npy", "mha_v_reweight_sample.npy") < 1e-4);

    // Bad input: one line each, the right status.
    auto oneLineError = [&](const Run &x, int status, const std::string &needle) {
        CHECK_MSG(x.status == status && x.err.find(needle) != std::string::npos, x.status << ": " << x.err);
        if (status == 2) CHECK_MSG(lines(x.err) == 1, x.err);
    };
    oneLineError(cli("diffuse --model " + demo + " --prompt 1,2 --steps 4 --seed 0 --out " + tmp + "/x.npy"), 2, "not a denoiser");
    oneLineError(cli("diffuse --model " + scripted + " --prompt 1,9 --steps 4 --seed 0 --out " + tmp + "/x.npy"), 2, "9");
    oneLineError(cli("diffuse --model " + scripted + " --prompt \"cat horse\" --steps 4 --seed 0 --out " + tmp + "/x.npy"), 2, "horse");
    oneLineError(cli("diffuse --model " + d + "/nan.pt --prompt 1,2 --steps 4 --seed 0 --out " + tmp + "/x.npy"), 2, "NaN");
    oneLineError(cli("diffuse --model " + scripted + " --prompt 1,2 --cond-ids " + tmp + "/cond12.npy --steps 4 --seed 0 --out " + tmp + "/x.npy"), 1,
                 "one of them");
    oneLineError(cli("diffuse --model " + scripted + " --prompt 1,2 --steps 4 --seed 0 --sampler euler --out " + tmp + "/x.npy"), 1, "ddim or ddpm");
    oneLineError(cli("reweight --model " + scripted + " --prompt 1,2 --token 2 --factor 2 --steps 4 --seed 0 --out " + tmp + "/x.npy"), 1,
                 "outside the prompt");
    oneLineError(cli("cross-attention --model " + scripted + " --prompt 1,2 --steps 4 --seed 0 --site 7 --out " + tmp + "/x.npy"), 2, "site");
    // An output of the wrong kind is refused before sampling, naming its option; nothing is written.
    std::filesystem::remove(tmp + "/early.npy");
    oneLineError(
        cli("diffuse --model " + scripted + " --prompt 1,2 --steps 4 --seed 0 --out " + tmp + "/early.npy --trajectory-out " + tmp + "/t.txt"), 1,
        "--trajectory-out must end in");
    CHECK(!std::filesystem::exists(tmp + "/early.npy"));
    oneLineError(cli("reweight --model " + scripted + " --prompt 1,2 --token 0 --factor 2 --steps 4 --seed 0 --out " + tmp + "/x.gif"), 1,
                 "--out must end in");
}

TEST(man_page_and_completion_list_every_command_and_option)
{
    const Run man = cli("help --man"), comp = cli("help --bash-completion");
    CHECK_MSG(man.status == 0 && comp.status == 0, man.err + comp.err);
    CHECK(man.out.rfind(".TH PELLUCID\\-CLI 1", 0) == 0);
    // Every command of `help` and every option of `help COMMAND` is in both (roff writes '-' as "\-").
    const Run usage = cli("help");
    std::istringstream lines(usage.out);
    int commands = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.size() < 3 || line[0] != ' ' || line[1] != ' ' || line[2] == ' ') continue;
        const std::string name = line.substr(2, line.find(' ', 2) - 2);
        if (!std::regex_match(name, std::regex("[a-z][a-z-]*"))) continue;
        std::string roffName = std::regex_replace(name, std::regex("-"), "\\-");
        CHECK_MSG(man.out.find(".SS " + roffName + "\n") != std::string::npos, name);
        CHECK_MSG(comp.out.find("        " + name + ") COMPREPLY") != std::string::npos, name);
        const Run help = cli("help " + name);
        std::smatch m;
        std::string rest = help.out;
        while (std::regex_search(rest, m, std::regex("\n  --([a-z0-9-]+)"))) {
            CHECK_MSG(comp.out.find("--" + m[1].str() + " ") != std::string::npos, name << " --" << m[1].str());
            CHECK_MSG(man.out.find(".B \\-\\-" + std::regex_replace(m[1].str(), std::regex("-"), "\\-")) != std::string::npos,
                      name << " --" << m[1].str());
            rest = m.suffix();
        }
        ++commands;
    }
    CHECK(commands >= 30);
}

TEST(every_numeric_option_shows_its_range)
{
    // Walks `help COMMAND` for every command: an option whose value is a number (or a list of numbers) shows
    // the range the parser enforces.
    const Run all = testkit::runShell(std::string(PELLUCID_CLI) + " help", tmp + "/help_stderr.txt");
    std::vector<std::string> names;
    std::istringstream lines(all.out);
    for (std::string line; std::getline(lines, line);)
        if (line.size() > 2 && line[0] == ' ' && line[1] == ' ' && line[2] != ' ') names.push_back(line.substr(2, line.find(' ', 2) - 2));
    CHECK(names.size() > 20);
    const std::set<std::string> numeric = {"N",  "K",  "K2",    "S",     "T",        "P",        "R",           "I",   "U",    "V",
                                           "PX", "ID", "C,H,W", "LO,HI", "M1,M2,M3", "S1,S2,S3", "K|predicted", "A:B", "H[,W]"};
    int checked = 0;
    for (const std::string &cmd : names) {
        const Run h = testkit::runShell(std::string(PELLUCID_CLI) + " help " + cmd, tmp + "/help_stderr.txt");
        std::istringstream ls(h.out);
        std::string pending;
        for (std::string line; std::getline(ls, line);) {
            if (line.rfind("  --", 0) == 0) {
                std::istringstream w(line.substr(4));
                std::string name, value;
                w >> name >> value;
                const bool isNumeric = numeric.count(value) || name == "min-dist" || name == "lambda";
                if (!isNumeric) continue;
                // The help may wrap to the next line when the left column is long.
                std::string text = line;
                if (line.find("  ", 4 + name.size() + 1 + value.size()) == std::string::npos && std::getline(ls, pending)) text += pending;
                ++checked;
                CHECK_MSG(text.find(" [") != std::string::npos && text.find("]") != std::string::npos, cmd + " --" + name + ": " + text);
            }
        }
    }
    CHECK(checked > 60);
}

TEST(hostile_input_gets_one_line_and_never_hangs_or_balloons)
{
    // Each run under a time limit (a hang fails instead of blocking) and a 6 GB address-space limit (a reader
    // that allocated what a header claims would fail with another message). Every error is one line.
    auto run = [](const std::string &args) {
#if defined(__SANITIZE_ADDRESS__)
        const std::string limit = "";   // AddressSanitizer's shadow memory needs terabytes of address space
#else
        const std::string limit = "ulimit -v 6000000; ";
#endif
        return testkit::runShell(limit + "timeout 60 " + std::string(PELLUCID_CLI) + " " + args, tmp + "/hostile_stderr.txt");
    };
    const std::string dir = tmp + "/hostile";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto npy = [&](const std::string &name, const std::string &header, size_t dataBytes, int major = 1) {
        return testkit::writeRawNpy(dir + "/" + name, header, std::string(dataBytes, '\0'), major);
    };
    const std::string cnn = demo;
    // .npy headers: each wrong one refused by name, before any allocation.
    const std::pair<std::string, std::string> npys[] = {
        {npy("neg.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 784), }", 3136), "not a non-negative integer"},
        {npy("float.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (28.0, 28), }", 3136), "malformed .npy header"},
        {npy("v0.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (784,), }", 3136, 0), "unsupported .npy format version 0.0"},
        {npy("v255.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (784,), }", 3136, 255), "unsupported .npy format version 255.0"},
        {npy("overflow.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 16),
         "more elements than can be counted"},
        {npy("bomb.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (20000, 20000), }", 3000), "truncated data"},
        {npy("giant.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 10000), }", 3000), "over the 4 GiB"},
        {npy("dtype.npy", "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", 32), "unsupported dtype"},
        {npy("key.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8), "unknown key 'x'"},
    };
    for (const auto &[file, want] : npys) {
        const Run r = run("predict --model " + cnn + " --input " + file);
        CHECK_MSG(r.status == 2 && r.err.find(want) != std::string::npos && lines(r.err) == 1, file + ": " + r.err);
    }
    {
        // A v2 header length of 0xfffffff0 and a file of only the magic.
        std::ofstream(dir + "/v2len.npy", std::ios::binary) << std::string("\x93NUMPY\x02\x00\xf0\xff\xff\xff{", 13);
        std::ofstream(dir + "/magic.npy", std::ios::binary) << std::string("\x93NUMPY", 6);
        Run r = run("predict --model " + cnn + " --input " + dir + "/v2len.npy");
        CHECK_MSG(r.status == 2 && r.err.find("header claims 4294967280 bytes") != std::string::npos, r.err);
        r = run("predict --model " + cnn + " --input " + dir + "/magic.npy");
        CHECK_MSG(r.status == 2 && r.err.find("truncated .npy header") != std::string::npos && lines(r.err) == 1, r.err);
    }
    // FIFOs and devices as inputs of every kind: refused at once, never opened.
    const std::string fifo = dir + "/pipe";
    CHECK(mkfifo(fifo.c_str(), 0600) == 0);
    const std::string fifoRuns[] = {"info --model " + fifo,
                                    "predict --model " + cnn + " --input " + fifo,
                                    "predict --model " + cnn + " --input /dev/zero",
                                    "tokenize --tokenizer " + fifo + " --text hello",
                                    "evaluate --model " + cnn + " --data " + fifo,
                                    "figure --session " + fifo + " --out " + dir + "/f.pdf",
                                    "figure --session /dev/zero --out " + dir + "/f.pdf"};
    for (const std::string &args : fifoRuns) {
        const Run r = run(args);
        CHECK_MSG(r.status == 2 && r.err.find("not a regular file") != std::string::npos && lines(r.err) == 1, args + ": " + r.err);
    }
    // An IDX header claiming 2^31 items of 0 × 0 pixels; labels shorter than their count.
    {
        std::string idx("\x00\x00\x08\x03\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 16);
        std::ofstream(dir + "/t10k-images-idx3-ubyte", std::ios::binary) << idx;
        Run r = run("evaluate --model " + cnn + " --data " + dir + "/t10k-images-idx3-ubyte");
        CHECK_MSG(r.status == 2 && r.err.find("images of 0 × 0 pixels") != std::string::npos && lines(r.err) == 1, r.err);
        std::string img("\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c", 16);
        img += std::string(2 * 784, '\x10');
        std::ofstream(dir + "/t10k-images-idx3-ubyte", std::ios::binary) << img;
        std::ofstream(dir + "/t10k-labels-idx1-ubyte", std::ios::binary) << std::string("\x00\x00\x08\x01\x00\x00\x00\x02\x01", 9);
        r = run("evaluate --model " + cnn + " --data " + dir + "/t10k-images-idx3-ubyte");
        CHECK_MSG(r.status == 2 && r.err.find("labels, the file holds 1") != std::string::npos && lines(r.err) == 1, r.err);
    }
    // Outputs: never over an input; a write error on stdout is an error.
    {
        const std::string x = dir + "/x.npy";
        writeNpy(x, TensorValue({1, 1, 28, 28}, std::vector<float>(784, 0.5f)));
        const auto before = std::filesystem::file_size(x);
        Run r = run("activations --model " + cnn + " --input " + x + " --layer features.0 --out " + x);
        CHECK_MSG(r.status == 1 && r.err.find("it would be overwritten") != std::string::npos && lines(r.err) == 2, r.err);
        CHECK(std::filesystem::file_size(x) == before && readNpy(x).at(0) == 0.5f);
        r = run("activations --model " + cnn + " --input " + x + " --layer \"\" --out " + dir + "/y.npy");
        CHECK_MSG(r.status == 1 && r.err.find("--layer is empty") != std::string::npos, r.err);
        CHECK(!std::filesystem::exists(dir + "/y.npy"));
        r = run("predict --model " + cnn + " --input " + x + " >/dev/full");
        CHECK_MSG(r.status == 2 && r.err.find("stdout: write error") != std::string::npos, r.err);
        r = run("info --model " + cnn + " >/dev/full");
        CHECK_MSG(r.status == 2 && r.err.find("stdout: write error") != std::string::npos, r.err);
    }
    // Numbers out of their range: a usage error naming the range (the option tables' ranges, checked as the
    // command line is read: no 100,000 threads, IG steps or 10^8 samples ever start).
    {
        const std::string x = dir + "/x.npy";
        const std::pair<std::string, std::string> ranges[] = {
            {"predict --model " + cnn + " --input " + x + " --threads 100000", "--threads 100000: out of range (integers 0–256)"},
            {"attribute --model " + cnn + " --input " + x + " --method ig --steps 100000 --target 0 --out " + dir + "/a.npy",
             "--steps 100000: out of range (integers 1–2000)"},
            {"attribute --model " + cnn + " --input " + x + " --method lime --samples 100000 --target 0 --out " + dir + "/a.npy",
             "--samples 100000: out of range (integers 1–10000)"},
            {"attribute --model " + cnn + " --input " + x + " --method lime --superpixels grid --grid 100000 --target 0 --out " + dir + "/a.npy",
             "--grid 100000: out of range (integers 1–256)"},
            {"attribute --model " + cnn + " --input " + x + " --method occlusion --window 1,4,9999 --target 0 --out " + dir + "/a.npy",
             "--window 1,4,9999: out of range (integers 0–512 each)"},
            {"sample --model " + std::string(PELLUCID_RESOURCES_DIR) + "/models/vae_decoder.pt --count 1e8 --out " + dir + "/s.npy",
             "--count 1e8: out of range (integers 1–10000)"},
            {"predict --model " + cnn + " --input " + x + " --topk 2.5", "--topk 2.5: out of range (integers 1–1000)"},
            {"predict --model " + cnn + " --input " + x + " --topk nan", "--topk nan: not a number (integers 1–1000)"},
            {"recommend --model " + std::string(PELLUCID_RESOURCES_DIR) + "/models/recommender_mf.pt --user -3", "--user -3: out of range"},
        };
        for (const auto &[args, want] : ranges) {
            const Run r = run(args);
            CHECK_MSG(r.status == 1 && r.err.find(want) != std::string::npos && lines(r.err) == 2
                          && r.err.find("see `pellucid-cli help") != std::string::npos,
                      args + ": " + r.err);
        }
        // Below the parser the engine checks the same ranges (sessions, the panel): a session asking for 10^5
        // IG steps is refused too (tests/figures and the session fuzz harness cover the rest).
    }
    // A dataset with NaN and Inf images: those items named and left out, the rest evaluated.
    {
        std::ofstream csv(dir + "/data.csv");
        for (int i = 0; i < 4; ++i) {
            std::vector<float> v(784, 0.25f);
            if (i == 1) v[10] = std::nanf("");
            if (i == 2) v[20] = INFINITY;
            writeNpy(dir + "/item" + std::to_string(i) + ".npy", TensorValue({1, 1, 28, 28}, v));
            csv << "item" << i << ".npy," << i << "\n";
        }
        csv.close();
        const Run r = run("evaluate --model " + cnn + " --data " + dir + "/data.csv --json");
        CHECK_MSG(r.status == 0 && r.err.find("2 item(s) gave NaN/Inf outputs") != std::string::npos, r.err);
        const Json j = Json::parse(r.out);
        CHECK_EQ(j.find("samples")->asInt(), int64_t(2));
        CHECK_EQ(j.find("non_finite")->size(), size_t(2));
    }
    // A PNG cut short: libpng's own "Read Error" line is kept from stderr; ours is the only one.
    {
        std::ifstream in(std::string(PELLUCID_RESOURCES_DIR) + "/samples/7-sneaker.png", std::ios::binary);
        std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::ofstream(dir + "/cut.png", std::ios::binary) << png.substr(0, 300);
        const Run r = run("predict --model " + cnn + " --input " + dir + "/cut.png");
        CHECK_MSG(r.status == 2 && lines(r.err) == 1 && r.err.find("libpng") == std::string::npos
                      && r.err.find("Cannot decode image") != std::string::npos,
                  r.err);
    }
    // Usage errors: one line and where to read more, not the whole usage text.
    {
        const Run r = run("predict --model " + cnn + " --topk abc");
        CHECK_MSG(r.status == 1 && lines(r.err) == 2 && r.err.find("see `pellucid-cli help predict`") != std::string::npos, r.err);
    }
    std::filesystem::remove_all(dir);
}

TESTKIT_MAIN
