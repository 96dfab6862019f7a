// The example sessions (resources/sessions/): each opens without warnings (relative paths), regenerates
// headless from the project root (`pellucid-cli figure --session resources/sessions/<name>.json --out F.pdf`),
// and its numbers are those of the standalone commands (attribute, attention, traverse) and engine calls. The
// composer's new layouts and column kinds: JSON round trip and one clear error per bad spec.
#include "app/figures/composer.h"
#include "app/figures/session.h"
#include "engine/attention/attention.h"
#include "engine/core/errors.h"
#include "engine/core/json.h"
#include "engine/core/npy.h"
#include "engine/generative/generative.h"
#include "tests/common/fixtures.h"
#include "tests/common/shell.h"
#include "tests/common/testkit.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

using namespace pellucid;
namespace fs = std::filesystem;

namespace {

using testkit::Run;

const std::string root = fs::path(PELLUCID_RESOURCES_DIR).parent_path().string();   // the project root
const std::string tmp = PELLUCID_TMP;

/// pellucid-cli run in the project root, as a user would.
Run cli(const std::string &args)
{
    return testkit::runShell("cd '" + root + "' && " + std::string(PELLUCID_CLI) + " " + args, tmp + "/examples_stderr.txt");
}

std::unique_ptr<Model> cpuModel(const std::string &resource)
{
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    return Model::load(fixtures::resources(resource), o);
}

/// Regenerates one example as a PDF with its raw numbers; returns the base path of the raw files.
std::string regenerate(const std::string &name, int panels)
{
    const std::string out = tmp + "/example_" + name + ".pdf";
    fs::remove(out);
    const Run r = cli("figure --session resources/sessions/" + name + ".json --out " + out + " --raw");
    CHECK_MSG(r.status == 0, name + ": " + r.err);
    CHECK_MSG(r.err.find("warning") == std::string::npos, name + ": " + r.err);
    const Json j = Json::parse(r.out);
    CHECK_EQ(j.find("panels")->asInt(), int64_t(panels));
    std::ifstream pdf(out, std::ios::binary);
    std::string head(5, '\0');
    pdf.read(head.data(), 5);
    CHECK_EQ(head, std::string("%PDF-"));
    return tmp + "/example_" + name;
}

double maxDiff(const TensorValue &a, const TensorValue &b)
{
    if (a.numel() != b.numel()) return 1e30;
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, double(std::fabs(a.at(i) - b.at(i))));
    return m;
}

}   // namespace

TEST(every_example_opens_without_warnings)
{
    const QStringList examples = exampleSessions();
    CHECK_EQ(examples.size(), 5);
    for (const QString &path : examples) {
        const Session s = loadSession(path);
        CHECK_MSG(s.warnings.isEmpty(), path.toStdString() + ": " + s.warnings.join("; ").toStdString());
        CHECK_MSG(!s.name.isEmpty(), path.toStdString() + " has no name for the Examples menu");
        CHECK_MSG(fs::exists(s.modelPath.toStdString()), s.modelPath.toStdString());
        // Paths in the file are relative, so a copy of the tree (or an installed one) still opens them.
        std::ifstream in(path.toStdString());
        const std::string text((std::istreambuf_iterator<char>(in)), {});
        CHECK_MSG(text.find("\"/") == std::string::npos, path.toStdString() + " holds an absolute path");
    }
}

TEST(classifier_example_matches_the_attribute_command)
{
    const std::string base = regenerate("classifier_methods", 20);
    // Row 1 (sneaker): saliency and integrated gradients as `pellucid-cli attribute` computes them.
    const struct {
        int col;
        std::string args;
    } checks[] = {{1, "--method saliency"}, {2, "--method ig --steps 50"}, {3, "--method gradcam --layer features.9"}};
    for (const auto &c : checks) {
        const std::string ref = tmp + "/example_ref.npy";
        const Run r = cli("attribute --model resources/models/fashion_mnist_cnn.pt --input resources/samples/7-sneaker.png --target predicted "
                          + c.args + " --out " + ref);
        CHECK_MSG(r.status == 0, r.err);
        const TensorValue mine = readNpy(base + "_r1_c" + std::to_string(c.col) + ".npy"), theirs = readNpy(ref);
        CHECK(mine.shape() == theirs.shape());
        CHECK_MSG(maxDiff(mine, theirs) < 1e-6, c.args + ": " + std::to_string(maxDiff(mine, theirs)));
    }
}

