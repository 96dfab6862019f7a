#include "app/gui/features/attributionfeature.h"

#include "app/workflows/workflows.h"
#include "widgets/attribution/attributionpanel.h"

#include <algorithm>

namespace pellucid {

AttributionFeature::AttributionFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mPanel = new AttributionPanel;
    mDock = addDock(tr("Attribution"), "AttributionDock", mPanel);
    mWorkspace->setAttributionSources([this] { return mPanel->currentParams(); },
                                      [this] { return mDock->isVisible() ? mPanel->requests() : Workspace::Requests(); });
    connect(mWorkspace, &Workspace::modelChanged, this, [this](std::shared_ptr<const ModelSummary> s) { mPanel->setModel(*s); });
    connect(mWorkspace, &Workspace::inputChanged, this, [this](InputOrigin origin) {
        if (origin == InputOrigin::Text) return;   // a text's explanation: the Attention dock's token attributions
        mPanel->setInput(mWorkspace->input(), mWorkspace->inputId());
        if (origin != InputOrigin::Live) request();   // live frames: the live job computes the main view
    });
    connect(mWorkspace, &Workspace::attributionsWanted, this, &AttributionFeature::request);
    connect(mWorkspace, &Workspace::attributionParamsRequested, this, [this](const AttributionParams &p) {
        mPanel->setParams(p);
        mDock->raise();
        request();
    });
    connect(mPanel, &AttributionPanel::runRequested, this, [this] { request(); });
    connect(mDock, &QDockWidget::visibilityChanged, this, [this](bool visible) {
        if (visible) request();
    });
    connect(mWorkspace, &Workspace::attributionArrived, this, [this](const std::string &view, std::shared_ptr<const AttributionResult> r) {
        mWorkspace->present("attribution:" + QString::fromStdString(view), r->inputId, !r->partial, [this, view, r] {
            mPanel->showResult(view, r);
            emit attributionShown(QString::fromStdString(view), r->partial);
        });
    });
}

void AttributionFeature::placeDocks(DockLayout &layout) { layout.tab(mDock); }

QList<QPair<QString, const FigureSource *>> AttributionFeature::figures() const
{
    return {{"attribution", mPanel}};   // the main view, or the compare grid
}

TaskSlot &AttributionFeature::slot(const std::string &view)
{
    auto &s = mSlots[view];
    if (!s) s = std::make_unique<TaskSlot>(view);
    return *s;
}

void AttributionFeature::request(bool skipMainView)
{
    const TensorValue &input = mWorkspace->input();
    if (!mWorkspace->hasModel() || input.numel() == 0 || !mDock->isVisible()) return;
    if (mWorkspace->isGenerator() || mWorkspace->isRecommender()) {   // no class score to explain: say why, run nothing
        const QString name = QString::fromStdString(mWorkspace->model()->fileName);
        mPanel->showError("attribution",
                          mWorkspace->isGenerator() ? tr("%1 is a generator: attributions explain class scores (see the Latent dock)").arg(name)
                                                    : tr("%1 is a recommender: its explanations are in the Recommender dock").arg(name));
        return;
    }
    TensorValue segments;
    bool first = true;
    for (auto [view, params] : mPanel->requests()) {
        if (std::exchange(first, false) && skipMainView) continue;
        if (usesSuperpixels(params.method)) {
            try {
                if (segments.numel() == 0) segments = superpixelMask(input);   // one segmentation for every view
                params.featureMask = segments;                                 // empty: the engine's grid
            } catch (const std::exception &e) {
                mWorkspace->showError(QString::fromStdString(e.what()));
            }
        }
        TaskHooks<AttributionResult> hooks;
        hooks.partial = [this, view = view](std::shared_ptr<const AttributionResult> r) { mWorkspace->publishAttribution(view, r); };
        hooks.failed = [this, view = view](const QString &message) { mPanel->showError(view, message); };
        mBridge->runJob<AttributionResult>(
            &slot(view), this, attributionJob(input, mWorkspace->inputId(), params),
            [this, view = view](std::shared_ptr<const AttributionResult> r) { mWorkspace->publishAttribution(view, r); }, hooks);
    }
}

void AttributionFeature::saveSession(Session &s) const
{
    s.attribution = mPanel->currentParams();
    s.compare = mPanel->compareMethods();
}

void AttributionFeature::restoreSession(const Session &s)
{
    mPanel->setParams(s.attribution);
    if (!s.compare.empty()) mPanel->setCompareMethods(s.compare);
}

}   // namespace pellucid
