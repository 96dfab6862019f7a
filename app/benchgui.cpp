// The GUI part of pellucid-bench: streams activation requests into the real main window (cycling layers
// and inputs as fast as results come back) while a 2 ms timer on the GUI thread measures how late it fires.
#include "app/mainwindow.h"
#include "engine/json.h"
#include "app/dataset.h"
#include "app/imageinput.h"
#include "widgets/attentionpanel.h"
#include "widgets/datasetpanel.h"
#include "widgets/inputpanel.h"

#include <QListView>
#include <QScrollBar>
#include <qcustomplot.h>
#include <random>

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

/// The projector and thumbnail list over a whole dataset (e.g. Fashion-MNIST's 60,000 training images):
/// time to show the scatter, to replot it, to find the point under the cursor (hover) and to lasso-select,
/// and the slowest repaint while the thumbnail list scrolls through the whole set.
pellucid::Json runProjectorBench(const std::string &path)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    qInstallMessageHandler([](QtMsgType type, const QMessageLogContext &, const QString &msg) {
        if (type != QtDebugMsg && !msg.contains("propagateSizeHints")) fprintf(stderr, "%s\n", qPrintable(msg));
    });
    static int argc = 1;
    static char name[] = "pellucid-bench";
    static char *argv[] = {name, nullptr};
    QApplication app(argc, argv);
    QElapsedTimer t;
    t.start();
    auto data = std::make_shared<pellucid::Dataset>(pellucid::Dataset::open(path));
    const double openMs = t.nsecsElapsed() / 1e6;
    const size_t n = data->size();
    pellucid::DatasetPanel panel;
    panel.resize(1200, 800);
    panel.show();
    QStringList classes;
    for (int c = 0; c < 10; ++c) classes << QString::number(c);
    panel.setDataset(QString::fromStdString(path), n, [data](size_t i) {
        const pellucid::TensorValue x = data->batch(i, i + 1, pellucid::InputSpec(), {1, 1, 28, 28});
        QImage img(28, 28, QImage::Format_Grayscale8);
        for (int y = 0; y < 28; ++y)
            for (int xx = 0; xx < 28; ++xx) img.scanLine(y)[xx] = uchar(std::clamp(x.at(y * 28 + xx) * 255.0f, 0.0f, 255.0f));
        return img;
    }, data->labels(), classes);
    // Clustered points: one blob per class, as a projection of a trained layer looks.
    std::mt19937 rng(1);
    std::normal_distribution<float> g;
    std::vector<float> pts;
    for (size_t i = 0; i < n; ++i) {
        const int c = data->label(i);
        pts.push_back(8 * std::cos(c * 0.63f) + g(rng));
        pts.push_back(8 * std::sin(c * 0.63f) + g(rng));
    }
    const pellucid::TensorValue points({int64_t(n), 2}, std::move(pts));
    t.restart();
    panel.setProjection(points, "bench");
    app.processEvents();
    const double showMs = t.nsecsElapsed() / 1e6;
    QCustomPlot *plot = panel.projectorPlot();
    t.restart();
    for (int r = 0; r < 10; ++r) plot->replot(QCustomPlot::rpImmediateRefresh);
    const double replotMs = t.nsecsElapsed() / 1e6 / 10;
    const QRect area = plot->axisRect()->rect();
    std::uniform_int_distribution<int> px(area.left(), area.right()), py(area.top(), area.bottom());
    t.restart();
    for (int r = 0; r < 200; ++r) panel.pointAt(QPointF(px(rng), py(rng)));
    const double hoverMs = t.nsecsElapsed() / 1e6 / 200;
    t.restart();
    QPolygonF lasso;
    for (int k = 0; k < 64; ++k) lasso << QPointF(6 * std::cos(k * 0.0982), 6 * std::sin(k * 0.0982));
    panel.selectPolygon(lasso);
    const double lassoMs = t.nsecsElapsed() / 1e6;
    const size_t selected = panel.selection().size();
    // Scroll the thumbnail list from top to bottom one page at a time, repainting each page.
    auto *list = panel.findChild<QListView *>("datasetThumbnails");
    app.processEvents();
    double worst = 0;
    int pages = 0;
    if (list) {
        // Jump through the whole list, 60 items (about a page) at a time, repainting each time.
        const int rows = list->model()->rowCount();
        for (int r = 0; r < rows; r += 60) {
            QElapsedTimer f;
            f.start();
            list->scrollTo(list->model()->index(r, 0), QAbstractItemView::PositionAtTop);
            app.processEvents();
            list->viewport()->repaint();
            worst = std::max(worst, f.nsecsElapsed() / 1e6);
            ++pages;
        }
    }
    pellucid::Json j = pellucid::Json::object();
    j["items"] = int64_t(n);
    j["open_ms"] = openMs;
    j["show_scatter_ms"] = showMs;
    j["replot_ms"] = replotMs;
    j["hover_lookup_ms"] = hoverMs;
    j["lasso_select_ms"] = lassoMs;
    j["lasso_selected"] = int64_t(selected);
    j["thumbnail_pages_scrolled"] = pages;
    j["slowest_page_repaint_ms"] = worst;
    return j;
}

