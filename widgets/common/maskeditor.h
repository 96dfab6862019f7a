#pragma once
// Drawing where the evidence should be: a region mask over a picture (the input, or the attribution
// overlay), with a brush, an eraser and a polygon (click the corners; double-click, Enter or a click on the
// first corner closes it; Esc drops it). The mask has the picture's pixels (the model input's size).
#include <QImage>
#include <QPolygonF>
#include <QWidget>

#include <cstdint>
#include <vector>

namespace pellucid {

class MaskEditor : public QWidget {
    Q_OBJECT
public:
    enum class Tool { Brush, Eraser, Polygon };
    explicit MaskEditor(QWidget *parent = nullptr);

    /// The picture drawn under the mask; a picture of another size starts an empty mask of its size.
    void setBackground(const QImage &picture);
    const QImage &background() const { return mBackground; }
    void setTool(Tool tool);
    Tool tool() const { return mTool; }
    void setBrushRadius(int pixels);   // in mask pixels
    int brushRadius() const { return mRadius; }

    int maskWidth() const { return mW; }
    int maskHeight() const { return mH; }
    const std::vector<uint8_t> &mask() const { return mMask; }
    /// Replaces the mask (w × h bytes, non-zero = inside); ignored when the size is not the picture's.
    void setMask(int w, int h, const std::vector<uint8_t> &mask);
    void clear();
    int64_t area() const;
    /// Where a widget point falls in mask pixels (outside the picture: clamped).
    QPointF toMask(const QPointF &widgetPoint) const;
    QRectF pictureRect() const;
    QSize sizeHint() const override { return {280, 280}; }

signals:
    void maskChanged();

protected:
    void paintEvent(QPaintEvent *) override;
    void mousePressEvent(QMouseEvent *e) override;
    void mouseMoveEvent(QMouseEvent *e) override;
    void mouseReleaseEvent(QMouseEvent *e) override;
    void mouseDoubleClickEvent(QMouseEvent *e) override;
    void keyPressEvent(QKeyEvent *e) override;

private:
    void stroke(const QPointF &from, const QPointF &to, bool inside);
    void closePolygon();
    QImage maskPicture() const;

    QImage mBackground;
    int mW = 0, mH = 0;
    std::vector<uint8_t> mMask;
    Tool mTool = Tool::Brush;
    int mRadius = 2;
    bool mDrawing = false;
    QPointF mLast;
    QPolygonF mPolygon;   // corners so far, in mask pixels
};

}   // namespace pellucid
