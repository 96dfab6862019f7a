#include <torch/script.h>
#include <torch/torch.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include "engine/runtime/model.h"
#include "engine/runtime/threads.h"

#include "engine/core/errors.h"
#include "engine/core/files.h"
#include "engine/runtime/archive.h"
#include "engine/runtime/graphtaps.h"
#include "engine/runtime/modelimpl.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sys/wait.h>
#include <unistd.h>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <list>
#include <mutex>
#include <numeric>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <thread>
#include <sstream>

namespace pellucid {
namespace detail {
bool compatOpsRegistered();
}
namespace {

std::string firstLines(const std::string &s)
{
    std::istringstream in(s);
    std::string line, out;
    while (std::getline(in, line)) {
        if (line.rfind("Exception raised from", 0) == 0 || line.find("frame #") != std::string::npos) break;
        if (!line.empty()) out += (out.empty() ? "" : " ") + line;
    }
    return out;
}

}   // namespace

void flattenTensors(const c10::IValue &v, std::vector<at::Tensor> &out)
{
    if (v.isTensor()) {
        out.push_back(v.toTensor());
    } else if (v.isTuple()) {
        for (const auto &e : v.toTupleRef().elements()) flattenTensors(e, out);
    } else if (v.isList()) {
        for (const auto &e : v.toListRef()) flattenTensors(e, out);
    } else if (v.isGenericDict()) {
        for (const auto &kv : v.toGenericDict()) flattenTensors(kv.value(), out);
    }
}

TensorValue tensorToValue(const at::Tensor &t)
{
    at::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
    const float *p = c.data_ptr<float>();
    return TensorValue(Shape(c.sizes().begin(), c.sizes().end()), std::vector<float>(p, p + c.numel()));
}

std::vector<TensorValue> toValues(const c10::IValue &v)
{
    std::vector<at::Tensor> ts;
    flattenTensors(v, ts);
    std::vector<TensorValue> out;
    out.reserve(ts.size());
    for (const auto &t : ts) out.push_back(tensorToValue(t));
    return out;
}

namespace {

bool sameExceptBatch(const Shape &expected, const Shape &given)
{
    if (expected.size() != given.size() || given.empty()) return false;
    for (size_t i = 1; i < expected.size(); ++i)
        if (expected[i] != given[i]) return false;
    return given[0] >= 1;
}

std::string readPrefix(const std::string &path, size_t n)
{
    std::ifstream in(path, std::ios::binary);
    std::string buf(n, '\0');
    in.read(buf.data(), std::streamsize(n));
    buf.resize(size_t(in.gcount()));
    return buf;
}

}   // namespace

bool cudaAvailable() { return torch::cuda::is_available(); }

const char *precisionName(Precision p)
{
    switch (p) {
    case Precision::Float16: return "fp16";
    case Precision::BFloat16: return "bf16";
    case Precision::Float32: break;
    }
    return "fp32";
}

bool parsePrecision(const std::string &name, Precision &out)
{
    for (Precision p : {Precision::Float32, Precision::Float16, Precision::BFloat16})
        if (name == precisionName(p)) {
            out = p;
            return true;
        }
    return false;
}

// --- other formats' backends (engine/runtime/backend.h) ---------------------------------------------------
namespace {
std::vector<std::pair<std::string, BackendOpener>> &backendRegistry()
{
    static std::vector<std::pair<std::string, BackendOpener>> r;
    return r;
}
std::mutex backendMutex;

bool endsWithNoCase(const std::string &s, const std::string &suffix)
{
    if (s.size() < suffix.size()) return false;
    for (size_t i = 0; i < suffix.size(); ++i)
        if (std::tolower((unsigned char)s[s.size() - suffix.size() + i]) != std::tolower((unsigned char)suffix[i])) return false;
    return true;
}
}   // namespace

void registerModelBackend(const std::string &extension, BackendOpener open)
{
    std::lock_guard<std::mutex> lock(backendMutex);
    for (auto &e : backendRegistry())
        if (e.first == extension) {
            e.second = open;
            return;
        }
    backendRegistry().emplace_back(extension, open);
}

BackendOpener modelBackendFor(const std::string &path)
{
    std::lock_guard<std::mutex> lock(backendMutex);
    for (const auto &e : backendRegistry())
        if (endsWithNoCase(path, e.first)) return e.second;
    return nullptr;
}

std::vector<std::string> modelBackendExtensions()
{
    std::lock_guard<std::mutex> lock(backendMutex);
    std::vector<std::string> r;
    for (const auto &e : backendRegistry()) r.push_back(e.first);
    return r;
}

void requireTorchScript(const Model &model, const std::string &what)
{
    Model &m = const_cast<Model &>(model);
    if (m.impl().backend) throw Error(ErrorCode::BadInput, m.impl().backendRefusal(what));
}

std::vector<c10::IValue> Model::Impl::runBackend(const at::Tensor &x, const std::vector<std::string> &paths, bool reducedPass)
{
    if (x.requires_grad() && torch::GradMode::is_enabled()) throw Error(ErrorCode::BadInput, backendRefusal("Gradients"));
    std::vector<TensorValue> outs, taps;
    backend->run(tensorToValue(x.detach()), paths, reducedPass, outs, taps);
    const auto toTensor = [this](const TensorValue &v) {
        return torch::from_blob(const_cast<float *>(v.data()), v.shape(), torch::kFloat).clone().to(device);
    };
    std::vector<c10::IValue> r;
    if (outs.size() == 1) {
        r.emplace_back(toTensor(outs[0]));
    } else {
        std::vector<c10::IValue> items;
        for (const auto &o : outs) items.emplace_back(toTensor(o));
        r.emplace_back(c10::ivalue::Tuple::create(std::move(items)));
    }
    for (const auto &t : taps) r.emplace_back(toTensor(t));
    return r;
}

void Model::Impl::warmUp()
{
    if (summary.inputShape.empty()) return;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        const bool ids = summary.metadata.input.dtype == "int64";
        const at::Tensor x = sampleInput(summary.inputShape, 99);
        for (int i = 0; i < 3; ++i) (void)runTapped(x, {});   // kernels chosen, allocator pools filled
        if (!ids) {                                           // and the backward kernels the gradient methods use
            torch::AutoGradMode enable(true);
            const at::Tensor xg = x.detach().requires_grad_(true);
            std::vector<at::Tensor> ts;
            flattenTensors(tapped({})->run(module, {xg}).at(0), ts);
            if (!ts.empty() && ts[0].is_floating_point()) (void)torch::autograd::grad({ts[0].sum()}, {xg}, {}, false, false, true);
        }
        syncStream();
    } catch (const std::exception &) {
        // Best effort: the dry run has already said what fails.
    }
    summary.warmupMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Precision Model::precision() const { return d->precision; }

PrecisionCheck Model::setPrecision(Precision p, const std::vector<TensorValue> &checkInputs)
{
    PrecisionCheck check;
    check.precision = p;
    Impl &m = *d;
    if (p == Precision::Float32) {
        m.precision = p;
        m.reduced = torch::jit::Module();
        m.reducedCache.clear();
        m.summary.precision = precisionName(p);
        return check;
    }
    const std::string name = precisionName(p);
    const Precision before = m.precision;
    torch::jit::Module oldReduced = m.reduced;
    auto restore = [&] {
        m.precision = before;
        m.reduced = oldReduced;
        m.reducedCache.clear();
    };
    std::vector<at::Tensor> inputs;
    if (!m.summary.inputShape.empty()) inputs.push_back(m.sampleInput(m.summary.inputShape, Impl::kDryRunSeed));   // the dry run's input
    for (const auto &v : checkInputs) {
        checkInput(v);
        inputs.push_back(m.toTorch(v));
    }
    if (inputs.empty()) throw Error(ErrorCode::BadInput, "No input to check " + name + " on: the model's input shape is unknown");
    try {
        if (m.backend) {
            m.backend->enableReduced(p);   // the runtime's own reduced-precision path, or Error saying why not
        } else {
            m.reduced = m.module.clone();
            m.reduced.to(p == Precision::Float16 ? at::kHalf : at::kBFloat16);
        }
        m.reducedCache.clear();
        m.precision = p;
        for (const at::Tensor &x : inputs) {
            std::vector<at::Tensor> full, low;
            flattenTensors(m.runTapped(x, {}).at(0), full);
            flattenTensors(m.runForwardOnly(x, {}).at(0), low);
            if (full.empty() || low.empty()) throw Error(ErrorCode::ModelError, "The model returned no tensor");
            const at::Tensor a = full[0].to(at::kCPU, at::kFloat), b = low[0].to(at::kCPU, at::kFloat);
            check.maxAbsLogitDiff = std::max(check.maxAbsLogitDiff, (a - b).abs().max().item<double>());
            bool same;
            if (a.dim() == 2 && a.size(1) > 1) {
                same = a.argmax(1).equal(b.argmax(1));   // the predicted class of every row
            } else {                                     // not a classifier: the output within 5 % of its range
                same = ((a - b).abs().max() <= 0.05 * std::max(1e-6, (a.max() - a.min()).item<double>())).item<bool>();
            }
            ++check.inputs;
            check.agreeing += same;
        }
    } catch (const Error &) {
        restore();
        throw;
    } catch (const std::exception &e) {
        restore();
        throw Error(ErrorCode::BadInput, name + " is not available for this model on " + m.summary.device + ": " + summarizeTorchError(e.what()));
    }
    if (check.agreeing != check.inputs) {
        restore();
        std::ostringstream msg;
        msg << name << " changes the prediction on " << (check.inputs - check.agreeing) << " of " << check.inputs
            << " check inputs (largest logit difference " << check.maxAbsLogitDiff << "); staying at " << precisionName(before);
        throw Error(ErrorCode::BadInput, msg.str());
    }
    m.summary.precision = name;
    m.summary.precisionNote.clear();
    return check;
}

std::string summarizeTorchError(const std::string &what)
{
    // TorchScript interpreter errors end with the raised error after a serialized-code traceback.
    if (what.find("Traceback of TorchScript") != std::string::npos) {
        static const std::regex raised(R"(^\s*([A-Za-z_][\w.]*(Error|Exception)): (.*)$)");
        std::istringstream in(what);
        std::string line, found;
        while (std::getline(in, line)) {
            std::smatch m;
            if (std::regex_match(line, m, raised))
                found = m[1].str() + ": " + m[3].str();
            else if (!found.empty() && !line.empty() && line.find("Exception raised from") == std::string::npos
                     && line.find("frame #") == std::string::npos)
                found += " " + line;
            else if (!found.empty())
                break;
        }
        if (!found.empty()) return found;
    }
    return firstLines(what);
}

std::vector<Prediction> topKPredictions(const TensorValue &logits, int k, const std::vector<std::string> &labels)
{
    std::vector<Prediction> out;
    if (logits.numel() == 0) return out;
    const int64_t classes = logits.shape().empty() ? 1 : logits.shape().back();
    std::vector<double> p(static_cast<size_t>(classes));
    double mx = -INFINITY;
    for (int64_t i = 0; i < classes; ++i) mx = std::max(mx, double(logits.at(i)));
    double sum = 0;
    for (int64_t i = 0; i < classes; ++i) sum += (p[size_t(i)] = std::exp(double(logits.at(i)) - mx));
    std::vector<int> idx(static_cast<size_t>(classes));
    std::iota(idx.begin(), idx.end(), 0);
    k = std::max(0, std::min<int>(k, int(classes)));
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
        const float la = logits.at(a), lb = logits.at(b);
        if (std::isnan(la)) return false;
        if (std::isnan(lb)) return true;
        return la > lb;
    });
    for (int i = 0; i < k; ++i) {
        Prediction pr;
        pr.index = idx[size_t(i)];
        pr.logit = logits.at(pr.index);
        pr.probability = float(p[size_t(pr.index)] / sum);
        pr.label = size_t(pr.index) < labels.size() ? labels[size_t(pr.index)] : "class " + std::to_string(pr.index);
        out.push_back(pr);
    }
    return out;
}

