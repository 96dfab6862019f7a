#include "app/cli/cli.h"

#include "app/io/imageinput.h"
#include "app/io/tokenizer.h"
#include "engine/core/errors.h"
#include "engine/core/files.h"
#include "engine/core/npy.h"
#include "engine/generative/generative.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace pellucid::cli {

const OptionTable &modelOptions()
{
    static const OptionTable t = {
        {"model", "M", "the model: TorchScript (.pt) or ONNX (.onnx, forward-only methods)"},
        {"device", "auto|cpu|cuda", "where the model runs (default auto)"},
        {"input-shape", "1,3,224,224", "the input shape when neither metadata nor graph gives one"},
        {"input-dtype", "float32|int64", "the input's dtype (int64: token ids)"},
        {"threads", "N", "CPU threads for torch (default 0: every core, or OMP_NUM_THREADS)", ints(0, 256)},
        {"precision", "fp32|bf16|fp16", "forward-only work in reduced precision, kept only when the prediction is unchanged"},
        {"role", "classifier|generator|decoder|encoder|conditional_generator", "overrides the metadata's role"},
    };
    return t;
}

namespace {

std::string number(double v)
{
    std::ostringstream s;
    s.precision(15);
    s << v;
    return s.str();
}

/// An option's help with the registry's default (engine/attribution/methods.h); its range is the option's.
std::string ranged(const std::string &help, const char *parameter)
{
    return help + " (default " + number(parameterInfo(parameter).defaultValue) + ")";
}

/// "--count 1e8": each element of the value (lists split at ',' or ':') a number in the option's range.
void checkRange(const Option &o, const std::string &value)
{
    // A word the placeholder offers instead of a number ("K|predicted").
    const std::string alternatives = "|" + o.value + "|";
    if (alternatives.find("|" + value + "|") != std::string::npos) return;
    const bool list = o.value.find(',') != std::string::npos || o.value.find(':') != std::string::npos;
    std::vector<std::string> parts;
    if (list) {
        std::string cur;
        for (char c : value) {
            if (c == ',' || c == ':') {
                parts.push_back(cur);
                cur.clear();
            } else {
                cur += c;
            }
        }
        parts.push_back(cur);
    } else {
        parts.push_back(value);
    }
    for (const std::string &p : parts) {
        char *end = nullptr;
        const double v = p.empty() ? 0 : std::strtod(p.c_str(), &end);
        const bool numeric = !p.empty() && end && *end == '\0' && std::isfinite(v) && !std::isspace(static_cast<unsigned char>(p[0]));
        if (!numeric || !o.range.contains(v))
            throw UsageError("--" + o.name + " " + oneLine(value).substr(0, 40) + ": " + (numeric ? "out of range" : "not a number") + " ("
                             + o.range.text() + (list ? " each" : "") + ")");
    }
}

}   // namespace

std::string Range::text() const
{
    if (!set()) return "";
    const std::string kind = integer ? "integers " : "";
    if (openLo) return kind + number(lo) + " < x ≤ " + number(hi);
    return kind + number(lo) + "–" + number(hi);
}

Range registryRange(const char *parameter)
{
    const ParameterInfo &p = parameterInfo(parameter);
    const bool integer = std::string(parameter) != "stdev" && std::string(parameter) != "fill";
    return {p.minimum, p.maximum, integer, false};
}

