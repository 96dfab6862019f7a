// File → Model settings on its own (a window, a workspace, the real engine): a torchvision model without
// metadata gets ImageNet preprocessing, a centre crop and labels without writing JSON by hand; the preview
// shows the preprocessed tensor; saving writes the sidecar atomically and the model reloads with it.
#include "app/gui/enginebridge.h"
#include "app/gui/features/modelfeature.h"
#include "app/gui/workspace.h"
#include "engine/core/errors.h"
#include "widgets/model/modelsettingsdialog.h"

#include <QLabel>
#include <QLineEdit>
#include <QMainWindow>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>

#include <filesystem>

using namespace pellucid;

namespace {
QString fix(const QString &p) { return QStringLiteral(PELLUCID_FIXTURES_DIR) + "/" + p; }
}   // namespace

class TestModelSettings : public QObject {
    Q_OBJECT
private slots:
    void settingsWithoutJsonByHand()
    {
        namespace fs = std::filesystem;
        const fs::path dir = fs::path(PELLUCID_SCREENSHOT_DIR) / "model_settings";
        fs::remove_all(dir);
        fs::create_directories(dir);
        const std::string model = (dir / "resnet.pt").string();
        fs::copy_file(fix("tv/resnet_basic_traced.pt").toStdString(), model);

        QMainWindow window;
        auto *ws = new Workspace(new EngineBridge(&window), &window);
        LoadOptions cpu;
        cpu.device = DevicePreference::Cpu;
        ws->setLoadOptions(cpu, false);
        auto *f = new ModelFeature(ws, &window);
        QSignalSpy loaded(ws, &Workspace::modelChanged);
        ws->openModel(QString::fromStdString(model));
        QVERIFY(loaded.wait(30000));
        QCOMPARE(QString::fromStdString(ws->model()->metadata.source), QString("none"));
        ws->setImagePath(fix("tv/photo_96x72.png"));

        ModelSettingsDialog *dialog = f->settingsDialog();
        QVERIFY(dialog);
        dialog->applyPreset("imagenet");
        dialog->resizeBox()->setValue(72);
        dialog->cropBox()->setValue(64);
        dialog->labelsEdit()->setText(fix("tv/labels_10.txt"));
        bool previewed = false;
        for (QLabel *l : dialog->findChildren<QLabel *>()) previewed = previewed || l->text().contains("tensor [1, 3, 64, 64]");
        QVERIFY(previewed);
        dialog->show();
        dialog->grab().save(QStringLiteral(PELLUCID_SCREENSHOT_DIR) + "/model_settings.png");
        // A bad field is refused by name, nothing written.
        dialog->shapeEdit()->setText("1,3,x");
        QVERIFY_THROWS_EXCEPTION(Error, dialog->document());
        QVERIFY(!fs::exists(model + ".json"));
        dialog->shapeEdit()->setText("");

        QVERIFY(f->saveSettings(dialog->document()));
        QVERIFY(fs::exists(model + ".json"));
        QVERIFY(!fs::exists(model + ".json.tmp"));
        QVERIFY(loaded.wait(30000));   // reloaded with its sidecar
        const ModelMetadata &md = ws->model()->metadata;
        QCOMPARE(QString::fromStdString(md.source), QString("sidecar"));
        QCOMPARE(int(md.labels.size()), 10);
        QCOMPARE(md.input.resize, 72);
        QCOMPARE(md.input.cropH, int64_t(64));
        QVERIFY(std::fabs(md.input.mean[0] - 0.485f) < 1e-6 && std::fabs(md.input.std[2] - 0.225f) < 1e-6);
        QCOMPARE(QString::fromStdString(md.input.channelOrder), QString("rgb"));
        delete dialog;
        fs::remove_all(dir);
    }
};

QTEST_MAIN(TestModelSettings)
#include "test_modelsettings.moc"
