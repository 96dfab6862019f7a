// The GUI part of pellucid-bench: streams activation requests into the real main window (cycling layers
// and inputs as fast as results come back) while a 2 ms timer on the GUI thread measures how late it fires.
#include "app/mainwindow.h"
#include "engine/json.h"
#include "widgets/inputpanel.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QTimer>

#include <algorithm>
#include <cstdio>

pellucid::Json runGuiStallBench(const std::string &model, double seconds)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    // The offscreen platform warns on every dock resize; keep the report readable.
    qInstallMessageHandler([](QtMsgType type, const QMessageLogContext &, const QString &msg) {
        if (type != QtDebugMsg && !msg.contains("propagateSizeHints")) fprintf(stderr, "%s\n", qPrintable(msg));
    });
    static int argc = 1;
    static char name[] = "pellucid-bench";
    static char *argv[] = {name, nullptr};
    QApplication app(argc, argv);
    pellucid::MainWindow w;
    w.setSampleFolder(QStringLiteral(PELLUCID_SOURCE_RESOURCES) + "/samples");
    w.resize(1280, 820);
    w.show();

    std::vector<QString> layers;
    int shown = 0, step = 0;
    QObject::connect(&w, &pellucid::MainWindow::modelReady, &w, [&] {
        for (const auto &l : w.modelSummary()->layers)
            if (l.calls > 0 && !l.outputShapes.empty()) layers.push_back(QString::fromStdString(l.path));
    });
    std::vector<double> gaps;
    QElapsedTimer clock;
    qint64 last = -1;
    QTimer tick;
    tick.setTimerType(Qt::PreciseTimer);
    tick.setInterval(2);
    QObject::connect(&tick, &QTimer::timeout, &w, [&] {
        const qint64 now = clock.nsecsElapsed();
        if (last >= 0) gaps.push_back(std::max(0.0, (now - last) / 1e6 - 2.0));
        last = now;
        if (clock.elapsed() > seconds * 1000) app.quit();
    });
    // Each shown result immediately triggers the next request (alternating layer and input changes).
    QObject::connect(&w, &pellucid::MainWindow::activationsShown, &w, [&] {
        ++shown;
        if (layers.empty()) return;
        if (!clock.isValid()) { clock.start(); tick.start(); }
        ++step;
        if (step % 2) w.selectLayer(layers[size_t(step / 2) % layers.size()]);
        else w.openImage(w.inputPanel()->samplePath((step / 2) % w.inputPanel()->sampleCount()));
    });
    w.openModel(QString::fromStdString(model));
    QTimer::singleShot(int(seconds * 1000) + 60000, &app, &QApplication::quit);
    app.exec();
    std::sort(gaps.begin(), gaps.end());
    pellucid::Json j = pellucid::Json::object();
    j["results_shown"] = shown;
    j["max_stall_ms"] = gaps.empty() ? 0.0 : gaps.back();
    j["p99_stall_ms"] = gaps.empty() ? 0.0 : gaps[gaps.size() * 99 / 100];
    j["timer_ticks"] = int64_t(gaps.size());
    return j;
}
