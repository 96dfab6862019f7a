#pragma once
// The Recommender dock (models whose metadata task is "recommendation"): the user's top-N decomposed, the
// influence of their interactions on a chosen item, the interaction graph and held-out metrics.
#include "app/gui/feature.h"

#include "engine/recommender/recommender.h"

namespace pellucid {

class RecommenderPanel;

class RecommenderFeature : public Feature {
    Q_OBJECT
public:
    RecommenderFeature(Workspace *workspace, QMainWindow *window);
    RecommenderPanel *panel() const { return mPanel; }
    void placeDocks(DockLayout &layout) override;
    QList<QPair<QString, const FigureSource *>> figures() const override;

signals:
    void recommenderShown(const QString &what);   // "loaded", "top", "influence"

private:
    void onModel();
    RecommenderPanel *mPanel;
    QDockWidget *mDock;
    std::shared_ptr<const MFModel> mMF;
    std::shared_ptr<const InteractionData> mData;
    TaskSlot mLoadSlot{"rec-load"}, mTopSlot{"rec-top"}, mInfluenceSlot{"rec-influence"};
};

}   // namespace pellucid
