#include "widgets/histogramview.h"

#include <qcustomplot.h>

#include <QVBoxLayout>

namespace pellucid {

HistogramView::HistogramView(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    mPlot = new QCustomPlot(this);
    mPlot->setMinimumSize(200, 140);
    layout->addWidget(mPlot);
    mBars = new QCPBars(mPlot->xAxis, mPlot->yAxis);
    mBars->setPen(Qt::NoPen);
    mBars->setBrush(QColor(59, 82, 139));
    mBars->setWidthType(QCPBars::wtPlotCoords);
    mPlot->yAxis->setLabel(tr("count"));
    mPlot->xAxis->setLabel(tr("value"));
    mPlot->plotLayout()->insertRow(0);
    mPlot->plotLayout()->addElement(0, 0, new QCPTextElement(mPlot, tr("Histogram")));
}

int HistogramView::barCount() const { return mBars->data()->size(); }

void HistogramView::setHistogram(const Histogram &h, const TensorValue::Stats &stats, const QString &title)
{
    QVector<double> keys, values;
    const double width = h.counts.empty() ? 1.0 : double(h.hi - h.lo) / double(h.counts.size());
    double maxCount = 1;
    for (size_t i = 0; i < h.counts.size(); ++i) {
        keys << h.lo + (double(i) + 0.5) * width;
        values << double(h.counts[i]);
        maxCount = std::max(maxCount, double(h.counts[i]));
    }
    mBars->setWidth(width);
    mBars->setData(keys, values, true);
    mPlot->xAxis->setRange(h.lo, h.hi);
    mPlot->yAxis->setRange(0, maxCount * 1.05);
    QString t = title;
    if (stats.nanCount || stats.infCount)
        t += tr("  —  %1 NaN, %2 Inf (not counted)").arg(stats.nanCount).arg(stats.infCount);
    if (auto *e = qobject_cast<QCPTextElement *>(mPlot->plotLayout()->element(0, 0)))
        e->setText(t);
    mPlot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace pellucid
