#include "widgets/common/plot.h"
#include "widgets/activations/channelview.h"

#include "widgets/common/colormap.h"
#include "engine/core/npy.h"

#include <QPainter>

#include <qcustomplot.h>

#include <QVBoxLayout>

#include <cmath>

namespace pellucid {

ChannelView::ChannelView(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    mPlot = new Plot(this);
    mPlot->setMinimumSize(200, 180);
    layout->addWidget(mPlot);
    mPlot->axisRect()->setupFullAxesBox(true);
    mPlot->yAxis->setRangeReversed(true);   // row 0 at the top, as images are drawn
    mMap = new QCPColorMap(mPlot->xAxis, mPlot->yAxis);
    mScale = new QCPColorScale(mPlot);
    mPlot->plotLayout()->addElement(0, 1, mScale);
    mScale->setType(QCPAxis::atRight);
    mMap->setColorScale(mScale);
    mMap->setGradient(viridisGradient());
    mMap->setInterpolate(false);
    auto *group = new QCPMarginGroup(mPlot);
    mPlot->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    mScale->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    mPlot->plotLayout()->insertRow(0);
    mPlot->plotLayout()->addElement(0, 0, new QCPTextElement(mPlot, tr("No channel selected")));
}

void ChannelView::clear()
{
    mPlane = TensorValue();
    mMap->data()->clear();
    if (auto *t = qobject_cast<QCPTextElement *>(mPlot->plotLayout()->element(0, 0))) t->setText(tr("No channel selected"));
    mPlot->replot(QCustomPlot::rpQueuedReplot);
}

void ChannelView::setChannel(const TensorValue &a, int channel, const QString &title)
{
    const Shape &s = a.shape();
    if (s.size() < 2 || a.numel() == 0) {
        clear();
        return;
    }
    int h = 1, w = int(s.back());
    int64_t offset = 0;
    if (s.size() == 4) {
        h = int(s[2]);
        w = int(s[3]);
        offset = int64_t(channel) * h * w;
    } else if (s.size() == 3) {
        h = int(s[1]);
    }
    std::vector<float> plane(size_t(h) * size_t(w));
    for (int64_t i = 0; i < int64_t(h) * w; ++i) plane[size_t(i)] = a.at(offset + i);
    mPlane = TensorValue({h, w}, std::move(plane));
    mTitle = title;
    mMap->data()->setSize(w, h);
    mMap->data()->setRange(QCPRange(0, w - 1), QCPRange(0, h - 1));
    float lo = INFINITY, hi = -INFINITY;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const float v = a.at(offset + int64_t(y) * w + x);
            mMap->data()->setCell(x, y, double(v));
            if (std::isfinite(v)) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
        }
    if (!(hi >= lo)) {
        lo = 0;
        hi = 1;
    }
    if (hi == lo) hi = lo + 1e-6f;
    mMap->setDataRange(QCPRange(lo, hi));
    mPlot->xAxis->setRange(-0.5, w - 0.5);
    mPlot->yAxis->setRange(-0.5, h - 0.5);
    if (auto *t = qobject_cast<QCPTextElement *>(mPlot->plotLayout()->element(0, 0))) t->setText(title);
    mPlot->replot(QCustomPlot::rpQueuedReplot);
}

}   // namespace pellucid

namespace pellucid {

double ChannelView::figureAspect() const { return mPlane.numel() ? 1.25 * double(mPlane.dim(1)) / double(mPlane.dim(0)) : 1.25; }

void ChannelView::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const
{
    if (mPlane.numel() == 0) return;
    const auto st = mPlane.stats();
    const float lo = st.min, hi = st.max > st.min ? st.max : st.min + 1e-6f;
    const QImage img = renderPlane(mPlane.data(), int(mPlane.dim(0)), int(mPlane.dim(1)), lo, hi);
    paintHeatmapPanel(
        p, rect, QImage(), img, lo, hi, [](double t) { return viridis(t); }, mTitle, s);
}

QStringList ChannelView::writeRawData(const QString &base) const
{
    if (mPlane.numel() == 0) return {};
    writeNpy((base + ".npy").toStdString(), mPlane);
    return {base + ".npy"};
}

}   // namespace pellucid
