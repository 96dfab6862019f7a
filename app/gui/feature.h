#pragma once
// A feature of the main window: it owns its docks, its menu actions, its place in the default layout, its
// part of a session and its engine tasks, and reacts to the Workspace through signals. MainWindow keeps the
// list of features and loops over it (ARCHITECTURE.md: "add a dock").
#include "app/figures/session.h"
#include "app/gui/enginebridge.h"
#include "app/gui/workspace.h"
#include "widgets/common/figure.h"

#include <QDockWidget>
#include <QList>
#include <QMainWindow>
#include <QMenu>
#include <QObject>
#include <QPair>

namespace pellucid {

/// Bumped whenever docks are added or removed (a saved layout of another set of docks is not restored).
constexpr int kDockLayoutVersion = 6;

/// The default layout features place their docks in: a left column, and on the right a tab group with a
/// strip below it.
class DockLayout {
public:
    explicit DockLayout(QMainWindow *window) : mWindow(window) { }
    void left(QDockWidget *dock, bool top = false);   // top: above the docks already in the column
    void tab(QDockWidget *dock);                      // into the right tab group (the first one placed starts it)
    void below(QDockWidget *dock);                    // under the right tab group
    QDockWidget *firstTab() const { return mFirstTab; }
    QDockWidget *firstLeft() const { return mFirstLeft; }
    QDockWidget *firstBelow() const { return mBelow; }

private:
    QMainWindow *mWindow;
    QDockWidget *mFirstTab = nullptr, *mLastTab = nullptr, *mFirstLeft = nullptr, *mBelow = nullptr;
};

/// The window's menus features add actions to.
struct Menus {
    QMenu *file = nullptr, *view = nullptr, *help = nullptr;
};

class Feature : public QObject {
    Q_OBJECT
public:
    Feature(Workspace *workspace, QMainWindow *window);

    QList<QDockWidget *> docks() const { return mDocks; }
    virtual void placeDocks(DockLayout &layout) { (void)layout; }
    virtual void addActions(Menus &menus) { (void)menus; }
    virtual void saveSession(Session &session) const { (void)session; }
    virtual void restoreSession(const Session &session) { (void)session; }
    /// The figures this feature exports (File → Export figure), by panel name.
    virtual QList<QPair<QString, const FigureSource *>> figures() const { return {}; }
    /// The window is closing (before its layout is saved).
    virtual void windowClosing() { }

protected:
    QDockWidget *addDock(const QString &title, const QString &objectName, QWidget *content);
    Workspace *mWorkspace;
    EngineBridge *mBridge;
    QMainWindow *mWindow;

private:
    QList<QDockWidget *> mDocks;
};

}   // namespace pellucid
