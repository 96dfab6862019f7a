#pragma once
// The Model dock (the layer tree) and the File menu's model actions: open, recent models, device, CPU
// threads, precision and role — each change reloads the model. Picks a new model's default layer.
#include "app/gui/feature.h"

class QMenu;

namespace pellucid {

class LayerTree;
class ModelSettingsDialog;

class ModelFeature : public Feature {
    Q_OBJECT
public:
    ModelFeature(Workspace *workspace, QMainWindow *window);
    LayerTree *tree() const { return mTree; }
    void placeDocks(DockLayout &layout) override;
    void addActions(Menus &menus) override;
    void saveSession(Session &session) const override;
    void restoreSession(const Session &session) override;
    void setDevice(DevicePreference device);
    void setRole(const QString &role);
    void setThreads(int threads);
    void setPrecision(Precision precision);
    /// File → Model settings…: the dialog for the current model (nullptr without one), its preview of the
    /// current image, and saving: the sidecar MODEL.pt.json written atomically, then the model reloaded.
    ModelSettingsDialog *settingsDialog();
    void updatePreview(ModelSettingsDialog *dialog);
    bool saveSettings(const Json &document);

private:
    void onModel(std::shared_ptr<const ModelSummary> summary);
    void updateRecentMenu();
    LayerTree *mTree;
    QMenu *mRecent = nullptr;
};

}   // namespace pellucid
