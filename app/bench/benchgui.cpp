// The GUI part of pellucid-bench: streams activation requests into the real main window (cycling layers
// and inputs as fast as results come back) while a 2 ms timer on the GUI thread measures how late it fires.
#include "engine/core/files.h"
#include "app/gui/mainwindow.h"
#include "engine/core/json.h"
#include "app/io/dataset.h"
#include "app/io/imageinput.h"
#include "app/gui/features/diffusionfeature.h"
#include "widgets/attention/attentionpanel.h"
#include "widgets/diffusion/diffusionpanel.h"
#include "widgets/attribution/attributionpanel.h"
#include "widgets/dataset/datasetpanel.h"
#include "widgets/input/inputpanel.h"

#include <QLabel>
#include <QListView>
#include <QScrollBar>
#include <qcustomplot.h>
#include <random>

#include <QApplication>
#include <QDockWidget>
#include <QTemporaryDir>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <QElapsedTimer>
#include <QTimer>

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdio>

namespace {

/// The benchmarks' QApplication: offscreen without a display, Qt's per-resize warnings silenced.
struct BenchApp {
    static bool prepare()
    {
        if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY")) qputenv("QT_QPA_PLATFORM", "offscreen");
        // The offscreen platform warns on every dock resize; keep the report readable.
        qInstallMessageHandler([](QtMsgType type, const QMessageLogContext &, const QString &msg) {
            if (type != QtDebugMsg && !msg.contains("propagateSizeHints") && !msg.contains("QPainter::begin"))
                fprintf(stderr, "%s\n", qPrintable(msg));
        });
        return true;
    }
    bool prepared = prepare();   // before the QApplication below is constructed
    int argc = 1;
    char name[16] = "pellucid-bench";
    char *argv[2] = {name, nullptr};
    QApplication app{argc, argv};
};

/// How late a 2 ms precise timer on the GUI thread fires: the GUI thread's stalls.
struct StallMeter {
    explicit StallMeter(QObject *owner)
    {
        tick.setTimerType(Qt::PreciseTimer);
        tick.setInterval(2);
        QObject::connect(&tick, &QTimer::timeout, owner, [this] {
            const qint64 now = clock.nsecsElapsed();
            if (last >= 0) gaps.push_back(std::max(0.0, (now - last) / 1e6 - 2.0));
            last = now;
            if (onTick) onTick(clock.elapsed());
        });
    }
    void start()
    {
        clock.start();
        tick.start();
    }
    bool running() const { return clock.isValid(); }
    void report(pellucid::Json &j)
    {
        std::sort(gaps.begin(), gaps.end());
        j["max_stall_ms"] = gaps.empty() ? 0.0 : gaps.back();
        j["p99_stall_ms"] = gaps.empty() ? 0.0 : gaps[gaps.size() * 99 / 100];
        j["timer_ticks"] = int64_t(gaps.size());
    }
    std::vector<double> gaps;
    QElapsedTimer clock;
    qint64 last = -1;
    QTimer tick;
    std::function<void(qint64 elapsedMs)> onTick;
};

}   // namespace

pellucid::Json runGuiStallBench(const std::string &model, double seconds)
{
    BenchApp b;
    pellucid::MainWindow w;
    w.setSampleFolder(QString::fromStdString(pellucid::resourcesPath()) + "/samples");
    w.resize(1280, 820);
    w.show();

    std::vector<QString> layers;
    int shown = 0, step = 0;
    QObject::connect(&w, &pellucid::MainWindow::modelReady, &w, [&] {
        for (const auto &l : w.modelSummary()->layers)
            if (l.calls > 0 && !l.outputShapes.empty()) layers.push_back(QString::fromStdString(l.path));
    });
    StallMeter meter(&w);
    meter.onTick = [&](qint64 ms) {
        if (ms > seconds * 1000) b.app.quit();
    };
    // Each shown result immediately triggers the next request (alternating layer and input changes).
    QObject::connect(&w, &pellucid::MainWindow::activationsShown, &w, [&] {
        ++shown;
        if (layers.empty()) return;
        if (!meter.running()) meter.start();
        ++step;
        if (step % 2)
            w.selectLayer(layers[size_t(step / 2) % layers.size()]);
        else
            w.openImage(w.inputPanel()->samplePath((step / 2) % w.inputPanel()->sampleCount()));
    });
    w.openModel(QString::fromStdString(model));
    QTimer::singleShot(int(seconds * 1000) + 60000, &b.app, &QApplication::quit);
    b.app.exec();
    pellucid::Json j = pellucid::Json::object();
    j["results_shown"] = shown;
    meter.report(j);
    return j;
}

