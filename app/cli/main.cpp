// pellucid-cli: the engine without a window. The commands are data (app/cli/commands/); `pellucid-cli help`
// lists them and `pellucid-cli help COMMAND` shows one command's options.
#include "app/cli/cli.h"
#ifdef PELLUCID_HAVE_ONNX
#include "engine/onnx/onnxbackend.h"
#endif

#include <QString>
#include <QtGlobal>
#include <opencv2/core/utils/logger.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>
#include <string>

using namespace pellucid::cli;

namespace {

/// Library chatter stays off stderr: Pellucid's own one-line errors are the messages.
void quietLibraries()
{
    // Qt (figures: QPainter warnings for absurd sizes, "XDG_RUNTIME_DIR not set"): dropped; fatal ones abort.
    qInstallMessageHandler([](QtMsgType type, const QMessageLogContext &, const QString &msg) {
        if (type == QtFatalMsg) {
            std::fprintf(stderr, "pellucid-cli: Qt: %s\n", qPrintable(msg));
            std::abort();
        }
    });
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    setenv("OPENCV_LOG_LEVEL", "SILENT", 0);
    setenv("GST_DEBUG", "0", 0);
#ifdef PELLUCID_HAVE_ONNX
    pellucid::registerOnnxBackend();   // after the log level: OpenCV's importer stays quiet either way
#endif
}

}   // namespace

int main(int argc, char **argv)
{
    quietLibraries();
    const Command *cmd = argc >= 2 ? findCommand(argv[1]) : nullptr;
    if (argc == 3 && std::string(argv[1]) == "help" && (std::string(argv[2]) == "--man" || std::string(argv[2]) == "--bash-completion")) {
        std::cout << (std::string(argv[2]) == "--man" ? manPage(PELLUCID_VERSION) : bashCompletion());
        std::cout.flush();
        return std::cout ? 0 : 2;
    }
    int status = 0;
    try {
        const Args a = parse(argc, argv);
        if (!cmd) {   // help
            if (a.has("command")) {
                const Command *c = findCommand(a.need("command"));
                if (!c) throw UsageError("unknown command '" + a.need("command") + "'");
                std::cout << c->usage();
            } else {
                std::cout << usage();
            }
        } else if (a.flag("help")) {
            std::cout << cmd->usage();
        } else {
            status = cmd->run(a);
        }
    } catch (const UsageError &e) {
        // One line, and where to read more (not the whole usage text).
        std::cerr << "pellucid-cli: " << oneLine(e.what()) << "\n"
                  << "see `pellucid-cli help" << (cmd ? " " + cmd->name : std::string()) << "`\n";
        return 1;
    } catch (const std::bad_alloc &) {
        std::cerr << "pellucid-cli: out of memory: the input asks for more memory than this machine can give\n";
        return 2;
    } catch (const std::exception &e) {
        std::cerr << "pellucid-cli: " << oneLine(e.what()) << "\n";
        return 2;
    } catch (...) {
        std::cerr << "pellucid-cli: an unknown error stopped the command\n";
        return 2;
    }
    // What was written to stdout must have arrived (a full disk, a closed pipe).
    std::cout.flush();
    if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
        std::cerr << "pellucid-cli: stdout: write error (disk full, or the reading end closed)\n";
        return 2;
    }
    // Done: every command has closed its files and its model by now. Leaving without running the libraries'
    // static destructors saves LibTorch's deregistration of every operator kernel — 0.1–0.2 s of a 1 s
    // `info` on 2 cores (README, Performance).
    std::cerr.flush();
    std::_Exit(status);
}
