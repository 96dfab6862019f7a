#pragma once
// An attribution map laid over its input, with a colour scale showing values. Signed maps use a diverging
// blue–white–red scale centred on 0; magnitudes use viridis. Sign modes, outlier clipping and opacity.
#include "engine/core/tensorvalue.h"
#include "widgets/common/figure.h"

#include <QImage>
#include <QWidget>

namespace pellucid {

enum class SignMode { All, Positive, Negative, Absolute };

struct OverlayStyle {
    SignMode sign = SignMode::All;
    double clipPercentile = 99.5;   // |values| above this percentile saturate
    double opacity = 0.6;
    bool signedMap = true;    // false: magnitudes (viridis)
    double sharedBound = 0;   // > 0: use this bound instead of the map's own (compare view)
};

/// The map reduced to one plane (channels summed), sign mode applied, at the map's own resolution.
/// Also returns the colour bound (the clip percentile of |values|).
QVector<float> reducePlane(const TensorValue &map, SignMode sign, int &h, int &w);
double percentileBound(const QVector<float> &plane, double percentile);
/// Grey (1 channel) or RGB (3 channels) picture of a [1, C, H, W] input, each channel min-max scaled.
QImage inputPicture(const TensorValue &input);
QRgb divergingColor(double t);   // t in [-1, 1]

class AttributionView : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit AttributionView(QWidget *parent = nullptr);
    void setInput(const QImage &picture);
    void setMap(const TensorValue &map, const QString &title);
    void setStyle(const OverlayStyle &style);
    void clear(const QString &message = {});
    double bound() const { return mBound; }   // the current colour bound
    const QImage &overlay() const { return mOverlay; }
    QString title() const { return mTitle; }

    QSize sizeHint() const override { return {320, 300}; }

    // FigureSource: the input with the overlay and a labelled colour scale; raw data: the map as .npy.
    double figureAspect() const override;
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;
    const TensorValue &map() const { return mMap; }

protected:
    void paintEvent(QPaintEvent *) override;

private:
    void rebuild();
    QImage mInput, mOverlay;
    // The picture as drawn (grey input under the overlay, at the widget's size) and the colour bar, kept
    // between paints: redrawn only when the input, the map, the style or the size changes (live mode
    // repaints this view for every frame, and smooth-scaling the overlay is the expensive part).
    QImage mComposed, mBar;
    bool mBarDiverging = false;
    void invalidate() { mComposed = QImage(); }
    TensorValue mMap;
    OverlayStyle mStyle;
    QString mTitle, mMessage;
    double mBound = 0;
    int mNonFinite = 0;
};

}   // namespace pellucid
