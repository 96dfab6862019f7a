#include "widgets/activations/activationpanel.h"

#include "widgets/activations/activationgrid.h"
#include "widgets/common/colormap.h"
#include "engine/core/npy.h"
#include "widgets/activations/channelview.h"
#include "widgets/activations/histogramview.h"

#include <QCheckBox>
#include <QPainter>
#include <cmath>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QSplitter>
#include <QVBoxLayout>

namespace pellucid {

ActivationPanel::ActivationPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    auto *bar = new QHBoxLayout;
    mInfo = new QLabel(tr("No activations yet"), this);
    mInfo->setObjectName("activationInfo");
    mInfo->setTextInteractionFlags(Qt::TextSelectableByMouse);
    bar->addWidget(mInfo, 1);
    bar->addWidget(new QLabel(tr("Sort:"), this));
    mSort = new QComboBox(this);
    mSort->addItems({tr("Channel index"), tr("Mean activation"), tr("Max activation")});
    bar->addWidget(mSort);
    mShared = new QCheckBox(tr("Shared scale"), this);
    mShared->setToolTip(tr("Colour all channels on the layer's common range instead of each on its own"));
    bar->addWidget(mShared);
    layout->addLayout(bar);

    auto *split = new QSplitter(Qt::Horizontal, this);
    auto *scroll = new QScrollArea(split);
    scroll->setWidgetResizable(true);
    mGrid = new ActivationGrid(scroll);
    scroll->setWidget(mGrid);
    auto *right = new QSplitter(Qt::Vertical, split);
    mChannel = new ChannelView(right);
    mHistogram = new HistogramView(right);
    split->addWidget(scroll);
    split->addWidget(right);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);

    connect(mSort, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) { mGrid->setSortKey(ActivationGrid::SortKey(i)); });
    connect(mShared, &QCheckBox::toggled, mGrid, &ActivationGrid::setSharedScale);
    connect(mGrid, &ActivationGrid::channelClicked, this, &ActivationPanel::showChannel);
}

QString ActivationPanel::infoText() const { return mInfo->text(); }

void ActivationPanel::clear(const QString &message)
{
    mResult.reset();
    mGrid->setActivation(TensorValue(), {});
    mChannel->clear();
    mInfo->setText(message.isEmpty() ? tr("No activations yet") : message);
    mInfo->setStyleSheet(message.isEmpty() ? QString() : "color: #b00020;");
}

void ActivationPanel::setResult(std::shared_ptr<const ActivationOutput> r)
{
    mResult = std::move(r);
    const TensorValue &a = mResult->activation;
    // Show the first batch element.
    TensorValue first = a;
    if (a.shape().size() >= 2 && a.dim(0) > 1) {
        TensorValue s = a.slice0(0);
        Shape sh = s.shape();
        sh.insert(sh.begin(), 1);
        first = TensorValue(sh, std::vector<float>(s.data(), s.data() + s.numel()));
    }
    mGrid->setActivation(first, mResult->channels);
    const auto &st = mResult->stats;
    QString info = tr("%1  %2  min %3  max %4  mean %5")
                       .arg(QString::fromStdString(mResult->layer), QString::fromStdString(shapeToString(a.shape())))
                       .arg(double(st.min), 0, 'g', 4)
                       .arg(double(st.max), 0, 'g', 4)
                       .arg(st.mean, 0, 'g', 4);
    if (st.nanCount || st.infCount) {
        info += tr("  —  %1 NaN, %2 Inf (magenta / white)").arg(st.nanCount).arg(st.infCount);
        mInfo->setStyleSheet("color: #b00020; font-weight: bold;");
    } else {
        mInfo->setStyleSheet(QString());
    }
    mInfo->setText(info);
    mHistogram->setHistogram(mResult->histogram, st, tr("Values of %1").arg(QString::fromStdString(mResult->layer)));
    int c = mGrid->selectedChannel();
    if (c < 0 || c >= mGrid->channelCount()) c = mGrid->order().empty() ? 0 : mGrid->order().front();
    mGrid->selectChannel(c);
    showChannel(c);
}

void ActivationPanel::showChannel(int c)
{
    if (!mResult) return;
    const TensorValue &a = mResult->activation;
    const QString title =
        a.shape().size() == 4 ? tr("%1 — channel %2").arg(QString::fromStdString(mResult->layer)).arg(c) : QString::fromStdString(mResult->layer);
    mChannel->setChannel(a, c, title);
}

}   // namespace pellucid

namespace pellucid {

void ActivationPanel::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const
{
    if (!mResult) return;
    const TensorValue &a = mResult->activation;
    const Shape &sh = a.shape();
    if (sh.size() < 2) return;
    const int channels = sh.size() == 4 ? int(sh[1]) : 1;
    const int h = sh.size() == 4 ? int(sh[2]) : 1, w = int(sh.back());
    const double titleH = s.fontPt * 1.6;
    p.setFont(s.font());
    p.setPen(Qt::black);
    p.drawText(QRectF(rect.left(), rect.top(), rect.width(), titleH), Qt::AlignLeft | Qt::AlignVCenter,
               QString("%1  %2").arg(QString::fromStdString(mResult->layer), QString::fromStdString(shapeToString(sh))));
    const QRectF area(rect.left(), rect.top() + titleH, rect.width(), rect.height() - titleH);
    const auto &order = mGrid->order();
    const int cols = std::max(1, int(std::ceil(std::sqrt(double(channels) * area.width() / std::max(1.0, area.height())))));
    const int rows = (channels + cols - 1) / cols;
    const double gap = 1.0;
    const double cell = std::min((area.width() - gap * (cols - 1)) / cols, (area.height() - gap * (rows - 1)) / rows);
    p.setFont(s.font(0.6));
    for (int pos = 0; pos < channels; ++pos) {
        const int c = pos < int(order.size()) ? order[size_t(pos)] : pos;
        const float *plane = a.data() + int64_t(c) * h * w;
        float lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < h * w; ++i)
            if (std::isfinite(plane[i])) {
                lo = std::min(lo, plane[i]);
                hi = std::max(hi, plane[i]);
            }
        if (!(hi >= lo)) {
            lo = 0;
            hi = 1;
        }
        const QRectF r(area.left() + (pos % cols) * (cell + gap), area.top() + (pos / cols) * (cell + gap), cell, cell * h / std::max(1, w));
        p.setRenderHint(QPainter::SmoothPixmapTransform, false);
        p.drawImage(r, renderPlane(plane, h, w, lo, hi));
        if (cell >= s.fontPt * 2) {
            p.setPen(Qt::white);
            p.drawText(r.adjusted(1, 0, 0, 0), Qt::AlignLeft | Qt::AlignTop, QString::number(c));
        }
    }
}

QStringList ActivationPanel::writeRawData(const QString &base) const
{
    if (!mResult) return {};
    writeNpy((base + ".npy").toStdString(), mResult->activation);
    return {base + ".npy"};
}

}   // namespace pellucid
