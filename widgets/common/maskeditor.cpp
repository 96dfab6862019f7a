#include "widgets/common/maskeditor.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace pellucid {

MaskEditor::MaskEditor(QWidget *parent) : QWidget(parent)
{
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(160, 160);
    setCursor(Qt::CrossCursor);
}

void MaskEditor::setBackground(const QImage &picture)
{
    const bool resized = picture.width() != mW || picture.height() != mH;
    mBackground = picture;
    if (resized) {
        mW = picture.width();
        mH = picture.height();
        mMask.assign(size_t(mW) * size_t(mH), 0);
        mPolygon.clear();
        emit maskChanged();
    }
    update();
}

void MaskEditor::setTool(Tool tool)
{
    mTool = tool;
    mPolygon.clear();
    update();
}

void MaskEditor::setBrushRadius(int pixels) { mRadius = std::clamp(pixels, 0, 256); }

void MaskEditor::setMask(int w, int h, const std::vector<uint8_t> &mask)
{
    if (w != mW || h != mH || mask.size() != size_t(w) * size_t(h)) return;
    for (size_t i = 0; i < mask.size(); ++i) mMask[i] = mask[i] != 0;
    update();
    emit maskChanged();
}

void MaskEditor::clear()
{
    std::fill(mMask.begin(), mMask.end(), uint8_t(0));
    mPolygon.clear();
    update();
    emit maskChanged();
}

int64_t MaskEditor::area() const { return std::count(mMask.begin(), mMask.end(), uint8_t(1)); }

QRectF MaskEditor::pictureRect() const
{
    if (mW <= 0 || mH <= 0) return {};
    const double s = std::min(double(width()) / mW, double(height()) / mH);
    const QSizeF size(mW * s, mH * s);
    return QRectF(QPointF((width() - size.width()) / 2, (height() - size.height()) / 2), size);
}

QPointF MaskEditor::toMask(const QPointF &p) const
{
    const QRectF r = pictureRect();
    if (r.isEmpty()) return {};
    const double x = (p.x() - r.left()) / r.width() * mW, y = (p.y() - r.top()) / r.height() * mH;
    return {std::clamp(x, 0.0, double(mW) - 1e-6), std::clamp(y, 0.0, double(mH) - 1e-6)};
}

void MaskEditor::stroke(const QPointF &from, const QPointF &to, bool inside)
{
    // Discs of the brush's radius along the segment, one per half pixel.
    const double len = std::hypot(to.x() - from.x(), to.y() - from.y());
    const int steps = std::max(1, int(std::ceil(len * 2)));
    const double r = mRadius + 0.5;
    for (int k = 0; k <= steps; ++k) {
        const QPointF c = from + (to - from) * (double(k) / steps);
        const int x0 = std::max(0, int(std::floor(c.x() - r))), x1 = std::min(mW - 1, int(std::ceil(c.x() + r)));
        const int y0 = std::max(0, int(std::floor(c.y() - r))), y1 = std::min(mH - 1, int(std::ceil(c.y() + r)));
        for (int y = y0; y <= y1; ++y)
            for (int x = x0; x <= x1; ++x)
                if (std::hypot(x + 0.5 - c.x(), y + 0.5 - c.y()) <= r) mMask[size_t(y) * size_t(mW) + size_t(x)] = inside;
    }
}

void MaskEditor::closePolygon()
{
    if (mPolygon.size() >= 3) {
        // Pixels whose centre lies inside the polygon (even-odd rule).
        for (int y = 0; y < mH; ++y)
            for (int x = 0; x < mW; ++x)
                if (mPolygon.containsPoint(QPointF(x + 0.5, y + 0.5), Qt::OddEvenFill)) mMask[size_t(y) * size_t(mW) + size_t(x)] = 1;
        emit maskChanged();
    }
    mPolygon.clear();
    update();
}

void MaskEditor::mousePressEvent(QMouseEvent *e)
{
    if (mW <= 0 || e->button() != Qt::LeftButton) return;
    const QPointF m = toMask(e->position());
    if (mTool == Tool::Polygon) {
        const QRectF r = pictureRect();
        const double onePixel = r.width() / mW;
        if (mPolygon.size() >= 3 && std::hypot(m.x() - mPolygon.first().x(), m.y() - mPolygon.first().y()) * onePixel < 8) {
            closePolygon();   // a click on the first corner
            return;
        }
        mPolygon << m;
        update();
        return;
    }
    mDrawing = true;
    mLast = m;
    stroke(m, m, mTool == Tool::Brush);
    update();
}

void MaskEditor::mouseMoveEvent(QMouseEvent *e)
{
    if (!mDrawing) {
        if (mTool == Tool::Polygon && !mPolygon.isEmpty()) update();
        return;
    }
    const QPointF m = toMask(e->position());
    stroke(mLast, m, mTool == Tool::Brush);
    mLast = m;
    update();
}

void MaskEditor::mouseReleaseEvent(QMouseEvent *)
{
    if (!mDrawing) return;
    mDrawing = false;
    emit maskChanged();
}

void MaskEditor::mouseDoubleClickEvent(QMouseEvent *e)
{
    if (mTool == Tool::Polygon) {
        closePolygon();
        e->accept();
    }
}

void MaskEditor::keyPressEvent(QKeyEvent *e)
{
    if (mTool == Tool::Polygon && (e->key() == Qt::Key_Return || e->key() == Qt::Key_Enter)) {
        closePolygon();
        return;
    }
    if (e->key() == Qt::Key_Escape && !mPolygon.isEmpty()) {
        mPolygon.clear();
        update();
        return;
    }
    QWidget::keyPressEvent(e);
}

QImage MaskEditor::maskPicture() const
{
    QImage img(mW, mH, QImage::Format_ARGB32_Premultiplied);
    img.fill(Qt::transparent);
    const QRgb inside = qPremultiply(qRgba(0, 190, 255, 120));
    for (int y = 0; y < mH; ++y) {
        auto *line = reinterpret_cast<QRgb *>(img.scanLine(y));
        for (int x = 0; x < mW; ++x)
            if (mMask[size_t(y) * size_t(mW) + size_t(x)]) line[x] = inside;
    }
    return img;
}

void MaskEditor::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    const QRectF r = pictureRect();
    if (r.isEmpty()) {
        p.setPen(palette().color(QPalette::PlaceholderText));
        p.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, tr("Open an image to draw where the evidence should be"));
        return;
    }
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);   // pixels stay pixels
    p.drawImage(r, mBackground);
    p.drawImage(r, maskPicture());
    p.setPen(QPen(QColor(0, 120, 200), 1));
    p.setBrush(Qt::NoBrush);
    p.drawRect(r.adjusted(0, 0, -1, -1));
    if (!mPolygon.isEmpty()) {
        const double s = r.width() / mW;
        QPolygonF shown;
        for (const QPointF &c : mPolygon) shown << r.topLeft() + c * s;
        p.setRenderHint(QPainter::Antialiasing, true);
        p.setPen(QPen(QColor(255, 140, 0), 1.5));
        p.drawPolyline(shown);
        const QPointF cursor = mapFromGlobal(QCursor::pos());
        if (rect().contains(cursor.toPoint())) p.drawLine(shown.last(), cursor);
        for (const QPointF &c : shown) p.drawEllipse(c, 3, 3);
    }
}

}   // namespace pellucid
