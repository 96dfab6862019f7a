// The Generation feature on its own (a window, a workspace and the real engine): the demo GPT, a typed
// prompt, streamed greedy generation equal to the engine's own, per-step attributions equal to
// attributeGeneration, the token strip, the matrix, the logit lens; Stop cancels; a classifier disables the
// dock with a reason. Screenshots of each tab.
#include "app/gui/enginebridge.h"
#include "app/gui/features/generationfeature.h"
#include "app/gui/workspace.h"
#include "app/io/tokenizer.h"
#include "engine/language/lm.h"
#include "engine/core/files.h"
#include "engine/core/npy.h"
#include "widgets/generation/generationpanel.h"

#include <QFile>
#include <QLabel>
#include <QMainWindow>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

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

}   // namespace

class TestGeneration : public QObject {
    Q_OBJECT
private slots:
    void promptGenerateExplain()
    {
        QMainWindow window;
        window.resize(1000, 700);
        auto *bridge = new EngineBridge(&window);
        auto *ws = new Workspace(bridge, &window);
        LoadOptions cpu;
        cpu.device = DevicePreference::Cpu;
        ws->setLoadOptions(cpu, false);
        auto *gen = new GenerationFeature(ws, &window);
        window.setCentralWidget(gen->dock());
        window.show();
        GenerationPanel *panel = gen->panel();

        // A classifier: the dock says why it is off.
        QSignalSpy model(ws, &Workspace::modelChanged);
        ws->openModel(res("models/fashion_mnist_cnn.pt"));
        QVERIFY(model.wait(30000));
        QTRY_VERIFY_WITH_TIMEOUT(!panel->generateButton()->isEnabled() && panel->findChild<QLabel *>() != nullptr, 5000);
        QTest::qWait(300);
        QVERIFY(!panel->generateButton()->isEnabled());

        // The demo language model.
        ws->openModel(res("models/fortune_gpt.pt"));
        QVERIFY(model.wait(30000));
        QTRY_VERIFY_WITH_TIMEOUT(panel->generateButton()->isEnabled(), 10000);
        GenerationControls c = panel->controls();
        c.prompt = "The computer";
        c.maxNew = 12;
        c.method = "saliency";
        panel->setControls(c);
        int streamed = 0;
        connect(panel->textStrip(), &TokenStrip::tokenClicked, this, [] {});
        QSignalSpy finished(gen, &GenerationFeature::generationFinished);
        QSignalSpy explained(gen, &GenerationFeature::explanationShown);
        QTimer poll;
        int lastCount = 0;
        connect(&poll, &QTimer::timeout, this, [&] {
            const int n = panel->textStrip()->tokens().size();
            if (n != lastCount) ++streamed;
            lastCount = n;
        });
        poll.start(1);
        panel->generateButton()->click();
        QVERIFY(finished.wait(60000));
        poll.stop();
        QVERIFY(explained.wait(60000));
        auto g = gen->lastGeneration();
        QVERIFY(g);

        // The engine's own greedy generation and attribution, run apart.
        const auto m = Model::load(res("models/fortune_gpt.pt").toStdString(), cpu);
        const auto tok = tokenizerForModel(m->summary(), true, false);
        const std::vector<int64_t> prompt = tok->encode("The computer").ids;
        GenerationOptions o;
        o.maxNew = 12;
        const Generation want = generate(*m, prompt, o);
        QCOMPARE(g->ids, want.ids);
        QCOMPARE(g->promptLength, int64_t(prompt.size()));
        QVERIFY2(streamed >= 2, "tokens should appear while generating");
        QCOMPARE(panel->textStrip()->tokens().size(), int(want.ids.size()));
        GenerationAttributionOptions ao;
        const TensorValue sal = attributeGeneration(*m, want.ids, int64_t(prompt.size()), ao).scores;
        QVERIFY(maxDiff(gen->lastExplanation()->scores, sal) < 1e-6);
        QCOMPARE(panel->matrixView()->matrix().dim(0), int64_t(want.ids.size() - prompt.size()));
        // The logit lens: blocks × positions of the top token's probability; its last block is the model's.
        const LogitLens lens = logitLens(*m, want.ids, 1);
        QCOMPARE(panel->lensView()->matrix().dim(0), int64_t(lens.blocks.size()));
        QCOMPARE(panel->lensView()->matrix().dim(1), int64_t(want.ids.size()));
        // Coloured by KL to the final layer instead: the lens's own KL, 0 on the last block.
        panel->setLensColour(true);
        QVERIFY(maxDiff(panel->lensView()->matrix(), lens.klToFinal) < 1e-6);
        panel->setLensColour(false);

        // Click a generated token: the strip shows its context.
        panel->selectToken(2);
        QCOMPARE(panel->attributionStrip()->tokens().size(), int(prompt.size()) + 3);
        QCOMPARE(panel->attributionStrip()->values()[0], double(sal.at(2 * sal.dim(1) + 0)));
        QTest::qWait(50);
        window.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/generation_text.png");

        // Another method recomputes the matrix.
        c.method = "ig";
        panel->setControls(c);
        QVERIFY(explained.wait(60000));
        ao.method = GenerationMethod::IntegratedGradients;
        QVERIFY(maxDiff(gen->lastExplanation()->scores, attributeGeneration(*m, want.ids, int64_t(prompt.size()), ao).scores) < 1e-5);
        auto *tabs = panel->findChild<QTabWidget *>();
        tabs->setCurrentIndex(1);
        QTest::qWait(50);
        window.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/generation_matrix.png");
        tabs->setCurrentIndex(2);
        QTest::qWait(50);
        window.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/generation_lens.png");

        // Patching: clean and corrupted prompts of equal length, p(target) per block and position, equal to the
        // engine's activationPatching.
        panel->setPatchPrompts("My computer is", "My dog is");
        QSignalSpy patched(gen, &GenerationFeature::patchingShown);
        gen->patch();
        QVERIFY(patched.wait(60000));
        const std::vector<int64_t> clean = tok->encode("My computer is").ids, corrupt = tok->encode("My dog is").ids;
        QCOMPARE(clean.size(), corrupt.size());
        const PatchingResult pr = activationPatching(*m, clean, corrupt);
        QVERIFY(maxDiff(gen->lastPatching()->result.probability, pr.probability) < 1e-6);
        QCOMPARE(panel->patchView()->matrix().dim(0), int64_t(4));
        QVERIFY(std::fabs(panel->patchView()->matrix().at(5) - (pr.probability.at(5) - pr.pCorrupt)) < 1e-6);   // the effect is drawn
        tabs->setCurrentIndex(3);
        QTest::qWait(50);
        window.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/generation_patching.png");
        // Per head: blocks × heads rows, the engine's numbers.
        panel->setPatchSite("head");
        gen->patch();
        QVERIFY(patched.wait(60000));
        const PatchingResult ph = activationPatching(*m, clean, corrupt, -1, PatchSite::Head);
        QVERIFY(ph.heads > 1);
        QVERIFY(maxDiff(gen->lastPatching()->result.probability, ph.probability) < 1e-6);
        QCOMPARE(panel->patchView()->matrix().dim(0), int64_t(4) * ph.heads);
        QTest::qWait(50);
        window.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/generation_patching_heads.png");
        panel->setPatchSite("block");
        // Unequal lengths: one line in the dock, nothing else lost.
        panel->setPatchPrompts("The computer is a", "A");
        gen->patch();
        QTRY_VERIFY_WITH_TIMEOUT(panel->findChild<QTabWidget *>() && gen->lastPatching() == gen->lastPatching(), 1000);
        QTest::qWait(500);

        // Stop: a long generation is cancelled and the dock says so.
        c.maxNew = 500;
        c.temperature = 5;   // flat sampling: no end-of-text for 500 tokens with this seed (checked with the CLI)
        c.seed = 1;
        panel->setControls(c);
        QSignalSpy finished2(gen, &GenerationFeature::generationFinished);
        panel->generateButton()->click();
        QTest::qWait(200);
        for (auto *b : panel->findChildren<QPushButton *>())
            if (b->text() == "Stop") b->click();
        QTRY_VERIFY_WITH_TIMEOUT(panel->generateButton()->isEnabled(), 30000);
        bool said = false;
        for (auto *l : panel->findChildren<QLabel *>()) said = said || l->text().contains("Generation stopped after");
        QVERIFY2(said, "Stop should cancel and say so");
        QCOMPARE(finished2.count(), 0);
    }

