#pragma once
// Comparing two models on one input (File → Compare with…): a second model is loaded into the engine's
// workspace beside the main one, and the Compare dock shows A, B and B − A side by side for the prediction,
// the selected layer's activations (the same layer path in both, averaged over channels) and the Attribution
// dock's current method. Two checkpoints of one network, or two networks that take the same input.
#include "app/gui/feature.h"

class QLabel;
class QPushButton;

namespace pellucid {

class AttributionView;
class PredictionChart;

struct ComparisonOutput : JobOutput {
    quint64 inputId = 0;
    std::vector<Prediction> topA, topB;
    std::vector<std::pair<std::string, double>> probabilityDelta;   // label, p_B − p_A over both top-5s
    TensorValue activationA, activationB, activationDelta;          // [1, 1, h, w] channel means
    TensorValue mapA, mapB, mapDelta;                               // the attribution maps
    AttributionMethod method = AttributionMethod::Saliency;
    double spearman = 0;   // of the two maps
    std::string notes;     // what could not be compared, and why
};

class CompareFeature : public Feature {
    Q_OBJECT
public:
    CompareFeature(Workspace *workspace, QMainWindow *window);
    void placeDocks(DockLayout &layout) override;
    void addActions(Menus &menus) override;
    QList<QPair<QString, const FigureSource *>> figures() const override;
    quint64 compare();
    std::shared_ptr<const ComparisonOutput> last() const { return mLast; }
    QDockWidget *dock() const { return mDock; }
    /// The views, row by row (prediction A, B; activations A, B, B − A; attribution A, B, B − A).
    AttributionView *activationView(int column) const { return mActivation[column]; }
    AttributionView *attributionView(int column) const { return mAttribution[column]; }

signals:
    void compareShown();

private:
    void show(std::shared_ptr<const ComparisonOutput> r);
    QDockWidget *mDock;
    QLabel *mHeader[3], *mDelta, *mNotes;
    PredictionChart *mPrediction[2];
    AttributionView *mActivation[3], *mAttribution[3];
    std::shared_ptr<const ComparisonOutput> mLast;
    TaskSlot mSlot{"compare"};
};

}   // namespace pellucid
