#include "app/gui/feature.h"

namespace pellucid {

void DockLayout::left(QDockWidget *dock, bool top)
{
    mWindow->addDockWidget(Qt::LeftDockWidgetArea, dock);
    if (top && mFirstLeft) mWindow->splitDockWidget(dock, mFirstLeft, Qt::Vertical);
    if (!mFirstLeft || top) mFirstLeft = dock;
}

void DockLayout::tab(QDockWidget *dock)
{
    if (!mLastTab) {
        mWindow->addDockWidget(Qt::RightDockWidgetArea, dock);
        mFirstTab = dock;
    } else {
        mWindow->tabifyDockWidget(mLastTab, dock);
    }
    mLastTab = dock;
}

void DockLayout::below(QDockWidget *dock)
{
    if (mFirstTab)
        mWindow->splitDockWidget(mFirstTab, dock, Qt::Vertical);
    else
        mWindow->addDockWidget(Qt::RightDockWidgetArea, dock);
    if (!mBelow) mBelow = dock;
}

Feature::Feature(Workspace *workspace, QMainWindow *window)
    : QObject(window), mWorkspace(workspace), mBridge(workspace->bridge()), mWindow(window) { }

QDockWidget *Feature::addDock(const QString &title, const QString &objectName, QWidget *content)
{
    auto *dock = new QDockWidget(title, mWindow);
    dock->setObjectName(objectName);
    dock->setWidget(content);
    mWindow->addDockWidget(Qt::LeftDockWidgetArea, dock);
    mDocks << dock;
    return dock;
}

}   // namespace pellucid