const OptionTable &attributionOptions()
{
    static const OptionTable t = {
        {"method", "METHOD", methodNames()},
        {"target", "K|predicted", "the class explained", ints(0, 16777215)},
        {"contrast", "K2", "explain K against K2 (logit difference)", ints(0, 16777215)},
        {"layer", "PATH", "the layer of layer methods (CAMs); default: the model's last spatial layer"},
        {"steps", "N", ranged("integration points (IG)", "steps"), registryRange("steps")},
        {"integration", "gauss-legendre|riemann-left|riemann-right|riemann-middle|riemann-trapezoid", "IG's quadrature"},
        {"baseline", "zero|blur|uniform|FILE.npy", "the reference input"},
        {"window", "C,H,W", "occlusion window", registryRange("window")},
        {"stride", "C,H,W", "occlusion stride", ints(1, 512)},
        {"samples", "N", ranged("noise samples (SmoothGrad) or perturbations (LIME, KernelSHAP)", "samples"), registryRange("samples")},
        {"stdev", "S", ranged("SmoothGrad's noise σ as a fraction of the input's value range", "stdev"), registryRange("stdev")},
        {"seed", "S", ranged("random seed", "seed"), registryRange("seed")},
        {"noise-base", "METHOD", "the method SmoothGrad averages (default saliency)"},
        {"noise-type", "smoothgrad|smoothgrad-sq|vargrad", "how noisy maps are combined"},
        {"superpixels", "slic|grid", "LIME / KernelSHAP features"},
        {"superpixel-size", "PX", "SLIC region size", ints(2, 1024)},
        {"feature-mask", "FILE.npy", "LIME / KernelSHAP features given as an integer mask"},
        {"grid", "N", "grid cells per side for grid features (default 8)", ints(1, 256)},
        {"fill", "V", "the value removed features take", registryRange("fill")},
        {"internal-batch", "N", "inputs per model pass", ints(1, 65536)},
        {"memory-budget-mb", "N", "memory the method's batches may use", ints(1, 1048576)},
        {"fast-kernels", "", "output-only methods through a frozen copy: BatchNorm folded, channels-last (faster; rounded differently)"},
    };
    return t;
}

const OptionTable &preprocessingOptions()
{
    static const OptionTable t = {
        {"labels", "FILE", "class labels: one per line, a JSON list, or a JSON {\"id\": \"label\"} dict"},
        {"mean", "M1,M2,M3", "per-channel mean subtracted after scaling (ImageNet: 0.485,0.456,0.406)", reals(-1e6, 1e6)},
        {"std", "S1,S2,S3", "per-channel standard deviation divided by (ImageNet: 0.229,0.224,0.225)", positive(1e6)},
        {"range", "LO,HI", "pixel values are scaled to [LO, HI] before mean/std (default 0,1)", reals(-1e6, 1e6)},
        {"resize", "N", "scale the shorter side to N first (torchvision's Resize)", ints(1, 16384)},
        {"crop", "H[,W]", "then crop the centre (torchvision's CenterCrop)", ints(1, 16384)},
    };
    return t;
}

const OptionTable &tokenizerOptions()
{
    static const OptionTable t = {
        {"tokenizer", "F", "WordPiece vocab.txt or SentencePiece .model (default: the one the metadata names)"},
        {"lowercase", "0|1", "lower-case the text first"},
        {"max-length", "N", "the most tokens", ints(1, 1000000)},
        {"truncate", "", "cut a longer text instead of refusing it"},
    };
    return t;
}

const Option *Command::option(const std::string &n) const
{
    for (const OptionTable &t : options)
        for (const Option &o : t)
            if (o.name == n) return &o;
    return nullptr;
}

std::string Command::usage() const
{
    std::ostringstream s;
    s << "usage: pellucid-cli " << name << " " << synopsis << "\n  " << summary << "\n";
    if (!details.empty()) {
        std::istringstream lines(details);
        for (std::string line; std::getline(lines, line);) s << "  " << line << "\n";
    }
    s << "options:\n";
    std::set<std::string> shown;
    for (const OptionTable &t : options)
        for (const Option &o : t) {
            if (!shown.insert(o.name).second) continue;
            std::string left = "--" + o.name + (o.flag() ? "" : " " + o.value);
            s << "  " << left;
            if (left.size() < 30)
                s << std::string(30 - left.size(), ' ');
            else
                s << "\n" << std::string(32, ' ');
            s << o.help << (o.range.set() ? " [" + o.range.text() + "]" : "") << "\n";
        }
    return s.str();
}

const Command *findCommand(const std::string &name)
{
    for (const Command &c : commands())
        if (c.name == name) return &c;
    return nullptr;
}

std::string usage()
{
    std::ostringstream s;
    s << "usage: pellucid-cli COMMAND [options]     (pellucid-cli help COMMAND: its options)\n";
    for (const Command &c : commands()) {
        std::string left = c.name;
        s << "  " << left << std::string(left.size() < 15 ? 15 - left.size() : 1, ' ') << c.synopsis << "\n"
          << std::string(17, ' ') << c.summary << "\n";
    }
    s << "model options (every command that takes --model): --device auto|cpu|cuda  --input-shape 1,3,224,224\n"
         "  --input-dtype float32|int64  --threads N  --precision fp32|bf16|fp16  --role ROLE\n"
         "X is a .npy tensor used exactly as given (batch included) or an image preprocessed per the metadata.\n"
         "exit status: 0 success, 1 usage error, 2 any other error (one line on stderr), 3 the result holds NaN/Inf,\n"
         "  4 a counterfactual that did not reach its target.\n";
    return s.str();
}

