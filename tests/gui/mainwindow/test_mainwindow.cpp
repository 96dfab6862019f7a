// The main window end to end (offscreen): open the demo model, select layers, the activation grid shows
// the layer's channel count, predictions appear, bad input is shown without losing state, layout resets.
// Writes a screenshot of the main window to the build folder (tests/gui/mainwindow.png).
#include "app/gui/enginebridge.h"
#include "app/gui/mainwindow.h"
#include "app/io/imageinput.h"
#include "app/gui/composerdialog.h"
#include "app/gui/features/figuresfeature.h"
#include "widgets/activations/activationgrid.h"
#ifdef PELLUCID_HAVE_ONNX
#include "engine/onnx/onnxbackend.h"
#endif
#include "widgets/activations/activationpanel.h"
#include "widgets/attribution/attributionpanel.h"
#include "widgets/attribution/attributionview.h"
#include "widgets/activations/histogramview.h"
#include "widgets/input/inputpanel.h"
#include "widgets/model/layertree.h"
#include "widgets/prediction/predictionchart.h"
#include "widgets/recommender/recommenderpanel.h"
#include "widgets/dataset/datasetpanel.h"
#include "widgets/latent/latentpanel.h"
#include "widgets/common/dissectionview.h"
#include "widgets/activations/classifierunitspanel.h"
#include "app/gui/features/activationsfeature.h"
#include "app/workflows/workflows.h"
#include "app/io/dataset.h"
#include "widgets/latent/unitspanel.h"
#include "widgets/common/maskeditor.h"
#include "engine/generative/dissection.h"
#include "widgets/attention/attentionpanel.h"
#include "widgets/input/drawingcanvas.h"
#include "widgets/input/cameradialog.h"
#include "widgets/common/linescale.h"
#include "app/io/livesource.h"
#include "engine/runtime/memory.h"
#include <gif_lib.h>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <QLineEdit>
#include <QLabel>
#include <qcustomplot.h>
#include <QTableWidget>
#include <QTextBrowser>
#include <QListWidget>
#include <QTabWidget>
#include <QComboBox>
#include <QSet>
#include <QSlider>
#include "engine/generative/generative.h"
#include "widgets/common/figure.h"
#include "engine/core/npy.h"

#include <QDockWidget>
#include <QPushButton>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QDir>
#include "tests/common/rawnpy.h"

#include <QTemporaryDir>
#include <QStatusBar>

#include <sys/stat.h>
#include <QtTest>
#include <QProcess>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonArray>
#include <QXmlStreamReader>
#include <QRegularExpression>

using namespace pellucid;

Q_DECLARE_METATYPE(std::shared_ptr<const pellucid::ComposedFigure>)

static double fixturesMaxDiff(const TensorValue &a, const TensorValue &b)
{
    if (a.shape() != b.shape()) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, double(std::fabs(a.at(i) - b.at(i))));
    return m;
}

class TestMainWindow : public QObject {
    Q_OBJECT
private:
    static QString res(const QString &p) { return QStringLiteral(PELLUCID_RESOURCES_DIR) + "/" + p; }
    static QString fix(const QString &p) { return QStringLiteral(PELLUCID_FIXTURES_DIR) + "/" + p; }

    std::unique_ptr<MainWindow> openDemo()
    {
        auto w = std::make_unique<MainWindow>();
        w->setSampleFolder(res("samples"));
        w->show();
        QSignalSpy shown(w.get(), &MainWindow::activationsShown);
        w->openModel(res("models/fashion_mnist_cnn.pt"));
        [&] { QVERIFY(shown.wait(30000)); }();
        return w;
    }