namespace {

std::atomic<int64_t> gChildLoads{0}, gRememberedLoads{0};

/// Archives a child has loaded before, kept across runs: a file (one line per archive fingerprint, with the
/// LibTorch version) in $PELLUCID_CACHE_DIR, else $XDG_CACHE_HOME/pellucid, else ~/.cache/pellucid; an empty
/// PELLUCID_CACHE_DIR turns it off. Only clean child loads are written; a file that cannot be read or written
/// just means the child runs.
std::string rememberedLoadsFile()
{
    std::string dir;
    if (const char *c = std::getenv("PELLUCID_CACHE_DIR"))
        dir = c;
    else if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x)
        dir = std::string(x) + "/pellucid";
    else if (const char *h = std::getenv("HOME"); h && *h)
        dir = std::string(h) + "/.cache/pellucid";
    return dir.empty() ? std::string() : dir + "/loaded-archives";
}

std::string rememberedLoadLine(uint64_t fingerprint)
{
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fingerprint));
    return std::string(hex) + " libtorch-" + TORCH_VERSION;
}

bool loadRemembered(uint64_t fingerprint)
{
    const std::string file = rememberedLoadsFile();
    if (file.empty()) return false;
    std::ifstream in(file);
    const std::string want = rememberedLoadLine(fingerprint);
    std::string line;
    while (std::getline(in, line))
        if (line == want) return true;
    return false;
}