namespace {

/// Text for roff: backslashes doubled, leading dots and quotes guarded, dashes of options kept as \-.
std::string roff(const std::string &t)
{
    std::string out;
    for (size_t i = 0; i < t.size(); ++i) {
        const char c = t[i];
        if (c == '\\')
            out += "\\e";
        else if (c == '-')
            out += "\\-";
        else
            out += c;
        if (c == '\n' && i + 1 < t.size() && (t[i + 1] == '.' || t[i + 1] == '\'')) out += "\\&";
    }
    if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
    return out;
}

}   // namespace

std::string manPage(const std::string &version)
{
    std::ostringstream s;
    s << ".TH PELLUCID\\-CLI 1 \"\" \"Pellucid " << version << "\" \"User Commands\"\n"
      << ".SH NAME\npellucid\\-cli \\- see inside neural networks from the command line\n"
      << ".SH SYNOPSIS\n.B pellucid\\-cli\n.I COMMAND\n[options]\n.br\n.B pellucid\\-cli help\n.I COMMAND\n"
      << ".SH DESCRIPTION\nThe engine of Pellucid without a window: attributions, activations, latent views, attention, "
         "language-model explanations, dissection and feedback reports on TorchScript models. Each command's options are "
         "below; numeric options show the values they take, and values outside them are usage errors.\n"
      << ".SH COMMANDS\n";
    for (const Command &c : commands()) {
        s << ".SS " << roff(c.name) << "\n.B pellucid\\-cli " << roff(c.name) << "\n" << roff(c.synopsis) << "\n.PP\n" << roff(c.summary) << ".\n";
        if (!c.details.empty()) {
            s << ".PP\n.nf\n";
            std::istringstream lines(c.details);
            for (std::string line; std::getline(lines, line);) s << roff(line) << "\n";
            s << ".fi\n";
        }
        std::set<std::string> shown;
        for (const OptionTable &t : c.options)
            for (const Option &o : t) {
                if (!shown.insert(o.name).second) continue;
                s << ".TP\n.B \\-\\-" << roff(o.name) << (o.flag() ? "" : " \\fI" + roff(o.value) + "\\fR") << "\n"
                  << roff(o.help) << (o.range.set() ? " [" + roff(o.range.text()) + "]" : "") << "\n";
            }
    }
    s << ".SH EXIT STATUS\n0 success; 1 a usage error; 2 any other error (one line on standard error); 3 the result holds NaN or "
         "Inf (the output is still written); 4 a counterfactual that did not reach its target.\n"
      << ".SH FILES\n.TP\n/usr/share/pellucid\nthe demo models, samples and example sessions.\n"
      << ".SH SEE ALSO\n.BR pellucid (1)\n";
    return s.str();
}

std::string bashCompletion()
{
    std::ostringstream s;
    s << "# bash completion for pellucid-cli (generated by `pellucid-cli help --bash-completion`)\n"
      << "_pellucid_cli() {\n"
      << "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\" cmd=\"${COMP_WORDS[1]}\"\n"
      << "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n        COMPREPLY=($(compgen -W \"help";
    for (const Command &c : commands()) s << " " << c.name;
    s << "\" -- \"$cur\")); return\n    fi\n"
      << "    if [ \"$cmd\" = help ]; then\n        COMPREPLY=($(compgen -W \"";
    for (const Command &c : commands()) s << c.name << " ";
    s << "\" -- \"$cur\")); return\n    fi\n"
      << "    case \"$prev\" in\n";
    // Options that take a value: files complete as files, the rest as nothing.
    std::set<std::string> valued;
    for (const Command &c : commands())
        for (const OptionTable &t : c.options)
            for (const Option &o : t)
                if (!o.flag()) valued.insert("--" + o.name);
    s << "        ";
    bool first = true;
    for (const std::string &v : valued) {
        s << (first ? "" : "|") << v;
        first = false;
    }
    s << ") COMPREPLY=($(compgen -f -- \"$cur\")); return;;\n    esac\n"
      << "    case \"$cmd\" in\n";
    for (const Command &c : commands()) {
        s << "        " << c.name << ") COMPREPLY=($(compgen -W \"";
        std::set<std::string> shown;
        for (const OptionTable &t : c.options)
            for (const Option &o : t)
                if (shown.insert(o.name).second) s << "--" << o.name << " ";
        s << "--help\" -- \"$cur\"));;\n";
    }
    s << "    esac\n}\ncomplete -o filenames -F _pellucid_cli pellucid-cli\n";
    return s.str();
}

