// The Compare feature on its own (a window, a workspace and the real engine; no main window): two models on
// one input, A, B and B − A, checked against separate runs of each model.
#include "app/gui/enginebridge.h"
#include "app/gui/features/comparefeature.h"
#include "app/gui/workspace.h"
#include "app/io/imageinput.h"
#include "app/workflows/workflows.h"
#include "widgets/attribution/attributionview.h"

#include <QMainWindow>
#include <QSignalSpy>
#include <QTest>

#include <cmath>

using namespace pellucid;

namespace {

QString res(const QString &p) { return QStringLiteral(PELLUCID_RESOURCES_DIR) + "/" + p; }

double maxDiff(const TensorValue &a, const TensorValue &b)
{
    if (a.shape() != b.shape()) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, double(std::fabs(a.at(i) - b.at(i))));
    return m;
}

std::unique_ptr<Model> load(const QString &path)
{
    LoadOptions o;
    o.device = DevicePreference::Cpu;
    return Model::load(path.toStdString(), o);
}

}   // namespace

class TestCompare : public QObject {
    Q_OBJECT
private slots:
    void twoModelsSideBySide()
    {
        QMainWindow window;
        window.resize(1200, 800);
        auto *bridge = new EngineBridge(&window);
        auto *ws = new Workspace(bridge, &window);
        LoadOptions cpu;
        cpu.device = DevicePreference::Cpu;
        ws->setLoadOptions(cpu, false);
        AttributionParams params;
        params.method = AttributionMethod::IntegratedGradients;
        params.steps = 8;
        params.target.kind = AttributionTarget::Kind::Class;
        params.target.classIndex = 7;
        ws->setAttributionSources([&params] { return params; }, {});
        auto *compare = new CompareFeature(ws, &window);
        window.addDockWidget(Qt::RightDockWidgetArea, compare->dock());
        window.show();

        QSignalSpy model(ws, &Workspace::modelChanged);
        ws->openModel(res("models/fashion_mnist_cnn.pt"));
        QVERIFY(model.wait(30000));
        const QString image = res("samples/7-sneaker.png");
        const auto a = load(res("models/fashion_mnist_cnn.pt"));
        const auto b = load(res("models/fashion_mnist_vit.pt"));
        const TensorValue xa = loadInputFile(image.toStdString(), a->summary().metadata.input, a->summary().inputShape);
        const TensorValue xb = loadInputFile(image.toStdString(), b->summary().metadata.input, b->summary().inputShape);
        ws->setInput(xa, InputOrigin::File, image);
        ws->setLayer("features.9");

        QSignalSpy shown(compare, &CompareFeature::compareShown);
        ws->openCompareModel(res("models/fashion_mnist_vit.pt"));
        QVERIFY(shown.wait(60000));
        auto r = compare->last();
        QVERIFY(r);
        // Predictions: each model's own top-5.
        QCOMPARE(r->topA.front().index, a->topK(a->forward(xa, {}).outputs.at(0), 1).front().index);
        QCOMPARE(r->topB.front().index, b->topK(b->forward(xb, {}).outputs.at(0), 1).front().index);
        QVERIFY(!r->probabilityDelta.empty());
        // Attribution: A's and B's maps equal separate runs; B − A is their difference.
        const TensorValue mapA = computeAttribution(*a, xa, params)->map, mapB = computeAttribution(*b, xb, params)->map;
        QVERIFY(maxDiff(r->mapA, mapA) < 1e-5);
        QVERIFY(maxDiff(r->mapB, mapB) < 1e-5);
        double worst = 0;
        for (int64_t i = 0; i < mapA.numel(); ++i) worst = std::max(worst, std::fabs(double(r->mapDelta.at(i)) - (mapB.at(i) - mapA.at(i))));
        QVERIFY(worst < 1e-5);
        QVERIFY(maxDiff(r->mapA, r->mapB) > 1e-4);   // two different networks
        // Activations: A's layer averaged over channels; the ViT has no features.9, which the notes say.
        const TensorValue act = a->forward(xa, {"features.9"}).taps.at("features.9").at(0);
        const int64_t C = act.dim(1), HW = act.dim(2) * act.dim(3);
        double mean0 = 0;
        for (int64_t c = 0; c < C; ++c) mean0 += act.at(c * HW) / double(C);
        QVERIFY(std::fabs(r->activationA.at(0) - mean0) < 1e-5);
        QCOMPARE(r->activationB.numel(), int64_t(0));
        QVERIFY(QString::fromStdString(r->notes).contains("B has no layer features.9"));
        QCoreApplication::processEvents();
        compare->dock()->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/compare.png");

        // Two checkpoints of one network (here: the same file twice): B − A vanishes everywhere.
        ws->openCompareModel(res("models/fashion_mnist_cnn.pt"));
        QVERIFY(shown.wait(60000));
        r = compare->last();
        QCOMPARE(maxDiff(r->mapDelta, TensorValue(r->mapDelta.shape(), std::vector<float>(size_t(r->mapDelta.numel()), 0.f))), 0.0);
        QCOMPARE(maxDiff(r->activationDelta, TensorValue(r->activationDelta.shape(), std::vector<float>(size_t(r->activationDelta.numel()), 0.f))),
                 0.0);
        QVERIFY(std::fabs(r->spearman - 1.0) < 1e-12);
        // A new input recomputes the comparison.
        ws->setInput(loadInputFile(res("samples/9-ankle-boot.png").toStdString(), a->summary().metadata.input, a->summary().inputShape),
                     InputOrigin::File, res("samples/9-ankle-boot.png"));
        QVERIFY(shown.wait(60000));
        QCOMPARE(compare->last()->inputId, ws->inputId());
    }
};

QTEST_MAIN(TestCompare)
#include "test_compare.moc"
