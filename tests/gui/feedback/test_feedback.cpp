// The Feedback dock in the whole window: a mask drawn with the brush and the polygon is stored exactly, a
// verdict names the Attribution dock's explanation, every method's figures against the mask match the
// report's definition, keys 1–5 in the Latent dock store a rating, the table jumps back to an item, merge
// and export work, the report draws its bars; a refused database changes nothing. Screenshots of each view.
#include "app/feedback/report.h"
#include "app/feedback/store.h"
#include "app/gui/features/feedbackfeature.h"
#include "app/gui/mainwindow.h"
#include "app/io/imageinput.h"
#include "widgets/feedback/feedbackpanel.h"
#include "widgets/latent/latentpanel.h"

#include <QComboBox>
#include <QDockWidget>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace pellucid;

namespace {

QString res(const QString &p) { return QStringLiteral(PELLUCID_RESOURCES_DIR) + "/" + p; }
QString shot(const QString &name) { return QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/" + name; }

bool waitFor(QSignalSpy &spy, const QString &what, int ms = 60000)
{
    for (int waited = 0; waited < ms; waited += 50) {
        for (const QList<QVariant> &args : spy)
            if (args.value(0).toString() == what) return true;
        QTest::qWait(50);
    }
    return false;
}

}   // namespace

class TestFeedback : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName("PellucidFeedbackTest");
        QCoreApplication::setApplicationName("PellucidFeedbackTest");
        QSettings().clear();
    }

    void annotateJudgeRateReport()
    {
        QTemporaryDir dir;
        MainWindow w;
        w.resize(1400, 900);
        w.show();
        FeedbackFeature *fb = w.feedback();
        FeedbackPanel *panel = fb->panel();
        const QString db = dir.filePath("class.sqlite");
        QVERIFY(fb->openDatabase(db));
        QSignalSpy shown(fb, &FeedbackFeature::feedbackShown);
        QSignalSpy ready(&w, &MainWindow::modelReady);
        w.openModel(res("models/fashion_mnist_cnn.pt"));
        QVERIFY(ready.wait(60000));
        QSignalSpy attributed(&w, &MainWindow::attributionShown);
        w.openImage(res("samples/7-sneaker.png"));
        fb->dock()->show();
        fb->dock()->raise();
        QTest::qWait(300);

        // Draw: a brush stroke across the middle, then a polygon (three clicks and Enter) in the top-left.
        MaskEditor *ed = panel->editor();
        QCOMPARE(ed->maskWidth(), 28);
        QCOMPARE(ed->maskHeight(), 28);
        QCOMPARE(ed->area(), int64_t(0));
        QVERIFY(!fb->saveMask());   // empty: refused with a line
        QVERIFY(panel->message().contains("empty"));
        const QRectF pr = ed->pictureRect();
        auto at = [&](double mx, double my) { return QPointF(pr.left() + mx / 28.0 * pr.width(), pr.top() + my / 28.0 * pr.height()).toPoint(); };
        ed->setBrushRadius(1);
        QTest::mousePress(ed, Qt::LeftButton, Qt::NoModifier, at(4.5, 14.5));
        for (double x = 5.5; x <= 23.5; x += 1) QTest::mouseMove(ed, at(x, 14.5));
        QTest::mouseRelease(ed, Qt::LeftButton, Qt::NoModifier, at(23.5, 14.5));
        const int64_t stroke = ed->area();
        QVERIFY2(stroke >= 19 * 3 - 4 && stroke <= 21 * 3 + 4, qPrintable(QString::number(stroke)));   // a 3-pixel-wide line
        QCOMPARE(int(ed->mask()[14 * 28 + 10]), 1);
        QCOMPARE(int(ed->mask()[5 * 28 + 10]), 0);
        ed->setTool(MaskEditor::Tool::Polygon);
        QTest::mouseClick(ed, Qt::LeftButton, Qt::NoModifier, at(1, 1));
        QTest::mouseClick(ed, Qt::LeftButton, Qt::NoModifier, at(9, 1));
        QTest::mouseClick(ed, Qt::LeftButton, Qt::NoModifier, at(1, 9));
        QTest::keyClick(ed, Qt::Key_Return);
        QCOMPARE(int(ed->mask()[2 * 28 + 2]), 1);   // inside the triangle
        QCOMPARE(int(ed->mask()[8 * 28 + 8]), 0);   // beyond its long side
        // The eraser takes a disc out of the triangle.
        ed->setTool(MaskEditor::Tool::Eraser);
        const int64_t before = ed->area();
        QTest::mousePress(ed, Qt::LeftButton, Qt::NoModifier, at(3.5, 3.5));
        QTest::mouseRelease(ed, Qt::LeftButton, Qt::NoModifier, at(3.5, 3.5));
        QCOMPARE(int(ed->mask()[3 * 28 + 3]), 0);
        QVERIFY(ed->area() < before && ed->area() >= before - 9);
        ed->setTool(MaskEditor::Tool::Brush);
        const std::vector<uint8_t> drawn = ed->mask();
        panel->setAnnotator("alice");
        ed->grab().save(shot("feedback_mask.png"));
        QVERIFY(fb->saveMask());
        QVERIFY(waitFor(shown, "saved"));

        // What is stored is exactly what was drawn, with the model's and the input's hashes.
        {
            feedback::Store s(db.toStdString(), true);
            const auto rows = s.annotations();
            QCOMPARE(int(rows.size()), 1);
            QCOMPARE(rows[0].kind, std::string("mask"));
            QVERIFY(rows[0].mask == drawn);
            QCOMPARE(rows[0].modelSha, feedback::sha256File(res("models/fashion_mnist_cnn.pt").toStdString()));
            QCOMPARE(rows[0].inputSha, feedback::sha256File(res("samples/7-sneaker.png").toStdString()));
            QCOMPARE(rows[0].annotator, std::string("alice"));
        }

        // A verdict on the Attribution dock's explanation (its method, parameters, class and map hash).
        QVERIFY(attributed.wait(60000) || !attributed.isEmpty());
        QTest::qWait(500);
        QVERIFY(panel->findChild<QPushButton *>("verdict_disagree")->isEnabled());
        QTest::mouseClick(panel->findChild<QPushButton *>("verdict_disagree"), Qt::LeftButton);
        QVERIFY(waitFor(shown, "verdict"));
        {
            feedback::Store s(db.toStdString(), true);
            feedback::Filter f;
            f.kind = "verdict";
            const auto rows = s.annotations(f);
            QCOMPARE(int(rows.size()), 1);
            QCOMPARE(rows[0].verdict, std::string("disagree"));
            QVERIFY(!rows[0].method.empty() && !rows[0].params.empty() && rows[0].mapSha.size() == 64);
            QCOMPARE(rows[0].target, 7);
        }

        // Every method against the mask, as the report defines them.
        QTest::mouseClick(panel->findChild<QPushButton *>("compareMethods"), Qt::LeftButton);
        QVERIFY(waitFor(shown, "agreement", 120000));
        QTableWidget *table = panel->agreementTable();
        QCOMPARE(table->rowCount(), int(allMethods().size()));
        {
            auto model = Model::load(res("models/fashion_mnist_cnn.pt").toStdString());
            const TensorValue x =
                imageFileToTensor(res("samples/7-sneaker.png").toStdString(), model->summary().metadata.input, model->summary().inputShape);
            const auto r = explainInput(*model, x, feedback::defaultReportParams(AttributionMethod::GradCam, model->summary()));
            const MaskAgreement g = maskAgreement(pixelSaliency(r->map, 28, 28), PixelMask(drawn.begin(), drawn.end()), 10);
            bool found = false;
            for (int i = 0; i < table->rowCount(); ++i)
                if (table->item(i, 0)->text() == "Grad-CAM") {
                    found = true;
                    QCOMPARE(table->item(i, 2)->text(), QString::number(g.energy, 'f', 3));
                    QCOMPARE(table->item(i, 4)->text(), QString::number(g.auc, 'f', 3));
                }
            QVERIFY(found);
        }
        fb->dock()->grab().save(shot("feedback_annotate.png"));

        // Keys 1–5 in the Latent dock rate the decoded sample (here: the VAE decoder).
        w.openModel(res("models/vae_decoder.pt"));
        QVERIFY(ready.wait(60000));
        QTest::qWait(1500);
        auto *latentDock = w.findChild<QDockWidget *>("LatentDock");
        QVERIFY(latentDock);
        latentDock->show();
        latentDock->raise();
        QTest::qWait(300);
        latentDock->widget()->setFocus();
        QTest::keyClick(latentDock->widget(), Qt::Key_4);
        QVERIFY(waitFor(shown, "rating"));
        {
            feedback::Store s(db.toStdString(), true);
            feedback::Filter f;
            f.kind = "rating";
            const auto rows = s.annotations(f);
            QCOMPARE(int(rows.size()), 1);
            QCOMPARE(rows[0].rating, 4);
            QCOMPARE(rows[0].source, std::string("latent"));
            QVERIFY(rows[0].sample.find("\"code\"") != std::string::npos);
        }

        // The table, and back to the mask's item: the classifier and the sneaker reopen with the mask.
        panel->tabs()->setCurrentIndex(1);
        QTest::qWait(200);
        QCOMPARE(panel->annotationTable()->rowCount(), 3);
        auto *byModel = panel->findChild<QComboBox *>("filterModel");
        QVERIFY(byModel);
        byModel->setCurrentText("vae_decoder.pt");
        QCOMPARE(panel->annotationTable()->rowCount(), 1);   // the rating
        byModel->setCurrentIndex(0);
        QCOMPARE(panel->annotationTable()->rowCount(), 3);
        fb->dock()->grab().save(shot("feedback_table.png"));
        ed->clear();
        fb->jumpTo(1);
        QVERIFY(waitFor(shown, "jump"));
        QVERIFY(w.modelSummary() && w.modelSummary()->fileName == "fashion_mnist_cnn.pt");
        QVERIFY(ed->mask() == drawn);

        // Merge another annotator's database (twice: the second adds nothing), export, then the report.
        const QString other = dir.filePath("bob.sqlite");
        {
            feedback::Store b(other.toStdString());
            feedback::Store a(db.toStdString(), true);
            feedback::Annotation m = a.annotations()[0];
            m.uid.clear();
            m.annotator = "bob";
            b.putInput(m.inputSha, m.inputPath, a.inputBytes(m.inputSha));
            b.add(m);
        }
        QVERIFY(fb->mergeFrom(other));
        QVERIFY(panel->message().contains("1 annotations added"));
        QVERIFY(fb->mergeFrom(other));
        QVERIFY(panel->message().contains("0 annotations added"));
        QVERIFY(fb->exportTo(dir.filePath("all.json")));
        QVERIFY(QFile::exists(dir.filePath("all.json")));
        panel->tabs()->setCurrentIndex(2);
        QTest::mouseClick(panel->findChild<QPushButton *>("computeReport"), Qt::LeftButton);
        QVERIFY(waitFor(shown, "report", 180000));
        const auto &metrics = panel->reportChart()->metrics();
        QCOMPARE(int(metrics.size()), 4);
        QCOMPARE(metrics[0].methods.size(), int(allMethods().size()));
        for (size_t i = 1; i < metrics[0].mean.size(); ++i) QVERIFY(metrics[0].mean[i - 1] >= metrics[0].mean[i]);   // ranked
        fb->dock()->grab().save(shot("feedback_report.png"));
        exportFigure(*panel->reportChart(), dir.filePath("report.pdf"), FigureSettings());
        QVERIFY(QFileInfo(dir.filePath("report.pdf")).size() > 1000);

        // A database that is not one is refused by name; the open one stays.
        const QString notes = dir.filePath("notes.db");
        {
            std::ofstream f(notes.toStdString());
            f << "notes";
        }
        QVERIFY(!fb->openDatabase(notes));
        QVERIFY(panel->message().contains("not an SQLite database"));
        QCOMPARE(fb->databasePath(), db);
    }
};

QTEST_MAIN(TestFeedback)
#include "test_feedback.moc"