void rememberLoad(uint64_t fingerprint)
{
    const std::string file = rememberedLoadsFile();
    if (file.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
    // Past 1 MiB (~30,000 archives) the list starts again rather than growing without end.
    const bool full = std::filesystem::file_size(file, ec) > (uint64_t(1) << 20) && !ec;
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | (full ? O_TRUNC : 0) | O_CLOEXEC, 0644);
    if (fd < 0) return;
    const std::string line = rememberedLoadLine(fingerprint) + "\n";
    const ssize_t n = write(fd, line.data(), line.size());   // one short append: whole lines between processes
    (void)n;
    close(fd);
}

/// Loads `path` in a forked child (CPU, one thread, quiet) and waits for it. A child killed by a signal or
/// stopping abnormally means this process must not load the file; a child that met a clear error sends it
/// back (code and message through a pipe) and this process throws it without touching LibTorch. Only a file
/// the child loaded is loaded here, and such a file (path, size, modification time) is not tried again in this
/// process, nor (its fingerprint: the zip directory and every non-tensor record, with the LibTorch version) in
/// later runs (rememberedLoadsFile). A child still busy after two minutes is let go (a slow load is not a crash).
void loadInChildFirst(const std::string &path, const LoadOptions &options, uint64_t fingerprint)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const std::string key =
        path + '\n' + std::to_string(fs::file_size(path, ec)) + '\n' + std::to_string(fs::last_write_time(path, ec).time_since_epoch().count());
    static std::mutex mutex;
    static std::set<std::string> loaded;
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (loaded.count(key)) return;
    }
    if (loadRemembered(fingerprint)) {
        ++gRememberedLoads;
        std::lock_guard<std::mutex> lock(mutex);
        loaded.insert(key);
        return;
    }
    ++gChildLoads;
    int fds[2];
    if (pipe(fds) != 0) return;   // no pipe or child to spare: load as before
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        const int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        LoadOptions o = options;
        o.isolateFirstLoad = false;
        o.device = DevicePreference::Cpu;
        o.threads = 1;
        auto send = [&](int code, const std::string &what) {
            const std::string m = std::to_string(code) + "\n" + what.substr(0, 60000);
            for (size_t at = 0; at < m.size();) {
                const ssize_t n = write(fds[1], m.data() + at, m.size() - at);
                if (n <= 0) break;
                at += size_t(n);
            }
        };
        try {
            Model::load(path, o);
            _exit(0);
        } catch (const Error &e) {
            send(int(e.code()), e.what());
            _exit(3);
        } catch (const std::exception &e) {
            send(int(ErrorCode::CorruptArchive), "Cannot load " + path + ": " + e.what());
            _exit(3);
        } catch (...) {
            _exit(4);
        }
    }
    close(fds[1]);
    std::string reply;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    pid_t done = 0;
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    char buf[4096];
    auto drain = [&] {
        ssize_t n;
        while ((n = read(fds[0], buf, sizeof buf)) > 0) reply.append(buf, size_t(n));
    };
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
        drain();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    drain();
    close(fds[0]);
    if (done == 0) {   // still loading: not a crash
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return;
    }
    if (done < 0) return;
    if (WIFSIGNALED(status))
        throw Error(ErrorCode::CorruptArchive,
                    path + ": LibTorch's loader crashed on this archive (" + std::string(strsignal(WTERMSIG(status)))
                        + " in a test load); it was not loaded");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3 && reply.find('\n') != std::string::npos) {
        const auto nl = reply.find('\n');
        int code = int(ErrorCode::CorruptArchive);
        try {
            code = std::stoi(reply.substr(0, nl));
        } catch (const std::exception &) { }
        throw Error(ErrorCode(code), reply.substr(nl + 1));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(ErrorCode::CorruptArchive,
                    path + ": LibTorch's loader failed on this archive (a test load stopped with status "
                        + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "); it was not loaded");
    rememberLoad(fingerprint);
    std::lock_guard<std::mutex> lock(mutex);
    loaded.insert(key);
}

}   // namespace

IsolatedLoadStats isolatedLoadStats() { return {gChildLoads.load(), gRememberedLoads.load()}; }

Model::Model() : d(std::make_unique<Impl>()) { }
Model::~Model() = default;