/// The Diffusion dock in the real main window: runs of `steps` DDIM steps one after another for `seconds`, every
/// step's x_t and x̂₀ streamed to the dock, while the stall meter runs; the steps shown and the GUI thread's stalls.
pellucid::Json runDiffusionStallBench(const std::string &model, const std::string &prompt, int steps, double seconds)
{
    BenchApp b;
    pellucid::MainWindow w;
    w.resize(1280, 820);
    w.show();
    pellucid::DiffusionFeature *d = w.diffusion();
    int runs = 0;
    std::string failed;
    StallMeter meter(&w);
    meter.onTick = [&](qint64 ms) {
        if (ms > seconds * 1000) b.app.quit();
    };
    auto go = [&] {
        pellucid::DiffusionControls c = d->panel()->controls();
        c.prompt = QString::fromStdString(prompt);
        c.steps = steps;
        c.seed = runs;
        d->panel()->setControls(c);
        if (d->generate() == 0) failed = "the dock refused the prompt: " + d->panel()->findChild<QLabel *>()->text().toStdString();
        if (!failed.empty()) b.app.quit();
    };
    QObject::connect(d, &pellucid::DiffusionFeature::availabilityChanged, &w, [&](bool ok) {
        if (!ok) {
            failed = model + " is not a denoiser the Diffusion dock takes";
            b.app.quit();
            return;
        }
        for (QDockWidget *dock : d->docks()) dock->raise();
        meter.start();
        go();
    });
    QObject::connect(d, &pellucid::DiffusionFeature::runFinished, &w, [&] {
        ++runs;
        go();
    });
    w.openModel(QString::fromStdString(model));
    QTimer::singleShot(int(seconds * 1000) + 60000, &b.app, &QApplication::quit);
    b.app.exec();
    if (!failed.empty()) throw std::runtime_error(failed);
    if (runs == 0)
        throw std::runtime_error("no sampling run finished in " + std::to_string(int(seconds)) + " s (" + std::to_string(d->streamedSteps())
                                 + " steps streamed; " + d->panel()->findChild<QLabel *>()->text().toStdString() + ")");
    pellucid::Json j = pellucid::Json::object();
    j["runs"] = runs;
    j["steps_per_run"] = steps;
    meter.report(j);
    return j;
}

