#include "widgets/common/plot.h"
#include "widgets/activations/histogramview.h"

#include <qcustomplot.h>

#include <QFile>
#include <QPainter>
#include <QTextStream>
#include <QVBoxLayout>

namespace pellucid {

HistogramView::HistogramView(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    mPlot = new Plot(this);
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
    mHist = h;
    mTitle = title;
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
    if (stats.nanCount || stats.infCount) t += tr("  —  %1 NaN, %2 Inf (not counted)").arg(stats.nanCount).arg(stats.infCount);
    if (auto *e = qobject_cast<QCPTextElement *>(mPlot->plotLayout()->element(0, 0))) e->setText(t);
    mPlot->replot(QCustomPlot::rpQueuedReplot);
}

}   // namespace pellucid

namespace pellucid {

void HistogramView::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const
{
    if (mHist.counts.empty()) return;
    const double line = s.fontPt * 1.4;
    p.setFont(s.font());
    p.setPen(Qt::black);
    p.drawText(QRectF(rect.left(), rect.top(), rect.width(), line), Qt::AlignLeft | Qt::AlignVCenter, mTitle);
    const QFontMetricsF fm(s.font(), p.device());
    int64_t maxCount = 1;
    for (auto c : mHist.counts) maxCount = std::max(maxCount, c);
    const double left = fm.horizontalAdvance(QString::number(maxCount)) + 4;
    const QRectF plot(rect.left() + left, rect.top() + line * 1.5, rect.width() - left - 4, rect.height() - line * 1.5 - s.fontPt * 2.8);
    const double bw = plot.width() / double(mHist.counts.size());
    p.setPen(Qt::NoPen);
    p.setBrush(QColor(59, 82, 139));
    for (size_t i = 0; i < mHist.counts.size(); ++i) {
        const double h = plot.height() * double(mHist.counts[i]) / double(maxCount);
        p.drawRect(QRectF(plot.left() + bw * double(i), plot.bottom() - h, bw, h));
    }
    p.setPen(QPen(Qt::black, 0.5));
    p.setBrush(Qt::NoBrush);
    p.drawLine(plot.bottomLeft(), plot.bottomRight());
    p.drawLine(plot.bottomLeft(), plot.topLeft());
    for (int k = 0; k <= 4; ++k) {
        const double x = plot.left() + plot.width() * k / 4.0;
        const double v = mHist.lo + (mHist.hi - mHist.lo) * k / 4.0;
        p.drawLine(QPointF(x, plot.bottom()), QPointF(x, plot.bottom() + 2));
        p.drawText(QRectF(x - 20, plot.bottom() + 2, 40, s.fontPt * 1.3), Qt::AlignHCenter | Qt::AlignTop, QString::number(v, 'g', 3));
    }
    p.drawText(QRectF(rect.left(), plot.top() - s.fontPt * 0.6, left - 2, s.fontPt * 1.2), Qt::AlignRight | Qt::AlignVCenter,
               QString::number(maxCount));
    p.drawText(QRectF(rect.left(), plot.bottom() - s.fontPt * 0.6, left - 2, s.fontPt * 1.2), Qt::AlignRight | Qt::AlignVCenter, "0");
    p.drawText(QRectF(plot.left(), plot.bottom() + s.fontPt * 1.4, plot.width(), s.fontPt * 1.3), Qt::AlignHCenter | Qt::AlignTop,
               QObject::tr("value"));
}

QStringList HistogramView::writeRawData(const QString &base) const
{
    QFile f(base + ".csv");
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) throw FigureError("Cannot write " + (base + ".csv").toStdString());
    QTextStream out(&f);
    out << "bin_low,bin_high,count\n";
    const double w = mHist.counts.empty() ? 0 : double(mHist.hi - mHist.lo) / double(mHist.counts.size());
    for (size_t i = 0; i < mHist.counts.size(); ++i)
        out << QString::number(mHist.lo + w * double(i), 'g', 9) << ',' << QString::number(mHist.lo + w * double(i + 1), 'g', 9) << ','
            << mHist.counts[i] << '\n';
    return {base + ".csv"};
}

}   // namespace pellucid
