// pellucid-cli figure: the session's composed figure, without a display
#include "app/cli/cli.h"

#include "app/figures/composer.h"
#include "app/figures/session.h"
#include "engine/core/errors.h"

#include <QFileInfo>
#include <QGuiApplication>
#include <iostream>

namespace pellucid::cli {

namespace {

int cmdFigure(const Args &a)
{
    const std::string out = a.need("out");
    Session session;
    try {
        session = loadSession(QString::fromStdString(a.need("session")));
    } catch (const SessionError &e) {
        throw Error(ErrorCode::BadInput, e.what());
    }
    for (const QString &w : session.warnings) std::cerr << "pellucid-cli: warning: " << w.toStdString() << "\n";
    const bool traversal = session.composer.layout == ComposerSpec::Layout::Traversal;
    if (!traversal && (session.composer.rows.isEmpty() || session.composer.columns.empty()))
        throw Error(ErrorCode::BadInput, "The session has no composed figure (its composer has no rows or no columns)");
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    int argc = a.argc;                   // lives as long as the application
    QGuiApplication app(argc, a.argv);   // fonts and painting; no window is shown
    Args withModel = a;
    withModel.values["model"] = session.modelPath.toStdString();
    auto model = traversal ? loadGenerator(withModel) : loadModel(withModel);
    const ComposedFigure fig(computeComposer(*model, session.composer), session.composer);
    try {
        const QString path = QString::fromStdString(out);
        const QSizeF mm = exportFigure(fig, path, session.figure);
        Json j = Json::object();
        j["out"] = out;
        j["panels"] = fig.panelCount();
        j["width_mm"] = mm.width();
        j["height_mm"] = mm.height();
        if (a.flag("raw")) {
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

}   // namespace

Command figureCommand()
{
    return {"figure",
            "--session S.json --out FIG.pdf|FIG.svg|FIG.png [--raw]",
            "the session's composed figure, without a display",
            "--raw writes the numbers beside it, bit for bit those the GUI draws",
            {{{"session", "S.json", "a saved session"},
              {"out", "FIG.pdf|FIG.svg|FIG.png", "the figure"},
              {"raw", "", "the panels' numbers beside the figure (.npy, .csv)"},
              {"device", "auto|cpu|cuda", "where the model runs"},
              {"threads", "N", "CPU threads for torch", ints(0, 256)}}},
            cmdFigure};
}

}   // namespace pellucid::cli
