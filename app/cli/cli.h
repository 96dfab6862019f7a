#pragma once
// pellucid-cli's commands as data: each command (app/cli/commands/<name>.cpp) is a Command with its synopsis,
// summary and option tables; the parser checks options against the chosen command, and the usage text and
// `pellucid-cli help COMMAND` are made from the same tables (ARCHITECTURE.md: "add a CLI command").
//
// Exit status: 0 success; 1 usage error; 2 any other error (one line on stderr); 3 the result holds NaN/Inf
// (the output is still written, so it can be inspected); 4 a counterfactual that did not reach its target.
#include "app/workflows/workflows.h"
#include "engine/attribution/attribution.h"
#include "engine/core/json.h"
#include "engine/diffusion/diffusion.h"
#include "engine/language/lm.h"
#include "engine/recommender/recommender.h"
#include "engine/runtime/model.h"

#include <functional>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace pellucid {
class Tokenizer;
struct Tokenized;
}   // namespace pellucid

namespace pellucid::cli {

/// A wrong command line: exit 1, the message and the command's usage on stderr.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// One option: `--name VALUE` (value names the placeholder) or a flag `--name` (value empty).
/// The values a numeric option takes: checked when the command line is parsed (each element of a list
/// such as C,H,W or A:B), shown by `help COMMAND`.
struct Range {
    double lo = 0, hi = -1;   // hi < lo: no range (not a number)
    bool integer = false;
    bool openLo = false;   // lo itself excluded (a learning rate, a σ)
    bool set() const { return lo <= hi; }
    bool contains(double v) const { return (openLo ? v > lo : v >= lo) && v <= hi && (!integer || v == std::floor(v)); }
    std::string text() const;   // "1–4096", "0 < x ≤ 1", "integers 0–256"
};
inline Range ints(double lo, double hi) { return {lo, hi, true, false}; }
inline Range reals(double lo, double hi) { return {lo, hi, false, false}; }
inline Range positive(double hi) { return {0, hi, false, true}; }
/// The range of an attribution parameter, from the method registry.
Range registryRange(const char *parameter);

struct Option {
    std::string name;
    std::string value;   // placeholder shown in help ("N", "FILE.npy"); empty: a flag
    std::string help;
    Range range{};   // numeric options: the values allowed
    bool flag() const { return value.empty(); }
};
using OptionTable = std::vector<Option>;

/// Option groups several commands share.
const OptionTable &modelOptions();           // --model and how it is loaded (device, shape, dtype, threads, precision, role)
const OptionTable &attributionOptions();     // --method, --target and every method parameter
const OptionTable &tokenizerOptions();       // --tokenizer, --lowercase, --max-length, --truncate
const OptionTable &preprocessingOptions();   // --labels, --mean, --std, --range, --resize, --crop (commands that read inputs)

struct Args;

struct Command {
    std::string name;
    std::string synopsis;               // the arguments, as in "--model M --input X [--topk K]"
    std::string summary;                // one line for the command list
    std::string details;                // further lines for `help COMMAND` (may be empty)
    std::vector<OptionTable> options;   // the command's own table and the shared groups it takes
    std::function<int(const Args &)> run;

    const Option *option(const std::string &name) const;
    std::string usage() const;   // `help COMMAND`
};

/// Every command, in the order the usage lists them (app/cli/commands.cpp).
const std::vector<Command> &commands();
const Command *findCommand(const std::string &name);
/// The whole usage text: every command's synopsis and summary, and the notes shared by all.
std::string usage();
/// pellucid-cli(1) in roff (`pellucid-cli help --man`) and a bash completion script (`help --bash-completion`),
/// made from the command tables so they cannot drift (packaging/make-deb.sh installs both).
std::string manPage(const std::string &version);
std::string bashCompletion();
/// An error message as one line for stderr: torch tracebacks dropped, bare standard-library exception names
/// replaced by what they mean, control bytes escaped.
std::string oneLine(const std::string &what);

struct Args {
    std::string command;
    std::map<std::string, std::string> values;
    std::set<std::string> flags;
    int argc = 0;
    char **argv = nullptr;