std::string Args::need(const std::string &k) const
{
    auto it = values.find(k);
    if (it == values.end()) throw UsageError("missing --" + k);
    return it->second;
}

std::string Args::get(const std::string &k, const std::string &def) const
{
    auto it = values.find(k);
    return it == values.end() ? def : it->second;
}

Args parse(int argc, char **argv)
{
    Args a;
    a.argc = argc;
    a.argv = argv;
    if (argc < 2) throw UsageError("no command given");
    a.command = argv[1];
    const Command *cmd = findCommand(a.command);
    if (a.command == "help" || a.command == "--help" || a.command == "-h") {
        if (argc > 2) a.values["command"] = argv[2];
        return a;
    }
    if (!cmd) throw UsageError("unknown command '" + a.command + "'");
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + s + "'");
        s = s.substr(2);
        std::string value;
        const auto eq = s.find('=');
        if (eq != std::string::npos) {
            value = s.substr(eq + 1);
            s = s.substr(0, eq);
        }
        if (s == "help") {
            a.flags.insert(s);
            continue;
        }
        const Option *o = cmd->option(s);
        if (!o) {
            std::string owners;
            for (const Command &c : commands())
                if (c.option(s)) owners += (owners.empty() ? "" : ", ") + c.name;
            if (owners.empty()) throw UsageError("unknown option --" + s);
            throw UsageError("--" + s + " is not an option of '" + a.command + "' (it belongs to " + owners + ")");
        }
        if (o->flag()) {
            if (eq != std::string::npos) throw UsageError("--" + s + " takes no value");
            a.flags.insert(s);
            continue;
        }
        if (eq == std::string::npos) {
            if (i + 1 >= argc) throw UsageError("--" + s + " needs a value");
            value = argv[++i];
        }
        if (value.empty()) throw UsageError("--" + s + " is empty; it needs a value");
        if (o->range.set()) checkRange(*o, value);
        a.values[s] = value;
    }
    // An output never overwrites an input: --out (or --X-out) naming the same file as any other option.
    for (const auto &[k, v] : a.values) {
        if (k != "out" && !endsWith(k, "-out")) continue;
        std::error_code ec;
        if (!std::filesystem::exists(v, ec)) continue;
        for (const auto &[k2, v2] : a.values)
            if (k2 != k && std::filesystem::exists(v2, ec) && std::filesystem::equivalent(v, v2, ec))
                throw UsageError("--" + k + " " + v + " is the file --" + k2 + " reads; it would be overwritten");
    }
    return a;
}

std::string oneLine(const std::string &what)
{
    std::string m = summarizeTorchError(what);
    // Bare names of standard-library exceptions say nothing to a user.
    static const char *numbers[] = {"stoi", "stol", "stoll", "stoul", "stoull", "stof", "stod", "stold"};
    for (const char *n : numbers)
        if (m == n) return "a number in the input could not be read (malformed or out of range)";
    if (m == "vector" || m.rfind("vector::", 0) == 0 || m == "std::bad_array_new_length" || m.find("max_size()") != std::string::npos
        || m.find("basic_string::_M_create") != std::string::npos || m == "std::bad_alloc" || m == "bad_alloc")
        return "a size in the input is too large to allocate";
    // The first non-empty line, control and other non-printable bytes escaped.
    std::string line;
    size_t start = 0;
    while (start < m.size()) {
        size_t end = m.find('\n', start);
        if (end == std::string::npos) end = m.size();
        line = m.substr(start, end - start);
        if (line.find_first_not_of(" \t\r") != std::string::npos) break;
        start = end + 1;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) return "the command failed without saying why";
    std::string out;
    for (size_t i = 0; i < line.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(line[i]);
        if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += char(c);   // UTF-8 passes through
        }
    }
    return out;
}

