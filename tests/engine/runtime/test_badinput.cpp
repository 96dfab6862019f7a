// Bad input gets a clear error naming the problem: missing, non-TorchScript, truncated and corrupt files,
// wrong input shapes, unknown layers (with suggestions), a model whose forward raises, NaN outputs,
// malformed metadata and .npy files.
#include "engine/core/errors.h"
#include "engine/runtime/jobs.h"
#include "engine/runtime/model.h"
#include "engine/core/npy.h"
#include "engine/runtime/archive.h"
#include "tests/common/fixtures.h"
#include "tests/common/rawnpy.h"
#include "tests/common/testkit.h"

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace pellucid;
namespace fs = std::filesystem;

namespace {

std::string tempDir()
{
    const fs::path p = fs::temp_directory_path() / ("pellucid-badinput-" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p.string();
}

ErrorCode codeOf(const std::function<void()> &f)
{
    try {
        f();
    } catch (const Error &e) {
        return e.code();
    }
    return ErrorCode::Internal;
}

}   // namespace

TEST(missing_model_file) { CHECK_THROWS_WITH(Model::load("/nonexistent/model.pt"), Error, "not found: /nonexistent/model.pt"); }

TEST(text_file_is_not_torchscript)
{
    const std::string p = tempDir() + "/notes.pt";
    std::ofstream(p) << "this is not a model\n";
    CHECK_THROWS_WITH(Model::load(p), Error, "is not a TorchScript archive");
    CHECK(codeOf([&] { Model::load(p); }) == ErrorCode::NotTorchScript);
}

TEST(truncated_archive)
{
    const std::string src = fixtures::path("seqcnn_scripted.pt");
    const std::string p = tempDir() + "/truncated.pt";
    fs::copy_file(src, p, fs::copy_options::overwrite_existing);
    fs::resize_file(p, fs::file_size(src) / 2);
    CHECK_THROWS_WITH(Model::load(p), Error, "truncated");
    CHECK(codeOf([&] { Model::load(p); }) == ErrorCode::CorruptArchive);
}

TEST(malformed_sidecar_metadata)
{
    const std::string dir = tempDir();
    const std::string p = dir + "/withmeta.pt";
    fs::copy_file(fixtures::path("seqcnn_traced.pt"), p, fs::copy_options::overwrite_existing);
    std::ofstream(p + ".json") << "{\"input\": {\"shape\": [1, 3, \"x\"]}}";
    CHECK_THROWS_WITH(Model::load(p), Error, "input.shape");
    std::ofstream(p + ".json") << "{\"labels\": [1, 2,";
    CHECK_THROWS_WITH(Model::load(p), Error, "JSON error at line 1");
}

TEST(wrong_input_shape_names_both_shapes)
{
    auto model = Model::load(fixtures::path("seqcnn_scripted.pt"), fixtures::cpuOptions());
    const TensorValue bad({1, 1, 16, 16}, std::vector<float>(256, 0.5f));
    CHECK_THROWS_WITH(model->forward(bad, {}), Error, "[1, 1, 16, 16]");
    CHECK_THROWS_WITH(model->forward(bad, {}), Error, "[1, 3, 16, 16]");
    // A different batch size is fine.
    const TensorValue batch({3, 3, 16, 16}, std::vector<float>(3 * 3 * 256, 0.1f));
    CHECK_EQ(model->forward(batch, {}).outputs.at(0).dim(0), int64_t(3));
}

TEST(unknown_layer_suggests_close_names)
{
    auto model = Model::load(fixtures::path("seqcnn_traced.pt"), fixtures::cpuOptions());
    CHECK_THROWS_WITH(model->resolveLayer("features.3.rellu"), Error, "Did you mean: features.3.relu");
    CHECK(codeOf([&] { model->resolveLayer("nope"); }) == ErrorCode::UnknownLayer);
}

TEST(forward_that_raises)
{
    auto model = Model::load(fixtures::path("thrower_scripted.pt"), fixtures::cpuOptions());
    CHECK(!model->summary().dryRunError.empty());   // no candidate shape has 7 channels
    const TensorValue input = readNpy(fixtures::path("thrower_input.npy"));
    CHECK_THROWS_WITH(model->forward(input, {}), Error, "Thrower expects 7 input channels");
    CHECK(codeOf([&] { model->forward(input, {}); }) == ErrorCode::ModelError);
    // The model stays usable after the error.
    const TensorValue ok({1, 7, 2, 2}, std::vector<float>(28, 1.0f));
    CHECK_EQ(model->forward(ok, {"conv"}).taps.at("conv").at(0).dim(1), int64_t(2));
}

TEST(nan_outputs_are_counted_not_hidden)
{
    auto model = Model::load(fixtures::path("nannet_scripted.pt"), fixtures::cpuOptions());
    const TensorValue input = readNpy(fixtures::path("nannet_input.npy"));
    auto out = computeActivations(*model, input, 1, "conv", 3, 16);
    CHECK(out->logitStats.nanCount > 0);
    CHECK_EQ(out->stats.nanCount, int64_t(0));
    auto outLayer = computeActivations(*model, input, 1, "out", 3, 16);
    CHECK_EQ(outLayer->stats.nanCount, int64_t(0));   // before the log: finite
}

TEST(an_archive_that_crashes_libtorchs_loader_is_refused_and_the_process_lives)
{
    // tests/fuzz/fuzz_archive's find: a mangled class constant in code/*.py that LibTorch 1.13's importer
    // sometimes answers with SIGSEGV (ScriptTypeParser::parseClassConstant), sometimes with an error. The first
    // load runs in a child; its crash or its error comes back as an Error, and this process never compiles it.
    for (int i = 0; i < 4; ++i) {
        const ErrorCode code = codeOf([&] { Model::load(fixtures::path("corrupt_code_crash.pt")); });
        CHECK(code == ErrorCode::CorruptArchive || code == ErrorCode::NotTorchScript);
    }
    // An intact model still loads, through the child once and then directly.
    CHECK(Model::load(fixtures::path("linear_traced.pt")) != nullptr);
    CHECK(Model::load(fixtures::path("linear_traced.pt")) != nullptr);
}

TEST(a_file_a_child_loaded_is_remembered_by_its_content_and_a_crashing_one_never)
{
    const fs::path dir = fs::path(tempDir()) / "remembered";
    fs::remove_all(dir);
    fs::create_directories(dir);
    ::setenv("PELLUCID_CACHE_DIR", (dir / "cache").c_str(), 1);
    const fs::path list = dir / "cache" / "loaded-archives";
    auto lines = [&] {
        std::ifstream in(list);
        int n = 0;
        for (std::string l; std::getline(in, l);) n += !l.empty();
        return n;
    };
    // A fresh path (copies: the in-process memo is keyed by path) with new content goes through the child and
    // is written down; the same content under another path is not tried in a child again.
    fs::copy_file(fixtures::path("linear_traced.pt"), dir / "a.pt");
    fs::copy_file(fixtures::path("linear_traced.pt"), dir / "b.pt");
    const IsolatedLoadStats s0 = isolatedLoadStats();
    CHECK(Model::load((dir / "a.pt").string()) != nullptr);
    const IsolatedLoadStats s1 = isolatedLoadStats();
    CHECK_EQ(s1.childLoads, s0.childLoads + 1);
    CHECK_EQ(lines(), 1);
    CHECK(Model::load((dir / "b.pt").string()) != nullptr);
    const IsolatedLoadStats s2 = isolatedLoadStats();
    CHECK_EQ(s2.childLoads, s1.childLoads);
    CHECK_EQ(s2.remembered, s1.remembered + 1);
    // Other content (another model) runs in a child; an archive whose loader crashes is never written down,
    // so every fresh path of it is tried in a child again, and refused each time.
    fs::copy_file(fixtures::path("seqcnn_scripted.pt"), dir / "c.pt");
    CHECK(Model::load((dir / "c.pt").string()) != nullptr);
    CHECK_EQ(isolatedLoadStats().childLoads, s2.childLoads + 1);
    CHECK_EQ(lines(), 2);
    for (int i = 0; i < 2; ++i) {
        const fs::path bad = dir / ("crash" + std::to_string(i) + ".pt");
        fs::copy_file(fixtures::path("corrupt_code_crash.pt"), bad);
        const int64_t before = isolatedLoadStats().childLoads;
        const ErrorCode code = codeOf([&] { Model::load(bad.string()); });
        CHECK(code == ErrorCode::CorruptArchive || code == ErrorCode::NotTorchScript);
        CHECK_EQ(isolatedLoadStats().childLoads, before + 1);
    }
    CHECK_EQ(lines(), 2);
    // With an empty PELLUCID_CACHE_DIR nothing is remembered or written.
    ::setenv("PELLUCID_CACHE_DIR", "", 1);
    fs::copy_file(fixtures::path("seqcnn_traced.pt"), dir / "d.pt");
    const int64_t before = isolatedLoadStats().childLoads;
    CHECK(Model::load((dir / "d.pt").string()) != nullptr);
    CHECK_EQ(isolatedLoadStats().childLoads, before + 1);
    CHECK_EQ(lines(), 2);
    ::unsetenv("PELLUCID_CACHE_DIR");
    fs::remove_all(dir);
}

TEST(short_tensor_records_are_refused_before_libtorch_reads_them)
{
    // A tensor record emptied or cut short (LibTorch would read past its end): refused by name.
    for (const char *f : {"corrupt_empty_record.pt", "corrupt_short_record.pt"}) {
        CHECK_THROWS_WITH(Model::load(fixtures::path(f)), Error, "linear_traced/data/0 holds");
        CHECK(codeOf([&] { Model::load(fixtures::path(f)); }) == ErrorCode::CorruptArchive);
    }
    CHECK_THROWS_WITH(Model::load(fixtures::path("corrupt_truncated.pt")), Error, "truncated or corrupt");
    // A debug pickle whose string claims 2 GB (found by tests/fuzz/fuzz_archive: LibTorch's unpickler reserved
    // it), stored and deflated: every pickle is read to its end first.
    for (const char *f : {"corrupt_pickle_length_stored.pt", "corrupt_pickle_length_deflated.pt"}) {
        CHECK_THROWS_WITH(Model::load(fixtures::path(f)), Error, ".py.debug_pkl is corrupt");
        CHECK(codeOf([&] { Model::load(fixtures::path(f)); }) == ErrorCode::CorruptArchive);
    }
    // Every intact fixture passes with its storages seen (the pickle walk follows what torch.jit.save writes).
    // The demos and ../shared/reference's models (PyTorch 1.13 and 2.x) too.
    int checked = 0;
    for (const std::string &folder : {fixtures::path(""), fixtures::resources("models"), fixtures::reference("")}) {
        std::error_code ec;
        if (!fs::is_directory(folder, ec)) continue;
        for (const auto &e : fs::recursive_directory_iterator(folder, ec)) {
            const std::string name = e.path().filename().string();
            if (e.path().extension() != ".pt" || name.rfind("corrupt_", 0) == 0) continue;
            const ArchiveCheck c = checkTorchScriptArchive(e.path().string());
            CHECK_MSG(c.pickleUnderstood, name);
            checked += c.storages > 0;
        }
    }
    CHECK_MSG(checked >= 25, checked);
}

TEST(npy_errors)
{
    const std::string dir = tempDir();
    CHECK_THROWS_WITH(readNpy(dir + "/missing.npy"), Error, "not found");
    std::ofstream(dir + "/text.npy") << "hello";
    CHECK_THROWS_WITH(readNpy(dir + "/text.npy"), Error, "not a .npy file");
    const std::string full = fixtures::path("seqcnn_input.npy");
    fs::copy_file(full, dir + "/short.npy", fs::copy_options::overwrite_existing);
    fs::resize_file(dir + "/short.npy", fs::file_size(full) - 100);
    CHECK_THROWS_WITH(readNpy(dir + "/short.npy"), Error, "truncated");
    CHECK_THROWS_WITH(writeNpy("/nonexistent-dir/x.npy", TensorValue({1}, {1.0f})), Error, "Cannot write");
    // Headers as NumPy writes them, and nothing else.
    auto npy = [&](const std::string &name, const std::string &header, const std::string &data) {
        return testkit::writeRawNpy(dir + "/" + name, header, data);
    };
    CHECK_THROWS_WITH(readNpy(npy("nocomma.npy", "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", std::string(4, '\0'))), Error,
                      "expected ',' or '}'");
    CHECK_THROWS_WITH(readNpy(npy("wrap.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2147483648, 1073741824), }", "")), Error,
                      "more elements than can be counted");
    const TensorValue none = readNpy(npy("empty.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000, 0), }", ""));
    CHECK_EQ(none.numel(), int64_t(0));
    // An int32 id just beyond float32's exact range is refused, not rounded to its neighbour.
    const int32_t big = 16777217;
    CHECK_THROWS_WITH(
        readNpy(npy("id.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", std::string(reinterpret_cast<const char *>(&big), 4))),
        Error, "value 16777217 is beyond");
    const int32_t ok = 16777216;
    CHECK_EQ(readNpy(npy("id2.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", std::string(reinterpret_cast<const char *>(&ok), 4)))
                 .at(0),
             16777216.0f);
}

TESTKIT_MAIN
