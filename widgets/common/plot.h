#pragma once
// Every plot in the panels: a QCustomPlot that keeps its paint buffers (pixmaps of its viewport's size, one per
// buffered layer) only while it is shown. QCustomPlot keeps them for its lifetime at the largest size it was
// laid out at, so plots in hidden docks and tabs held their pixmaps forever (the GUI soak's resident growth).
// Hidden, it drops them (also after a replot while hidden); shown or painted again, it draws them anew.
#include <qcustomplot.h>

namespace pellucid {

class Plot : public QCustomPlot {
public:
    explicit Plot(QWidget *parent = nullptr);
    /// Paint buffers held now (0 while hidden): for the tests.
    int paintBufferCount() const { return int(mPaintBuffers.size()); }

protected:
    void hideEvent(QHideEvent *event) override;
    void showEvent(QShowEvent *event) override;
    void paintEvent(QPaintEvent *event) override;
    void resizeEvent(QResizeEvent *event) override;

private:
    void releaseIfHidden();
    bool mPainting = false;
};

}   // namespace pellucid