const ModelSummary &Model::summary() const { return d->summary; }

std::unique_ptr<Model> Model::load(const std::string &path, const LoadOptions &options)
{
    namespace fs = std::filesystem;
    // Plain interpreter: no profiling-executor rewrites, so numbers match eager PyTorch.
    torch::jit::setGraphExecutorOptimize(false);
    (void)detail::compatOpsRegistered();
    setCpuThreads(options.threads);

    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error(ErrorCode::FileNotFound, "Model file not found: " + path);
    if (fs::is_directory(path, ec)) throw Error(ErrorCode::NotTorchScript, path + " is a folder, not a TorchScript file");
    checkInputFile(path, uint64_t(256) << 30, "The model");   // a FIFO or device would block the loader
    if (const BackendOpener open = modelBackendFor(path)) return loadWithBackend(path, options, open);
    if (endsWithNoCase(path, ".onnx"))
        throw Error(ErrorCode::NotTorchScript, path + ": this build of Pellucid has no ONNX backend (it needs OpenCV's DNN module at build time)");
    const std::string head = readPrefix(path, 4);
    if (head.size() < 4 || head.compare(0, 4, "PK\x03\x04") != 0)
        throw Error(ErrorCode::NotTorchScript, path + " is not a TorchScript archive (expected a zip file written by torch.jit.save)");
    // Its records against what its pickles reference, before LibTorch (which would read past a short one).
    const ArchiveCheck checked = checkTorchScriptArchive(path);
    if (options.isolateFirstLoad) loadInChildFirst(path, options, checked.fingerprint);

    std::unique_ptr<Model> m(new Model());
    Impl &d = *m->d;
    const bool cuda = torch::cuda::is_available();
    if (options.device == DevicePreference::Cuda && !cuda) throw Error(ErrorCode::BadInput, "CUDA was requested but no CUDA device is available");
    d.device = (options.device == DevicePreference::Cpu || !cuda) ? torch::Device(torch::kCPU) : torch::Device(torch::kCUDA, 0);
    if (d.device.is_cuda()) {
        // One stream for the engine: everything this thread (the engine's worker) queues from now on goes to
        // it, apart from other users of the GPU and in order, so inputs copy asynchronously ahead of the work.
        const auto *impl = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA);
        impl->exchangeStream(impl->getStreamFromGlobalPool(d.device, /*isHighPriority=*/false));
    }
    torch::jit::ExtraFilesMap extra{{"pellucid.json", ""}};
    try {
        d.module = torch::jit::load(path, d.device, extra);
    } catch (const std::exception &e) {
        const std::string msg = summarizeTorchError(e.what());
        if (msg.find("central directory") != std::string::npos || msg.find("zip archive") != std::string::npos
            || msg.find("file_size") != std::string::npos || msg.find("crc") != std::string::npos || msg.find("failed reading") != std::string::npos)
            throw Error(ErrorCode::CorruptArchive, path + " is a damaged TorchScript archive (truncated or corrupt): " + msg);
        if (msg.find("File \"code/") != std::string::npos)
            throw Error(ErrorCode::CorruptArchive, path + ": the TorchScript code inside does not compile (a damaged or edited archive): " + msg);
        if (msg.find("constants.pkl") != std::string::npos || msg.find("data.pkl") != std::string::npos || msg.find("code/") != std::string::npos)
            throw Error(ErrorCode::NotTorchScript,
                        path
                            + " is a zip archive but not a TorchScript module (saved with torch.save instead of "
                              "torch.jit.save?): "
                            + msg);
        throw Error(ErrorCode::CorruptArchive, "Cannot load " + path + ": " + msg);
    }
    d.module.eval();

    ModelSummary &s = d.summary;
    s.path = path;
    s.fileName = fs::path(path).filename().string();
    s.device = d.device.str();
    s.torchVersion = TORCH_VERSION;
    s.runtime = std::string("LibTorch ") + TORCH_VERSION;
    d.readMetadata(s, extra["pellucid.json"]);
    finishLoad(*m, options);
    return m;
}

/// Metadata: a sidecar MODEL.json (what File → Model settings writes) wins over what the file carries, then a
/// Hugging Face folder's config.
void Model::Impl::readMetadata(ModelSummary &s, const std::string &embedded)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const std::string &path = s.path;
    if (std::string text; fs::exists(path + ".json", ec) && readTextFile(path + ".json", text)) {
        s.metadata = parseMetadata(text, "sidecar", path + ".json");
    } else if (!embedded.empty()) {
        s.metadata = parseMetadata(embedded, "archive", path + " (pellucid.json)");
    } else {
        bool found = false;
        ModelMetadata hf = huggingFaceMetadata(fs::path(path).parent_path().string().empty() ? "." : fs::path(path).parent_path().string(), found);
        if (found) s.metadata = std::move(hf);
    }
}

std::unique_ptr<Model> Model::loadWithBackend(const std::string &path, const LoadOptions &options, BackendOpener open)
{
    namespace fs = std::filesystem;
    if (options.device == DevicePreference::Cuda)
        throw Error(ErrorCode::BadInput, path + ": ONNX models run on the CPU (OpenCV DNN); CUDA was requested");
    std::unique_ptr<Model> m(new Model());
    Impl &d = *m->d;
    d.backend = std::shared_ptr<ModelBackend>(open(path).release());
    d.device = torch::Device(torch::kCPU);
    d.backend->setThreads(options.threads > 0 ? options.threads : at::get_num_threads());
    ModelSummary &s = d.summary;
    s.path = path;
    s.fileName = fs::path(path).filename().string();
    s.device = "cpu";
    s.torchVersion = TORCH_VERSION;
    s.format = d.backend->format();
    s.runtime = d.backend->runtime();
    d.readMetadata(s, d.backend->embeddedMetadata());
    finishLoad(*m, options);
    return m;
}

