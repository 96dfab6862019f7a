#pragma once
// The Dataset dock: a labelled dataset's items, evaluation, the projector and explanation quality (deletion
// / insertion curves, the sanity check) — each a workflow (app/workflows) run as an engine task.
#include "app/gui/feature.h"

namespace pellucid {

class DatasetPanel;

class DatasetFeature : public Feature {
    Q_OBJECT
public:
    DatasetFeature(Workspace *workspace, QMainWindow *window);
    DatasetPanel *panel() const { return mPanel; }
    void placeDocks(DockLayout &layout) override;
    void openDataset(const QString &path);
    quint64 evaluate();
    quint64 project(const QString &method);

signals:
    void datasetShown(const QString &what);   // "evaluated", "projecting", "projected", "faithfulness", "sanity"

private:
    void faithfulness(const std::vector<AttributionMethod> &methods, int items);
    void sanity();
    DatasetPanel *mPanel;
    QDockWidget *mDock;
    TaskSlot mEvalSlot{"dataset-eval"}, mProjectSlot{"dataset-project"}, mFaithSlot{"dataset-faithfulness"}, mSanitySlot{"sanity"};
};

}   // namespace pellucid
