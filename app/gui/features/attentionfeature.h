#pragma once
// The Attention dock (models with an attention site): the current input's attention maps with rollout and
// gradient-weighted rollout, the views over them, and token attributions for text models.
#include "app/gui/feature.h"

namespace pellucid {

class AttentionPanel;
struct AttentionOutput;

class AttentionFeature : public Feature {
    Q_OBJECT
public:
    AttentionFeature(Workspace *workspace, QMainWindow *window);
    AttentionPanel *panel() const { return mPanel; }
    void placeDocks(DockLayout &layout) override;

signals:
    void attentionShown(const QString &what);   // "sites", "attention", "tokens"

private:
    void checkSites();
    void request();
    void show(std::shared_ptr<const AttentionOutput> r);
    AttentionPanel *mPanel;
    QDockWidget *mDock;
    bool mHasAttention = false;
    quint64 mAttentionFor = ~quint64(0);
    TaskSlot mSitesSlot{"attention-sites"}, mSlot{"attention"}, mTokensSlot{"attention-tokens"};
};

}   // namespace pellucid
