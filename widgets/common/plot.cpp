#include "widgets/common/plot.h"

namespace pellucid {

Plot::Plot(QWidget *parent) : QCustomPlot(parent)
{
    // A replot while hidden (new data for a view in another tab) fills the buffers: drop them again.
    connect(this, &QCustomPlot::afterReplot, this, [this] { releaseIfHidden(); });
}

void Plot::releaseIfHidden()
{
    if (!isVisible() && !mPainting) mPaintBuffers.clear();
}

void Plot::hideEvent(QHideEvent *event)
{
    QCustomPlot::hideEvent(event);
    releaseIfHidden();
}

void Plot::showEvent(QShowEvent *event)
{
    QCustomPlot::showEvent(event);
    if (mPaintBuffers.isEmpty() && !size().isEmpty()) replot(rpQueuedRefresh);
}

void Plot::resizeEvent(QResizeEvent *event)
{
    // Laid out at zero size (a dock or tab not shown yet): nothing to draw. QCustomPlot would replot into
    // empty pixmaps, and Qt and QCustomPlot each print a line about the painter that cannot begin.
    if (event->size().isEmpty()) {
        mViewport = rect();
        return;
    }
    QCustomPlot::resizeEvent(event);
}

void Plot::paintEvent(QPaintEvent *event)
{
    // Painted without buffers (grab() of a hidden plot, or before the queued replot): draw them first.
    mPainting = true;
    if (mPaintBuffers.isEmpty() && !size().isEmpty()) replot(rpQueuedRefresh);
    QCustomPlot::paintEvent(event);
    mPainting = false;
    releaseIfHidden();
}

}   // namespace pellucid