/// The Attention dock with a synthetic `tokens`-token input (12 layers × 12 heads, like BERT-base): time to
/// show it (all matrices rendered for the model view), to repaint the head view, to switch layer/head (head
/// view + matrix view), and to repaint while hovering a token.
pellucid::Json runAttentionViewBench(int tokens)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    static int argc = 1;
    static char name[] = "pellucid-bench";
    static char *argv[] = {name, nullptr};
    QApplication app(argc, argv);
    pellucid::AttentionPanel panel;
    panel.resize(1200, 800);
    panel.show();
    pellucid::AttentionData d;
    std::mt19937 rng(3);
    std::exponential_distribution<float> e(1.0f);
    const int layers = 12, heads = 12, T = tokens;
    for (int l = 0; l < layers; ++l) {
        std::vector<float> v(size_t(heads) * T * T);
        for (size_t r = 0; r < size_t(heads) * T; ++r) {
            float sum = 0;
            for (int k = 0; k < T; ++k) sum += v[r * T + size_t(k)] = std::pow(e(rng), 4.0f);
            for (int k = 0; k < T; ++k) v[r * T + size_t(k)] /= sum;
        }
        d.layers.push_back(pellucid::TensorValue({1, heads, T, T}, std::move(v)));
    }
    for (int i = 0; i < T; ++i) d.queryTokens << QString("tok%1").arg(i);
    d.keyTokens = d.queryTokens;
    d.title = "bench";
    QElapsedTimer t;
    t.start();
    panel.setData(d);
    app.processEvents();
    const double showMs = t.nsecsElapsed() / 1e6;
    panel.tabs()->setCurrentIndex(1);
    app.processEvents();
    t.restart();
    for (int r = 0; r < 10; ++r) panel.headView()->repaint();
    const double headMs = t.nsecsElapsed() / 1e6 / 10;
    t.restart();
    for (int r = 0; r < 10; ++r) {
        panel.selectLayerHead(r % layers, r % heads);
        app.processEvents();
    }
    const double switchMs = t.nsecsElapsed() / 1e6 / 10;
    t.restart();
    for (int r = 0; r < 20; ++r) {
        panel.headView()->setHover(r * 7 % T, -1);
        panel.headView()->repaint();
    }
    const double hoverMs = t.nsecsElapsed() / 1e6 / 20;
    panel.tabs()->setCurrentIndex(2);
    app.processEvents();
    t.restart();
    for (int r = 0; r < 10; ++r) panel.matrixPlot()->replot(QCustomPlot::rpImmediateRefresh);
    const double matrixMs = t.nsecsElapsed() / 1e6 / 10;
    pellucid::Json j = pellucid::Json::object();
    j["tokens"] = int64_t(T);
    j["layers"] = int64_t(layers);
    j["heads"] = int64_t(heads);
    j["show_ms"] = showMs;
    j["head_view_repaint_ms"] = headMs;
    j["switch_layer_head_ms"] = switchMs;
    j["hover_repaint_ms"] = hoverMs;
    j["matrix_replot_ms"] = matrixMs;
    return j;
}