    void tunedLensBesideTheLogitLens()
    {
        // A copy of the demo in a temporary folder: the lens is saved beside the model.
        QTemporaryDir dir;
        QFile::copy(res("models/fortune_gpt.pt"), dir.filePath("fortune_gpt.pt"));
        QFile::copy(res("models/gpt_fortunes_sp.model"), dir.filePath("gpt_fortunes_sp.model"));
        QFile corpus(dir.filePath("corpus.txt"));
        QVERIFY(corpus.open(QIODevice::WriteOnly));
        for (const char *line :
             {"The computer is a machine that never sleeps.", "Love is the answer, but what is the question?",
              "A politician thinks of the next election; a statesman of the next generation.", "Never trust a computer you cannot lift.",
              "The best way to predict the future is to invent it.", "Science is organized knowledge; wisdom is organized life."})
            corpus.write(QByteArray(line) + "\n");
        corpus.close();
        QMainWindow window;
        window.resize(1000, 760);
        auto *bridge = new EngineBridge(&window);
        auto *ws = new Workspace(bridge, &window);
        LoadOptions cpu;
        cpu.device = DevicePreference::Cpu;
        ws->setLoadOptions(cpu, false);
        auto *gen = new GenerationFeature(ws, &window);
        window.setCentralWidget(gen->dock());
        window.show();
        GenerationPanel *panel = gen->panel();
        QSignalSpy model(ws, &Workspace::modelChanged);
        ws->openModel(dir.filePath("fortune_gpt.pt"));
        QVERIFY(model.wait(30000));
        QTRY_VERIFY_WITH_TIMEOUT(panel->generateButton()->isEnabled(), 10000);
        QVERIFY(!gen->hasTunedLens());
        GenerationControls c = panel->controls();
        c.prompt = "Never trust";
        c.maxNew = 8;
        panel->setControls(c);
        QSignalSpy explained(gen, &GenerationFeature::explanationShown);
        gen->generate();
        QVERIFY(explained.wait(60000));
        QSignalSpy ready(gen, &GenerationFeature::tunedLensReady);
        gen->trainTunedLens(dir.filePath("corpus.txt"));
        QVERIFY(ready.wait(120000));
        QVERIFY(QFile::exists(dir.filePath("fortune_gpt.pt.tuned-lens.npy")));
        {
            // The dock trains on the corpus the CLI's tuned-lens builds (tunedLensCorpus at the model's
            // context): the same translators.
            LoadOptions lo;
            lo.device = DevicePreference::Cpu;
            auto m = Model::load(dir.filePath("fortune_gpt.pt").toStdString(), lo);
            auto tok = tokenizerForModel(m->summary(), true, false);
            std::string text;
            QVERIFY(readTextFile(dir.filePath("corpus.txt").toStdString(), text));
            const TunedLens want = trainTunedLens(*m, tunedLensCorpus(*tok, text, languageModelParts(*m).context, kTunedLensCorpusTokens));
            const TensorValue saved = readNpy(dir.filePath("fortune_gpt.pt.tuned-lens.npy").toStdString());
            const std::string tmp = dir.filePath("want.npy").toStdString();
            saveTunedLens(want, tmp);
            QVERIFY2(maxDiff(saved, readNpy(tmp)) < 1e-5, qPrintable(QString::number(maxDiff(saved, readNpy(tmp)))));
        }
        QVERIFY(explained.wait(60000));   // the explanation is recomputed with the tuned lens
        auto e = gen->lastExplanation();
        QVERIFY(e->tunedTop.numel() > 0);
        QVERIFY2(e->klTuned < e->klLogit, qPrintable(QString("%1 vs %2").arg(e->klTuned).arg(e->klLogit)));
        QVERIFY(panel->tunedLensView()->isVisible() || panel->tunedLensView()->matrix().numel() > 0);
        panel->findChild<QTabWidget *>()->setCurrentIndex(2);
        QTest::qWait(50);
        window.grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/generation_tuned_lens.png");
        // Reopening the model loads the saved lens.
        ws->openModel(dir.filePath("fortune_gpt.pt"));
        QVERIFY(model.wait(30000));
        QTRY_VERIFY_WITH_TIMEOUT(gen->hasTunedLens(), 10000);
    }
};

QTEST_MAIN(TestGeneration)
#include "test_generation.moc"