TEST(vit_example_matches_the_attention_command)
{
    const std::string base = regenerate("vit_attention", 15);
    const std::string input = "resources/samples/5-sandal.png", model = "resources/models/fashion_mnist_vit.pt";
    // The patch grid is 4 × 4 after the CLS token (position 0).
    auto clsPatches = [](const TensorValue &m, int64_t L, int64_t offset) {
        std::vector<float> v;
        for (int64_t k = 1; k <= 16; ++k) v.push_back(m.at(offset + k));
        (void)L;
        return TensorValue({1, 1, 4, 4}, std::move(v));
    };
    Run r = cli("attention --model " + model + " --input " + input + " --out " + tmp + "/ex_att.npy");
    CHECK_MSG(r.status == 0, r.err);
    const TensorValue att = readNpy(tmp + "/ex_att.npy");   // [1, layers, heads, L, L]
    const int64_t layers = att.dim(1), heads = att.dim(2), L = att.dim(3);
    CHECK_EQ(L, int64_t(17));
    std::vector<float> mean(size_t(L), 0.f);
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t k = 0; k < L; ++k) mean[size_t(k)] += att.at((((layers - 1) * heads + h) * L + 0) * L + k) / float(heads);
    CHECK(maxDiff(readNpy(base + "_r1_c1.npy"), clsPatches(TensorValue({1, L}, mean), L, 0)) < 1e-6);
    r = cli("attention --model " + model + " --input " + input + " --rollout --out " + tmp + "/ex_roll.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(maxDiff(readNpy(base + "_r1_c2.npy"), clsPatches(readNpy(tmp + "/ex_roll.npy"), L, 0)) < 1e-6);
    r = cli("attention --model " + model + " --input " + input + " --grad-rollout --out " + tmp + "/ex_groll.npy");
    CHECK_MSG(r.status == 0, r.err);
    CHECK(maxDiff(readNpy(base + "_r1_c3.npy"), clsPatches(readNpy(tmp + "/ex_groll.npy"), L, 0)) < 1e-6);
}

TEST(vae_example_matches_the_traverse_command)
{
    const std::string base = regenerate("vae_traversal", 54);
    const TensorValue images = readNpy(base + "_images.npy"), codes = readNpy(base + "_codes.npy");
    CHECK(images.shape() == (Shape{54, 1, 28, 28}));
    CHECK(codes.shape() == (Shape{54, 16}));
    // The base code is the prior sample torch.manual_seed(0); torch.randn(1, 16).
    const TensorValue z0 = sampleCodes(1, 16, 0);
    for (int d = 0; d < 6; ++d)
        for (int k = 0; k < 9; ++k)
            for (int i = 0; i < 16; ++i) {
                const double expect = z0.at(i) + (i == d ? -3.0 + 0.75 * k : 0.0);
                CHECK(std::fabs(codes.at((d * 9 + k) * 16 + i) - expect) < 1e-5);
            }
    // Rows 0 and 5 decoded by `pellucid-cli traverse` from the same code.
    writeNpy(tmp + "/ex_z0.npy", z0);
    for (int d : {0, 5}) {
        const Run r = cli("traverse --model resources/models/vae_decoder.pt --z " + tmp + "/ex_z0.npy --dim " + std::to_string(d)
                          + " --range -3:3 --steps 9 --out " + tmp + "/ex_trav.npy");
        CHECK_MSG(r.status == 0, r.err);
        const TensorValue ref = readNpy(tmp + "/ex_trav.npy");
        std::vector<float> row(images.data() + d * 9 * 784, images.data() + (d + 1) * 9 * 784);
        CHECK(maxDiff(TensorValue(ref.shape(), std::move(row)), ref) < 1e-6);
    }
}

