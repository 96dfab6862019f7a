#include "app/gui/features/activationsfeature.h"

#include "app/workflows/workflows.h"
#include "widgets/activations/activationgrid.h"
#include "widgets/activations/classifierunitspanel.h"
#include "widgets/common/dissectionview.h"
#include "widgets/activations/activationpanel.h"
#include "widgets/activations/channelview.h"
#include "widgets/activations/histogramview.h"
#include "widgets/prediction/predictionchart.h"

#include <QTabWidget>

#include <utility>

namespace pellucid {

namespace {
struct ClassifierUnitsOutput : JobOutput {
    ClassifierUnits units;
};
}   // namespace

ActivationsFeature::ActivationsFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mPanel = new ActivationPanel;
    mUnits = new ClassifierUnitsPanel;
    mTabs = new QTabWidget;
    mTabs->setDocumentMode(true);
    mTabs->addTab(mPanel, tr("Maps"));
    mTabs->addTab(mUnits, tr("Units"));
    mPrediction = new PredictionChart;
    mDock = addDock(tr("Activations"), "ActivationsDock", mTabs);
    connect(mUnits, &ClassifierUnitsPanel::dissectRequested, this, &ActivationsFeature::dissect);
    connect(mWorkspace, &Workspace::layerChanged, this, &ActivationsFeature::updateUnitsContext);
    connect(mWorkspace, &Workspace::datasetChanged, this, &ActivationsFeature::updateUnitsContext);
    mPredictionDock = addDock(tr("Prediction"), "PredictionDock", mPrediction);
    connect(mWorkspace, &Workspace::inputChanged, this, [this](InputOrigin origin) {
        if (origin != InputOrigin::Live) request();   // a live frame's activations come from its own job
    });
    connect(mWorkspace, &Workspace::layerChanged, this, &ActivationsFeature::request);
    connect(mWorkspace, &Workspace::activationsWanted, this, &ActivationsFeature::request);
    connect(mWorkspace, &Workspace::activationsArrived, this, [this](std::shared_ptr<const ActivationOutput> out) {
        mWorkspace->present("activations", out->inputId, true, [this, out] { show(out); });
    });
    connect(mDock, &QDockWidget::visibilityChanged, this, [this](bool visible) {
        if (visible && mHidden) mPanel->setResult(std::exchange(mHidden, nullptr));
    });
    connect(mWorkspace, &Workspace::modelChanged, this, [this](std::shared_ptr<const ModelSummary> s) {
        mUnits->view()->clear();
        updateUnitsContext();
        const QString name = QString::fromStdString(s->fileName);
        if (mWorkspace->isGenerator())
            mPrediction->setReason(tr("%1 is a generator: it maps latent codes to images and predicts no classes (see the Latent dock)").arg(name));
        else if (mWorkspace->isRecommender())
            mPrediction->setReason(tr("%1 is a recommender: it scores items for users, not classes (see the Recommender dock)").arg(name));
        else
            mPrediction->setReason({});
    });
    connect(mWorkspace, &Workspace::channelStepRequested, this, [this](int delta) {
        ActivationGrid *g = mPanel->grid();
        g->selectChannel(std::max(0, g->selectedChannel() + delta));
    });
}

void ActivationsFeature::placeDocks(DockLayout &layout)
{
    layout.tab(mDock);
    layout.below(mPredictionDock);
}

QList<QPair<QString, const FigureSource *>> ActivationsFeature::figures() const
{
    return {{"activations", mPanel},
            {"channel", mPanel->channelView()},
            {"histogram", mPanel->histogram()},
            {"prediction", mPrediction},
            {"classifier-units", mUnits->view()->gallery()}};
}

void ActivationsFeature::updateUnitsContext()
{
    const bool classifier = mWorkspace->hasModel() && !mWorkspace->isGenerator() && !mWorkspace->isRecommender();
    mUnits->setContext(classifier ? mWorkspace->layer() : QString(), mWorkspace->dataset() != nullptr);
}

void ActivationsFeature::dissect()
{
    const QString layer = mWorkspace->layer();
    const std::shared_ptr<const Dataset> data = mWorkspace->dataset();
    if (!mWorkspace->hasModel() || layer.isEmpty() || !data) {
        mUnits->showError(tr("Select a layer of a classifier and open a labelled dataset (Dataset dock) first."));
        return;
    }
    mUnits->showStatus(tr("Dissecting layer %1 over %2 items …").arg(layer).arg(mUnits->itemLimit()));
    TaskHooks<ClassifierUnitsOutput> hooks;
    hooks.failed = [this](const QString &message) { mUnits->showError(message); };
    mBridge->run<ClassifierUnitsOutput>(
        &mUnitsSlot, this,
        [data, layer = layer.toStdString(), limit = size_t(mUnits->itemLimit())](JobContext &ctx) {
            auto out = std::make_shared<ClassifierUnitsOutput>();
            out->units = classifierUnits(ctx.model(), *data, layer, limit, 20, sinkOf(ctx));
            out->units.maps.activations = TensorValue();   // the tab shows mean maps, quantiles and top samples only
            return out;
        },
        [this](std::shared_ptr<const ClassifierUnitsOutput> r) {
            mUnits->view()->showUnits(r->units.maps, r->units.dissection.dissection);
            if (!r->units.dissection.skipped.empty())
                mUnits->showStatus(mUnits->view()->summary()
                                   + tr(" %1 items holding NaN or Inf were skipped.").arg(r->units.dissection.skipped.size()));
            emit unitsShown();
        },
        hooks);
}

void ActivationsFeature::request()
{
    if (!mWorkspace->hasModel() || mWorkspace->input().numel() == 0) return;
    TaskHooks<ActivationOutput> hooks;
    hooks.failed = [this](const QString &message) { mPanel->clear(message); };
    mBridge->runJob<ActivationOutput>(
        &mSlot, this, activationsJob(mWorkspace->input(), mWorkspace->inputId(), mWorkspace->layer().toStdString()),
        [this](std::shared_ptr<const ActivationOutput> out) { mWorkspace->publishActivations(out); }, hooks);
}

void ActivationsFeature::show(std::shared_ptr<const ActivationOutput> out)
{
    // Class probabilities need an output [N, classes]; a language model's [B, L, V] or a regression's are not.
    const Shape &o = out->logits.shape();
    if (o.size() != 2 || o[1] < 2) {
        const QString what = o.size() == 3 ? tr(" (a sequence of scores per position, as a language model's)") : QString();
        mPrediction->setReason(
            tr("The model's output is %1%2, not [N, classes]: it predicts no classes").arg(QString::fromStdString(shapeToString(o)), what));
    } else {
        mPrediction->setReason({});
        mPrediction->setPredictions(out->topK, out->logitStats);
    }
    mHidden.reset();
    if (out->layer.empty())
        mPanel->clear();
    else if (mDock->isVisible())
        mPanel->setResult(out);
    else
        mHidden = out;   // a tabbed-away panel is not drawn for every result (live mode), only when shown
    if (out->logitStats.nanCount || out->logitStats.infCount)
        mWorkspace->showError(
            tr("The model's output contains NaN or Inf values (%1 NaN, %2 Inf)").arg(out->logitStats.nanCount).arg(out->logitStats.infCount));
    else if (out->stats.nanCount || out->stats.infCount)
        mWorkspace->showError(tr("Layer %1 contains %2 NaN and %3 Inf values")
                                  .arg(QString::fromStdString(out->layer))
                                  .arg(out->stats.nanCount)
                                  .arg(out->stats.infCount));
    emit activationsShown();
}

}   // namespace pellucid
