// The Diffusion feature on its own (a window, a workspace and the real engine): a classifier turns the dock
// off with a reason; on the scripted fixture denoiser a typed prompt streams its steps and ends in the
// engine's own sample, the per-word maps and their filtered form equal the eager-PyTorch references
// (tests/fixtures/make_diffusion_fixtures.py), a clicked word lays its map over the image, re-weighting,
// the word gradient and the seed gallery equal the engine's, bad prompts and NaN get one line, a session
// brings the run back; on the demo, the trajectory lens per half and Stop. Screenshots of each tab.
#include "app/gui/enginebridge.h"
#include "app/gui/features/diffusionfeature.h"
#include "app/gui/workspace.h"
#include "engine/core/npy.h"
#include "engine/diffusion/diffusion.h"
#include "widgets/diffusion/diffusionpanel.h"
#include "widgets/latent/latentpanel.h"

#include <QFile>
#include <QLabel>
#include <QMainWindow>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QImageReader>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <cmath>

using namespace pellucid;

namespace {

QString res(const QString &p) { return QStringLiteral(PELLUCID_RESOURCES_DIR) + "/" + p; }
QString fix(const QString &p) { return QStringLiteral(PELLUCID_FIXTURES_DIR) + "/diffusion/" + p; }
QString shot(const QString &name) { return QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/" + name; }

double maxDiff(const TensorValue &a, const TensorValue &b)
{
    if (a.shape() != b.shape()) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, double(std::fabs(a.at(i) - b.at(i))));
    return m;
}

/// [-1, 1] → [0, 1], as the dock shows samples.
TensorValue unit(const TensorValue &x)
{
    std::vector<float> v(size_t(x.numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::clamp((x.at(int64_t(i)) + 1.f) / 2.f, 0.f, 1.f);
    return TensorValue(x.shape(), std::move(v));
}

QString statusOf(DiffusionPanel *p) { return p->findChild<QLabel *>()->text(); }

LoadOptions cpuOptions()
{
    LoadOptions cpu;
    cpu.device = DevicePreference::Cpu;
    return cpu;
}

/// The Diffusion feature alone in a window, on the real engine (CPU).
struct DockWindow {
    QMainWindow window;
    Workspace *ws = nullptr;
    DiffusionFeature *diff = nullptr;
    DockWindow()
    {
        window.resize(1100, 820);
        ws = new Workspace(new EngineBridge(&window), &window);
        ws->setLoadOptions(cpuOptions(), false);
        diff = new DiffusionFeature(ws, &window);
        window.setCentralWidget(diff->dock());
        window.show();
    }
};

}   // namespace

class TestDiffusionGui : public QObject {
    Q_OBJECT
private slots:
    void fixtureDenoiser()
    {
        DockWindow dw;
        QMainWindow &window = dw.window;
        Workspace *ws = dw.ws;
        DiffusionFeature *diff = dw.diff;
        DiffusionPanel *panel = diff->panel();

        // A classifier: the dock is off and says why.
        QSignalSpy model(ws, &Workspace::modelChanged);
        QSignalSpy avail(diff, &DiffusionFeature::availabilityChanged);
        ws->openModel(res("models/fashion_mnist_cnn.pt"));
        QVERIFY(model.wait(30000));
        QVERIFY(avail.wait(10000));
        QCOMPARE(avail.last().at(0).toBool(), false);
        QVERIFY(!panel->generateButton()->isEnabled());
        QVERIFY2(statusOf(panel).contains("not a diffusion denoiser"), qPrintable(statusOf(panel)));

        // The scripted fixture denoiser (3 cross-attention sites, 1 self-attention).
        ws->openModel(fix("softmax_scripted.pt"));
        QVERIFY(model.wait(30000));
        QVERIFY(avail.wait(10000));
        QCOMPARE(avail.last().at(0).toBool(), true);
        QVERIFY2(statusOf(panel).contains("3 cross-attention, 1 self-attention"), qPrintable(statusOf(panel)));
        DiffusionControls c;
        c.prompt = "cat dog";
        c.seed = 5;
        c.steps = 8;
        c.guidance = 2.5;
        panel->setControls(c);
        QSignalSpy finished(diff, &DiffusionFeature::runFinished);
        panel->generateButton()->click();
        QVERIFY(finished.wait(60000));
        QCOMPARE(diff->streamedSteps(), 8);   // every step streamed before the end
        const auto run = diff->lastRun();
        QVERIFY(run);
        const std::string d = fix("").toStdString();
        QVERIFY(maxDiff(run->result.sample, readNpy(d + "ddim_g25_capture_sample.npy")) < 1e-4);
        QVERIFY(maxDiff(panel->maps(), readNpy(d + "ddim_g25_capture_maps.npy")) < 1e-5);
        QCOMPARE(panel->trajectory().dim(0), int64_t(8));
        QCOMPARE(panel->wordButtons().size(), 2);
        QCOMPARE(panel->wordButtons()[1]->text(), QString("dog"));
        // The step slider scrubs x̂₀: the first step's is shown.
        panel->showStepAt(0);
        QVERIFY(maxDiff(panel->imageView()->image(), unit(readNpy(d + "ddim_g25_capture_trajectory.npy")).rows(0, 1)) < 1e-4);
        panel->showStepAt(7);
        // The trajectory as an animation: one frame per step.
        {
            QTemporaryDir tmp;
            diff->exportTrajectory(tmp.filePath("trajectory.gif"));
            QImageReader gif(tmp.filePath("trajectory.gif"));
            QCOMPARE(gif.format(), QByteArray("gif"));
            QCOMPARE(gif.imageCount(), 8);
        }
        // Click a word: its map over the image.
        panel->wordButtons()[1]->click();
        QCOMPARE(panel->selectedWord(), 1);
        QVERIFY(maxDiff(panel->imageView()->map(), readNpy(d + "ddim_g25_capture_maps.npy").slice0(1)) < 1e-5);
        QTest::qWait(50);
        window.grab().save(shot("diffusion_fixture_word.png"));

        // Filters: steps 3–5 (2–4 from 0), the second cross site, head 0.
        QSignalSpy maps(diff, &DiffusionFeature::mapsShown);
        DiffusionPanel::MapFilter f;
        f.stepFrom = 2;
        f.stepTo = 4;
        f.site = 1;
        f.head = 0;
        panel->setMapFilter(f);
        QTRY_VERIFY_WITH_TIMEOUT(maxDiff(panel->maps(), readNpy(d + "ddim_g25_capture_maps_filtered.npy")) < 1e-5, 10000);
        QVERIFY(!maps.isEmpty());

        // Re-weighting "dog" ×3: the fixture's prompt-to-prompt reference, beside the original.
        QSignalSpy rw(diff, &DiffusionFeature::reweightShown);
        panel->setReweight(1, 3.0);
        QVERIFY(diff->reweight() != 0);
        QVERIFY(rw.wait(60000));
        const TensorValue grid = panel->reweightGrid()->images();
        QCOMPARE(grid.dim(0), int64_t(3));
        QVERIFY(maxDiff(grid.rows(0, 1), unit(readNpy(d + "ddim_g25_capture_sample.npy"))) < 1e-4);
        QVERIFY(maxDiff(grid.rows(1, 2), unit(readNpy(d + "reweight_sample.npy"))) < 1e-4);
        panel->tabs()->setCurrentIndex(1);
        QTest::qWait(50);
        window.grab().save(shot("diffusion_fixture_reweight.png"));

        // The gradient of the left half's mean pixel w.r.t. each word's embedding: the engine's.
        QSignalSpy gr(diff, &DiffusionFeature::gradientShown);
        QVERIFY(diff->gradient() != 0);
        QVERIFY(gr.wait(60000));
        {
            const auto m = Model::load(fix("softmax_scripted.pt").toStdString(), cpuOptions());
            const DiffusionConfig cfg = diffusionConfig(*m);
            DiffusionRequest r;
            r.cond = {1, 2};
            r.steps = 8;
            r.seed = 5;
            r.guidance = 2.5;
            const WordGradient want = wordGradients(*m, r, 5, cfg.regions[0]);
            QVERIFY2(panel->gradientText().startsWith(QString("cat %1").arg(want.norm[0], 0, 'g', 4)), qPrintable(panel->gradientText()));
            // The gallery: seeds 5, 6, 7; the first is the run above.
            QSignalSpy gal(diff, &DiffusionFeature::galleryShown);
            QVERIFY(diff->gallery() != 0);
            QVERIFY(gal.wait(60000));
            const TensorValue g = panel->galleryGrid()->images();
            QCOMPARE(g.dim(0), int64_t(panel->galleryCount()));
            QVERIFY(maxDiff(g.rows(0, 1), unit(readNpy(d + "ddim_g25_capture_sample.npy"))) < 1e-4);
            r.seed = 6;
            QVERIFY(maxDiff(g.rows(1, 2), unit(sampleDiffusion(*m, r).sample)) < 1e-4);
        }
        panel->tabs()->setCurrentIndex(2);
        QTest::qWait(50);
        window.grab().save(shot("diffusion_fixture_gradient.png"));
        panel->tabs()->setCurrentIndex(3);
        QTest::qWait(50);
        window.grab().save(shot("diffusion_fixture_seeds.png"));

        // A session keeps the prompt, the word, the filter and the re-weighting, and generates again on open.
        Session s;
        diff->saveSession(s);
        QCOMPARE(s.diffusion.prompt, QString("cat dog"));
        QCOMPARE(s.diffusion.word, 1);
        QCOMPARE(s.diffusion.site, 1);
        QVERIFY(s.diffusion.generated);
        DockWindow other;
        Workspace *ws2 = other.ws;
        DiffusionFeature *again = other.diff;
        again->restoreSession(s);
        QSignalSpy done2(again, &DiffusionFeature::runFinished);
        ws2->openModel(fix("softmax_scripted.pt"));
        QVERIFY(done2.wait(60000));
        QCOMPARE(again->panel()->selectedWord(), 1);
        QCOMPARE(again->panel()->mapFilter().site, 1);
        QTRY_VERIFY_WITH_TIMEOUT(maxDiff(again->panel()->maps(), readNpy(d + "ddim_g25_capture_maps_filtered.npy")) < 1e-5, 10000);
        QCOMPARE(again->panel()->reweightFactor(), 3.0);

        // Bad input: a word outside the vocabulary, NaN in ε — one line, the last run kept.
        c.prompt = "cat horse";
        panel->setControls(c);
        QCOMPARE(diff->generate(), quint64(0));
        QVERIFY2(statusOf(panel).contains("horse"), qPrintable(statusOf(panel)));
        QVERIFY(diff->lastRun() == run);
        ws->openModel(fix("nan.pt"));
        QVERIFY(avail.wait(30000));
        c.prompt = "1,2";
        panel->setControls(c);
        QVERIFY(diff->generate() != 0);
        QTRY_VERIFY_WITH_TIMEOUT(statusOf(panel).contains("NaN"), 30000);
        QVERIFY(!statusOf(panel).contains('\n'));
    }

    void demoLensAndStop()
    {
        if (!QFile::exists(res("models/fashion_pairs_diffusion.pt"))) QSKIP("the diffusion demo is not trained");
        DockWindow dw;
        QMainWindow &window = dw.window;
        Workspace *ws = dw.ws;
        DiffusionFeature *diff = dw.diff;
        DiffusionPanel *panel = diff->panel();
        QSignalSpy avail(diff, &DiffusionFeature::availabilityChanged);
        ws->openModel(res("models/fashion_pairs_diffusion.pt"));
        QVERIFY(avail.wait(60000));
        QVERIFY2(avail.last().at(0).toBool(), qPrintable(statusOf(panel)));
        QVERIFY2(statusOf(panel).contains("fashion_mnist_cnn.pt"), qPrintable(statusOf(panel)));
        DiffusionControls c;
        c.prompt = "sneaker bag";
        c.seed = 1;
        c.steps = 25;
        c.guidance = 3;
        panel->setControls(c);
        QSignalSpy finished(diff, &DiffusionFeature::runFinished);
        panel->generateButton()->click();
        QVERIFY(finished.wait(120000));
        // The lens: each half through the classifier, every step.
        const TensorValue p = panel->lensChart()->probabilities();
        QCOMPARE(p.dim(0), int64_t(25));
        QCOMPARE(p.dim(1), int64_t(2));
        QCOMPARE(p.dim(2), int64_t(10));
        const auto dec = panel->lensChart()->decided();
        QCOMPARE(int(dec.size()), 2);
        panel->wordButtons()[0]->click();
        panel->tabs()->setCurrentIndex(0);
        QTest::qWait(50);
        window.grab().save(shot("diffusion_demo_lens.png"));
        panel->wordButtons()[1]->click();
        QTest::qWait(50);
        window.grab().save(shot("diffusion_demo_word_right.png"));

        // Stop: a long run cancelled after its first steps keeps the finished one.
        const auto before = diff->lastRun();
        c.steps = 500;
        panel->setControls(c);
        panel->generateButton()->click();
        QTRY_VERIFY_WITH_TIMEOUT(diff->streamedSteps() >= 2, 60000);
        panel->generateButton()->click();   // now "Stop"
        QTRY_VERIFY_WITH_TIMEOUT(statusOf(panel).contains("stopped"), 30000);
        QVERIFY(diff->streamedSteps() < 500);
        QVERIFY(diff->lastRun() == before);
        QCOMPARE(panel->generateButton()->text(), QString("Generate"));
    }
};

QTEST_MAIN(TestDiffusionGui)
#include "test_diffusion_gui.moc"