TEST(text_example_matches_the_engine)
{
    const std::string base = regenerate("text_tokens", 6);
    auto model = cpuModel("models/fortune_transformer.pt");
    const Session s = loadSession(QString::fromStdString(root + "/resources/sessions/text_tokens.json"));
    CHECK(s.composer.textRows);
    CHECK(!s.text.isEmpty());
    for (int r = 0; r < 3; ++r) {
        // The tokens as `pellucid-cli attention --text` encodes them.
        const Run a = cli("attention --model resources/models/fortune_transformer.pt --out " + tmp + "/ex_tatt.npy --text '"
                          + s.composer.rows[r].toStdString() + "'");
        CHECK_MSG(a.status == 0, a.err);
        const Json tok = *Json::parse(a.out).find("tokens");
        std::ifstream in(base + "_r" + std::to_string(r) + "_tokens.txt");
        std::vector<std::string> lines;
        for (std::string l; std::getline(in, l);) lines.push_back(l);
        CHECK_EQ(lines.size(), tok.find("tokens")->size());
        std::vector<float> ids;
        for (size_t i = 0; i < lines.size(); ++i) {
            CHECK_EQ(lines[i], tok.find("tokens")->asArray()[i].asString());
            ids.push_back(float(tok.find("ids")->asArray()[i].asInt()));
        }
        // The scores: layer integrated gradients for the predicted topic, complete to the quadrature error.
        const TokenAttribution ta = tokenAttributions(*model, TensorValue({1, int64_t(ids.size())}, ids), "", -1, 50, 0);
        const TensorValue mine = readNpy(base + "_r" + std::to_string(r) + "_c1.npy");
        CHECK_EQ(mine.numel(), int64_t(ta.scores.size()));
        double sum = 0, err = 0;
        for (size_t i = 0; i < ta.scores.size(); ++i) {
            err = std::max(err, std::fabs(mine.at(int64_t(i)) - ta.scores[i]));
            sum += std::fabs(ta.scores[i]);
        }
        CHECK(err < 1e-5);
        CHECK_MSG(std::fabs(ta.delta) < 0.05 * sum + 1e-3, "completeness error " + std::to_string(ta.delta));
    }
}

TEST(language_model_example_matches_the_commands)
{
    const std::string base = regenerate("language_model", 6);
    const Session s = loadSession(QString::fromStdString(root + "/resources/sessions/language_model.json"));
    CHECK(s.generationPrompt == QString("Never trust a"));
    for (int r = 0; r < 2; ++r) {
        // The continuation as `generate` makes it (greedy, 10 tokens).
        const Run g = cli("generate --model resources/models/fortune_gpt.pt --text '" + s.composer.rows[r].toStdString() + "' --max-new 10 --json");
        CHECK_MSG(g.status == 0, g.err);
        const Json j = Json::parse(g.out);
        const int64_t P = j.find("prompt_length")->asInt();
        std::vector<float> ids;
        for (const Json &id : j.find("ids")->asArray()) ids.push_back(float(id.asInt()));
        const int64_t L = int64_t(ids.size());
        // Column 0: the generated tokens' probabilities (NaN over the prompt).
        const TensorValue probs = readNpy(base + "_r" + std::to_string(r) + "_c0.npy");
        CHECK(probs.shape() == (Shape{1, L}));
        for (int64_t k = 0; k < L - P; ++k)
            CHECK(std::fabs(probs.at(P + k) - j.find("steps")->asArray()[size_t(k)].find("probability")->asNumber()) < 1e-6);
        CHECK(std::isnan(probs.at(0)));
        // Column 1: `gen-attribute --method ig --steps 32` on the same continuation.
        writeNpy(tmp + "/lm_p.npy", TensorValue({1, P}, std::vector<float>(ids.begin(), ids.begin() + P)).withDtype("int64"));
        writeNpy(tmp + "/lm_c.npy", TensorValue({1, L - P}, std::vector<float>(ids.begin() + P, ids.end())).withDtype("int64"));
        const Run a = cli("gen-attribute --model resources/models/fortune_gpt.pt --ids " + tmp + "/lm_p.npy --continuation-ids " + tmp
                          + "/lm_c.npy --method ig --steps 32 --out " + tmp + "/lm_a.npy");
        CHECK_MSG(a.status == 0, a.err);
        CHECK(maxDiff(readNpy(base + "_r" + std::to_string(r) + "_c1.npy"), readNpy(tmp + "/lm_a.npy")) < 1e-5);
        // Column 2: the logit lens's top-token probability per block and position.
        writeNpy(tmp + "/lm_ids.npy", TensorValue({1, L}, ids).withDtype("int64"));
        const Run l =
            cli("logit-lens --model resources/models/fortune_gpt.pt --ids " + tmp + "/lm_ids.npy --out " + tmp + "/lm_l.npy --json --top 1");
        CHECK_MSG(l.status == 0, l.err);
        const Json cells = *Json::parse(l.out).find("cells");
        const TensorValue lens = readNpy(base + "_r" + std::to_string(r) + "_c2.npy");
        CHECK(lens.shape() == (Shape{4, L}));
        for (int64_t b = 0; b < 4; ++b)
            for (int64_t k = 0; k < L; ++k)
                CHECK(std::fabs(lens.at(b * L + k)
                                - cells.asArray()[size_t(b)].asArray()[size_t(k)].find("top")->asArray()[0].find("probability")->asNumber())
                      < 1e-6);
    }
}