/// What both kinds of model share after loading: the user's overrides, the layer catalogue, the role and the
/// input shape, the dry run, the precision.
void Model::finishLoad(Model &model, const LoadOptions &options)
{
    Model *m = &model;
    Impl &d = *m->d;
    ModelSummary &s = d.summary;
    const std::string &path = s.path;

    // What the user gives instead of metadata.
    if (!options.labelsFile.empty()) {
        s.metadata.labels = readLabelsFile(options.labelsFile);
        if (s.metadata.task.empty()) s.metadata.task = "classification";
    }
    if (!options.mean.empty() || !options.std.empty()) {
        if (!options.mean.empty()) s.metadata.input.mean = options.mean;
        if (!options.std.empty()) s.metadata.input.std = options.std;
        if (s.metadata.input.mean.size() != s.metadata.input.std.size())
            throw Error(ErrorCode::BadInput,
                        "--mean and --std need as many values each (" + std::to_string(s.metadata.input.mean.size()) + " and "
                            + std::to_string(s.metadata.input.std.size()) + ")");
        for (float v : s.metadata.input.std)
            if (!(v > 0)) throw Error(ErrorCode::BadInput, "standard deviations must be positive");
    }
    if (!options.range.empty()) {
        if (options.range.size() != 2 || !(options.range[1] > options.range[0]))
            throw Error(ErrorCode::BadInput, "--range needs two values low,high with low < high");
        s.metadata.input.rangeLo = options.range[0];
        s.metadata.input.rangeHi = options.range[1];
    }
    if (options.resize > 0) s.metadata.input.resize = options.resize;
    if (!options.crop.empty()) {
        if (options.crop.size() > 2 || options.crop[0] <= 0 || options.crop.back() <= 0)
            throw Error(ErrorCode::BadInput, "--crop needs one size or h,w (positive)");
        s.metadata.input.cropH = options.crop[0];
        s.metadata.input.cropW = options.crop.back();
    }

    // The layer catalogue: every submodule, with how forward calls it (another backend: its nodes, in order).
    std::vector<detail::ModuleCall> calls;
    if (d.backend) {
        for (const BackendNode &n : d.backend->nodes()) {
            LayerInfo li;
            li.path = n.name;
            li.op = n.op;
            li.parameters = n.parameters;
            li.calls = 1;
            s.parameterCount += n.parameters;
            d.calledPaths.push_back(n.name);
            s.layers.push_back(std::move(li));
        }
    } else {
        try {
            calls = detail::listModuleCalls(d.module);
        } catch (const std::exception &e) {
            throw Error(ErrorCode::Internal, "Cannot analyse the forward graph of " + path + ": " + summarizeTorchError(e.what()));
        }
        std::map<std::string, int> callCount;
        for (const auto &c : calls) {
            callCount[c.path] = c.callCount;
            d.calledPaths.push_back(c.path);
        }
        for (const auto &nm : d.module.named_modules()) {
            if (nm.name.empty()) {
                for (const auto &p : nm.value.parameters(true)) s.parameterCount += p.numel();
                continue;
            }
            LayerInfo li;
            li.path = nm.name;
            li.op = nm.value.type()->name() ? nm.value.type()->name()->name() : "Module";
            li.depth = int(std::count(li.path.begin(), li.path.end(), '.'));
            for (const auto &p : nm.value.parameters(true)) li.parameters += p.numel();
            li.leaf = nm.value.children().size() == 0;
            const auto it = callCount.find(li.path);
            li.calls = it == callCount.end() ? 0 : it->second;
            s.layers.push_back(std::move(li));
        }
    }

    const Json *metaRole = s.metadata.raw.isObject() ? s.metadata.raw.find("role") : nullptr;
    const bool hasRole = metaRole && metaRole->isString() && !metaRole->asString().empty();
    // The default role applies to a model whose metadata says nothing of what it is (no role, no task).
    const std::string role = !options.role.empty() ? options.role : (!hasRole && s.metadata.task.empty() ? options.defaultRole : std::string());
    if (!role.empty()) {
        static const std::set<std::string> roles = {"classifier", "generator", "decoder", "encoder", "conditional_generator", "denoiser"};
        if (!roles.count(role))
            throw Error(ErrorCode::BadInput,
                        "Unknown model role '" + role + "' (classifier, generator, decoder, encoder, conditional_generator or denoiser)");
        if (!s.metadata.raw.isObject()) s.metadata.raw = Json::object();
        s.metadata.raw["role"] = Json(role == "classifier" ? std::string() : role);
        if (role == "classifier") s.metadata.task = "classification";
    }
    const bool generatorRole = role == "generator" || role == "decoder" || role == "conditional_generator"
        || (role.empty() && hasRole && (metaRole->asString() == "generator" || metaRole->asString() == "decoder"));
    if (!options.inputDtype.empty()) {
        if (options.inputDtype != "float32" && options.inputDtype != "int64")
            throw Error(ErrorCode::BadInput, "Input dtype must be float32 or int64, not '" + options.inputDtype + "'");
        s.metadata.input.dtype = options.inputDtype;
        s.metadata.input.dtypeDeclared = true;
    }
    if (!options.inputShape.empty()) {
        s.inputShape = options.inputShape;
        s.inputShapeSource = "user";
    } else if (!s.metadata.input.shape.empty()) {
        s.inputShape = s.metadata.input.shape;
        s.inputShapeSource = "metadata";
    } else if (const Json *lat = s.metadata.raw.isObject() ? s.metadata.raw.find("latent") : nullptr;
               generatorRole && lat && lat->find("dim") && lat->find("dim")->isNumber()) {
        s.inputShape = {1, lat->find("dim")->asInt()};   // codes [1, D]
        s.inputShapeSource = "metadata";
    } else if (int64_t D = generatorRole && !d.backend ? firstLinearInput(d.module) : 0; D > 0) {
        // A decoder without metadata: its codes are what its first Linear layer takes.
        s.inputShape = {1, D};
        s.inputShapeSource = "graph";
    } else if (d.backend && !d.backend->declaredInputShape().empty()) {
        s.inputShape = d.backend->declaredInputShape();   // what the file declares (any batch size is tried)
        s.inputShapeSource = "file";
    } else {
        s.inputShapeSource = "unknown";
    }
    // A denoiser takes (x_t, t, cond): its input is the sample's shape, and the diffusion module runs it.
    const std::string finalRole = s.metadata.raw.isObject() && s.metadata.raw.find("role") && s.metadata.raw.find("role")->isString()
        ? s.metadata.raw.find("role")->asString()
        : std::string();
    const Json *diff = s.metadata.raw.isObject() ? s.metadata.raw.find("diffusion") : nullptr;
    if (finalRole == "denoiser" || (diff && diff->isObject())) {
        if (const Json *shape = diff && diff->isObject() ? diff->find("sample_shape") : nullptr; shape && shape->isArray() && s.inputShape.empty()) {
            for (const Json &v : shape->asArray())
                if (v.isNumber()) s.inputShape.push_back(v.asInt());
            s.inputShapeSource = "metadata";
        }
    } else {
        d.dryRun();
    }
    s.threads = at::get_num_threads();
    double convMacs = 0;
    d.convolutionShare = convolutionShareOf(s, &convMacs);
    d.blas = blasChoiceFor(d.convolutionShare, convMacs);
    m->useBlasThreads();
    if (options.precision != Precision::Float32) {
        try {
            m->setPrecision(options.precision);
        } catch (const Error &e) {
            s.precisionNote = e.what();   // the model loads in float32 and says why
        }
    }
    if (d.device.is_cuda()) d.warmUp();
}