TensorValue loadInput(const Args &a, const Model &model, const std::string &key)
{
    const ModelSummary &s = model.summary();
    TensorValue x = loadInputFile(a.need(key), s.metadata.input, s.inputShape);
    const std::string note = inputDtypeNote(s.metadata.input, x);
    if (!note.empty()) std::cerr << "pellucid-cli: " << a.need(key) << ": " << note << "\n";
    return x;
}

Dataset openDataset(const Args &a, const std::vector<std::string> &labels)
{
    Dataset d = Dataset::open(a.need("data"), labels, a.get("split", ""));
    if (!d.note().empty()) std::cerr << "pellucid-cli: " << a.need("data") << ": " << d.note() << "\n";
    return d;
}

bool endsWith(const std::string &s, const std::string &suffix)
{
    return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
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
    for (const std::string &part : splitList(s)) out.push_back(toInt(part, what));
    return out;
}

Json shapeJson(const Shape &s)
{
    Json j = Json::array();
    for (int64_t d : s) j.push(Json(d));
    return j;
}

std::unique_ptr<Model> loadGenerator(const Args &a) { return loadModel(a, "decoder"); }

std::unique_ptr<Model> loadModel(const Args &a, const std::string &defaultRole)
{
    LoadOptions o;
    o.defaultRole = defaultRole;
    // Preprocessing and labels given on the command line (commands that read an input take them).
    const Command *cmd = findCommand(a.command);
    if (cmd && cmd->option("resize")) {
        auto floatList = [&](const char *key) {
            std::vector<float> v;
            for (const std::string &p : splitList(a.need(key))) v.push_back(float(toDouble(p, std::string("--") + key)));
            return v;
        };
        if (a.has("labels")) o.labelsFile = a.need("labels");
        if (a.has("mean")) o.mean = floatList("mean");
        if (a.has("std")) o.std = floatList("std");
        if (a.has("range")) o.range = floatList("range");
        if (a.has("resize")) o.resize = toInt(a.need("resize"), "--resize");
        if (a.has("crop")) o.crop = intList(a.need("crop"), "--crop");
    }
    const std::string dev = a.get("device", "auto");
    if (dev == "cpu")
        o.device = DevicePreference::Cpu;
    else if (dev == "cuda")
        o.device = DevicePreference::Cuda;
    else if (dev != "auto")
        throw UsageError("--device must be auto, cpu or cuda");
    o.role = a.get("role", "");
    if (a.has("input-shape")) o.inputShape = intList(a.need("input-shape"), "--input-shape");
    o.inputDtype = a.get("input-dtype", "");
    if (a.has("threads")) o.threads = toInt(a.need("threads"), "--threads");
    if (a.has("precision") && !parsePrecision(a.need("precision"), o.precision))
        throw Error(ErrorCode::BadInput, "--precision must be fp32, fp16 or bf16 (got " + a.need("precision") + ")");
    auto m = Model::load(a.need("model"), o);
    if (!m->summary().precisionNote.empty()) std::cerr << "pellucid-cli: " << m->summary().precisionNote << "\n";
    return m;
}

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

