// The Activations feature on its own (a window, a workspace, the real engine): the Prediction dock shows a
// one-line reason instead of empty axes for models that predict no classes.
#include "app/gui/enginebridge.h"
#include "app/gui/features/activationsfeature.h"
#include "app/gui/workspace.h"
#include "widgets/common/plot.h"
#include "widgets/prediction/predictionchart.h"

#include <qcustomplot.h>

#include <QMainWindow>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTest>

using namespace pellucid;

namespace {
QString res(const QString &p) { return QStringLiteral(PELLUCID_RESOURCES_DIR) + "/" + p; }
QString fix(const QString &p) { return QStringLiteral(PELLUCID_FIXTURES_DIR) + "/" + p; }
}   // namespace

class TestActivations : public QObject {
    Q_OBJECT
private slots:
    // A plot keeps its paint buffers only while shown (the soak's memory growth was hidden plots' pixmaps),
    // and still draws what it shows when shown again or grabbed while hidden.
    void hiddenPlotsHoldNoPaintBuffers()
    {
        QTabWidget tabs;
        auto *plot = new Plot;
        plot->addGraph();
        plot->graph(0)->setData({0, 1, 2, 3}, {0, 3, 1, 2});
        plot->graph(0)->setPen(QPen(Qt::red, 3));
        plot->rescaleAxes();
        tabs.addTab(plot, "plot");
        tabs.addTab(new QWidget, "other");
        tabs.resize(400, 300);
        tabs.show();
        QVERIFY(QTest::qWaitForWindowExposed(&tabs));
        plot->replot();
        QVERIFY(plot->paintBufferCount() > 0);
        const QImage shown = plot->grab().toImage();
        auto redPixels = [](const QImage &img) {
            int n = 0;
            for (int y = 0; y < img.height(); ++y)
                for (int x = 0; x < img.width(); ++x) {
                    const QColor c = img.pixelColor(x, y);
                    n += c.red() > 200 && c.green() < 80 && c.blue() < 80;
                }
            return n;
        };
        QVERIFY(redPixels(shown) > 50);

        tabs.setCurrentIndex(1);   // hidden in another tab
        QCOMPARE(plot->paintBufferCount(), 0);
        plot->graph(0)->setData({0, 1, 2, 3}, {3, 0, 2, 1});
        plot->replot();   // new data while hidden: drawn, then dropped again
        QCOMPARE(plot->paintBufferCount(), 0);
        QVERIFY(redPixels(plot->grab().toImage()) > 50);   // grabbed while hidden (figure export): still drawn
        QCOMPARE(plot->paintBufferCount(), 0);

        tabs.setCurrentIndex(0);   // shown again: buffers back, the new data drawn
        QTest::qWait(50);
        QVERIFY(plot->paintBufferCount() > 0);
        const QImage again = plot->grab().toImage();
        QVERIFY(redPixels(again) > 50);
        QVERIFY(again != shown);
    }

    void predictionSaysWhyWhenThereAreNoClasses()
    {
        QMainWindow window;
        auto *ws = new Workspace(new EngineBridge(&window), &window);
        LoadOptions cpu;
        cpu.device = DevicePreference::Cpu;
        ws->setLoadOptions(cpu, false);
        auto *f = new ActivationsFeature(ws, &window);
        for (QDockWidget *d : f->docks()) window.addDockWidget(Qt::RightDockWidgetArea, d);
        window.resize(900, 500);
        window.show();
        QSignalSpy model(ws, &Workspace::modelChanged);
        QSignalSpy shown(f, &ActivationsFeature::activationsShown);

        ws->openModel(res("models/vae_decoder.pt"));   // a decoder: codes in, images out
        QVERIFY(model.wait(30000));
        QVERIFY(f->prediction()->reason().contains("is a generator"));
        QVERIFY(f->prediction()->plot()->isHidden());

        ws->openModel(res("models/recommender_mf.pt"));
        QVERIFY(model.wait(30000));
        QVERIFY(f->prediction()->reason().contains("is a recommender"));

        ws->openModel(fix("tv/plain_decoder.pt"));   // no metadata: shown as it is, its output is not [N, classes]
        QVERIFY(model.wait(30000));
        QVERIFY(f->prediction()->reason().isEmpty());
        ws->setInput(TensorValue({1, 8}, std::vector<float>(8, 0.5f)), InputOrigin::Tensor);
        QVERIFY(shown.wait(30000));
        QVERIFY(f->prediction()->reason().contains("[1, 1, 8, 8], not [N, classes]"));
        f->prediction()->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/prediction_reason.png");

        ws->openModel(res("models/fashion_mnist_cnn.pt"));   // a classifier: the bars come back
        QVERIFY(model.wait(30000));
        ws->setInput(TensorValue({1, 1, 28, 28}, std::vector<float>(784, 0.f)), InputOrigin::Tensor);
        QVERIFY(shown.wait(30000));
        QVERIFY(f->prediction()->reason().isEmpty());
        QVERIFY(!f->prediction()->plot()->isHidden());
        QCOMPARE(f->prediction()->labels().size(), 5);
    }
};

QTEST_MAIN(TestActivations)
#include "test_activations.moc"