    /// Waits until `spy` records a signal whose first argument is `what` (then forgets what it recorded).
    static bool waitForArgument(QSignalSpy &spy, const QString &what, int timeoutMs = 30000)
    {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < timeoutMs) {
            for (const auto &args : spy)
                if (args.at(0).toString() == what) {
                    spy.clear();
                    return true;
                }
            spy.wait(100);
        }
        return false;
    }

    /// A 28×28 MJPG video (OpenCV's writer: the camera's stand-in) of `frames` black frames with a white
    /// rectangle at `bar(k)` in frame k; false when it cannot be written.
    static bool writeBarVideo(const QString &path, int frames, double fps, const std::function<cv::Rect(int)> &bar)
    {
        cv::VideoWriter out(path.toStdString(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps, cv::Size(28, 28), true);
        if (!out.isOpened()) return false;
        for (int k = 0; k < frames; ++k) {
            cv::Mat f(28, 28, CV_8UC3, cv::Scalar(0, 0, 0));
            cv::rectangle(f, bar(k), cv::Scalar(255, 255, 255), cv::FILLED);
            out.write(f);
        }
        return true;
    }

    /// Every one of `names` seen (in any order: they come from independent jobs), then the spy cleared.
    static bool waitForArguments(QSignalSpy &spy, const QStringList &names, int timeoutMs = 60000)
    {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < timeoutMs) {
            QStringList seen;
            for (const auto &args : spy) seen << args.at(0).toString();
            if (std::all_of(names.begin(), names.end(), [&](const QString &n) { return seen.contains(n); })) {
                spy.clear();
                return true;
            }
            spy.wait(100);
        }
        return false;
    }

    static bool waitShown(MainWindow &w, std::function<void()> action)
    {
        QSignalSpy spy(&w, &MainWindow::activationsShown);
        action();
        return spy.wait(30000);
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName("PellucidTest");
        QCoreApplication::setApplicationName("PellucidTest");
        QSettings().clear();
    }

    void demoModelLayersAndGrid()
    {
        auto w = openDemo();
        QVERIFY(w->modelSummary());
        QCOMPARE(w->inputPanel()->sampleCount(), 10);
        // The suggested first layer is shown.
        QCOMPARE(w->currentLayer(), QString("features.2"));
        QCOMPARE(w->activationPanel()->grid()->channelCount(), 16);
        QVERIFY(waitShown(*w, [&] { w->selectLayer("features.9"); }));
        QCOMPARE(w->activationPanel()->grid()->channelCount(), 64);
        QCOMPARE(w->layerTree()->selectedLayer(), QString("features.9"));
        QVERIFY(w->activationPanel()->histogram()->barCount() > 0);
        QVERIFY(waitShown(*w, [&] { w->openImage(res("samples/9-ankle-boot.png")); }));
        QCOMPARE(w->predictionChart()->labels().value(0), QString("Ankle boot"));
        QCOMPARE(w->predictionChart()->labels().size(), 5);

        // Sorting by max puts the strongest channel first.
        w->activationPanel()->grid()->setSortKey(ActivationGrid::SortKey::Max);
        QCOMPARE(int(w->activationPanel()->grid()->order().size()), 64);

        // Selecting a layer from the tree drives the panels.
        QVERIFY(waitShown(*w, [&] { w->layerTree()->selectLayer("features.5"); }));
        QCOMPARE(w->activationPanel()->grid()->channelCount(), 32);

        w->resize(1280, 820);
        QTest::qWait(200);
        const QString shot = QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/mainwindow.png";
        QVERIFY(w->grab().save(shot));
        QImage img(shot);
        QVERIFY(img.width() >= 1000);
    }

    void layerFilter()
    {
        auto w = openDemo();
        const int all = w->layerTree()->visibleLayerCount();
        w->layerTree()->setFilter("Conv2d");
        const int convs = w->layerTree()->visibleLayerCount();
        QVERIFY(convs > 0 && convs < all);
        w->layerTree()->setFilter("");
        QCOMPARE(w->layerTree()->visibleLayerCount(), all);
    }

    void badInputKeepsStateAndStaysUsable()
    {
        auto w = openDemo();
        const auto before = w->modelSummary();

        QSignalSpy errors(w.get(), &MainWindow::errorShown);
        w->openModel("/nonexistent/broken.pt");
        QVERIFY(errors.wait(30000));
        QVERIFY(w->lastError().contains("/nonexistent/broken.pt"));
        QCOMPARE(w->modelSummary(), before);   // the loaded model is kept

        QTemporaryDir dir;
        // A FIFO as the model: refused at once with a message (it would block the loader), the status bar's
        // model field back from "loading…".
        const QString fifo = dir.filePath("pipe.pt");
        QVERIFY(mkfifo(fifo.toLocal8Bit().constData(), 0600) == 0);
        w->openModel(fifo);
        QVERIFY(errors.wait(30000));
        QVERIFY2(w->lastError().contains("not a regular file"), qPrintable(w->lastError()));
        QCOMPARE(w->modelSummary(), before);
        for (QLabel *l : w->statusBar()->findChildren<QLabel *>()) QVERIFY2(!l->text().startsWith("loading"), qPrintable(l->text()));
        QVERIFY2(w->statusBar()->currentMessage().isEmpty(), qPrintable(w->statusBar()->currentMessage()));   // the error is not hidden
        QCOMPARE(w->statusBar()->findChild<QLabel *>()->isVisible(), true);
        w->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/failed_model_load.png");
        // An .npy whose shape overflows: one clear error, nothing shown as a tensor.
        testkit::writeRawNpy(dir.filePath("overflow.npy").toStdString(),
                             "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", std::string(16, '\0'));
        w->openImage(dir.filePath("overflow.npy"));
        QVERIFY2(w->lastError().contains("more elements than can be counted"), qPrintable(w->lastError()));

        const QString notImage = dir.filePath("notes.png");
        QFile f(notImage);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("not an image");
        f.close();
        w->openImage(notImage);
        QVERIFY(w->lastError().contains("Cannot decode image"));

        w->selectLayer("features.55");
        QVERIFY(errors.wait(30000));
        QVERIFY(w->lastError().contains("Did you mean"));

        // Still usable.
        QVERIFY(waitShown(*w, [&] { w->selectLayer("features.9"); }));
        QCOMPARE(w->activationPanel()->grid()->channelCount(), 64);
    }

    void deviceChoiceReloadsModel()
    {
        auto w = openDemo();
        QSignalSpy ready(w.get(), &MainWindow::modelReady);
        w->setDevice(DevicePreference::Cpu);
        QVERIFY(ready.wait(30000));
        QCOMPARE(QString::fromStdString(w->modelSummary()->device), QString("cpu"));
    }

    void attributionPanelRunsAndRefines()
    {
        auto w = openDemo();
        w->resize(1400, 900);
        AttributionPanel *panel = w->attributionPanel();
        // Waits for the final (not partial) result of `kind`.
        auto waitFinal = [&](const QString &kind, std::function<void()> action) {
            QSignalSpy spy(w.get(), &MainWindow::attributionShown);
            action();
            QElapsedTimer t;
            t.start();
            while (t.elapsed() < 30000) {
                for (const auto &args : spy)
                    if (args.at(0).toString() == kind && !args.at(1).toBool()) return true;
                spy.wait(200);
            }
            return false;
        };
        QVERIFY(waitFinal("attribution", [&] { w->attributionDock()->raise(); }));   // becoming visible runs it
        QVERIFY(!panel->mainView()->overlay().isNull());

        // Grad-CAM at the last spatial layer: a 7×7 map over the 28×28 input.
        QVERIFY(waitFinal("attribution", [&] { panel->setMethod(AttributionMethod::GradCam); }));
        QCOMPARE(panel->mainView()->overlay().size(), QSize(7, 7));
        QVERIFY(panel->mainView()->title().contains("features.10"));

        // Integrated gradients reports its convergence delta.
        QVERIFY(waitFinal("attribution", [&] { panel->setMethod(AttributionMethod::IntegratedGradients); }));
        QVERIFY(panel->statusText().contains("convergence delta"));
        QCOMPARE(panel->mainView()->overlay().size(), QSize(28, 28));

        // A new target re-runs the method (newest wins).
        QVERIFY(waitFinal("attribution", [&] { panel->setTargetClass(7); }));
        QVERIFY(panel->mainView()->title().contains("class 7"));
        w->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/attribution.png");

        // Compare view: one result per method, then a shared scale.
        QSignalSpy cmp(w.get(), &MainWindow::attributionShown);
        panel->setCompareMethods(
            {AttributionMethod::Saliency, AttributionMethod::GuidedBackprop, AttributionMethod::GradCam, AttributionMethod::Occlusion});
        QElapsedTimer t;
        t.start();
        QSet<QString> done;
        while (done.size() < 4 && t.elapsed() < 30000) {
            cmp.wait(200);
            for (const auto &args : cmp)
                if (!args.at(1).toBool()) done.insert(args.at(0).toString());
        }
        QCOMPARE(done.size(), 4);
        QCOMPARE(int(panel->compareViews().size()), 4);
        panel->setSharedScale(true);
        const double b0 = panel->compareViews()[0]->bound();
        for (auto *v : panel->compareViews()) QCOMPARE(v->bound(), b0);
        w->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/attribution_compare.png");
    }

    void attributionErrorsShowInPanel()
    {
        auto w = openDemo();
        w->attributionDock()->raise();
        QSignalSpy errors(w.get(), &MainWindow::errorShown);
        w->attributionPanel()->setMethod(AttributionMethod::IntegratedGradients);
        w->attributionPanel()->setTargetClass(3);
        QTest::qWait(50);
        // Loading a model whose forward raises makes attribution fail with the model's message.
        w->openModel(fix("thrower_scripted.pt"));
        QVERIFY(errors.wait(30000));
        QVERIFY(!w->lastError().isEmpty());
    }

    void figureExportSvgPdfPngAndRawData()
    {
        auto w = openDemo();
        QVERIFY(waitShown(*w, [&] { w->openImage(res("samples/9-ankle-boot.png")); }));
        QSignalSpy attr(w.get(), &MainWindow::attributionShown);
        w->attributionPanel()->setMethod(AttributionMethod::GradCam);
        w->attributionDock()->raise();
        QVERIFY(attr.wait(30000));
        QTest::qWait(200);
        QTemporaryDir dir;
        FigureSettings fs;
        fs.widthMm = FigureSettings::kSingleColumnMm;
        fs.dpi = 300;
        fs.title = "Figure title";
        fs.caption = "A caption under the figure.";
        for (const QString panel : {"attribution", "activations", "channel", "histogram", "prediction"}) {
            // SVG: valid XML with vector text for the labels; heat maps embedded as images.
            const QString svg = dir.filePath(panel + ".svg");
            const QStringList files = w->exportPanel(panel, svg, fs, true);
            QFile f(svg);
            QVERIFY(f.open(QIODevice::ReadOnly));
            QXmlStreamReader xml(&f);
            int texts = 0, images = 0;
            QString allText;
            while (!xml.atEnd()) {
                xml.readNext();
                if (xml.isStartElement() && xml.name() == QLatin1String("text")) {
                    ++texts;
                    allText += xml.readElementText(QXmlStreamReader::IncludeChildElements) + "|";
                } else if (xml.isStartElement() && xml.name() == QLatin1String("image")) {
                    ++images;
                }
            }
            QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
            QVERIFY2(texts >= 3, qPrintable(panel));
            QVERIFY(allText.contains("Figure title"));
            if (panel == "prediction" || panel == "histogram") {
                QVERIFY(allText.contains(panel == "prediction" ? "Ankle boot" : "value"));
                QCOMPARE(images, 0);   // all vector
            } else {
                QVERIFY(images >= 1);
            }
            // Raw data beside the picture.
            QCOMPARE(files.size(), 2);
            if (panel == "prediction") {
                QFile csv(files[1]);
                QVERIFY(csv.open(QIODevice::ReadOnly));
                QCOMPARE(QString(csv.readAll()).count('\n'), 6);   // header + top-5
            } else if (panel == "histogram") {
                QFile csv(files[1]);
                QVERIFY(csv.open(QIODevice::ReadOnly));
                QCOMPARE(QString(csv.readAll()).count('\n'), 65);   // header + 64 bins
            } else {
                QVERIFY(readNpy(files[1].toStdString()).numel() > 0);
            }
            // PDF: a PDF header and the requested page width (89 mm = 252.3 pt).
            const QString pdf = dir.filePath(panel + ".pdf");
            const QSizeF mm = exportFigure(*w->figureSource(panel), pdf, fs);
            QFile pf(pdf);
            QVERIFY(pf.open(QIODevice::ReadOnly));
            const QByteArray bytes = pf.readAll();
            QVERIFY(bytes.startsWith("%PDF-"));
            const QRegularExpression box(R"(/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\])");
            const auto m = box.match(QString::fromLatin1(bytes));
            QVERIFY(m.hasMatch());
            QVERIFY(std::fabs(m.captured(1).toDouble() - 89.0 / 25.4 * 72) < 1.0);
            QVERIFY(std::fabs(m.captured(2).toDouble() - mm.height() / 25.4 * 72) < 1.0);
            // PNG: pixel size = size × DPI.
            const QString png = dir.filePath(panel + ".png");
            exportFigure(*w->figureSource(panel), png, fs);
            const QImage img(png);
            QCOMPARE(img.width(), int(std::lround(89.0 / 25.4 * 300)));
            QCOMPARE(img.height(), int(std::lround(mm.height() / 25.4 * 300)));
        }
        // The compare grid exports as one figure with one map per method.
        w->attributionPanel()->setCompareMethods({AttributionMethod::Saliency, AttributionMethod::Occlusion});
        QTest::qWait(500);
        QStringList cmp;
        for (int i = 0; i < 100 && cmp.size() < 3; ++i) {
            QTest::qWait(100);
            cmp = w->exportPanel("attribution", dir.filePath("compare.svg"), fs, true);
            if (cmp.size() < 3)
                for (const QString &f : cmp.mid(1)) QFile::remove(f);
        }
        QCOMPARE(cmp.size(), 3);   // the figure and two maps
        // Errors: unknown format, unwritable folder; nothing half-written is left behind.
        QVERIFY_THROWS_EXCEPTION(FigureError, exportFigure(*w->figureSource("prediction"), dir.filePath("x.bmp"), fs));
        QVERIFY_THROWS_EXCEPTION(FigureError, exportFigure(*w->figureSource("prediction"), "/nonexistent-dir/x.pdf", fs));
        for (const QString &name : QDir(dir.path()).entryList(QDir::Files | QDir::Hidden)) QVERIFY2(!name.contains("tmp-export"), qPrintable(name));
        // Keep the exported figures in the build folder to look at.
        for (const QString name :
             {"attribution.png", "prediction.png", "activations.png", "activations.pdf", "attribution.svg", "channel.png", "histogram.png"}) {
            const QString keep = QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/export_" + name;
            QFile::remove(keep);
            QFile::copy(dir.filePath(name), keep);
        }
    }

    void sessionRoundTripComposerAndHeadlessFigure()
    {
        QTemporaryDir dir;
        auto w = openDemo();
        QVERIFY(waitShown(*w, [&] { w->openImage(res("samples/9-ankle-boot.png")); }));
        QVERIFY(waitShown(*w, [&] { w->selectLayer("features.9"); }));
        w->attributionDock()->raise();
        AttributionParams ig;
        ig.method = AttributionMethod::IntegratedGradients;
        ig.steps = 16;
        ig.seed = 3;
        ig.target.kind = AttributionTarget::Kind::Class;
        ig.target.classIndex = 7;
        auto waitFinal = [](MainWindow &win, std::function<void()> action) {
            QSignalSpy spy(&win, &MainWindow::attributionShown);
            action();
            QElapsedTimer t;
            t.start();
            while (t.elapsed() < 30000) {
                for (const auto &args : spy)
                    if (args.at(0).toString() == "attribution" && !args.at(1).toBool()) return true;
                spy.wait(100);
            }
            return false;
        };
        QVERIFY(waitFinal(*w, [&] { w->attributionPanel()->setParams(ig); }));
        const TensorValue before = w->attributionPanel()->mainView()->map();
        QVERIFY(before.numel() == 784);

        // Composer: 2 rows × 3 columns, computed by the engine.
        ComposerSpec spec;
        spec.rows << res("samples/7-sneaker.png") << res("samples/9-ankle-boot.png");
        ComposerColumn input, sal, cam;
        sal.kind = cam.kind = ComposerColumn::Kind::Attribution;
        sal.params.method = AttributionMethod::Saliency;
        cam.params.method = AttributionMethod::GradCam;
        cam.params.layer = "features.9";
        spec.columns = {input, sal, cam};
        QSignalSpy composed(w.get(), &MainWindow::composed);
        w->compose(spec);
        QVERIFY(composed.wait(30000));
        auto fig = composed.takeFirst().at(0).value<std::shared_ptr<const ComposedFigure>>();
        QVERIFY(fig);
        QCOMPARE(fig->panelCount(), 6);
        const QStringList labels = fig->panelLabels();
        QVERIFY(labels[0].startsWith("(a) 7-sneaker.png / input"));
        QVERIFY(labels[1].startsWith("(b) 7-sneaker.png / saliency"));
        QVERIFY(labels[5].startsWith("(f) 9-ankle-boot.png / gradcam"));

        // The composer dialog: compose from its choices and show the preview.
        {
            ComposerDialog dlg(w.get(), {res("samples/7-sneaker.png"), res("samples/9-ankle-boot.png"), res("samples/5-sandal.png")}, "features.9");
            dlg.resize(1100, 650);
            dlg.show();
            QSignalSpy done(w.get(), &MainWindow::composed);
            for (auto *b : dlg.findChildren<QPushButton *>())
                if (b->text() == "Compose") b->click();
            QVERIFY(done.wait(30000));
            QTest::qWait(100);
            QCOMPARE(int(dlg.spec().rows.size()), 2);
            dlg.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/composer.png");
        }
        w->compose(spec);   // the layout saved with the session is the test's spec
        QVERIFY(composed.wait(30000));

        // Save, reopen in a fresh window: same choices, same numbers.
        const QString session = dir.filePath("s.json");
        w->saveSessionTo(session);
        MainWindow w2;
        w2.show();
        QSignalSpy opened(&w2, &MainWindow::sessionOpened);
        QVERIFY(waitFinal(w2, [&] { w2.openSession(session); }));
        QVERIFY(opened.count() == 1 || opened.wait(30000));
        QCOMPARE(w2.currentLayer(), QString("features.9"));
        const AttributionParams back = w2.attributionPanelParams();
        QCOMPARE(back.method, AttributionMethod::IntegratedGradients);
        QCOMPARE(back.steps, 16);
        QCOMPARE(int(back.seed), 3);
        QCOMPARE(back.target.classIndex, 7);
        QCOMPARE(fixturesMaxDiff(w2.attributionPanel()->mainView()->map(), before), 0.0);
        QCOMPARE(w2.composerSpec().rows.size(), 2);

        // The headless CLI draws the session's composed figure from the same numbers.
        QProcess cli;
        cli.start(QStringLiteral(PELLUCID_CLI), {"figure", "--session", session, "--out", dir.filePath("fig.svg"), "--raw"});
        QVERIFY(cli.waitForFinished(60000));
        QCOMPARE(cli.exitCode(), 0);
        const QJsonObject out = QJsonDocument::fromJson(cli.readAllStandardOutput()).object();
        QCOMPARE(out["panels"].toInt(), 6);
        for (int r = 0; r < 2; ++r)
            for (int c = 1; c < 3; ++c) {
                const TensorValue headless = readNpy(dir.filePath(QString("fig_r%1_c%2.npy").arg(r).arg(c)).toStdString());
                QCOMPARE(fixturesMaxDiff(headless, fig->data().maps[size_t(r * 3 + c)]), 0.0);
            }
        QFile svg(dir.filePath("fig.svg"));
        QVERIFY(svg.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(svg.readAll());
        int last = -1;
        for (const char *letter : {"(a)", "(b)", "(c)", "(d)", "(e)", "(f)"}) {
            const int at = text.indexOf(letter);
            QVERIFY2(at > last, letter);   // panels painted in order
            last = at;
        }
    }

    void examplesMenuOpensEveryExample()
    {
        auto w = std::make_unique<MainWindow>();
        w->resize(1400, 900);
        w->show();
        auto *menu = w->findChild<QMenu *>("examplesMenu");
        QVERIFY(menu);
        QList<QAction *> actions = menu->actions();
        QCOMPARE(actions.size(), 5);
        for (QAction *a : actions) {
            const QString path = a->data().toString();
            const QString name = QFileInfo(path).completeBaseName();
            const Session expected = loadSession(path);
            QCOMPARE(a->text(), expected.name);
            QSignalSpy opened(w.get(), &MainWindow::sessionOpened);
            a->trigger();
            QVERIFY2(opened.count() == 1 || opened.wait(60000), qPrintable(name));
            QVERIFY2(w->modelSummary() && QString::fromStdString(w->modelSummary()->path) == expected.modelPath, qPrintable(name));
            if (!expected.text.isEmpty()) QVERIFY2(!w->currentTokens().isEmpty(), qPrintable(name));   // the text is the input
            if (!expected.currentInput.isEmpty()) QTRY_COMPARE_WITH_TIMEOUT(int(w->inputTensor().numel()), 784, 10000);
            // The composer opens with the session's figure, layout and columns kept, and draws it.
            ComposerDialog dlg(w.get(), {}, w->currentLayer());
            dlg.setSpec(w->composerSpec());
            QVERIFY(w->figures()->figureSettings());
            dlg.setFigureSettings(*w->figures()->figureSettings());
            QCOMPARE(dlg.figureSettings().title, expected.figure.title);
            QCOMPARE(dlg.figureSettings().widthMm, expected.figure.widthMm);
            const ComposerSpec spec = dlg.spec();
            QCOMPARE(int(spec.layout), int(expected.composer.layout));
            QCOMPARE(spec.textRows, expected.composer.textRows);
            QCOMPARE(spec.rows, expected.composer.rows);
            QCOMPARE(composerColumnTitles(spec), composerColumnTitles(expected.composer));
            dlg.resize(1100, 650);
            dlg.show();
            QSignalSpy done(w.get(), &MainWindow::composed);
            QSignalSpy errors(w.get(), &MainWindow::errorShown);
            dlg.compose();
            QStringList seen;
            const bool ok = done.wait(60000);
            for (const auto &e : errors) seen << e.at(0).toString();
            QVERIFY2(ok, qPrintable(name + ": " + seen.join(" | ")));
            auto fig = done.takeFirst().at(0).value<std::shared_ptr<const ComposedFigure>>();
            QVERIFY(fig && fig->panelCount() > 0);
            QTest::qWait(100);
            dlg.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/example_" + name + ".png");
        }
    }

    void sessionProblemsAreNamed()
    {
        QTemporaryDir dir;
        auto write = [&](const QString &name, const QByteArray &text) {
            QFile f(dir.filePath(name));
            f.open(QIODevice::WriteOnly);
            f.write(text);
            return dir.filePath(name);
        };
        QVERIFY_THROWS_EXCEPTION(SessionError, loadSession(write("corrupt.json", "{\"pellucid_session\": 1, ")));
        try {
            loadSession(write("future.json", "{\"pellucid_session\": 99}"));
            QFAIL("no error");
        } catch (const SessionError &e) {
            QVERIFY(QString(e.what()).contains("newer"));
        }
        // A missing input is named; a changed model hash is a warning; the rest opens.
        const QString model = res("models/fashion_mnist_cnn.pt");
        const QString s = write("s.json",
                                QString("{\"pellucid_session\": 1, \"model\": {\"path\": \"%1\", \"sha256\": \"00ff\"},"
                                        " \"inputs\": [\"/nonexistent/pic.png\"], \"layer\": \"features.5\"}")
                                    .arg(model)
                                    .toUtf8());
        const Session loaded = loadSession(s);
        QCOMPARE(loaded.layer, QString("features.5"));
        QVERIFY(loaded.warnings.join("|").contains("/nonexistent/pic.png"));
        QVERIFY(loaded.warnings.join("|").contains("changed"));
        MainWindow w;
        w.show();
        QSignalSpy errors(&w, &MainWindow::errorShown);
        QSignalSpy opened(&w, &MainWindow::sessionOpened);
        w.openSession(s);
        QVERIFY(opened.wait(30000));
        QVERIFY(w.modelSummary());
        QCOMPARE(w.currentLayer(), QString("features.5"));
        QVERIFY(errors.count() >= 1);
        // Unwritable session path: a clear error, nothing written.
        QVERIFY_THROWS_EXCEPTION(SessionError, saveSession(loaded, "/nonexistent-dir/s.json"));
    }

    void recommenderPanel()
    {
        MainWindow w;
        w.resize(1400, 900);
        w.show();
        QSignalSpy shown(&w, &MainWindow::recommenderShown);
        auto waitFor = [&](const QString &what) { return waitForArgument(shown, what); };
        w.openModel(res("models/recommender_mf.pt"));
        QVERIFY(waitFor("loaded"));
        QVERIFY(waitFor("influence"));
        RecommenderPanel *panel = w.recommenderPanel();
        QCOMPARE(int(panel->bars()->items().size()), 10);
        int sciFi = 0;   // user 0 belongs to the planted group 0 (items 0–59)
        for (const auto &d : panel->bars()->items()) sciFi += d.item < 60;
        QVERIFY(sciFi >= 9);
        QVERIFY(panel->influenceTable()->rowCount() > 10);
        QVERIFY(panel->summaryText().contains("agreement"));
        QCOMPARE(int(panel->graph()->nodes().size()), 1 + panel->influenceTable()->rowCount() + 10);
        // Another user: their own group's items.
        panel->setUser(1);
        QVERIFY(waitFor("influence"));
        int romance = 0;
        for (const auto &d : panel->bars()->items()) romance += d.item >= 60 && d.item < 120;
        QVERIFY(romance >= 9);
        // Choosing another recommendation recomputes its influence.
        panel->bars()->select(3);
        QVERIFY(waitFor("influence"));
        QVERIFY(panel->summaryText().contains(QString::fromStdString(panel->bars()->items()[3].name)));
        w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/recommender.png");
        QTemporaryDir dir;
        FigureSettings fs;
        w.exportPanel("recommendations", dir.filePath("bars.svg"), fs, true);
        w.exportPanel("interaction-graph", dir.filePath("graph.pdf"), fs, false);
        QFile svg(dir.filePath("bars.svg"));
        QVERIFY(svg.open(QIODevice::ReadOnly));
        QVERIFY(QString(svg.readAll()).contains("user bias"));
        QVERIFY(QFileInfo(dir.filePath("bars.csv")).size() > 100);
        QVERIFY(QFileInfo(dir.filePath("graph.pdf")).size() > 500);
    }

    void datasetEvaluationAndProjector()
    {
        auto w = openDemo();
        w->resize(1400, 900);
        const QString idx = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
        w->openDataset(idx);
        DatasetPanel *panel = w->datasetPanel();
        QCOMPARE(panel->visibleCount(), 10000);
        QSignalSpy shown(w.get(), &MainWindow::datasetShown);
        w->evaluateDataset();
        QVERIFY(shown.wait(60000));
        QVERIFY2(panel->summaryText().contains("top-1 92.57%"), qPrintable(panel->summaryText()));
        // A confusion-matrix cell lists exactly its items.
        const auto &conf = panel->evaluation().confusion;
        panel->showConfusionCell(6, 0);
        QCOMPARE(int64_t(panel->visibleCount()), conf[6][0]);
        // Clicking an item makes it the current input of every panel.
        QSignalSpy act(w.get(), &MainWindow::activationsShown);
        emit panel->itemActivated(0);
        QVERIFY(act.wait(30000));
        QCOMPARE(w->predictionChart()->labels().value(0), QString("Ankle boot"));   // test item 0 is an ankle boot
        // The projector: PCA of the current layer over all 10,000 items, one graph per class.
        QVERIFY(waitShown(*w, [&] { w->selectLayer("classifier.3"); }));
        w->projectDataset("pca");
        QVERIFY(shown.wait(60000));
        int points = 0;
        for (int g = 0; g < panel->projectorPlot()->graphCount(); ++g) points += panel->projectorPlot()->graph(g)->dataCount();
        QCOMPARE(points, 10000);
        QCOMPARE(panel->projectorPlot()->graphCount(), 11);   // one per class and the selection overlay
        // Box selection of everything, then a lasso (mouse drag in lasso mode) around the plot's left half.
        QCustomPlot *plot = panel->projectorPlot();
        const QCPRange xr = plot->xAxis->range(), yr = plot->yAxis->range();
        const double ex = 0.01 * xr.size(), ey = 0.01 * yr.size();   // points lie on the rescaled axes' ends
        panel->selectPolygon(QPolygonF({QPointF(xr.lower - ex, yr.lower - ey), QPointF(xr.upper + ex, yr.lower - ey),
                                        QPointF(xr.upper + ex, yr.upper + ey), QPointF(xr.lower - ex, yr.upper + ey)}));
        QCOMPARE(panel->selection().size(), size_t(10000));
        panel->selectionMode()->setCurrentIndex(2);
        const QRect area = plot->axisRect()->rect();
        const QPoint a(area.left() + 2, area.top() + 2), b(area.center().x(), area.top() + 2), c(area.center().x(), area.bottom() - 2),
            d(area.left() + 2, area.bottom() - 2);
        QTest::mousePress(plot, Qt::LeftButton, {}, a);
        for (const QPoint &p : {b, c, d}) {
            QMouseEvent move(QEvent::MouseMove, QPointF(p), plot->mapToGlobal(QPointF(p)), Qt::NoButton, Qt::LeftButton, Qt::NoModifier);
            QApplication::sendEvent(plot, &move);
        }
        QTest::mouseRelease(plot, Qt::LeftButton, {}, d);
        const double xmid = plot->xAxis->pixelToCoord(area.center().x());
        size_t left = 0;
        for (int g = 0; g < 10; ++g)
            for (auto it = plot->graph(g)->data()->constBegin(); it != plot->graph(g)->data()->constEnd(); ++it) left += it->key < xmid;
        QVERIFY(left > 0 && left < 10000);
        QVERIFY2(std::abs(double(panel->selection().size()) - double(left)) <= 0.01 * double(left),
                 qPrintable(QString("%1 selected, %2 left of the middle").arg(panel->selection().size()).arg(left)));
        // Hover: the point under the cursor shows its thumbnail and description.
        const auto first = plot->graph(0)->data()->constBegin();
        const QPointF px(plot->xAxis->coordToPixel(first->key), plot->yAxis->coordToPixel(first->value));
        const int64_t under = panel->pointAt(px);
        QVERIFY(under >= 0);
        panel->hoverAt(px);
        QVERIFY(panel->hoverPreview()->isVisible());
        QVERIFY(!panel->hoverPreview()->pixmap().isNull());
        QCOMPARE(panel->hoverPreview()->property("item").toLongLong(), qlonglong(under));
        w->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/dataset.png");
        // UMAP of all 10,000 items: the embedding is shown while it is optimised, then the final one.
        w->projectDataset("umap");
        QVERIFY(waitForArgument(shown, "projecting", 120000));
        QVERIFY(waitForArgument(shown, "projected", 240000));
        QVERIFY(plot->xAxis->label().startsWith("UMAP"));
        w->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/dataset_umap.png");
        // t-SNE of all 10,000 items: FFT-interpolated from 10,000 points on, as the title says.
        w->projectDataset("tsne");
        QVERIFY(waitForArgument(shown, "projected", 240000));
        QVERIFY2(plot->xAxis->label().startsWith("t-SNE") && plot->xAxis->label().contains("FFT-interpolated"), qPrintable(plot->xAxis->label()));
        w->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/dataset_tsne.png");
        // Explanation quality: deletion/insertion of two methods over 4 items, and the sanity check.
        emit panel->faithfulnessRequested({AttributionMethod::Saliency, AttributionMethod::GradCam}, 4);
        QVERIFY(shown.wait(60000));
        QCOMPARE(panel->faithfulnessPlot()->graphCount(), 4);   // deletion + insertion per method
        QCOMPARE(panel->faithfulnessPlot()->graph(0)->dataCount(), 21);
        emit panel->sanityRequested();
        QVERIFY(shown.wait(60000));
        QCOMPARE(panel->sanityPlot()->graphCount(), 2);
        QCOMPARE(panel->sanityPlot()->graph(0)->dataCount(), 9);   // the original + 8 layers with parameters
        w->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/dataset_quality.png");
        w->openDataset("/nonexistent/dataset");
        QVERIFY(w->lastError().contains("Dataset not found"));
    }

    void latentPanelDecodesTraversesInterpolates()
    {
        MainWindow w;
        w.resize(1400, 900);
        w.show();
        QSignalSpy shown(&w, &MainWindow::latentShown);
        auto waitFor = [&](const QString &what) { return waitForArgument(shown, what); };
        w.openModel(fix("gen_tiny.pt"));
        QVERIFY(waitFor("decoded"));
        LatentPanel *panel = w.latentPanel();
        QCOMPARE(int(panel->code().size()), 4);
        QVERIFY(panel->decodedView()->pixmap().width() > 0);
        // Moving a slider decodes again (newest request wins).
        panel->setCode({0.5f, -1.0f, 2.0f, 0.0f});
        QVERIFY(waitFor("decoded"));
        emit panel->traversalRequested();
        QVERIFY(waitFor("traversal"));
        QCOMPARE(panel->traversalGrid()->images().shape(), (Shape{28, 1, 6, 6}));   // 4 dims × 7 steps
        const auto a = panel->code();
        panel->setCode({-2.0f, 0.0f, 1.0f, 1.0f});
        emit panel->interpolationRequested();
        QVERIFY(waitFor("interpolation"));
        QCOMPARE(panel->interpolationRow()->images().dim(0), int64_t(8));
        {
            QTemporaryDir adir;
            QVERIFY(w.exportLatentAnimation("interpolation", adir.filePath("interp.mp4")));
            QVERIFY(QFileInfo(adir.filePath("interp.mp4")).size() > 100);
        }
        QTemporaryDir dir;
        FigureSettings fs;
        w.exportPanel("latent-traversal", dir.filePath("trav.svg"), fs, true);
        QVERIFY(QFileInfo(dir.filePath("trav.npy")).size() > 100);
        // Animations: the traversal (7 frames of 4 stacked dimensions) as GIF, the interpolation as MP4 below.
        QVERIFY(w.exportLatentAnimation("traversal", dir.filePath("trav.gif")));
        {
            int err = 0;
            GifFileType *gif = DGifOpenFileName(dir.filePath("trav.gif").toLocal8Bit().constData(), &err);
            QVERIFY(gif);
            QCOMPARE(DGifSlurp(gif), GIF_OK);
            QCOMPARE(gif->ImageCount, 7);        // one frame per step
            QCOMPARE(gif->SHeight, 4 * 6 * 4);   // 4 dimensions of 6 px stacked, scale 4
            QCOMPARE(gif->SWidth, 6 * 4);
            DGifCloseFile(gif, &err);
        }
        QVERIFY(!w.exportLatentAnimation("traversal", dir.filePath("trav.avi")));
        Q_UNUSED(a);
        // A conditional generator: a class chooser, and the decoded image follows the class.
        w.openModel(fix("cgen_tiny.pt"));
        QVERIFY(waitFor("decoded"));
        QCOMPARE(panel->classChooser()->count(), 3);
        QVERIFY(!panel->classChooser()->isHidden());
        const QImage class0 = panel->decodedView()->pixmap().toImage();
        panel->classChooser()->setCurrentIndex(2);
        QVERIFY(waitFor("decoded"));
        QVERIFY(panel->decodedView()->pixmap().toImage() != class0);
        // The role chooser: the tiny generator opened as a classifier has no latent panel; back to the metadata.
        QSignalSpy ready(&w, &MainWindow::modelReady);
        w.openModel(fix("gen_tiny.pt"));
        QVERIFY(waitFor("decoded"));
        w.setModelRole("classifier");
        QVERIFY(ready.wait(30000));
        QCOMPARE(int(panel->code().size()), 0);
        QVERIFY(panel->classChooser()->isHidden());
        w.setModelRole(QString());
        QVERIFY(waitFor("decoded"));
        QCOMPARE(int(panel->code().size()), 4);
        // A VAE demo, when present, for a screenshot.
        if (QFileInfo::exists(res("models/vae_decoder.pt"))) {
            w.openModel(res("models/vae_decoder.pt"));
            QVERIFY(waitFor("decoded"));
            emit panel->traversalRequested();
            QVERIFY(waitFor("traversal"));
            w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/latent.png");
        }
    }

    void latentUnitsOnTheDcganDemo()
    {
        MainWindow w;
        w.resize(1500, 950);
        w.show();
        QSignalSpy shown(&w, &MainWindow::latentShown);
        auto waitFor = [&](const QString &what, int ms = 60000) { return waitForArgument(shown, what, ms); };
        w.openModel(res("models/dcgan_generator.pt"));
        QVERIFY(waitForArguments(shown, {"companions", "decoded"}));
        LatentPanel *panel = w.latentPanel();
        UnitsPanel *units = panel->units();
        panel->tabs()->setCurrentWidget(units);
        // The layer offered first: the one with most units at a spatial extent of at least 4×4 (the 128 × 7×7 input
        // of the first transposed convolution).
        QCOMPARE(units->request().layer, QString("net.0"));
        for (QComboBox *c : units->findChildren<QComboBox *>())
            if (c->findText("net.3") >= 0) c->setCurrentText("net.3");
        for (QSpinBox *s : units->findChildren<QSpinBox *>())
            if (s->suffix().contains("codes")) s->setValue(40);
        const UnitsPanel::Request r = units->request();
        QCOMPARE(r.layer, QString("net.3"));
        QCOMPARE(r.count, 40);
        emit units->dissectRequested();
        QVERIFY(waitFor("units", 120000));
        // What the tab shows is the engine's dissection of the same codes with the companion classifier.
        LoadOptions lo;
        lo.device = DevicePreference::Cpu;
        auto gen = Model::load(res("models/dcgan_generator.pt").toStdString(), lo);
        auto cls = Model::load(res("models/fashion_mnist_cnn.pt").toStdString(), lo);
        DissectOptions o;
        const Dissection d = dissectGenerator(*gen, *cls, "net.3", 40, 0, o);
        QCOMPARE(units->dissection().effect.shape(), (Shape{64, 10}));
        QCOMPARE(fixturesMaxDiff(units->dissection().effect, d.effect), 0.0);
        QCOMPARE(int(units->gallery()->order().size()), 64);
        QCOMPARE(units->maps().meanMaps.shape(), (Shape{64, 14, 14}));
        // Sorted by the effect on the class chosen; the chart shows the first unit's effect on every class.
        QCOMPARE(units->gallery()->order(), d.ranking[size_t(units->sortClass())]);
        QCOMPARE(units->effectPlot()->plottableCount(), 1);
        QCOMPARE(units->curvePlot()->graph(0)->dataCount(), 20);
        // Select the top 8 units of the class the classifier gives the current image, by clicking them.
        const std::vector<float> z = panel->code();
        const TensorValue code({1, int64_t(z.size())}, z);
        const TensorValue image = decodeCodes(*gen, code);
        const int k = cls->topK(cls->forward(toClassifierInput(image, gen->summary(), cls->summary()), {}).outputs.at(0), 1).at(0).index;
        for (QComboBox *c : units->findChildren<QComboBox *>())
            if (c->count() == 10 && c->toolTip().contains("sorted")) c->setCurrentIndex(k);
        QCOMPARE(units->sortClass(), k);
        units->gallery()->resize(900, 2000);
        for (int i = 0; i < 8; ++i) QTest::mouseClick(units->gallery(), Qt::LeftButton, {}, units->gallery()->cellRect(i).center());
        const std::vector<int64_t> top8(d.ranking[size_t(k)].begin(), d.ranking[size_t(k)].begin() + 8);
        QCOMPARE(units->selectedUnits(), top8);
        // Remove them everywhere: the edited image is the engine's decodeWithEdit.
        emit units->editRequested(false);
        QVERIFY(waitFor("units-edit"));
        UnitEdit e{"net.3", top8, {}, {}};
        const TensorValue edited = decodeWithEdit(*gen, code, e);
        QCOMPARE(units->editView()->images().shape(), (Shape{2, 1, 28, 28}));
        QCOMPARE(fixturesMaxDiff(units->editView()->images().rows(1, 2), edited), 0.0);
        QVERIFY(units->verdictLabel()->text().contains("removed everywhere"));
        // Paint the left half: the layer mask is its 14 × 14 cells, insertion sets the 99th percentile there.
        std::vector<uint8_t> half(28 * 28, 0);
        for (int y = 0; y < 28; ++y)
            for (int x = 0; x < 14; ++x) half[size_t(y * 28 + x)] = 1;
        units->maskEditor()->setMask(28, 28, half);
        const TensorValue mask = units->layerMask();
        QCOMPARE(mask.shape(), (Shape{14, 14}));
        QCOMPARE(mask.at(0), 1.0f);
        QCOMPARE(mask.at(13), 0.0f);
        QCOMPARE(mask.at(6), 1.0f);
        QCOMPARE(mask.at(7), 0.0f);
        emit units->editRequested(true);
        QVERIFY(waitFor("units-edit"));
        QVERIFY(units->verdictLabel()->text().contains("inserted in 98 of 196 cells"));
        UnitEdit ins{"net.3", top8, units->insertValues(), mask};
        QCOMPARE(fixturesMaxDiff(units->editView()->images().rows(1, 2), decodeWithEdit(*gen, code, ins)), 0.0);
        QTest::qWait(200);
        w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/latent_units.png");
        // The gallery and the edit export as figures.
        QTemporaryDir dir;
        FigureSettings fs;
        w.exportPanel("latent-units", dir.filePath("units.svg"), fs, true);
        QVERIFY(QFileInfo(dir.filePath("units.svg")).size() > 1000);
        QVERIFY(QFileInfo::exists(dir.filePath("units_mean_maps.npy")));
        // A session keeps the Units tab: opened again, it dissects the same codes and selects the same units.
        const QString sessionPath = dir.filePath("units.json");
        w.saveSessionTo(sessionPath);
        {
            MainWindow w2;
            w2.resize(1500, 950);
            w2.show();
            QSignalSpy shown2(&w2, &MainWindow::latentShown);
            w2.openSession(sessionPath);
            QVERIFY(waitForArgument(shown2, "units", 120000));
            UnitsPanel *u2 = w2.latentPanel()->units();
            QCOMPARE(u2->request().layer, QString("net.3"));
            QCOMPARE(u2->request().count, 40);
            QCOMPARE(u2->sortClass(), k);
            QCOMPARE(u2->selectedUnits(), top8);
            QCOMPARE(fixturesMaxDiff(u2->dissection().effect, d.effect), 0.0);
        }
        // SeFa directions in the Directions tab: the engine's, from the first Linear layer's weight.
        panel->tabs()->setCurrentIndex(1);
        for (QComboBox *c : panel->findChildren<QComboBox *>())
            if (c->findData("sefa") >= 0) c->setCurrentIndex(c->findData("sefa"));
        QCOMPARE(panel->directionRequest().source, QString("sefa"));
        emit panel->directionsRequested();
        QVERIFY(waitFor("directions"));
        QCOMPARE(fixturesMaxDiff(panel->directions(), sefaDirections(*gen, "", 5).directions.directions), 0.0);
        w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/latent_sefa.png");
        // An edit without selected units is refused in the tab.
        units->selectUnits({});
        emit units->editRequested(false);
        QVERIFY(units->statusLabel()->text().contains("Select units"));
    }

    void onnxModelRunsForwardOnlyViews()
    {
        // The CNN demo exported to ONNX (OpenCV DNN): nodes as layers, activations, predictions, the forward-only
        // methods offered and run, the gradient methods greyed out; then back to a TorchScript model.
#ifdef PELLUCID_HAVE_ONNX
        registerOnnxBackend();
#else
        QSKIP("this build has no ONNX backend (OpenCV's dnn module)");
#endif
        MainWindow w;
        w.resize(1400, 900);
        w.setSampleFolder(res("samples"));
        w.show();
        QSignalSpy shown(&w, &MainWindow::activationsShown);
        w.openModel(res("models/fashion_mnist_cnn.onnx"));
        QVERIFY(shown.wait(30000));
        QCOMPARE(QString::fromStdString(w.modelSummary()->format), QString("onnx"));
        QCOMPARE(w.currentLayer(), QString("/features/2/Relu"));   // the file's suggested layer
        QVERIFY(waitShown(w, [&] { w.openImage(res("samples/7-sneaker.png")); }));
        QVERIFY(waitShown(w, [&] { w.selectLayer("/features/9/Relu"); }));
        QCOMPARE(w.activationPanel()->grid()->channelCount(), 64);
        QCOMPARE(w.predictionChart()->labels().value(0), QString("Sneaker"));
        AttributionPanel *panel = w.attributionPanel();
        for (AttributionMethod m : allMethods()) QCOMPARE(panel->methodOffered(m), isForwardOnlyMethod(m));
        QVERIFY(isForwardOnlyMethod(panel->currentParams().method));
        QSignalSpy attr(&w, &MainWindow::attributionShown);
        QSignalSpy errors(&w, &MainWindow::errorShown);
        w.attributionDock()->raise();
        panel->setMethod(AttributionMethod::Occlusion);
        QTRY_VERIFY_WITH_TIMEOUT(!panel->mainView()->overlay().isNull() && std::any_of(attr.begin(), attr.end(), [](const QList<QVariant> &a) {
                                     return !a.at(1).toBool();
                                 }),
                                 60000);
        QCOMPARE(panel->mainView()->overlay().size(), QSize(28, 28));
        QVERIFY2(errors.isEmpty(), qPrintable(errors.isEmpty() ? QString() : errors.first().at(0).toString()));
        QTest::qWait(200);
        w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/onnx_attribution.png");
        // A TorchScript model offers every method again.
        QSignalSpy ready(&w, &MainWindow::modelReady);
        w.openModel(res("models/fashion_mnist_cnn.pt"));
        QVERIFY(ready.wait(30000));
        for (AttributionMethod m : allMethods()) QVERIFY(panel->methodOffered(m));
    }

    void activationsUnitsOnTheCnnDemo()
    {
        MainWindow w;
        w.resize(1500, 950);
        w.show();
        QSignalSpy ready(&w, &MainWindow::modelReady);
        QSignalSpy units(&w, &MainWindow::classifierUnitsShown);
        QSignalSpy errors(&w, &MainWindow::errorShown);
        w.openModel(res("models/fashion_mnist_cnn.pt"));
        QVERIFY(ready.wait(60000) || ready.count() > 0);
        ClassifierUnitsPanel *panel = w.activations()->units();
        w.activations()->tabs()->setCurrentWidget(panel);
        w.selectLayer("features.9");
        QPushButton *go = nullptr;
        for (QPushButton *b : panel->findChildren<QPushButton *>())
            if (b->text().contains("Dissect")) go = b;
        QVERIFY(go);
        QVERIFY(!go->isEnabled());   // no dataset yet
        w.openDataset("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
        QTRY_VERIFY_WITH_TIMEOUT(go->isEnabled(), 30000);
        for (QSpinBox *s : panel->findChildren<QSpinBox *>())
            if (s->suffix().contains("items")) s->setValue(120);
        QCOMPARE(panel->itemLimit(), 120);
        go->click();
        QVERIFY(units.wait(120000));
        // The engine's dissection of the same 120 test items.
        LoadOptions lo;
        lo.device = DevicePreference::Cpu;
        auto cls = Model::load(res("models/fashion_mnist_cnn.pt").toStdString(), lo);
        const Dataset data = Dataset::open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
        const DatasetDissection d = dissectDataset(*cls, data, "features.9", 120);
        DissectionView *view = panel->view();
        QCOMPARE(view->dissection().effect.shape(), (Shape{64, 10}));
        QCOMPARE(fixturesMaxDiff(view->dissection().effect, d.dissection.effect), 0.0);
        QCOMPARE(view->maps().meanMaps.shape(), (Shape{64, 14, 14}));
        QCOMPARE(view->maps().images.shape(), (Shape{120, 1, 28, 28}));
        // The items are shown in their pixel range, not the model's normalisation.
        double lo0 = 1e9, hi0 = -1e9;
        for (int64_t i = 0; i < view->maps().images.numel(); ++i) lo0 = std::min(lo0, double(view->maps().images.at(i))), hi0 = std::max(hi0, double(view->maps().images.at(i)));
        QVERIFY(lo0 > -1e-5 && hi0 < 1 + 1e-5 && hi0 > 0.9);
        // The removal curve of the chosen class: removing its top units drops its probability on its own items.
        for (QComboBox *c : panel->findChildren<QComboBox *>())
            if (c->count() == 10) c->setCurrentIndex(1);   // Trouser
        QCOMPARE(view->gallery()->order(), d.dissection.ranking[1]);
        QCOMPARE(view->curvePlot()->graph(0)->dataCount(), 20);
        QVERIFY(d.dissection.removal[1].back() > 0);
        QVERIFY(panel->statusLabel()->text().contains("120 items"));
        w.findChild<QDockWidget *>("ActivationsDock")->raise();
        QTest::qWait(200);
        w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/activations_units.png");
        QVERIFY(w.figurePanels().contains("classifier-units"));
        QCOMPARE(errors.count(), 0);
    }

    void latentTabsOnTheVaeDemo()
    {
        MainWindow w;
        w.resize(1500, 950);
        w.show();
        QSignalSpy shown(&w, &MainWindow::latentShown);
        auto waitFor = [&](const QString &what, int ms = 60000) { return waitForArgument(shown, what, ms); };
        w.openModel(res("models/vae_decoder.pt"));
        // The companions: the encoder named by "pair" and the Fashion-MNIST classifier beside it; the first
        // decoded image comes from another job, before or after them.
        QVERIFY(waitForArguments(shown, {"companions", "decoded"}));
        LatentPanel *panel = w.latentPanel();
        QCOMPARE(int(panel->code().size()), 16);
        QCOMPARE(panel->findChildren<QComboBox *>().size() > 0, true);
        // Gallery: seeded samples; clicking one makes it the code.
        emit panel->galleryRequested(12, 3, 0.0);
        QVERIFY(waitFor("gallery"));
        const TensorValue expected = sampleCodes(12, 16, 3);
        QCOMPARE(panel->galleryCodes().shape(), (Shape{12, 16}));
        QCOMPARE(fixturesMaxDiff(panel->galleryCodes(), expected), 0.0);
        QCOMPARE(panel->galleryGrid()->images().shape(), (Shape{12, 1, 28, 28}));
        panel->galleryGrid()->resize(600, 300);
        int clicked = -1;
        for (int y = 5; y < 300 && clicked < 0; y += 4)
            for (int x = 5; x < 600 && clicked < 0; x += 4)
                if (panel->galleryGrid()->indexAt(QPoint(x, y)) == 5) {
                    QTest::mouseClick(panel->galleryGrid(), Qt::LeftButton, {}, QPoint(x, y));
                    clicked = 5;
                }
        QCOMPARE(clicked, 5);
        const std::vector<float> z = panel->code();
        for (int j = 0; j < 16; ++j)
            if (std::abs(expected.at(5 * 16 + j)) < 3) QVERIFY(std::abs(z[size_t(j)] - expected.at(5 * 16 + j)) <= 0.0051);
        QVERIFY(waitFor("decoded"));
        // GANSpace directions through the first layer; the slider moves the code along the selected one.
        panel->tabs()->setCurrentIndex(1);
        emit panel->directionsRequested();
        QVERIFY(waitFor("directions"));
        QCOMPARE(panel->directions().shape(), (Shape{5, 16}));
        QCOMPARE(panel->directionGrid()->images().shape(), (Shape{35, 1, 28, 28}));   // 5 directions × 7 steps
        QCOMPARE(panel->directionList()->count(), 5);
        const std::vector<float> base = panel->code();
        panel->directionAmount()->setValue(100);   // +1 σ along d0
        const std::vector<float> moved = panel->code();
        for (int j = 0; j < 16; ++j)
            if (std::abs(base[size_t(j)] + panel->directions().at(j)) < 2.9)
                QVERIFY(std::abs(moved[size_t(j)] - (base[size_t(j)] + panel->directions().at(j))) <= 0.0051);
        w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/latent_directions.png");
        // Counterfactual from the sneaker sample (encoded) to the ankle boot class.
        w.openImage(res("samples/7-sneaker.png"));
        panel->tabs()->setCurrentIndex(3);
        QVERIFY(panel->counterfactualRequest().fromInput);
        for (QComboBox *c : panel->findChildren<QComboBox *>())
            if (c->count() == 10 && c->toolTip().contains("class the classifier")) c->setCurrentIndex(9);
        QCOMPARE(panel->counterfactualRequest().target, 9);
        emit panel->counterfactualRequested();
        QVERIFY(waitFor("counterfactual"));
        QCOMPARE(panel->counterfactualStrip()->images().shape(), (Shape{9, 1, 28, 28}));   // 8 frames + difference
        QVERIFY(panel->counterfactualPlot()->graph(0)->dataCount() > 1);
        QCOMPARE(int(panel->counterfactualCode().size()), 16);
        w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/latent_counterfactual.png");
        // VAE: input and reconstruction, KL per dimension (the input image and 200 test items).
        w.openDataset("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
        w.findChild<QDockWidget *>("LatentDock")->raise();
        panel->tabs()->setCurrentIndex(4);
        emit panel->vaeRequested(200);
        QVERIFY(waitFor("vae"));
        QCOMPARE(panel->vaePairs()->images().shape(), (Shape{16, 1, 28, 28}));
        QCOMPARE(panel->klPlot()->plottableCount(), 2);
        // The input image's μ becomes the code (for interpolating between two encoded images).
        emit panel->encodeInputRequested();
        QVERIFY(waitFor("encoded"));
        {
            LoadOptions lo;
            lo.device = DevicePreference::Cpu;
            auto enc = Model::load(res("models/vae_encoder.pt").toStdString(), lo);
            const TensorValue x =
                imageFileToTensor(res("samples/7-sneaker.png").toStdString(), enc->summary().metadata.input, enc->summary().inputShape);
            const TensorValue mu = enc->forward(x, {}).outputs.at(0);
            const std::vector<float> code = panel->code();
            for (int j = 0; j < 16; ++j)
                if (std::abs(mu.at(j)) < 3) QVERIFY(std::abs(code[size_t(j)] - mu.at(j)) <= 0.0051);
        }
        w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/latent_vae.png");
        // Attribute direction sneaker → ankle boot from the dataset.
        panel->tabs()->setCurrentIndex(1);
        for (QComboBox *c : panel->findChildren<QComboBox *>())
            if (c->findData("attribute") >= 0) c->setCurrentIndex(c->findData("attribute"));
        QCOMPARE(panel->directionRequest().source, QString("attribute"));
        emit panel->directionsRequested();
        QVERIFY(waitFor("directions"));
        QCOMPARE(panel->directions().shape(), (Shape{1, 16}));
        // Principal directions of the dataset's codes (the encoder's means over the dataset's items).
        for (QComboBox *c : panel->findChildren<QComboBox *>())
            if (c->findData("pca") >= 0) c->setCurrentIndex(c->findData("pca"));
        QCOMPARE(panel->directionRequest().source, QString("pca"));
        emit panel->directionsRequested();
        QVERIFY(waitFor("directions"));
        QCOMPARE(panel->directions().dim(0), int64_t(panel->directionRequest().k));
        QCOMPARE(panel->directions().dim(1), int64_t(16));
        // Metrics: 300 samples against 300 test items.
        panel->tabs()->setCurrentIndex(5);
        emit panel->metricsRequested(300);
        QVERIFY(waitFor("metrics", 120000));
        const QString text = panel->metricsView()->toPlainText();
        QVERIFY(text.contains("Inception Score"));
        QVERIFY(text.contains("Fréchet distance to 300"));
        QVERIFY(text.contains("Active latent units"));
        w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/latent_metrics.png");
        // Errors are shown in the tab: a DCGAN generator has no encoder.
        w.openModel(res("models/dcgan_generator.pt"));
        QVERIFY(waitFor("companions"));
        panel->tabs()->setCurrentIndex(4);
        emit panel->vaeRequested(10);
        QVERIFY(panel->findChildren<QLabel *>().size() > 0);
        bool named = false;
        for (QLabel *l : panel->findChildren<QLabel *>()) named = named || l->text().contains("No VAE encoder");
        QVERIFY(named);
    }

    void attentionDock()
    {
        const QString vit = QStringLiteral(PELLUCID_REFERENCE_DIR) + "/attention/vit_sdpa_traced.pt";
        if (!QFileInfo::exists(vit)) QSKIP("../shared/reference/attention is absent");
        MainWindow w;
        w.resize(1500, 950);
        w.show();
        QSignalSpy shown(&w, &MainWindow::attentionShown);
        auto waitFor = [&](const QString &what, int ms = 60000) { return waitForArgument(shown, what, ms); };
        w.openModel(vit);
        QVERIFY(waitFor("sites"));
        w.openImage(res("samples/7-sneaker.png"));
        QVERIFY(waitFor("attention"));
        AttentionPanel *panel = w.attentionPanel();
        QCOMPARE(int(panel->data().layers.size()), 2);
        QCOMPARE(panel->data().layers[0].shape(), (Shape{1, 2, 17, 17}));
        // Model view: clicking a cell opens that layer and head in the matrix view.
        panel->tabs()->setCurrentIndex(0);
        panel->modelView()->resize(400, 300);
        QPoint cell;
        for (int y = 0; y < 300 && cell.isNull(); y += 3)
            for (int x = 0; x < 400 && cell.isNull(); x += 3)
                if (panel->modelView()->cellAt(QPoint(x, y)) == QSize(1, 1)) cell = QPoint(x, y);
        QVERIFY(!cell.isNull());
        QTest::mouseClick(panel->modelView(), Qt::LeftButton, {}, cell);
        QCOMPARE(panel->layer(), 1);
        QCOMPARE(panel->head(), 1);
        QCOMPARE(panel->tabs()->currentWidget(), static_cast<QWidget *>(panel->matrixPlot()));
        QCOMPARE(panel->matrixPlot()->plottableCount(), 1);
        // Head view: lines drawn; hovering a token isolates its lines.
        panel->tabs()->setCurrentIndex(1);
        panel->headView()->repaint();
        const int all = panel->headView()->linesDrawn();
        QVERIFY(all > 17);
        panel->headView()->setHover(0, -1);
        panel->headView()->repaint();
        QVERIFY(panel->headView()->linesDrawn() > 0 && panel->headView()->linesDrawn() < all);
        w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/attention_head.png");

        // The bundled ViT: image overlay of the CLS attention, a clicked patch, rollouts.
        if (QFileInfo::exists(res("models/fashion_mnist_vit.pt"))) {
            w.openModel(res("models/fashion_mnist_vit.pt"));
            QVERIFY(waitFor("sites"));
            w.openImage(res("samples/9-ankle-boot.png"));
            QVERIFY(waitFor("attention"));
            QCOMPARE(panel->data().gridRows, 4);
            QCOMPARE(panel->data().queryTokens.value(0), QString("CLS"));
            panel->tabs()->setCurrentIndex(3);
            QVERIFY(!panel->overlayImage().isNull());
            const QImage cls = panel->overlayImage();
            panel->setOverlayQuery(6);
            QVERIFY(panel->overlayImage() != cls);
            panel->overlaySource()->setCurrentIndex(1);
            QVERIFY(!panel->overlayImage().isNull());
            panel->overlaySource()->setCurrentIndex(2);
            QVERIFY(!panel->overlayImage().isNull());
            QCOMPARE(panel->data().gradRollout.shape(), (Shape{1, 17, 17}));
            w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/attention_vit.png");
            // Live video: the attention overlay is drawn over the live frame it was computed from.
            QTemporaryDir dir;
            const QString video = dir.filePath("vit.avi");
            QVERIFY(writeBarVideo(video, 30, 50, [](int k) { return cv::Rect(k % 20, 4, 8, 20); }));
            QVERIFY(w.startLive(video, true));
            QVERIFY(waitFor("attention"));
            QVERIFY(w.liveRunning());
            QCOMPARE(panel->data().image.size(), QSize(28, 28));
            w.stopLive();
        }
        // The bundled text transformer: typed text, its tokens, token attributions.
        if (QFileInfo::exists(res("models/fortune_transformer.pt"))) {
            w.openModel(res("models/fortune_transformer.pt"));
            QVERIFY(waitFor("sites"));
            QVERIFY(!w.inputPanel()->textEntry()->parentWidget()->isHidden());
            w.setText("The compiler crashed while the kernel was booting.");
            QVERIFY(waitFor("attention"));
            const QStringList tokens = w.currentTokens();
            QVERIFY(tokens.size() > 5);
            QCOMPARE(panel->data().queryTokens, tokens);
            emit panel->tokenAttributionRequested(0);
            QVERIFY(waitFor("tokens"));
            QVERIFY(panel->tokenView()->toPlainText().contains("completeness error"));
            panel->tabs()->setCurrentIndex(4);
            w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/attention_text.png");
            panel->tabs()->setCurrentIndex(1);
            w.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/attention_text_head.png");
        }
        // 512 tokens: the head view draws each query's strongest links only.
        AttentionData big;
        std::vector<float> v(size_t(4 * 512 * 512));
        for (size_t i = 0; i < v.size(); ++i) v[i] = float((i * 2654435761u) % 1000) / 1000.f / 1024.f;
        for (size_t row = 0; row < size_t(4 * 512); ++row) v[row * 512 + (row * 7) % 512] += 0.5f;   // one strong link per query
        big.layers.push_back(TensorValue({1, 4, 512, 512}, v));
        for (int i = 0; i < 512; ++i) big.queryTokens << QString("t%1").arg(i);
        big.keyTokens = big.queryTokens;
        big.title = "synthetic";
        panel->setData(big);
        panel->tabs()->setCurrentIndex(1);
        panel->headView()->repaint();
        QVERIFY(panel->headView()->linesDrawn() > 0 && panel->headView()->linesDrawn() <= 512 * 8 * 4);
        QCOMPARE(panel->headView()->contentHeight(), 24 + 512 * 16);
        panel->headView()->setOffset(4000);   // scrolled to the middle: the rows there are drawn
        panel->headView()->repaint();
        QVERIFY(panel->headView()->linesDrawn() > 0);
        // A model without attention says so.
        w.openModel(res("models/fashion_mnist_cnn.pt"));
        QVERIFY(waitFor("sites"));
        QVERIFY(panel->data().layers.empty());
    }

    void drawingCanvasFeedsThePanels()
    {
        auto w = openDemo();
        w->resize(1400, 900);
        QSignalSpy applied(w.get(), &MainWindow::drawingApplied);
        QSignalSpy shown(w.get(), &MainWindow::activationsShown);
        w->inputPanel()->setDrawing(true);
        QVERIFY(applied.count() >= 1);   // the empty canvas at once
        DrawingCanvas *c = w->inputPanel()->canvas();
        QVERIFY(c->isVisible());
        // A shoe-like outline, stroke by stroke: each stroke end is applied.
        c->strokeTo({30, 200}, {250, 200});
        c->strokeTo({250, 200}, {250, 150});
        c->strokeTo({250, 150}, {150, 120});
        c->endStroke();
        c->strokeTo({150, 120}, {60, 150});
        c->strokeTo({60, 150}, {30, 200});
        c->endStroke();
        QVERIFY(applied.count() >= 3);
        QVERIFY(shown.wait(30000));
        // The same tensor as the drawing saved as a PNG file and opened.
        QTemporaryDir dir;
        const QString png = dir.filePath("drawing.png");
        QVERIFY(c->image().save(png));
        const auto s = w->modelSummary();
        const TensorValue fromFile = imageFileToTensor(png.toStdString(), s->metadata.input, s->inputShape);
        QCOMPARE(fixturesMaxDiff(w->inputTensor(), fromFile), 0.0);
        QVERIFY(!w->predictionChart()->labels().isEmpty());
        QTest::qWait(100);   // the plots' queued replots, then the picture
        w->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/drawing.png");
        // Clearing gives an empty (black) input.
        c->clear();
        double total = 0;
        for (int y = 0; y < c->image().height(); ++y)
            for (int x = 0; x < c->image().width(); ++x) total += qGray(c->image().pixel(x, y));
        QCOMPARE(total, 0.0);
        w->inputPanel()->setDrawing(false);
        QVERIFY(!c->isVisible());
    }

    void liveVideoStreamsThroughThePanels()
    {
        // A generated video (OpenCV's writer, MJPG) stands in for the camera: 60 frames of 28×28 at 200 fps,
        // a bright bar moving down one row per frame — faster than the panels, so frames must be dropped.
        QTemporaryDir dir;
        const QString video = dir.filePath("live.avi");
        QVERIFY(writeBarVideo(video, 60, 200, [](int k) { return cv::Rect(2, k % 28, 24, 3); }));
        auto w = openDemo();
        QSignalSpy frames(w.get(), &MainWindow::liveFrameShown);
        QSignalSpy ended(w.get(), &MainWindow::liveEnded);
        QSignalSpy attr(w.get(), &MainWindow::attributionShown);
        w->attributionDock()->raise();
        bool overlaysOnTheirFrames = true;
        connect(w.get(), &MainWindow::attributionShown, w.get(), [&] {
            overlaysOnTheirFrames = overlaysOnTheirFrames && w->attributionPanel()->shownInputId() == w->attributionPanel()->lastResultInputId();
        });
        // Results wait for the live timer: when the engine's result arrives the panel does not show it yet.
        int arrived = 0, shownAtArrival = 0;
        const quint64 beforeLive = w->attributionPanel()->shownInputId();   // the still image's late results do not count
        QSet<quint64> arrivedFor;   // the first result per frame (a dock event may request the same frame again)
        connect(w->bridge(), &EngineBridge::attributionReady, w.get(), [&](const std::string &, std::shared_ptr<const AttributionResult> r) {
            if (!w->liveRunning() || r->inputId <= beforeLive || arrivedFor.contains(r->inputId)) return;
            arrivedFor.insert(r->inputId);
            ++arrived;
            shownAtArrival += w->attributionPanel()->lastResultInputId() == r->inputId;
        });
        // While live, the frames' jobs share one CPU block scope (each reuses the blocks of the frame before);
        // it closes when live input ends, and its blocks are freed once nothing has run for the linger.
        QTRY_COMPARE_WITH_TIMEOUT(cpuBlockStats().scopes, 0, 20000);
        QVERIFY(w->startLive(video));
        QVERIFY(cpuBlockStats().scopes >= 1);
        QVERIFY(!w->inputPanel()->liveControls()->isHidden());   // pause, scrub, stop while it plays
        QVERIFY(ended.wait(60000));
        QVERIFY(w->inputPanel()->liveControls()->isHidden());
        QTRY_COMPARE_WITH_TIMEOUT(cpuBlockStats().scopes, 0, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(cpuBlockStats().cachedBytes, int64_t(0), 5000);   // after the linger (memory.h)
        const auto s = w->liveStats();
        QCOMPARE(s.produced, quint64(60));
        QVERIFY(s.shown > 1);
        // Every frame is either shown or dropped (none queued), in capture order.
        QCOMPARE(s.shown + s.dropped, s.produced);
        quint64 last = 0;
        for (const auto &args : frames) {
            const quint64 index = args.at(0).toULongLong();
            QVERIFY(index > last);
            last = index;
        }
        QVERIFY(s.latencyMs > 0);
        QVERIFY(overlaysOnTheirFrames);
        QVERIFY(arrived >= int(s.shown));
        QCOMPARE(shownAtArrival, 0);
        // Every shown frame got its own final overlay (one engine job per frame: activations + Grad-CAM).
        int finals = 0;
        for (const auto &args : attr) finals += args.at(0).toString() == "attribution" && !args.at(1).toBool();
        QVERIFY2(finals >= int(s.shown), qPrintable(QString("%1 overlays for %2 frames").arg(finals).arg(s.shown)));
        w->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/live.png");
        // Looping playback pauses (no frame is produced while paused) and stops on request.
        QVERIFY(w->startLive(video, true));
        QTest::qWait(100);
        emit w->inputPanel()->livePauseToggled(true);
        QTest::qWait(30);
        const quint64 paused = w->liveStats().produced;
        QTest::qWait(150);
        QCOMPARE(w->liveStats().produced, paused);
        emit w->inputPanel()->livePauseToggled(false);
        QTest::qWait(100);
        QVERIFY(w->liveStats().produced > paused);
        QVERIFY(w->liveStats().produced > 60 || w->liveRunning());   // looping goes past the end
        emit w->inputPanel()->liveStopRequested();
        QVERIFY(!w->liveRunning());
        // Bad input: no camera, an undecodable video — a message, and the app goes on.
        QVERIFY(!w->startLive("camera:63"));
        QVERIFY(w->lastError().contains("No camera"));
        const QString bad = dir.filePath("bad.avi");
        {
            QFile f(bad);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QByteArray(4096, 'x'));
        }
        QVERIFY(!w->startLive(bad));
        QVERIFY(w->lastError().contains("bad.avi"));
        QVERIFY(!w->liveRunning());
    }

    void cameraDisappearsMidStreamAndTheAppGoesOn()
    {
        auto w = openDemo();
        QSignalSpy ended(w.get(), &MainWindow::liveEnded);
        QSignalSpy frames(w.get(), &MainWindow::liveFrameShown);
        // A camera stand-in: 40 frames of a moving bar at 100 fps, then nothing — as an unplugged USB camera.
        int sent = 0;
        auto source = LiveSource::openFunction(
            "camera 5",
            [&sent](int &width, int &height, std::vector<unsigned char> &bgr) {
                if (sent == 40) return false;
                width = 64;
                height = 48;
                bgr.assign(size_t(width * height * 3), 0);
                for (int x = 0; x < width; ++x)
                    for (int y = sent % 40; y < sent % 40 + 6 && y < height; ++y) bgr[size_t((y * width + x) * 3 + 1)] = 255;
                ++sent;
                return true;
            },
            100, true);
        QVERIFY(w->startLive(std::move(source)));
        QVERIFY(ended.wait(30000));
        QVERIFY(!w->liveRunning());
        QVERIFY2(w->lastError().contains("camera 5 stopped delivering frames"), qPrintable(w->lastError()));
        QVERIFY(frames.count() > 0);
        QCOMPARE(w->liveStats().produced, quint64(40));
        // Nothing lost: the app goes on with a still image.
        QSignalSpy shown(w.get(), &MainWindow::activationsShown);
        w->openImage(res("samples/9-ankle-boot.png"));
        QVERIFY(shown.wait(30000));
    }

    void cameraDialogListsDevicesAndResolutions()
    {
        // sysfs stand-in: two cameras, one of them with uvcvideo's metadata node (index 1) that is no camera.
        QTemporaryDir sys;
        auto node = [&](const QString &dir, const QByteArray &name, const QByteArray &index) {
            QDir().mkpath(sys.filePath(dir));
            QFile n(sys.filePath(dir + "/name"));
            QVERIFY(n.open(QIODevice::WriteOnly));
            n.write(name + "\n");
            QFile i(sys.filePath(dir + "/index"));
            QVERIFY(i.open(QIODevice::WriteOnly));
            i.write(index + "\n");
        };
        node("video2", "USB Camera", "0");
        node("video0", "Integrated Camera", "0");
        node("video1", "Integrated Camera", "1");
        const auto cams = LiveSource::cameras(sys.path().toStdString());
        QCOMPARE(int(cams.size()), 2);
        QCOMPARE(cams[0].index, 0);
        QCOMPARE(QString::fromStdString(cams[1].name), QString("USB Camera"));
        QVERIFY(LiveSource::cameras(sys.filePath("missing").toStdString()).empty());
        QList<CameraDialog::Device> devices;
        for (const auto &c : cams) devices.push_back({c.index, QString::fromStdString(c.name)});
        CameraDialog d(devices, 2, QSize(640, 480));
        QCOMPARE(d.deviceBox()->count(), 2);
        QCOMPARE(d.device(), 2);               // the remembered device
        QCOMPARE(d.size(), QSize(640, 480));   // and resolution
        d.sizeBox()->setCurrentIndex(0);
        QVERIFY(d.size().isEmpty());   // the camera's default
        QVERIFY(d.acceptable());
        CameraDialog none({}, 0, QSize());
        QVERIFY(!none.acceptable());
        QCOMPARE(none.device(), -1);
        d.show();
        d.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/camera_dialog.png");
    }

    void threadCountReloadsTheModel()
    {
        auto w = openDemo();
        QSignalSpy ready(w.get(), &MainWindow::modelReady);
        w->setThreads(1);
        QVERIFY(ready.wait(30000));
        QCOMPARE(w->threads(), 1);
        QCOMPARE(QSettings().value("engine/threads").toInt(), 1);
        w->setThreads(0);
        QVERIFY(ready.wait(30000));
        QCOMPARE(QSettings().value("engine/threads").toInt(), 0);
    }

    void precisionReloadsTheModelAndIsRemembered()
    {
        auto w = openDemo();
        QSignalSpy ready(w.get(), &MainWindow::modelReady);
        w->setPrecision(Precision::BFloat16);
        QVERIFY(ready.wait(30000));
        QCOMPARE(QString::fromStdString(w->modelSummary()->precision), QString("bf16"));
        QCOMPARE(QSettings().value("engine/precision").toString(), QString("bf16"));
        QVERIFY(w->modelSummary()->precisionNote.empty());
        QSignalSpy shown(w.get(), &MainWindow::activationsShown);
        w->openImage(res("samples/7-sneaker.png"));
        QVERIFY(shown.wait(30000));
        w->setPrecision(Precision::Float32);
        QVERIFY(ready.wait(30000));
        QCOMPARE(QString::fromStdString(w->modelSummary()->precision), QString("fp32"));
    }

    void presentationModeTogglesAndRestoresTheLayout()
    {
        QSettings().remove("presentation");
        auto w = openDemo();
        QSignalSpy shown(w.get(), &MainWindow::activationsShown);
        auto dock = [&](const char *name) { return w->findChild<QDockWidget *>(name); };
        QVERIFY(!dock("ActivationsDock")->isHidden());
        const double workingFont = QApplication::font().pointSizeF();
        auto *chart = w->findChild<PredictionChart *>();
        QVERIFY(chart && chart->findChild<QCustomPlot *>());
        QCPAxis *axis = chart->findChild<QCustomPlot *>()->xAxis;
        const double workingPen = std::max(1.0, axis->basePen().widthF());
        w->setPresentationMode(true);
        QVERIFY(w->presenting());
        QVERIFY(w->isFullScreen());
        QVERIFY(QApplication::font().pointSizeF() > 1.5 * workingFont);
        QCOMPARE(lineScale(), 2.5);   // thick lines
        QCOMPARE(axis->basePen().widthF(), 2.5 * workingPen);
        QVERIFY(!dock("InputDock")->isHidden() && !dock("AttributionDock")->isHidden());
        QVERIFY(dock("ActivationsDock")->isHidden() && dock("DatasetDock")->isHidden());
        // Keys: Page Down steps to the next layer, ↓ to the next channel, H shows the pointer, + grows the font.
        const QString before = w->currentLayer();
        QTest::keyClick(w.get(), Qt::Key_PageDown);
        QVERIFY(w->currentLayer() != before);
        QVERIFY(shown.wait(30000));
        QTest::keyClick(w.get(), Qt::Key_H);
        QVERIFY(w->pointerHighlight() && w->pointerHighlight()->isVisible());
        const double big = QApplication::font().pointSizeF();
        QTest::keyClick(w.get(), Qt::Key_Plus);
        QVERIFY(QApplication::font().pointSizeF() > big);
        // The presenter hides the prediction: remembered for the next presentation, not for work.
        dock("PredictionDock")->hide();
        w->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/presentation.png");
        QTest::keyClick(w.get(), Qt::Key_Escape);
        QVERIFY(!w->presenting());
        QCOMPARE(QApplication::font().pointSizeF(), workingFont);
        QCOMPARE(lineScale(), 1.0);
        QCOMPARE(axis->basePen().widthF(), workingPen);
        QVERIFY(!dock("ActivationsDock")->isHidden() && !dock("PredictionDock")->isHidden());
        w->setPresentationMode(true);
        QVERIFY(dock("PredictionDock")->isHidden());
        QVERIFY(QApplication::font().pointSizeF() > big);   // the scale chosen last time
        w->setPresentationMode(false);
        QVERIFY(!dock("PredictionDock")->isHidden());
    }

    void nanOutputsAreShown()
    {
        MainWindow w;
        w.show();
        QSignalSpy ready(&w, &MainWindow::modelReady);
        w.openModel(fix("nannet_scripted.pt"));
        QVERIFY(ready.wait(30000));
        QVERIFY(waitShown(w, [&] { w.openImage(fix("nannet_input.npy")); }));
        QVERIFY(w.lastError().contains("NaN"));
    }

    void resetLayoutRestoresDocks()
    {
        MainWindow w;
        w.show();
        auto *dock = w.findChild<QDockWidget *>("PredictionDock");
        QVERIFY(dock);
        for (const char *name : {"ModelDock", "InputDock", "ActivationsDock", "PredictionDock"}) QVERIFY(w.findChild<QDockWidget *>(name));
        dock->hide();
        QVERIFY(!dock->isVisible());
        w.resetLayout();
        QVERIFY(dock->isVisible());
        // Layout persists through QSettings.
        dock->hide();
        w.close();
        MainWindow w2;
        w2.show();
        QVERIFY(!w2.findChild<QDockWidget *>("PredictionDock")->isVisible());
        w2.resetLayout();
        QVERIFY(w2.findChild<QDockWidget *>("PredictionDock")->isVisible());
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_mainwindow.moc"
