#pragma once
// Presentation mode for teaching: full screen, large fonts and thick lines, a reduced set of panels (the
// input beside its attribution overlay by default), keys to step through layers (Page Up/Down, ←/→) and
// channels (↑/↓), and a pointer highlight (H). Its layout and font scale are remembered separately from the
// working layout, which comes back when the mode ends.
#include "app/gui/feature.h"

#include <QFont>

namespace pellucid {

class PresentationFeature : public Feature {
    Q_OBJECT
public:
    PresentationFeature(Workspace *workspace, QMainWindow *window);
    void addActions(Menus &menus) override;
    void windowClosing() override { setPresenting(false); }
    void setPresenting(bool on);
    bool presenting() const { return mPresenting; }
    void stepLayer(int delta);
    void scaleFont(double factor);
    QWidget *pointer() const { return mPointer; }

signals:
    void presentationChanged(bool on);

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    bool mPresenting = false;
    QByteArray mWorkingState;
    QFont mWorkingFont;
    QWidget *mPointer = nullptr;
};

}   // namespace pellucid