std::unique_ptr<Model> loadClassifierFor(const Args &a, const Model &generator)
{
    if (a.has("classifier")) return loadCompanion(a, "classifier");
    std::map<std::string, std::unique_ptr<Model>> opened;
    const Companions c = discoverCompanions(generator.summary(), [&](const std::string &path) -> Model & {
        auto &m = opened[path];
        if (!m)
            m = loadCompanion(
                [&] {
                    Args b = a;
                    b.values["classifier"] = path;
                    return b;
                }(),
                "classifier");
        return *m;
    });
    if (c.classifier.empty())
        throw UsageError("missing --classifier (the generator's metadata names none, and no classifier trained on its dataset lies beside it)");
    std::cerr << "pellucid-cli: classifier " << c.classifier << " (beside the generator)\n";
    return std::move(opened[c.classifier]);
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
    if (baseline == "zero")
        p.baseline = BaselineKind::Zero;
    else if (baseline == "blur")
        p.baseline = BaselineKind::Blur;
    else if (baseline == "uniform")
        p.baseline = BaselineKind::Uniform;
    else {
        p.baseline = BaselineKind::Tensor;
        p.baselineTensor = readNpy(baseline);
    }
    if (a.has("window")) p.window = intList(a.need("window"), "--window");
    if (a.has("stride")) p.stride = intList(a.need("stride"), "--stride");
    if (a.has("samples")) p.samples = toInt(a.need("samples"), "--samples");
    if (a.has("stdev")) p.stdev = float(toDouble(a.need("stdev"), "--stdev"));
    if (a.has("seed")) p.seed = uint64_t(toInt(a.need("seed"), "--seed"));
    if (a.has("noise-base") && !parseMethod(a.need("noise-base"), p.noiseBase))
        throw UsageError("unknown --noise-base '" + a.need("noise-base") + "'");
    const std::string noise = a.get("noise-type", "smoothgrad");
    if (noise == "smoothgrad")
        p.noise = NoiseType::SmoothGrad;
    else if (noise == "smoothgrad-sq")
        p.noise = NoiseType::SmoothGradSquared;
    else if (noise == "vargrad")
        p.noise = NoiseType::VarGrad;
    else
        throw UsageError("--noise-type must be smoothgrad, smoothgrad-sq or vargrad");
    if (a.has("feature-mask")) p.featureMask = readNpy(a.need("feature-mask"));
    if (a.has("grid")) p.gridCells = toInt(a.need("grid"), "--grid");
    if (a.has("fill")) p.fill = float(toDouble(a.need("fill"), "--fill"));
    if (a.has("internal-batch")) p.internalBatch = toInt(a.need("internal-batch"), "--internal-batch");
    p.fastKernels = a.flag("fast-kernels");
    if (a.has("memory-budget-mb")) p.memoryBudgetBytes = int64_t(toInt(a.need("memory-budget-mb"), "--memory-budget-mb")) << 20;
    const std::string superpixels = a.get("superpixels", a.has("feature-mask") ? "mask" : "slic");
    if (superpixels != "grid" && superpixels != "slic" && superpixels != "mask") throw UsageError("--superpixels must be slic or grid");
    return p;
}

ExplainOptions explainOptions(const Args &a)
{
    ExplainOptions o;
    o.superpixels = a.get("superpixels", a.has("feature-mask") ? "mask" : "slic") == "slic";
    if (a.has("superpixel-size")) o.superpixelSize = toInt(a.need("superpixel-size"), "--superpixel-size");
    return o;
}

std::shared_ptr<AttributionResult> attributeInput(Model &model, const TensorValue &input, AttributionParams p, const Args &a)
{
    return explainInput(model, input, std::move(p), explainOptions(a));
}

Json resultJson(const AttributionResult &r)
{
    Json j = Json::object();
    j["method"] = methodName(r.method);
    j["target"] = r.targetClass;
    j["shape"] = shapeJson(r.map.shape());
    if (r.method == AttributionMethod::IntegratedGradients) j["convergence_delta"] = r.convergenceDelta;
    j["model_passes"] = r.modelPasses;
    j["kernels"] = r.kernels;
    if (!r.fastKernelsNote.empty()) j["fast_kernels_note"] = r.fastKernelsNote;
    j["elapsed_ms"] = r.elapsedMs;
    return j;
}

void writeImages(const std::string &out, const TensorValue &images, int cols)
{
    auto ends = [&](const char *e) { return endsWith(out, e); };
    if (ends(".npy"))
        writeNpy(out, images);
    else if (ends(".png"))
        writeImageGridPng(out, images, cols);
    else if (ends(".gif") || ends(".mp4"))
        writeAnimation(out, images);
    else
        throw UsageError("--out must end in .npy, .png, .gif or .mp4");
}

