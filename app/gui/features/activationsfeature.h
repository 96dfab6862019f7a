#pragma once
// The Activations and Prediction docks: one forward pass per input / layer change (newest wins) gives the
// selected layer's maps, histogram and statistics, and the top-5 prediction. The Activations dock's Units tab
// dissects the selected layer of a classifier over the open dataset (the causal effect of each unit on each
// class, workflows' classifierUnits).
#include "app/gui/feature.h"

class QTabWidget;

namespace pellucid {

class ActivationPanel;
class ClassifierUnitsPanel;
class PredictionChart;

class ActivationsFeature : public Feature {
    Q_OBJECT
public:
    ActivationsFeature(Workspace *workspace, QMainWindow *window);
    ActivationPanel *panel() const { return mPanel; }
    PredictionChart *prediction() const { return mPrediction; }
    ClassifierUnitsPanel *units() const { return mUnits; }
    QTabWidget *tabs() const { return mTabs; }
    void placeDocks(DockLayout &layout) override;
    QList<QPair<QString, const FigureSource *>> figures() const override;

signals:
    void activationsShown();
    void unitsShown();

private:
    void request();
    void show(std::shared_ptr<const ActivationOutput> out);
    void dissect();
    void updateUnitsContext();
    ActivationPanel *mPanel;
    ClassifierUnitsPanel *mUnits;
    QTabWidget *mTabs;
    PredictionChart *mPrediction;
    QDockWidget *mDock, *mPredictionDock;
    TaskSlot mSlot{"activations"}, mUnitsSlot{"classifier-units"};
    std::shared_ptr<const ActivationOutput> mHidden;   // for the Activations dock when it shows again
};

}   // namespace pellucid
