#pragma once
// One channel enlarged as a heat map with a colour scale (QCustomPlot QCPColorMap + QCPColorScale).
#include "engine/core/tensorvalue.h"
#include "widgets/common/figure.h"

#include <QWidget>

class QCustomPlot;
class QCPColorMap;
class QCPColorScale;

namespace pellucid {

class ChannelView : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit ChannelView(QWidget *parent = nullptr);
    /// Shows plane `channel` of a [1, C, H, W] tensor (or the last two dims otherwise).
    void setChannel(const TensorValue &activation, int channel, const QString &title);
    void clear();
    QCustomPlot *plot() const { return mPlot; }
    QCPColorMap *colorMap() const { return mMap; }

    // FigureSource: the channel as a heat map (raster) with its labelled colour scale; raw data: .npy.
    double figureAspect() const override;
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;

private:
    QCustomPlot *mPlot;
    QCPColorMap *mMap;
    QCPColorScale *mScale;
    TensorValue mPlane;   // [h, w] of the shown channel
    QString mTitle;
};

}   // namespace pellucid
