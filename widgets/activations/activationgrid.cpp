#include "widgets/common/linescale.h"
#include "widgets/activations/activationgrid.h"

#include "widgets/common/colormap.h"

#include <QMouseEvent>
#include <QPainter>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace pellucid {
namespace {
constexpr int kGap = 3;
}

ActivationGrid::ActivationGrid(QWidget *parent) : QWidget(parent)
{
    setMinimumSize(120, 120);
    QSizePolicy sp(QSizePolicy::Expanding, QSizePolicy::Preferred);
    sp.setHeightForWidth(true);
    setSizePolicy(sp);
}

void ActivationGrid::setActivation(const TensorValue &activation, const std::vector<ChannelStats> &stats)
{
    mActivation = activation;
    mStats = stats;
    rebuild();
}

void ActivationGrid::setSortKey(SortKey key)
{
    mSort = key;
    rebuild();
}

void ActivationGrid::setSharedScale(bool shared)
{
    mShared = shared;
    rebuild();
}

void ActivationGrid::selectChannel(int channel)
{
    mSelected = channel;
    update();
}

void ActivationGrid::rebuild()
{
    mImages.clear();
    const Shape &s = mActivation.shape();
    if (mActivation.numel() == 0 || s.size() < 2) {
        mOrder.clear();
        update();
        return;
    }
    int channels = 1, h = 1, w = 1;
    if (s.size() == 4) {
        channels = int(s[1]);
        h = int(s[2]);
        w = int(s[3]);
    } else if (s.size() == 3) {
        h = int(s[1]);
        w = int(s[2]);
    } else if (s.size() == 2) {
        h = 1;
        w = int(s[1]);
    } else {
        channels = int(s[1]);
        h = 1;
        w = int(shapeNumel(Shape(s.begin() + 2, s.end())));
    }
    const TensorValue::Stats all = mActivation.stats();
    const int plane = h * w;
    for (int c = 0; c < channels; ++c) {
        const float *p = mActivation.data() + int64_t(c) * plane;
        float lo = all.min, hi = all.max;
        if (!mShared) {
            lo = INFINITY;
            hi = -INFINITY;
            for (int i = 0; i < plane; ++i)
                if (std::isfinite(p[i])) {
                    lo = std::min(lo, p[i]);
                    hi = std::max(hi, p[i]);
                }
            if (!(hi >= lo)) {
                lo = 0;
                hi = 1;
            }
        }
        mImages.push_back(renderPlane(p, h, w, lo, hi));
    }
    mOrder.resize(size_t(channels));
    std::iota(mOrder.begin(), mOrder.end(), 0);
    if (mSort != SortKey::Index && mStats.size() == size_t(channels)) {
        std::stable_sort(mOrder.begin(), mOrder.end(), [&](int a, int b) {
            return mSort == SortKey::Mean ? mStats[size_t(a)].mean > mStats[size_t(b)].mean : mStats[size_t(a)].max > mStats[size_t(b)].max;
        });
    }
    if (mSelected >= channels) mSelected = -1;
    updateGeometry();
    update();
}

int ActivationGrid::columnsFor(int width) const
{
    const int n = int(mImages.size());
    if (n <= 1) return 1;
    // Near-square cells: columns ~ sqrt(n) scaled by the widget's aspect.
    const double aspect = double(std::max(1, width)) / std::max(1, height());
    return std::clamp(int(std::ceil(std::sqrt(n * aspect))), 1, n);
}

QRect ActivationGrid::cellRect(int position, int width) const
{
    const int cols = columnsFor(width);
    const int cell = std::max(4, (width - kGap * (cols + 1)) / cols);
    const QSize img = mImages.empty() ? QSize(1, 1) : mImages.front().size();
    const int cellH = img.width() >= img.height() ? std::max(2, cell * img.height() / std::max(1, img.width())) : cell;
    const int col = position % cols, row = position / cols;
    return QRect(kGap + col * (cell + kGap), kGap + row * (cellH + kGap), cell, cellH);
}

int ActivationGrid::heightForWidth(int w) const
{
    if (mImages.empty()) return 120;
    return cellRect(int(mImages.size()) - 1, w).bottom() + kGap;
}

void ActivationGrid::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    if (mImages.empty()) {
        p.setPen(palette().color(QPalette::PlaceholderText));
        p.drawText(rect(), Qt::AlignCenter, tr("Select a layer to see its channels"));
        return;
    }
    const bool label = cellRect(0, width()).width() >= 36;
    for (int pos = 0; pos < int(mOrder.size()); ++pos) {
        const int c = mOrder[size_t(pos)];
        const QRect r = cellRect(pos, width());
        p.drawImage(r, mImages[size_t(c)]);
        if (c == mSelected) {
            p.setPen(QPen(QColor(255, 80, 40), scaledWidth(2)));
            p.drawRect(r.adjusted(-1, -1, 1, 1));
        }
        if (label) {
            QFont f = font();
            f.setPointSizeF(7);
            p.setFont(f);
            p.setPen(Qt::white);
            p.drawText(r.adjusted(2, 1, 0, 0), Qt::AlignLeft | Qt::AlignTop, QString::number(c));
        }
    }
}

void ActivationGrid::mousePressEvent(QMouseEvent *e)
{
    for (int pos = 0; pos < int(mOrder.size()); ++pos) {
        if (cellRect(pos, width()).contains(e->position().toPoint())) {
            mSelected = mOrder[size_t(pos)];
            update();
            emit channelClicked(mSelected);
            return;
        }
    }
}

}   // namespace pellucid