/// The share of convolutions in the multiply-adds of the model's convolutions and matrix products, from the
/// dry run's output shapes (a layer's weights times the output positions it computes them at), or from the
/// weights alone without a dry run; < 0 when there is neither.
double convolutionShareOf(const ModelSummary &s, double *convolutionMacs)
{
    const auto isConvolution = [](const LayerInfo &li) { return li.leaf && li.op.find("Conv") != std::string::npos; };
    const auto isProduct = [](const LayerInfo &li) {
        return li.leaf && (li.op.find("Linear") != std::string::npos || li.op == "Gemm" || li.op == "MatMul");
    };
    double conv = 0, gemm = 0;
    for (const LayerInfo &li : s.layers) {
        if (li.outputShapes.empty() || li.parameters <= 0) continue;
        const Shape &out = li.outputShapes.front();
        if (out.size() < 2) continue;
        double numel = 1;
        for (int64_t v : out) numel *= double(std::max<int64_t>(v, 0));
        const std::string &op = li.op;
        const double calls = std::max(1, li.calls);
        if (isConvolution(li) && out[1] > 0) {
            conv += calls * double(li.parameters) * numel / double(out[1]);   // per output position, every weight once
        } else if (isProduct(li) || op == "MultiheadAttention") {
            if (out.back() > 0) gemm += calls * double(li.parameters) * numel / double(out.back());   // per row
        } else if (op.find("TransformerEncoderLayer") != std::string::npos || op.find("TransformerDecoderLayer") != std::string::npos) {
            // Without gradients a transformer layer may take its fused path, and then none of its attention and
            // linear submodules runs: its own output counts them (every weight once per row).
            const std::string prefix = li.path + ".";
            const bool partsRan = std::any_of(s.layers.begin(), s.layers.end(), [&](const LayerInfo &o) {
                return !o.outputShapes.empty() && o.path.compare(0, prefix.size(), prefix) == 0;
            });
            if (!partsRan && out.back() > 0) gemm += calls * double(li.parameters) * numel / double(out.back());
        }
    }
    if (convolutionMacs) *convolutionMacs = conv;
    if (conv + gemm > 0) return conv / (conv + gemm);
    // No dry run (a language model takes token ids of no declared length): the layers' weights alone.
    for (const LayerInfo &li : s.layers) {
        if (li.parameters <= 0) continue;
        if (isConvolution(li))
            conv += double(li.parameters);
        else if (isProduct(li))
            gemm += double(li.parameters);
    }
    return conv + gemm > 0 ? conv / (conv + gemm) : -1;
}

int Model::blasThreads() const { return d->blas.threads; }
const std::string &Model::blasThreadsWhy() const { return d->blas.why; }
double Model::convolutionShare() const { return d->convolutionShare; }
void Model::useBlasThreads() const
{
    if (!d->device.is_cuda()) useBlasChoice(d->blas);
}

int64_t firstLinearInput(const torch::jit::Module &module)
{
    for (const auto &m : module.named_modules()) {
        const auto type = m.value.type()->name();
        if (!type || type->name() != "Linear" || !m.value.hasattr("weight")) continue;
        const c10::IValue w = m.value.attr("weight");
        if (w.isTensor() && w.toTensor().dim() == 2) return w.toTensor().size(1);
    }
    return 0;
}

void Model::Impl::dryRun()
{
    std::vector<Shape> candidates;
    if (!summary.inputShape.empty())
        candidates.push_back(summary.inputShape);
    else
        candidates = {{1, 3, 224, 224}, {1, 1, 28, 28}, {1, 3, 32, 32},   {1, 3, 28, 28}, {1, 1, 32, 32},
                      {1, 3, 64, 64},   {1, 3, 96, 96}, {1, 3, 299, 299}, {1, 1, 64, 64}, {1, 784}};
    for (const Shape &shape : candidates) {
        try {
            at::Tensor x;
            {
                torch::NoGradGuard ng;
                x = sampleInput(shape, kDryRunSeed);
            }
            const auto out = runTapped(x, calledPaths);
            summary.outputShapes.clear();
            for (const auto &t : toValues(out.at(0))) summary.outputShapes.push_back(t.shape());
            std::map<std::string, std::vector<Shape>> shapes;
            std::map<std::string, bool> ran;
            for (size_t i = 0; i < calledPaths.size(); ++i) {
                const c10::IValue &v = out.at(1 + i);
                ran[calledPaths[i]] = !v.isNone();
                std::vector<at::Tensor> ts;
                flattenTensors(v, ts);
                for (const auto &t : ts) shapes[calledPaths[i]].push_back(Shape(t.sizes().begin(), t.sizes().end()));
            }
            for (auto &li : summary.layers) {
                li.outputShapes = shapes[li.path];
                li.executedInDryRun = ran[li.path];
            }
            if (summary.inputShape.empty()) {
                summary.inputShape = shape;
                summary.inputShapeSource = "dry-run";
            }
            summary.dryRunError.clear();
            return;
        } catch (const std::exception &e) {
            summary.dryRunError = "dry run with input " + shapeToString(shape) + " failed: " + summarizeTorchError(e.what());
        }
    }
}

