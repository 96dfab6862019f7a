#include "app/gui/features/modelfeature.h"

#include "app/io/imageinput.h"
#include "engine/core/files.h"
#include "widgets/attribution/attributionview.h"
#include "widgets/model/layertree.h"
#include "widgets/model/modelsettingsdialog.h"

#include <QActionGroup>
#include <QFileDialog>
#include <QFileInfo>
#include <QSettings>
#include <QThread>

namespace pellucid {

ModelFeature::ModelFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mTree = new LayerTree;
    addDock(tr("Model"), "ModelDock", mTree);
    // Remembered engine settings apply to the first load.
    LoadOptions o = mWorkspace->loadOptions();
    o.threads = QSettings().value("engine/threads", 0).toInt();
    parsePrecision(QSettings().value("engine/precision", "fp32").toString().toStdString(), o.precision);
    mWorkspace->setLoadOptions(o, false);
    connect(mTree, &LayerTree::layerSelected, mWorkspace, [this](const QString &path) { mWorkspace->setLayer(path); });
    connect(mWorkspace, &Workspace::layerChanged, this, [this](const QString &path) {
        if (!path.isEmpty()) mTree->selectLayer(path);
    });
    connect(mWorkspace, &Workspace::modelChanged, this, &ModelFeature::onModel);
}

void ModelFeature::placeDocks(DockLayout &layout) { layout.left(docks().front(), true); }

void ModelFeature::onModel(std::shared_ptr<const ModelSummary> s)
{
    mTree->setModel(*s);
    QSettings settings;
    QStringList recent = settings.value("recentModels").toStringList();
    const QString path = QFileInfo(QString::fromStdString(s->path)).absoluteFilePath();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > 10) recent.removeLast();
    settings.setValue("recentModels", recent);
    updateRecentMenu();
    if (mWorkspace->isGenerator() || mWorkspace->isRecommender()) return;   // codes or users, not layers of an image
    // A layer the metadata suggests, else the first called leaf with a spatial output.
    QString layer;
    if (!s->metadata.suggestedLayers.empty()) layer = QString::fromStdString(s->metadata.suggestedLayers.front());
    if (layer.isEmpty())
        for (const auto &l : s->layers)
            if (l.leaf && l.calls > 0 && !l.outputShapes.empty() && l.outputShapes[0].size() == 4) {
                layer = QString::fromStdString(l.path);
                break;
            }
    mWorkspace->setLayer(layer, true);
}

void ModelFeature::addActions(Menus &menus)
{
    QMenu *file = menus.file;
    file->addAction(tr("&Open model…"), QKeySequence::Open, this, [this] {
        const QString path =
            QFileDialog::getOpenFileName(mWindow, tr("Open model"), QString(), tr("Models (*.pt *.pth *.ptl *.zip *.onnx);;TorchScript (*.pt *.pth *.ptl *.zip);;ONNX (*.onnx);;All files (*)"));
        if (!path.isEmpty()) mWorkspace->openModel(path);
    });
    file->addAction(tr("Model &settings…"), this, [this] {
        ModelSettingsDialog *dialog = settingsDialog();
        if (!dialog) return;
        if (dialog->exec() == QDialog::Accepted) {
            try {
                saveSettings(dialog->document());
            } catch (const std::exception &e) {
                mWorkspace->showError(QString::fromStdString(e.what()));
            }
        }
        dialog->deleteLater();
    });
    mRecent = file->addMenu(tr("&Recent models"));
    updateRecentMenu();
    const LoadOptions o = mWorkspace->loadOptions();
    QMenu *device = file->addMenu(tr("&Device"));
    auto *group = new QActionGroup(this);
    const bool cuda = cudaAvailable();
    const std::pair<QString, DevicePreference> devices[] = {{tr("Automatic (CUDA when available)"), DevicePreference::Auto},
                                                            {tr("CPU"), DevicePreference::Cpu},
                                                            {cuda ? tr("CUDA") : tr("CUDA (not available)"), DevicePreference::Cuda}};
    for (const auto &[label, pref] : devices) {
        QAction *a = device->addAction(label, this, [this, pref = pref] { setDevice(pref); });
        a->setCheckable(true);
        a->setChecked(pref == o.device);
        a->setEnabled(pref != DevicePreference::Cuda || cuda);
        group->addAction(a);
    }
    QMenu *threadsMenu = file->addMenu(tr("CPU &threads"));
    auto *threadGroup = new QActionGroup(this);
    for (int n : {0, 1, 2, 4, 8, 16}) {
        QAction *a = threadsMenu->addAction(n == 0 ? tr("All cores (%1)").arg(QThread::idealThreadCount()) : QString::number(n), this,
                                            [this, n] { setThreads(n); });
        a->setCheckable(true);
        a->setChecked(n == o.threads);
        threadGroup->addAction(a);
    }
    QMenu *precisionMenu = file->addMenu(tr("&Precision"));
    precisionMenu->setToolTip(tr("Arithmetic of forward-only work (activations, predictions); gradient methods stay float32. "
                                 "A reduced precision is taken only when it keeps every checked prediction."));
    auto *precisionGroup = new QActionGroup(this);
    for (const auto &[label, p] : std::vector<std::pair<QString, Precision>>{{tr("float32"), Precision::Float32},
                                                                             {tr("bfloat16 (forward only)"), Precision::BFloat16},
                                                                             {tr("float16 (forward only)"), Precision::Float16}}) {
        QAction *a = precisionMenu->addAction(label, this, [this, p = p] { setPrecision(p); });
        a->setCheckable(true);
        a->setChecked(p == o.precision);
        precisionGroup->addAction(a);
    }
    QMenu *roles = file->addMenu(tr("Model &role"));
    auto *roleGroup = new QActionGroup(this);
    const std::pair<QString, QString> roleItems[] = {{tr("As the metadata says"), QString()},
                                                     {tr("Classifier"), "classifier"},
                                                     {tr("Generator / decoder (z → image)"), "generator"},
                                                     {tr("Conditional generator (z, class → image)"), "conditional_generator"},
                                                     {tr("Encoder (image → z)"), "encoder"}};
    for (const auto &[label, role] : roleItems) {
        QAction *a = roles->addAction(label, this, [this, role = role] { setRole(role); });
        a->setCheckable(true);
        a->setChecked(role.toStdString() == o.role);
        roleGroup->addAction(a);
    }
}

