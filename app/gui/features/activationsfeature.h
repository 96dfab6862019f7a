#pragma once
// The Activations and Prediction docks: one forward pass per input / layer change (newest wins) gives the
// selected layer's maps, histogram and statistics, and the top-5 prediction.
#include "app/gui/feature.h"

namespace pellucid {

class ActivationPanel;
class PredictionChart;

class ActivationsFeature : public Feature {
    Q_OBJECT
public:
    ActivationsFeature(Workspace *workspace, QMainWindow *window);
    ActivationPanel *panel() const { return mPanel; }
    PredictionChart *prediction() const { return mPrediction; }
    void placeDocks(DockLayout &layout) override;
    QList<QPair<QString, const FigureSource *>> figures() const override;

signals:
    void activationsShown();

private:
    void request();
    void show(std::shared_ptr<const ActivationOutput> out);
    ActivationPanel *mPanel;
    PredictionChart *mPrediction;
    QDockWidget *mDock, *mPredictionDock;
    TaskSlot mSlot{"activations"};
    std::shared_ptr<const ActivationOutput> mHidden;   // for the Activations dock when it shows again
};

}   // namespace pellucid