TEST(composer_json_round_trip_keeps_the_new_kinds)
{
    ComposerSpec s;
    s.textRows = true;
    s.rows << "a text"
           << "another";
    ComposerColumn att;
    att.kind = ComposerColumn::Kind::Attention;
    att.attention = ComposerColumn::AttentionView::Cls;
    att.attentionLayer = 2;
    att.head = 3;
    ComposerColumn tok;
    tok.kind = ComposerColumn::Kind::Tokens;
    tok.target = 1;
    tok.steps = 20;
    s.columns = {ComposerColumn{}, att, tok};
    s.layout = ComposerSpec::Layout::Traversal;
    s.traversal.dims = {3, 7};
    s.traversal.lo = -2;
    s.traversal.hi = 1.5;
    s.traversal.steps = 5;
    s.traversal.seed = 42;
    s.traversal.classIndex = 4;
    const ComposerSpec b = composerFromJson(Json::parse(composerToJson(s).dump()));
    CHECK(b.textRows && b.rows == s.rows && b.layout == ComposerSpec::Layout::Traversal);
    CHECK_EQ(b.columns.size(), size_t(3));
    CHECK(b.columns[1].kind == ComposerColumn::Kind::Attention && b.columns[1].attention == ComposerColumn::AttentionView::Cls);
    CHECK(b.columns[1].attentionLayer == 2 && b.columns[1].head == 3);
    CHECK(b.columns[2].kind == ComposerColumn::Kind::Tokens && b.columns[2].target == 1 && b.columns[2].steps == 20);
    CHECK(b.traversal.dims == (std::vector<int>{3, 7}) && b.traversal.lo == -2 && b.traversal.hi == 1.5);
    CHECK(b.traversal.steps == 5 && b.traversal.seed == 42 && b.traversal.classIndex == 4);
    CHECK_THROWS_WITH(composerFromJson(Json::parse(R"({"columns": [{"kind": "attention", "view": "sideways"}]})")), Error, "unknown attention view");
    CHECK_THROWS_WITH(composerFromJson(Json::parse(R"({"layout": "spiral"})")), Error, "unknown layout");
    // Columns missing what they need (issue 22: these crashed).
    CHECK_THROWS_WITH(composerFromJson(Json::parse(R"({"columns": [{"kind": "attribution"}]})")), Error, "needs \"params\"");
    CHECK_THROWS_WITH(composerFromJson(Json::parse(R"({"columns": [{"kind": "activation"}]})")), Error, "needs \"layer\"");
    CHECK_THROWS_WITH(composerFromJson(Json::parse(R"({"columns": [{"kind": "activation", "layer": 3}]})")), Error, "needs \"layer\"");
    CHECK_THROWS_WITH(composerFromJson(Json::parse(R"({"columns": [{"kind": "generation_attribution", "method": "x"}]})")), Error,
                      "unknown generation attribution method");
    CHECK_THROWS_WITH(composerFromJson(Json::parse(R"({"columns": [{"kind": "tokens", "steps": 0}]})")), Error,
                      "\"steps\" is 0; it must be an integer from 1 to 1000");
    // Numbers out of their range are refused with the field named (issue 22).
    CHECK_THROWS_WITH(composerFromJson(Json::parse(R"({"columns": [{"kind": "attention", "view": "cls", "head": 99999}]})")), Error,
                      "\"head\" is 99999");
    CHECK_THROWS_WITH(composerFromJson(Json::parse(R"({"max_new": 100000})")), Error, "\"max_new\" is 100000");
    CHECK_THROWS_WITH(composerFromJson(Json::parse(R"({"clip_percentile": 250})")), Error, "\"clip_percentile\" is 250");
}

