#pragma once
// The Attribution dock: every registered method on the current input, its compare grid, progressive
// results (newest request per view wins), superpixels for the methods that use them.
#include "app/gui/feature.h"

#include <map>
#include <memory>

namespace pellucid {

class AttributionPanel;

class AttributionFeature : public Feature {
    Q_OBJECT
public:
    AttributionFeature(Workspace *workspace, QMainWindow *window);
    AttributionPanel *panel() const { return mPanel; }
    QDockWidget *dock() const { return mDock; }
    void placeDocks(DockLayout &layout) override;
    void saveSession(Session &session) const override;
    void restoreSession(const Session &session) override;
    QList<QPair<QString, const FigureSource *>> figures() const override;

signals:
    void attributionShown(const QString &view, bool partial);

private:
    void request(bool skipMainView = false);
    TaskSlot &slot(const std::string &view);
    AttributionPanel *mPanel;
    QDockWidget *mDock;
    std::map<std::string, std::unique_ptr<TaskSlot>> mSlots;   // one per view of the panel
};

}   // namespace pellucid
