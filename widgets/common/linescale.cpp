#include "widgets/common/linescale.h"

#include <QWidget>
#include <qcustomplot.h>

namespace pellucid {
namespace {

double gScale = 1.0;

/// The pen at its remembered own width × the scale; `key` names the pen on `owner`.
QPen scaled(QObject *owner, const char *key, QPen pen)
{
    QVariant base = owner->property(key);
    if (!base.isValid()) {
        base = pen.widthF() > 0 ? pen.widthF() : 1.0;
        owner->setProperty(key, base);
    }
    pen.setWidthF(base.toDouble() * gScale);
    return pen;
}

}   // namespace

double lineScale() { return gScale; }
void setLineScale(double scale) { gScale = scale > 0 ? scale : 1.0; }
qreal scaledWidth(qreal width) { return (width > 0 ? width : 1.0) * gScale; }

void applyLineScale(QWidget *root)
{
    if (!root) return;
    for (QCustomPlot *plot : root->findChildren<QCustomPlot *>()) {
        for (QCPAxisRect *rect : plot->axisRects())
            for (QCPAxis *axis : rect->axes()) {
                axis->setBasePen(scaled(axis, "pellucidBasePen", axis->basePen()));
                axis->setTickPen(scaled(axis, "pellucidTickPen", axis->tickPen()));
                axis->setSubTickPen(scaled(axis, "pellucidSubTickPen", axis->subTickPen()));
                axis->grid()->setPen(scaled(axis->grid(), "pellucidGridPen", axis->grid()->pen()));
            }
        for (int i = 0; i < plot->plottableCount(); ++i) {
            QCPAbstractPlottable *p = plot->plottable(i);
            if (p->pen().style() != Qt::NoPen) p->setPen(scaled(p, "pellucidPen", p->pen()));
        }
        plot->replot(QCustomPlot::rpQueuedReplot);
    }
    for (QWidget *w : root->findChildren<QWidget *>()) w->update();
}

}   // namespace pellucid