TEST(session_numbers_out_of_range_and_non_sessions_are_refused_by_name)
{
    const std::pair<std::string, std::string> cases[] = {
        {R"({"pellucid_session": 1, "figure": {"dpi": 100000}})", "\"dpi\" is 100000"},
        {R"({"pellucid_session": 1, "figure": {"font_pt": 0.01}})", "\"font_pt\" is 0.01"},
        {R"({"pellucid_session": 1, "generation": {"max_new": 99999}})", "\"max_new\" is 99999"},
        {R"({"pellucid_session": 1, "generation": {"temperature": 1e9}})", "\"temperature\" is 1e+09"},
        {"[1, 2, 3]", "not a Pellucid session (not a JSON object)"},
        {std::string(5000, 'x'), "not a Pellucid session (not a JSON object)"},
    };
    int k = 0;
    for (const auto &[text, want] : cases) {
        const std::string path = tmp + "/range_session_" + std::to_string(k++) + ".json";
        std::ofstream(path) << text;
        std::string message;
        try {
            loadSession(QString::fromStdString(path));
        } catch (const SessionError &e) {
            message = e.what();
        }
        CHECK_MSG(message.find(want) != std::string::npos, text.substr(0, 60) + ": " + message);
    }
}

TEST(bad_specs_get_one_clear_error)
{
    auto cnn = cpuModel("models/fashion_mnist_cnn.pt");
    ComposerSpec s;
    s.rows << QString::fromStdString(fixtures::resources("samples/1-trouser.png"));
    ComposerColumn att;
    att.kind = ComposerColumn::Kind::Attention;
    s.columns = {att};
    CHECK_THROWS_WITH(computeComposer(*cnn, s), Error, "gives no patch grid");
    ComposerColumn tok;
    tok.kind = ComposerColumn::Kind::Tokens;
    s.columns = {tok};
    CHECK_THROWS_WITH(computeComposer(*cnn, s), Error, "needs text rows");
    s.textRows = true;
    ComposerColumn sal;
    sal.kind = ComposerColumn::Kind::Attribution;
    s.columns = {sal};
    CHECK_THROWS_WITH(computeComposer(*cnn, s), Error, "needs image or tensor rows");
    // A traversal of a classifier, of a dimension the code lacks, with no steps.
    ComposerSpec t;
    t.layout = ComposerSpec::Layout::Traversal;
    CHECK_THROWS_WITH(computeComposer(*cnn, t), Error, "has no generator role");
    auto vae = cpuModel("models/vae_decoder.pt");
    t.traversal.dims = {16};
    CHECK_THROWS_WITH(computeComposer(*vae, t), Error, "out of range: the code has 16");
    t.traversal.dims = {0};
    t.traversal.steps = 0;
    CHECK_THROWS_WITH(computeComposer(*vae, t), Error, "steps must be 1 to 64");
    // A ViT: a layer or head that does not exist.
    auto vit = cpuModel("models/fashion_mnist_vit.pt");
    ComposerSpec v;
    v.rows = s.rows;
    att.attention = ComposerColumn::AttentionView::Cls;
    att.attentionLayer = 99;
    v.columns = {att};
    CHECK_THROWS_WITH(computeComposer(*vit, v), Error, "Attention layer 99 is out of range");
    v.columns[0].attentionLayer = -1;
    v.columns[0].head = 99;
    CHECK_THROWS_WITH(computeComposer(*vit, v), Error, "Head 99 is out of range");
    // Through the CLI: exit 2 and one line.
    std::ofstream(tmp + "/bad_traversal.json") << R"({"pellucid_session": 1, "model": {"path": ")" << fixtures::resources("models/vae_decoder.pt")
                                               << R"("}, "composer": {"layout": "traversal", "traversal": {"dims": [40]}}})";
    const Run r = cli("figure --session " + tmp + "/bad_traversal.json --out " + tmp + "/bad.pdf");
    CHECK_EQ(r.status, 2);
    CHECK_MSG(r.err.find("Latent dimension 40 is out of range") != std::string::npos, r.err);
    CHECK(!fs::exists(tmp + "/bad.pdf"));
}

TESTKIT_MAIN
