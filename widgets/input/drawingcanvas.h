#pragma once
// A drawing canvas for live input: white strokes on black (as MNIST-style datasets are), drawn with the mouse
// or a tablet (pressure widens the stroke). Each stroke segment announces the new image, at most every
// `interval` ms while drawing and always when a stroke ends, so a model follows the drawing stroke by stroke.
#include <QElapsedTimer>
#include <QImage>
#include <QWidget>

namespace pellucid {

class DrawingCanvas : public QWidget {
    Q_OBJECT
public:
    explicit DrawingCanvas(QWidget *parent = nullptr, int size = 280);
    QImage image() const { return mImage; }
    void clear();
    void setPenWidth(double w) { mPenWidth = w; }
    double penWidth() const { return mPenWidth; }
    /// Draws one segment in image coordinates (what mouse and tablet moves do); `pressure` scales the width.
    void strokeTo(const QPointF &from, const QPointF &to, double pressure = 1.0);
    /// Ends a stroke: announces the image.
    void endStroke();
    void setInterval(int ms) { mInterval = ms; }
    QSize sizeHint() const override { return {240, 240}; }

signals:
    void changed(const QImage &image);

protected:
    void paintEvent(QPaintEvent *) override;
    void mousePressEvent(QMouseEvent *) override;
    void mouseMoveEvent(QMouseEvent *) override;
    void mouseReleaseEvent(QMouseEvent *) override;
    void tabletEvent(QTabletEvent *) override;

private:
    QRectF imageRect() const;
    QPointF toImage(const QPointF &widgetPos) const;
    void announce(bool force);
    QImage mImage;
    double mPenWidth = 22;
    QPointF mLast;
    bool mDrawing = false;
    int mInterval = 30;
    QElapsedTimer mSince;
};

}   // namespace pellucid
