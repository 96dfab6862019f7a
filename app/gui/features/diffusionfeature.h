#pragma once
// The Diffusion dock (text-to-image denoisers, engine/diffusion/diffusion.h): Generate samples on the engine
// thread and streams each step's x_t and x̂₀; the finished run's cross-attention becomes per-word maps (DAAM,
// recomputed when the step range, site or head filter changes), its trajectory goes through the companion
// classifier (the lens); the re-weighting, the word gradient and the seed gallery are their own tasks.
// Available when the model's metadata says it is a denoiser.
#include "app/gui/feature.h"
#include "engine/diffusion/diffusion.h"

#include <memory>
#include <vector>

namespace pellucid {

class DiffusionPanel;

struct DiffusionRun : JobOutput {
    DiffusionRequest request;   // what was sampled (without its callbacks)
    DiffusionResult result;
    TensorValue trajectory01, states01;   // in [0, 1]
    TensorValue maps;                     // [K, H, W] for the filter asked
    std::vector<std::string> words;
    TrajectoryLens lens;   // empty without a companion classifier
    std::string lensError, mapsError;
    int heads = 0;
};

class DiffusionFeature : public Feature {
    Q_OBJECT
public:
    DiffusionFeature(Workspace *workspace, QMainWindow *window);
    ~DiffusionFeature() override;
    void placeDocks(DockLayout &layout) override;
    QList<QPair<QString, const FigureSource *>> figures() const override;
    void saveSession(Session &session) const override;
    void restoreSession(const Session &session) override;
    DiffusionPanel *panel() const { return mPanel; }
    QDockWidget *dock() const { return mDock; }
    bool available() const { return mAvailable; }
    quint64 generate();
    quint64 updateMaps();
    quint64 reweight();
    quint64 gradient();
    quint64 gallery();
    /// The last run's x̂₀ trajectory as a GIF or MP4 (by extension). Throws on a write error.
    void exportTrajectory(const QString &path) const;
    std::shared_ptr<const DiffusionRun> lastRun() const { return mRun; }
    int streamedSteps() const { return mStreamed; }

signals:
    void availabilityChanged(bool available);
    void runFinished();
    void mapsShown();
    void reweightShown();
    void gradientShown();
    void galleryShown();

private:
    DiffusionRequest request(bool *ok);
    DiffusionPanel *mPanel;
    QDockWidget *mDock;
    bool mAvailable = false;
    DiffusionConfig mConfig;
    int mCrossSites = 0;
    std::string mClassifier;   // the companion classifier's path ("" when none)
    QStringList mClassLabels;
    std::shared_ptr<const DiffusionRun> mRun;
    quint64 mRunning = 0, mRunToken = 0;
    int mStreamed = 0;
    Session::Diffusion mPending;   // a restored session's settings, applied when the denoiser is ready
    bool mPendingRestore = false, mApplyView = false;
    TaskSlot mCheckSlot{"diffusion-check"}, mRunSlot{"diffuse"}, mMapsSlot{"diffusion-maps"}, mReweightSlot{"reweight"},
        mGradientSlot{"word-gradient"}, mGallerySlot{"diffusion-gallery"};
};

}   // namespace pellucid