/// The tokenizer a text model names in its metadata ("tokenizer": {"file", "lowercase", "max_length"}),
/// or --tokenizer F; --truncate chooses truncation over an error for a text longer than max_length.
std::unique_ptr<Tokenizer> tokenizerFor(const Args &a, const ModelSummary *s, bool addEnd)
{
    TokenizerOptions o;
    o.addEnd = addEnd;
    o.truncate = a.flags.count("truncate") > 0;
    std::string file;
    if (s) tokenizerFromMetadata(*s, file, o);
    if (a.has("tokenizer")) file = a.need("tokenizer");   // --tokenizer wins over the metadata's
    if (a.has("lowercase")) o.lowercase = a.need("lowercase") != "0";
    if (a.has("max-length")) o.maxLength = toInt(a.need("max-length"), "--max-length");
    if (file.empty()) throw UsageError("no tokenizer: the model's metadata names none; give --tokenizer F");
    return Tokenizer::open(file, o);
}

std::vector<int64_t> promptIds(const Args &a, const Model &model, std::unique_ptr<Tokenizer> &tokenizer)
{
    const bool text = a.has("text"), ids = a.has("ids");
    if (text == ids) throw UsageError("give the prompt as --text \"...\" or as --ids IDS.npy (one of them)");
    tokenizer.reset();
    try {
        tokenizer = tokenizerFor(a, &model.summary(), false);
    } catch (const UsageError &) {
        if (text) throw;   // --ids without a tokenizer: token strings are their numbers
    }
    if (text) {
        const Tokenized t = tokenizer->encode(a.need("text"));
        return t.ids;
    }
    return tokenIdsFromNpy(a, "ids");
}

std::vector<int64_t> tokenIdsFromNpy(const Args &a, const std::string &key, bool allowFlat)
{
    const std::string path = a.need(key);
    const TensorValue v = readNpy(path);
    const bool row = v.shape().size() == 2 && v.dim(0) == 1, flat = allowFlat && v.shape().size() == 1;
    if (v.numel() < 1 || !(row || flat))
        throw Error(ErrorCode::BadInput,
                    "--" + key + " " + path + " holds " + shapeToString(v.shape()) + "; token ids are int64 [1, L]" + (allowFlat ? " or [L]" : ""));
    std::vector<int64_t> out;
    for (int64_t i = 0; i < v.numel(); ++i) {
        const float x = v.at(i);
        if (x != std::floor(x)) throw Error(ErrorCode::BadInput, "--" + key + " " + path + " holds " + std::to_string(x) + ", not a token id");
        out.push_back(int64_t(x));
    }
    return out;
}

GenerationOptions generationOptions(const Args &a)
{
    GenerationOptions o;
    o.maxNew = toInt(a.get("max-new", "20"), "--max-new");
    if (o.maxNew < 1 || o.maxNew > 4096) throw UsageError("--max-new must be 1 to 4096");
    o.temperature = toDouble(a.get("temperature", "0"), "--temperature");
    if (!(o.temperature >= 0 && o.temperature <= 100)) throw UsageError("--temperature must be 0 (greedy) to 100");
    o.topK = toInt(a.get("top-k", "0"), "--top-k");
    if (o.topK < 0) throw UsageError("--top-k must be 0 (all) or more");
    o.topP = toDouble(a.get("top-p", "1"), "--top-p");
    if (!(o.topP > 0 && o.topP <= 1)) throw UsageError("--top-p must be in (0, 1]");
    o.seed = uint64_t(toId(a.get("seed", "0"), "--seed"));
    if (a.has("stop-ids")) o.stopIds = intList(a.need("stop-ids"), "--stop-ids");
    return o;
}

Json tokensJson(const Tokenizer *tokenizer, const std::vector<int64_t> &ids)
{
    Json out = Json::array();
    for (int64_t id : ids) out.push(Json(tokenizer ? tokenizer->piece(id) : std::to_string(id)));
    return out;
}

const OptionTable &promptOptions()
{
    static const OptionTable t = {
        {"text", "\"...\"", "the prompt, through the model's tokenizer (BOS kept, no EOS)"},
        {"ids", "IDS.npy", "the prompt as int64 ids [1, L]"},
    };
    return t;
}