torch::jit::Module *Model::Impl::fastModule()
{
    if (fastTried) return fastReady ? &fast : nullptr;
    fastTried = true;
    if (backend) {
        fastKernelsNote = "fast kernels need a TorchScript model";
        return nullptr;
    }
    if (summary.inputShape.empty()) {
        fastKernelsNote = "fast kernels need a known input shape to check the frozen copy against the model";
        return nullptr;
    }
    try {
        // A deep copy: the module's own weights keep their layout (and the exact path its numbers).
        torch::jit::Module copy = module.deepcopy();
        copy.eval();
        const bool image = summary.inputShape.size() == 4;
        if (image) {
            torch::NoGradGuard ng;
            for (at::Tensor w : copy.parameters())
                if (w.dim() == 4) w.set_data(w.contiguous(at::MemoryFormat::ChannelsLast));
        }
        // Freezing inlines the submodules' calls through the optimising executor's passes; the copy then
        // runs in this thread's mode (the plain interpreter) like every other clone.
        torch::jit::Module frozen = [&] {
            torch::jit::GraphOptimizerEnabledGuard optimising(true);
            return torch::jit::freeze(copy);
        }();
        // The same function: its output on the dry run's input equals the module's up to rounding.
        torch::NoGradGuard ng;
        const at::Tensor x = sampleInput(summary.inputShape, kDryRunSeed);
        std::vector<at::Tensor> want, got;
        flattenTensors(module.forward({x}), want);
        flattenTensors(frozen.forward({image ? x.contiguous(at::MemoryFormat::ChannelsLast) : x}), got);
        bool same = !want.empty() && want.size() == got.size();
        for (size_t i = 0; same && i < want.size(); ++i) {
            if (want[i].sizes() != got[i].sizes() || !want[i].is_floating_point()) {
                same = false;
                break;
            }
            const at::Tensor a = want[i].to(at::kDouble), b = got[i].to(at::kDouble);
            const double scale = std::max(1.0, a.abs().max().item<double>());
            const double diff = (a - b).abs().max().item<double>();
            if (!(diff <= 1e-4 * scale)) same = false;
        }
        if (!same) {
            fastKernelsNote = "fast kernels: the frozen copy's output differs from the model's on a sample input, so the exact path runs";
            return nullptr;
        }
        fast = frozen;
        fastReady = true;
        return &fast;
    } catch (const std::exception &e) {
        fastKernelsNote = "fast kernels: this model cannot be frozen (" + summarizeTorchError(e.what()) + "), so the exact path runs";
        return nullptr;
    }
}

namespace {
/// The kinds of the graph's operations named like a ReLU (aten::relu_, a fused convolution + ReLU, aten::relu6,
/// ...), in every block; Pellucid's own guided / deconvnet ReLUs left out.
void collectReluKinds(const torch::jit::Block *b, std::set<std::string> &out)
{
    for (const torch::jit::Node *n : b->nodes()) {
        std::string k = n->kind().toQualString();
        std::string lower = k;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
        if (lower.find("relu") != std::string::npos && k.rfind("pellucid::", 0) != 0) out.insert(k);
        for (const torch::jit::Block *sub : n->blocks()) collectReluKinds(sub, out);
    }
}
std::set<std::string> reluKinds(const torch::jit::Graph &g)
{
    std::set<std::string> out;
    collectReluKinds(g.block(), out);
    return out;
}
}   // namespace

detail::TappedForward *Model::Impl::fastRelus(detail::ReluMode relu)
{
    if (relu == detail::ReluMode::Keep) return nullptr;
    const int i = relu == detail::ReluMode::Guided ? 0 : 1;
    if (fastReluTried[i]) return fastReluClones[i].get();
    fastReluTried[i] = true;
    torch::jit::Module *f = fastModule();
    if (!f) return nullptr;
    const char *what = relu == detail::ReluMode::Guided ? "guided" : "deconvnet";
    try {
        std::shared_ptr<detail::TappedForward> clone = detail::buildTappedForward(*f, {}, relu);
        // Should a freezing pass fuse a ReLU into the operation before it (a convolution's fused kernel; LibTorch
        // 1.13's freeze does not, its optimize_for_inference does), that ReLU would keep its plain backward: the
        // clone may hold no ReLU-like operation the module's own clone lacks, and must modify ReLUs where that one
        // does. (Their counts differ: a scripted nn.ReLU holds relu and relu_ in an `if inplace` freezing folds.)
        const std::shared_ptr<detail::TappedForward> own = tapped({}, relu);
        const std::set<std::string> fastKinds = reluKinds(*clone->graph), ownKinds = reluKinds(*own->graph);
        std::string extra;
        for (const std::string &k : fastKinds)
            if (!ownKinds.count(k)) extra += (extra.empty() ? "" : ", ") + k;
        if (!extra.empty() || (clone->relusReplaced == 0) != (own->relusReplaced == 0)) {
            fastReluNotes[i] = std::string("fast kernels: the frozen copy's ReLUs cannot all be made ") + what + " ("
                + (!extra.empty() ? "it holds " + extra
                                  : "it has " + std::to_string(clone->relusReplaced) + " ReLUs, the model " + std::to_string(own->relusReplaced))
                + "), so the exact path runs";
            return nullptr;
        }
        fastReluClones[i] = std::move(clone);
        return fastReluClones[i].get();
    } catch (const std::exception &e) {
        fastReluNotes[i] = std::string("fast kernels: the frozen copy's ReLUs cannot be made ") + what + " (" + summarizeTorchError(e.what())
            + "), so the exact path runs";
        return nullptr;
    }
}