/// Live mode in the real main window: a looping 640×480 video (a camera's size: every frame is scaled to
/// the model's input on the GUI thread) streams through the Input, Activations, Prediction and Attribution
/// (Grad-CAM) docks; frames shown per second, capture-to-screen latency and the GUI thread's stalls.
pellucid::Json runLiveStallBench(const std::string &model, double seconds)
{
    QTemporaryDir dir;
    const QString video = dir.filePath("live.avi");
    {
        cv::VideoWriter out(video.toStdString(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 30, cv::Size(640, 480), true);
        if (!out.isOpened()) throw std::runtime_error("cannot write a test video with OpenCV");
        for (int k = 0; k < 90; ++k) {   // a bright disc circling over a gradient
            cv::Mat f(480, 640, CV_8UC3);
            for (int y = 0; y < 480; ++y) f.row(y).setTo(cv::Scalar(y / 3, 60, 255 - y / 2));
            cv::circle(f, cv::Point(int(320 + 200 * std::cos(k * 0.07)), int(240 + 150 * std::sin(k * 0.07))), 70, cv::Scalar(255, 255, 255),
                       cv::FILLED);
            out.write(f);
        }
    }
    BenchApp b;
    pellucid::MainWindow w;
    w.resize(1280, 820);
    w.show();
    StallMeter meter(&w);
    std::vector<double> latency;
    bool started = false;
    meter.onTick = [&](qint64 ms) {
        if (ms > seconds * 1000) {
            w.stopLive();
            b.app.quit();
        }
    };
    QObject::connect(&w, &pellucid::MainWindow::modelReady, &w, [&] {
        if (started) return;
        started = true;
        // Activations beside the attribution (not tabbed behind it): both are drawn for every frame.
        auto *act = w.findChild<QDockWidget *>("ActivationsDock");
        w.splitDockWidget(act, w.attributionDock(), Qt::Horizontal);
        act->raise();
        w.attributionDock()->raise();
        w.attributionPanel()->setMethod(pellucid::AttributionMethod::GradCam);
        if (!w.startLive(video, true)) b.app.quit();
        meter.start();
    });
    int hiddenPanels = 0;
    QObject::connect(&w, &pellucid::MainWindow::liveFrameShown, &w, [&] {
        latency.push_back(w.liveStats().latencyMs);
        const auto *act = w.findChild<QDockWidget *>("ActivationsDock");
        hiddenPanels += !act || !act->isVisible() || !w.attributionDock()->isVisible();
    });
    w.openModel(QString::fromStdString(model));
    QTimer::singleShot(int(seconds * 1000) + 60000, &b.app, &QApplication::quit);
    b.app.exec();
    if (!w.lastError().isEmpty() && latency.empty()) throw std::runtime_error(w.lastError().toStdString());
    const auto s = w.liveStats();
    std::sort(latency.begin(), latency.end());
    if (hiddenPanels > 0) throw std::runtime_error("the Activations and Attribution docks were not both on screen for every frame");
    pellucid::Json j = pellucid::Json::object();
    j["frames_shown"] = int64_t(s.shown);
    j["frames_dropped"] = int64_t(s.dropped);
    j["frames_per_second"] = s.fps;
    j["median_latency_ms"] = latency.empty() ? 0.0 : latency[latency.size() / 2];
    meter.report(j);
    return j;
}

/// The projector and thumbnail list over a whole dataset (e.g. Fashion-MNIST's 60,000 training images):
/// time to show the scatter, to replot it, to find the point under the cursor (hover) and to lasso-select,
/// and the slowest repaint while the thumbnail list scrolls through the whole set.
pellucid::Json runProjectorBench(const std::string &path)
{
    BenchApp b;
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
    panel.setDataset(
        QString::fromStdString(path), n,
        [data](size_t i) {
            const pellucid::TensorValue x = data->batch(i, i + 1, pellucid::InputSpec(), {1, 1, 28, 28});
            QImage img(28, 28, QImage::Format_Grayscale8);
            for (int y = 0; y < 28; ++y)
                for (int xx = 0; xx < 28; ++xx) img.scanLine(y)[xx] = uchar(std::clamp(x.at(y * 28 + xx) * 255.0f, 0.0f, 255.0f));
            return img;
        },
        data->labels(), classes);
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
    b.app.processEvents();
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
    b.app.processEvents();
    double worst = 0;
    int pages = 0;
    if (list) {
        // Jump through the whole list, 60 items (about a page) at a time, repainting each time.
        const int rows = list->model()->rowCount();
        for (int r = 0; r < rows; r += 60) {
            QElapsedTimer f;
            f.start();
            list->scrollTo(list->model()->index(r, 0), QAbstractItemView::PositionAtTop);
            b.app.processEvents();
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
    BenchApp b;
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
    b.app.processEvents();
    const double showMs = t.nsecsElapsed() / 1e6;
    panel.tabs()->setCurrentIndex(1);
    b.app.processEvents();
    t.restart();
    for (int r = 0; r < 10; ++r) panel.headView()->repaint();
    const double headMs = t.nsecsElapsed() / 1e6 / 10;
    t.restart();
    for (int r = 0; r < 10; ++r) {
        panel.selectLayerHead(r % layers, r % heads);
        b.app.processEvents();
    }
    const double switchMs = t.nsecsElapsed() / 1e6 / 10;
    t.restart();
    for (int r = 0; r < 20; ++r) {
        panel.headView()->setHover(r * 7 % T, -1);
        panel.headView()->repaint();
    }
    const double hoverMs = t.nsecsElapsed() / 1e6 / 20;
    panel.tabs()->setCurrentIndex(2);
    b.app.processEvents();
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