const OptionTable &diffusionOptions()
{
    static const OptionTable t = {
        {"cond-ids", "C.npy", "the prompt as int64 cond ids [1, K] or [K]"},
        {"prompt", "\"...\"", "the prompt as words of the model's vocabulary (or ids \"3,7\")"},
        {"steps", "N", "sampling steps (leading timesteps k·T/N)", ints(1, 10000)},
        {"seed", "S", "x_T = torch.manual_seed(S); torch.randn(sample_shape)", registryRange("seed")},
        {"sampler", "ddim|ddpm", "DDIM (η = 0, default) or DDPM ancestral"},
        {"guidance", "G", "classifier-free guidance scale (default 1: the conditional pass only)", reals(0, 100)},
        {"clip", "", "clamp each x̂₀ to the image range"},
    };
    return t;
}

DiffusionRequest diffusionRequest(const Args &a, const DiffusionConfig &c)
{
    DiffusionRequest r;
    if (a.has("cond-ids") == a.has("prompt")) throw UsageError("give the prompt as --cond-ids C.npy or --prompt \"words\" (one of them)");
    r.cond = a.has("prompt") ? promptToIds(c, a.need("prompt")) : tokenIdsFromNpy(a, "cond-ids", true);
    checkCondIds(c, r.cond);
    r.steps = toInt(a.need("steps"), "--steps");
    if (r.steps > c.trainSteps)
        throw UsageError("--steps " + std::to_string(r.steps) + " is more than the model's " + std::to_string(c.trainSteps) + " training steps");
    r.seed = uint64_t(toInt(a.need("seed"), "--seed"));
    if (a.has("sampler") && !parseSampler(a.need("sampler"), r.sampler)) throw UsageError("--sampler must be ddim or ddpm");
    r.guidance = toDouble(a.get("guidance", "1"), "--guidance");
    r.clipX0 = a.flag("clip");
    return r;
}

Json diffusionJson(const DiffusionConfig &c, const DiffusionRequest &r, const DiffusionResult &out)
{
    Json j = Json::object(), ids = Json::array(), words = Json::array();
    for (int64_t id : out.cond) ids.push(Json(id));
    for (const std::string &w : idsToWords(c, out.cond)) words.push(Json(w));
    j["cond"] = ids;
    j["words"] = words;
    j["steps"] = int64_t(out.timesteps.size());
    j["first_t"] = out.timesteps.empty() ? int64_t(0) : out.timesteps.front();
    j["sampler"] = std::string(samplerName(r.sampler));
    j["guidance"] = r.guidance;
    j["seed"] = int64_t(r.seed);
    j["shape"] = shapeJson(out.sample.shape());
    j["denoiser_calls"] = int64_t(out.denoiserCalls);
    j["seconds"] = out.seconds;
    return j;
}

void checkOutputExtension(const Args &a, const std::string &key, const std::vector<std::string> &extensions)
{
    if (!a.has(key)) return;
    const std::string path = a.need(key);
    std::string list;
    for (const std::string &e : extensions) {
        if (endsWith(path, e)) return;
        list += (list.empty() ? "" : ", ") + e;
    }
    throw UsageError("--" + key + " must end in " + list);
}

void writeDiffusionImages(const std::string &out, const DiffusionConfig &c, const TensorValue &images)
{
    if (endsWith(out, ".npy")) {
        writeNpy(out, images);
        return;
    }
    writeImages(out, toUnitRange(c, images), 0);
}

const OptionTable &samplingOptions()
{
    static const OptionTable t = {
        {"max-new", "N", "tokens generated at most (default 20)", ints(1, 4096)},
        {"temperature", "T", "0: greedy (default); > 0: sampling at that temperature", reals(0, 100)},
        {"top-k", "K", "sample among the K most probable tokens (0: all, default)", ints(0, 1000000)},
        {"top-p", "P", "nucleus sampling: the smallest set whose mass reaches P (default 1)", positive(1)},
        {"seed", "S", "the sampling seed (default 0)", registryRange("seed")},
        {"stop-ids", "A,B,…", "stop after any of these ids (the model's EOS always stops)"},
    };
    return t;
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
            throw Error(ErrorCode::BadInput,
                        data + ": user " + std::to_string(r.user) + " / item " + std::to_string(r.item) + " is outside the model's tables ("
                            + std::to_string(c.mf.users) + " users, " + std::to_string(c.mf.items) + " items)");
    }
    return c;
}

int64_t toId(const std::string &s, const std::string &what)
{
    const int v = toInt(s, what);
    if (v < 0) throw UsageError(what + " must be a non-negative id");
    return v;
}

}   // namespace pellucid::cli