    bool has(const std::string &k) const { return values.count(k) > 0; }
    bool flag(const std::string &k) const { return flags.count(k) > 0; }
    std::string need(const std::string &k) const;
    std::string get(const std::string &k, const std::string &def) const;
};

/// Parses `argv` for the command it names; an option of another command is an error naming this one.
Args parse(int argc, char **argv);

// Helpers the commands share.
int toInt(const std::string &s, const std::string &what);
double toDouble(const std::string &s, const std::string &what);
std::vector<int64_t> intList(const std::string &s, const std::string &what);
int64_t toId(const std::string &s, const std::string &what);
bool endsWith(const std::string &s, const std::string &suffix);
Json shapeJson(const Shape &s);
Json predictionsJson(const std::vector<Prediction> &top);

/// The model named by --model, loaded with the model options; `defaultRole` applies when neither --role nor
/// the metadata names one.
std::unique_ptr<Model> loadModel(const Args &a, const std::string &defaultRole = "");
/// The model of a command that needs a generator (traverse, interpolate, sample, gen-metrics, GANSpace):
/// a model whose metadata names no role is taken as a decoder; --role overrides.
std::unique_ptr<Model> loadGenerator(const Args &a);
/// A second model named by --KEY (a classifier, an encoder), with the main model's options but not its --role.
std::unique_ptr<Model> loadCompanion(const Args &a, const std::string &key);
/// A generator's classifier: --classifier, else the companion discoverCompanions finds (named on stderr).
std::unique_ptr<Model> loadClassifierFor(const Args &a, const Model &generator);
/// The file --KEY names as the model's input (a .npy as given, an image preprocessed per the metadata); a
/// change of element type is said on stderr.
TensorValue loadInput(const Args &a, const Model &model, const std::string &key = "input");
/// The attribution method and its parameters from the attribution options.
AttributionParams attributionParams(const Args &a);
/// Superpixels from --superpixels / --superpixel-size / --feature-mask.
ExplainOptions explainOptions(const Args &a);
/// One input through the method (SLIC superpixels computed per input for methods that use superpixels).
std::shared_ptr<AttributionResult> attributeInput(Model &model, const TensorValue &input, AttributionParams p, const Args &a);
Json resultJson(const AttributionResult &r);
/// .npy, a PNG grid (`cols` columns, 0: automatic), or a GIF / MP4 animation, by --out's extension.
void writeImages(const std::string &out, const TensorValue &images, int cols);

/// The tokenizer a text model names in its metadata, or --tokenizer F; `addEnd` false leaves out the closing
/// EOS / [SEP] (a language model's prompt).
std::unique_ptr<Tokenizer> tokenizerFor(const Args &a, const ModelSummary *s, bool addEnd = true);

/// A language model's prompt: --text through its tokenizer (BOS kept, no EOS), or --ids IDS.npy (int64
/// [1, L]); `tokenizer` is set when one is available (for token strings), else null.
std::vector<int64_t> promptIds(const Args &a, const Model &model, std::unique_ptr<Tokenizer> &tokenizer);
/// Token ids from the .npy file --KEY names: int64 [1, L] (or [L] with `allowFlat`), whole numbers only.
std::vector<int64_t> tokenIdsFromNpy(const Args &a, const std::string &key, bool allowFlat = false);
/// The generation options (--max-new, --temperature, --top-k, --top-p, --seed, --stop-ids).
GenerationOptions generationOptions(const Args &a);
/// Token strings of ids (or their numbers without a tokenizer).
Json tokensJson(const Tokenizer *tokenizer, const std::vector<int64_t> &ids);
/// Option groups of the language-model commands: the prompt (--text / --ids) and sampling.
const OptionTable &promptOptions();
const OptionTable &samplingOptions();
Json tokenizedJson(const Tokenized &t);

/// A denoiser's sampling request (diffuse, cross-attention, reweight): the prompt from --cond-ids C.npy (int64
/// [1, K] or [K]) or --prompt "words" (from the vocabulary, or ids "3,7"), --steps, --seed, --sampler, --guidance,
/// --clip; ids checked against the vocabulary.
DiffusionRequest diffusionRequest(const Args &a, const DiffusionConfig &c);
/// Their shared options (the prompt and the sampler).
const OptionTable &diffusionOptions();
/// What a run says on stdout: the prompt's ids and words, steps, timesteps' range, sampler, guidance, the
/// sample's shape, the denoiser's calls and the loop's seconds.
Json diffusionJson(const DiffusionConfig &c, const DiffusionRequest &r, const DiffusionResult &out);
/// When --KEY is given, it ends in one of `extensions` (".npy", ".png", …): checked before the work starts, a
/// UsageError naming the option.
void checkOutputExtension(const Args &a, const std::string &key, const std::vector<std::string> &extensions);
/// A sample [N, C, H, W] in the image range as an image file (PNG / GIF / MP4: mapped to [0, 1]) or .npy (as is).
void writeDiffusionImages(const std::string &out, const DiffusionConfig &c, const TensorValue &images);

/// The dataset --data names (--split for a folder of IDX files); what was chosen is said on stderr.
Dataset openDataset(const Args &a, const std::vector<std::string> &labels);

/// A recommender model with its interaction data (--data and --items override the metadata's).
struct RecContext {
    std::unique_ptr<Model> model;
    MFModel mf;
    InteractionData data;
};
RecContext loadRecommender(const Args &a);

}   // namespace pellucid::cli