void ModelFeature::updateRecentMenu()
{
    if (!mRecent) return;
    mRecent->clear();
    const QStringList recent = QSettings().value("recentModels").toStringList();
    for (const QString &p : recent) mRecent->addAction(QFileInfo(p).fileName(), this, [this, p] { mWorkspace->openModel(p); })->setToolTip(p);
    mRecent->setEnabled(!recent.isEmpty());
}

void ModelFeature::setDevice(DevicePreference device)
{
    LoadOptions o = mWorkspace->loadOptions();
    o.device = device;
    mWorkspace->setLoadOptions(o, true);
}

void ModelFeature::setRole(const QString &role)
{
    LoadOptions o = mWorkspace->loadOptions();
    o.role = role.toStdString();
    mWorkspace->setLoadOptions(o, true);
}

void ModelFeature::setThreads(int threads)
{
    LoadOptions o = mWorkspace->loadOptions();
    o.threads = std::max(0, threads);
    QSettings().setValue("engine/threads", o.threads);
    mWorkspace->setLoadOptions(o, true);
}

void ModelFeature::setPrecision(Precision p)
{
    LoadOptions o = mWorkspace->loadOptions();
    o.precision = p;
    QSettings().setValue("engine/precision", QString(precisionName(p)));
    mWorkspace->setLoadOptions(o, true);
}

ModelSettingsDialog *ModelFeature::settingsDialog()
{
    const auto s = mWorkspace->model();
    if (!s) return nullptr;
    auto *dialog = new ModelSettingsDialog(s->metadata, QString::fromStdString(s->fileName), mWindow);
    connect(dialog, &ModelSettingsDialog::changed, this, [this, dialog] { updatePreview(dialog); });
    updatePreview(dialog);
    return dialog;
}

void ModelFeature::updatePreview(ModelSettingsDialog *dialog)
{
    const auto s = mWorkspace->model();
    const QString image = mWorkspace->imagePath();
    if (!s || image.isEmpty()) {
        dialog->setPreview({}, tr("Open an image to preview its preprocessing."));
        return;
    }
    try {
        const InputSpec spec = dialog->inputSpec();
        const TensorValue t = loadInputFile(image.toStdString(), spec, spec.shape.empty() ? s->inputShape : spec.shape);
        const auto st = t.stats();
        dialog->setPreview(inputPicture(t),
                           tr("%1 → tensor %2, values %3 … %4")
                               .arg(QFileInfo(image).fileName(), QString::fromStdString(shapeToString(t.shape())))
                               .arg(st.min, 0, 'f', 3)
                               .arg(st.max, 0, 'f', 3));
    } catch (const std::exception &e) {
        dialog->setPreview({}, QString::fromStdString(e.what()));
    }
}

bool ModelFeature::saveSettings(const Json &document)
{
    const auto s = mWorkspace->model();
    if (!s) return false;
    writeTextAtomically(s->path + ".json", document.dump(1) + "\n");
    mWorkspace->showStatus(tr("Wrote %1.json").arg(QString::fromStdString(s->path)));
    mWorkspace->reloadModel();
    return true;
}

void ModelFeature::saveSession(Session &s) const { s.layer = mWorkspace->layer(); }

void ModelFeature::restoreSession(const Session &s)
{
    if (!s.layer.isEmpty()) mWorkspace->setLayer(s.layer);
}

}   // namespace pellucid
