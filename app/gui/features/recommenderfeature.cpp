#include "app/gui/features/recommenderfeature.h"

#include "engine/core/errors.h"
#include "widgets/recommender/recommenderpanel.h"

namespace pellucid {

namespace {

/// The recommender's tables and data, read on the engine thread.
struct RecLoadOutput : JobOutput {
    std::shared_ptr<const MFModel> model;
    std::shared_ptr<const InteractionData> data;
    bool hasMetrics = false;
    RecMetrics metrics;
};
struct RecTopOutput : JobOutput {
    std::vector<ScoreDecomposition> top;
};
struct RecInfluenceOutput : JobOutput {
    InfluenceResult result;
};

}   // namespace

RecommenderFeature::RecommenderFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mPanel = new RecommenderPanel;
    mDock = addDock(tr("Recommender"), "RecommenderDock", mPanel);
    connect(mWorkspace, &Workspace::modelChanged, this, &RecommenderFeature::onModel);
    connect(mPanel, &RecommenderPanel::recommendationsRequested, this, [this](int64_t user, int n) {
        if (!mMF) return;
        mBridge->run<RecTopOutput>(
            &mTopSlot, this,
            [m = mMF, d = mData, user, n](JobContext &) {
                auto out = std::make_shared<RecTopOutput>();
                out->top = recommend(*m, *d, user, n);
                return out;
            },
            [this](std::shared_ptr<const RecTopOutput> r) {
                mPanel->showRecommendations(r->top);
                emit recommenderShown("top");
            });
    });
    connect(mPanel, &RecommenderPanel::influenceRequested, this, [this](int64_t user, int64_t item, int n) {
        if (!mMF) return;
        mBridge->run<RecInfluenceOutput>(
            &mInfluenceSlot, this,
            [m = mMF, d = mData, user, item, n](JobContext &) {
                auto out = std::make_shared<RecInfluenceOutput>();
                out->result = influence(*m, *d, user, item, n);
                return out;
            },
            [this](std::shared_ptr<const RecInfluenceOutput> r) {
                mPanel->showInfluence(r->result);
                emit recommenderShown("influence");
            });
    });
}

void RecommenderFeature::placeDocks(DockLayout &layout) { layout.tab(mDock); }

QList<QPair<QString, const FigureSource *>> RecommenderFeature::figures() const
{
    return {{"recommendations", mPanel->bars()}, {"interaction-graph", mPanel->graph()}};
}

void RecommenderFeature::onModel()
{
    mMF.reset();
    mData.reset();
    if (!mWorkspace->isRecommender() || mWorkspace->isGenerator()) {
        mPanel->setRecommender(nullptr, nullptr);
        return;
    }
    mBridge->run<RecLoadOutput>(
        &mLoadSlot, this,
        [](JobContext &ctx) {
            auto out = std::make_shared<RecLoadOutput>();
            auto mf = std::make_shared<MFModel>(loadMF(ctx.model()));
            if (mf->dataPath.empty()) throw Error(ErrorCode::BadMetadata, "The recommender's metadata names no interaction data (\"data\")");
            auto data = std::make_shared<InteractionData>(readInteractions(mf->dataPath));
            if (!mf->itemsPath.empty()) readItemNames(mf->itemsPath, *data);
            if (!mf->heldoutPath.empty()) {
                out->metrics = evaluateRecommender(*mf, *data, readInteractions(mf->heldoutPath), 10);
                out->hasMetrics = true;
            }
            out->model = mf;
            out->data = data;
            return out;
        },
        [this](std::shared_ptr<const RecLoadOutput> r) {
            mMF = r->model;
            mData = r->data;
            mPanel->setRecommender(mMF, mData);
            if (r->hasMetrics) mPanel->setMetrics(r->metrics);
            mDock->raise();
            emit recommenderShown("loaded");
            emit mPanel->recommendationsRequested(mPanel->user(), mPanel->topN());
        });
}

}   // namespace pellucid
