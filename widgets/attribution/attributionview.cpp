#include "widgets/attribution/attributionview.h"

#include "widgets/common/colormap.h"
#include "engine/core/npy.h"

#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <cmath>

namespace pellucid {

QVector<float> reducePlane(const TensorValue &map, SignMode sign, int &h, int &w)
{
    const Shape &s = map.shape();
    h = w = 0;
    if (s.size() < 2 || map.numel() == 0) return {};
    h = int(s[s.size() - 2]);
    w = int(s[s.size() - 1]);
    const int64_t plane = int64_t(h) * w;
    const int64_t channels = s.size() >= 3 ? s[s.size() - 3] : 1;
    QVector<float> out(int(plane), 0.0f);
    for (int64_t c = 0; c < channels; ++c)
        for (int64_t i = 0; i < plane; ++i) out[int(i)] += map.at(c * plane + i);   // batch element 0
    for (float &v : out) {
        if (!std::isfinite(v)) continue;
        switch (sign) {
        case SignMode::All: break;
        case SignMode::Positive: v = std::max(v, 0.0f); break;
        case SignMode::Negative: v = std::max(-v, 0.0f); break;
        case SignMode::Absolute: v = std::fabs(v); break;
        }
    }
    return out;
}

double percentileBound(const QVector<float> &plane, double percentile)
{
    std::vector<float> mags;
    mags.reserve(size_t(plane.size()));
    for (float v : plane)
        if (std::isfinite(v)) mags.push_back(std::fabs(v));
    if (mags.empty()) return 0;
    const size_t k = std::min(mags.size() - 1, size_t(std::clamp(percentile, 0.0, 100.0) / 100.0 * double(mags.size() - 1) + 0.5));
    std::nth_element(mags.begin(), mags.begin() + long(k), mags.end());
    return mags[k];
}

QRgb divergingColor(double t)
{
    // Blue (−) – white (0) – red (+), close to ColorBrewer RdBu.
    t = std::clamp(t, -1.0, 1.0);
    const QColor neg(33, 102, 172), pos(178, 24, 43);
    const QColor &end = t < 0 ? neg : pos;
    const double a = std::fabs(t);
    return qRgb(int(255 + (end.red() - 255) * a), int(255 + (end.green() - 255) * a), int(255 + (end.blue() - 255) * a));
}

QImage inputPicture(const TensorValue &input)
{
    const Shape &s = input.shape();
    if (s.size() != 4) return {};
    const int c = int(s[1]), h = int(s[2]), w = int(s[3]);
    const int plane = h * w;
    auto channel = [&](int ch, int i) { return input.at(int64_t(ch) * plane + i); };
    std::vector<float> lo(size_t(c), INFINITY), hi(size_t(c), -INFINITY);
    for (int ch = 0; ch < c; ++ch)
        for (int i = 0; i < plane; ++i) {
            const float v = channel(ch, i);
            if (std::isfinite(v)) {
                lo[size_t(ch)] = std::min(lo[size_t(ch)], v);
                hi[size_t(ch)] = std::max(hi[size_t(ch)], v);
            }
        }
    auto to8 = [&](int ch, int i) {
        const float span = hi[size_t(ch)] > lo[size_t(ch)] ? hi[size_t(ch)] - lo[size_t(ch)] : 1.0f;
        return int(std::clamp((channel(ch, i) - lo[size_t(ch)]) / span * 255.0f, 0.0f, 255.0f));
    };
    QImage img(w, h, QImage::Format_RGB32);
    for (int y = 0; y < h; ++y) {
        auto *row = reinterpret_cast<QRgb *>(img.scanLine(y));
        for (int x = 0; x < w; ++x) {
            const int i = y * w + x;
            row[x] = c >= 3 ? qRgb(to8(0, i), to8(1, i), to8(2, i)) : qRgb(to8(0, i), to8(0, i), to8(0, i));
        }
    }
    return img;
}

AttributionView::AttributionView(QWidget *parent) : QWidget(parent) { setMinimumSize(160, 150); }

void AttributionView::setInput(const QImage &picture)
{
    mInput = picture;
    invalidate();
    update();
}

void AttributionView::setMap(const TensorValue &map, const QString &title)
{
    mMap = map;
    mTitle = title;
    mMessage.clear();
    rebuild();
}

void AttributionView::setStyle(const OverlayStyle &style)
{
    mStyle = style;
    invalidate();
    rebuild();
}

void AttributionView::clear(const QString &message)
{
    mMap = TensorValue();
    mOverlay = QImage();
    invalidate();
    mMessage = message;
    update();
}

void AttributionView::rebuild()
{
    int h = 0, w = 0;
    const SignMode sign = mStyle.signedMap ? mStyle.sign : SignMode::Absolute;
    const QVector<float> plane = reducePlane(mMap, sign, h, w);
    if (plane.isEmpty()) {
        mOverlay = QImage();
        invalidate();
        update();
        return;
    }
    mBound = mStyle.sharedBound > 0 ? mStyle.sharedBound : percentileBound(plane, mStyle.clipPercentile);
    const double bound = mBound > 0 ? mBound : 1.0;
    const bool diverging = mStyle.signedMap && sign == SignMode::All;
    mNonFinite = 0;
    mOverlay = QImage(w, h, QImage::Format_ARGB32);
    for (int y = 0; y < h; ++y) {
        auto *row = reinterpret_cast<QRgb *>(mOverlay.scanLine(y));
        for (int x = 0; x < w; ++x) {
            const float v = plane[y * w + x];
            QRgb c;
            if (!std::isfinite(v)) {
                c = kNanColor;
                ++mNonFinite;
            } else
                c = diverging ? divergingColor(v / bound) : viridis(std::clamp(double(v) / bound, 0.0, 1.0));
            row[x] = qRgba(qRed(c), qGreen(c), qBlue(c), int(255 * mStyle.opacity));
        }
    }
    update();
}

double AttributionView::figureAspect() const
{
    const QImage &ref = !mInput.isNull() ? mInput : mOverlay;
    return ref.isNull() ? 1.2 : 1.25 * double(ref.width()) / ref.height();
}

void AttributionView::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const
{
    const SignMode sign = mStyle.signedMap ? mStyle.sign : SignMode::Absolute;
    const bool diverging = mStyle.signedMap && sign == SignMode::All;
    auto colour = [diverging](double t) { return diverging ? divergingColor(2 * t - 1) : viridis(t); };
    const QImage base = mInput.isNull() ? QImage() : mInput.convertToFormat(QImage::Format_Grayscale8).convertToFormat(QImage::Format_RGB32);
    paintHeatmapPanel(p, rect, base, mOverlay, diverging ? -mBound : 0.0, mBound, colour, mTitle, settings);
}

QStringList AttributionView::writeRawData(const QString &base) const
{
    if (mMap.numel() == 0) return {};
    writeNpy((base + ".npy").toStdString(), mMap);
    return {base + ".npy"};
}

void AttributionView::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    const int barW = 14, labelW = 56, titleH = fontMetrics().height() + 4;
    QRect area = rect().adjusted(4, titleH, -(barW + labelW + 8), -4);
    p.setPen(palette().color(QPalette::WindowText));
    p.drawText(QRect(4, 0, width() - 8, titleH), Qt::AlignLeft | Qt::AlignVCenter, fontMetrics().elidedText(mTitle, Qt::ElideRight, width() - 8));
    if (!mMessage.isEmpty()) {
        p.setPen(QColor(176, 0, 32));
        p.drawText(area, Qt::AlignCenter | Qt::TextWordWrap, mMessage);
        return;
    }
    if (mInput.isNull()) return;
    QSize fit = mInput.size().scaled(area.size(), Qt::KeepAspectRatio);
    const QRect target(area.left() + (area.width() - fit.width()) / 2, area.top() + (area.height() - fit.height()) / 2, fit.width(), fit.height());
    if (mComposed.isNull()) {
        // Composed once per input / map at the input's resolution times a whole factor (at least ~256 px, so
        // a 28×28 input keeps crisp pixels under a smooth CAM map), then drawn scaled without smoothing.
        const int k = std::max(1, (256 + std::max(mInput.width(), mInput.height()) - 1) / std::max(1, std::max(mInput.width(), mInput.height())));
        const QSize size = mInput.size() * k;
        mComposed = mInput.convertToFormat(QImage::Format_Grayscale8).convertToFormat(QImage::Format_RGB32).scaled(size);
        if (!mOverlay.isNull()) {
            // CAM maps are coarser than the input: smoothed; full-resolution maps stay crisp.
            const bool smooth = mOverlay.width() < mInput.width();
            QPainter c(&mComposed);
            c.drawImage(0, 0, mOverlay.scaled(size, Qt::IgnoreAspectRatio, smooth ? Qt::SmoothTransformation : Qt::FastTransformation));
        }
    }
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    p.drawImage(target, mComposed);
    // Colour scale with values.
    const QRect bar(target.right() + 8, target.top(), barW, target.height());
    const SignMode sign = mStyle.signedMap ? mStyle.sign : SignMode::Absolute;
    const bool diverging = mStyle.signedMap && sign == SignMode::All;
    if (mBar.size() != bar.size() || mBarDiverging != diverging) {
        mBar = QImage(bar.size(), QImage::Format_RGB32);
        mBarDiverging = diverging;
        for (int y = 0; y < bar.height(); ++y) {
            const double t = 1.0 - double(y) / std::max(1, bar.height() - 1);
            auto *row = reinterpret_cast<QRgb *>(mBar.scanLine(y));
            std::fill(row, row + bar.width(), QColor(diverging ? divergingColor(2 * t - 1) : viridis(t)).rgb());
        }
    }
    p.drawImage(bar.topLeft(), mBar);
    p.setPen(palette().color(QPalette::WindowText));
    p.drawRect(bar.adjusted(0, 0, -1, -1));
    const QString top = QString::number(mBound, 'g', 3);
    const QString bottom = diverging ? QString::number(-mBound, 'g', 3) : QStringLiteral("0");
    QFont f = font();
    f.setPointSizeF(std::max(7.0, f.pointSizeF() - 1));
    p.setFont(f);
    p.drawText(QRect(bar.right() + 3, bar.top() - 2, labelW, 14), Qt::AlignLeft | Qt::AlignTop, top);
    p.drawText(QRect(bar.right() + 3, bar.bottom() - 12, labelW, 14), Qt::AlignLeft | Qt::AlignBottom, bottom);
    if (diverging) p.drawText(QRect(bar.right() + 3, bar.center().y() - 7, labelW, 14), Qt::AlignLeft | Qt::AlignVCenter, "0");
    if (mNonFinite) {
        p.setPen(QColor(176, 0, 32));
        p.drawText(target.adjusted(2, 2, 0, 0), Qt::AlignLeft | Qt::AlignTop, tr("%1 NaN/Inf").arg(mNonFinite));
    }
}

}   // namespace pellucid
