#include "widgets/input/drawingcanvas.h"

#include <QMouseEvent>
#include <QPainter>
#include <QTabletEvent>

#include <algorithm>

namespace pellucid {

DrawingCanvas::DrawingCanvas(QWidget *parent, int size) : QWidget(parent), mImage(size, size, QImage::Format_Grayscale8)
{
    mImage.fill(Qt::black);
    setMinimumSize(140, 140);
    setCursor(Qt::CrossCursor);
    setAttribute(Qt::WA_TabletTracking);
    mSince.start();
}

void DrawingCanvas::clear()
{
    mImage.fill(Qt::black);
    update();
    emit changed(mImage);
}

QRectF DrawingCanvas::imageRect() const
{
    const double s = std::min(width(), height());
    return QRectF((width() - s) / 2, (height() - s) / 2, s, s);
}

QPointF DrawingCanvas::toImage(const QPointF &pos) const
{
    const QRectF r = imageRect();
    return QPointF((pos.x() - r.left()) * mImage.width() / r.width(), (pos.y() - r.top()) * mImage.height() / r.height());
}

void DrawingCanvas::strokeTo(const QPointF &from, const QPointF &to, double pressure)
{
    QPainter p(&mImage);
    p.setRenderHint(QPainter::Antialiasing, true);
    p.setPen(QPen(Qt::white, std::max(1.0, mPenWidth * std::clamp(pressure, 0.1, 2.0)), Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    p.drawLine(from, to);
    p.end();
    update();
    announce(false);
}

void DrawingCanvas::endStroke() { announce(true); }

void DrawingCanvas::announce(bool force)
{
    if (!force && mSince.elapsed() < mInterval) return;
    mSince.restart();
    emit changed(mImage);
}

void DrawingCanvas::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    p.setRenderHint(QPainter::SmoothPixmapTransform, true);
    p.drawImage(imageRect(), mImage);
    p.setPen(QPen(palette().color(QPalette::Mid), 1));
    p.drawRect(imageRect().adjusted(0, 0, -1, -1));
}

void DrawingCanvas::mousePressEvent(QMouseEvent *e)
{
    if (e->button() == Qt::RightButton) {
        clear();
        return;
    }
    mDrawing = true;
    mLast = toImage(e->position());
    strokeTo(mLast, mLast);
}

void DrawingCanvas::mouseMoveEvent(QMouseEvent *e)
{
    if (!mDrawing) return;
    const QPointF p = toImage(e->position());
    strokeTo(mLast, p);
    mLast = p;
}

void DrawingCanvas::mouseReleaseEvent(QMouseEvent *)
{
    if (!mDrawing) return;
    mDrawing = false;
    endStroke();
}

void DrawingCanvas::tabletEvent(QTabletEvent *e)
{
    const QPointF p = toImage(e->position());
    switch (e->type()) {
    case QEvent::TabletPress:
        mDrawing = true;
        mLast = p;
        strokeTo(p, p, e->pressure());
        break;
    case QEvent::TabletMove:
        if (mDrawing) strokeTo(mLast, p, e->pressure());
        mLast = p;
        break;
    case QEvent::TabletRelease:
        mDrawing = false;
        endStroke();
        break;
    default: break;
    }
    e->accept();
}

}   // namespace pellucid
