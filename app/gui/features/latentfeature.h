#pragma once
// The Latent dock (models whose role is generator, decoder or conditional generator): codes decoded as the
// sliders move, traversals, interpolations and their animations, and the directions, gallery,
// counterfactual, VAE and metrics tabs. A generator's companions (its VAE encoder and a classifier) are found
// by the companion workflow and loaded once into the engine's workspace of models.
#include "app/gui/feature.h"

namespace pellucid {

class LatentPanel;

class LatentFeature : public Feature {
    Q_OBJECT
public:
    LatentFeature(Workspace *workspace, QMainWindow *window);
    ~LatentFeature() override;
    LatentPanel *panel() const { return mPanel; }
    void placeDocks(DockLayout &layout) override;
    QList<QPair<QString, const FigureSource *>> figures() const override;
    void saveSession(Session &session) const override;
    void restoreSession(const Session &session) override;
    /// Writes the traversal (one frame per step, dimensions stacked) or the interpolation as a GIF or MP4;
    /// false with the problem shown when there is nothing to write or the writer fails.
    bool exportAnimation(const QString &which, const QString &path);

signals:
    void latentShown(const QString &what);   // "decoded", "traversal", "interpolation", "companions", "directions", …

private:
    void onModel(std::shared_ptr<const ModelSummary> summary);
    void findCompanions();
    void wireTabs();
    void wireUnits();
    bool needClassifier(const QString &tab);
    bool needEncoder(const QString &tab);
    template <class R>
    void runTab(TaskSlot &slot, const QString &tab, std::function<std::shared_ptr<const R>(JobContext &)> work,
                std::function<void(std::shared_ptr<const R>)> done);
    LatentPanel *mPanel;
    QDockWidget *mDock;
    QString mClassifier, mEncoder;
    bool mUnitsPending = false;        // a session's dissection waits for the companions
    Session::Units mRestoredUnits;     // its sort class and selection, applied when the dissection arrives
    TaskSlot mDecodeSlot{"latent-decode"}, mTraverseSlot{"latent-traverse"}, mInterpSlot{"latent-interp"}, mCompanionSlot{"latent-companions"},
        mDirectionsSlot{"latent-directions"}, mGallerySlot{"latent-gallery"}, mCounterfactualSlot{"latent-counterfactual"}, mVaeSlot{"latent-vae"},
        mEncodeSlot{"latent-encode"}, mMetricsSlot{"latent-metrics"}, mUnitsSlot{"latent-units"}, mUnitEditSlot{"latent-unit-edit"};
};

}   // namespace pellucid