Model::FastKernels Model::fastKernels()
{
    FastKernels f;
    torch::jit::Module *fast = d->fastModule();
    f.ready = fast != nullptr;
    f.note = d->fastKernelsNote;
    if (!fast) return f;
    f.channelsLast = true;
    for (const torch::jit::Node *n : fast->get_method("forward").graph()->nodes()) {
        const std::string kind = n->kind().toQualString();
        f.batchNorms += kind == "aten::batch_norm" || kind == "aten::_batch_norm_impl_index" || kind == "aten::native_batch_norm";
        if (kind == "aten::_convolution" || kind == "aten::conv2d" || kind == "aten::convolution") {
            ++f.convolutions;
            const c10::optional<at::Tensor> w =
                torch::jit::toIValue(n->input(1)) ? c10::optional<at::Tensor>(torch::jit::toIValue(n->input(1))->toTensor()) : c10::nullopt;
            if (w && w->dim() == 4 && !w->is_contiguous(at::MemoryFormat::ChannelsLast)) f.channelsLast = false;
        }
    }
    return f;
}

LayerRef Model::resolveLayer(const std::string &name) const
{
    LayerRef ref;
    ref.path = name;
    static const std::regex element(R"(^(.*)\[(\d+)\]$)");
    std::smatch m;
    if (std::regex_match(name, m, element)) {
        ref.path = m[1].str();
        ref.element = std::stoi(m[2].str());
    }
    const auto &called = d->calledPaths;
    if (std::find(called.begin(), called.end(), ref.path) != called.end()) return ref;
    const auto &layers = d->summary.layers;
    const bool exists = std::any_of(layers.begin(), layers.end(), [&](const LayerInfo &l) { return l.path == ref.path; });
    if (exists) throw Error(ErrorCode::UnknownLayer, "Layer '" + ref.path + "' exists but forward never calls it, so it has no output to show");
    std::string msg = "Unknown layer '" + ref.path + "'.";
    const auto close = closestNames(ref.path, called, 3);
    if (!close.empty()) {
        msg += " Did you mean: ";
        for (size_t i = 0; i < close.size(); ++i) msg += (i ? ", " : "") + close[i];
        msg += "?";
    }
    throw Error(ErrorCode::UnknownLayer, msg);
}

void Model::checkInput(const TensorValue &input) const
{
    // Only a declared shape (metadata or the user's) is enforced; a dry-run guess is not.
    const std::string &source = d->summary.inputShapeSource;
    const Shape expected = (source == "metadata" || source == "user") ? d->summary.inputShape : Shape{};
    if (input.numel() == 0) throw Error(ErrorCode::BadInput, "The input is empty (shape " + shapeToString(input.shape()) + ")");
    if (!expected.empty() && !sameExceptBatch(expected, input.shape())) {
        throw Error(ErrorCode::BadInput,
                    "Input shape " + shapeToString(input.shape()) + " does not match the model's expected input shape " + shapeToString(expected)
                        + " (any batch size)");
    }
}

ForwardResult Model::forward(const TensorValue &input, const std::vector<std::string> &layerPaths)
{
    checkInput(input);
    std::vector<std::string> paths;
    for (const auto &name : layerPaths) {
        const std::string p = resolveLayer(name).path;
        if (std::find(paths.begin(), paths.end(), p) == paths.end()) paths.push_back(p);
    }
    std::vector<c10::IValue> out;
    // Forward-only and copied out below: inference mode skips autograd's version counters and views.
    c10::InferenceMode inference;
    try {
        out = d->runForwardOnly(d->toTorch(input), paths);
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::ModelError,
                    "The model's forward failed on input " + shapeToString(input.shape()) + ": " + summarizeTorchError(e.what()));
    }
    ForwardResult r;
    r.outputs = toValues(out.at(0));
    for (size_t i = 0; i < paths.size(); ++i) {
        const c10::IValue &v = out.at(1 + i);
        if (v.isNone()) {
            const auto tf = d->tapped(paths);
            if (i < tf->noOutput.size() && tf->noOutput[i])
                throw Error(ErrorCode::BadInput,
                            "Layer '" + paths[i]
                                + "' has no output in this traced model: tracing records none for a module "
                                  "that returns its input unchanged (StochasticDepth or Identity in eval mode); tap the "
                                  "layer before it, or use a scripted model");
            throw Error(ErrorCode::BadInput, "Layer '" + paths[i] + "' was not executed for this input (it sits in a branch the model did not take)");
        }
        r.taps[paths[i]] = toValues(v);
    }
    return r;
}

std::vector<TensorValue> Model::plainForward(const TensorValue &input)
{
    checkInput(input);
    c10::InferenceMode inference;
    try {
        const at::Tensor x = d->toTorch(input);
        if (d->backend) return toValues(d->runBackend(x, {}, d->precision != Precision::Float32).at(0));
        if (d->precision != Precision::Float32)   // the same arithmetic as forward(), for the tap-overhead baseline
            return toValues(d->reduced.forward({x.is_floating_point() ? x.to(d->reducedType()) : x}));
        return toValues(d->module.forward({x}));
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::ModelError, "The model's forward failed: " + summarizeTorchError(e.what()));
    }
}

std::vector<Prediction> Model::topK(const TensorValue &logits, int k) const { return topKPredictions(logits, k, d->summary.metadata.labels); }

}   // namespace pellucid
