#pragma once
// One channel enlarged as a heat map with a colour scale (QCustomPlot QCPColorMap + QCPColorScale).
#include "engine/tensorvalue.h"

#include <QWidget>

class QCustomPlot;
class QCPColorMap;
class QCPColorScale;

namespace pellucid {

class ChannelView : public QWidget {
    Q_OBJECT
public:
    explicit ChannelView(QWidget *parent = nullptr);
    /// Shows plane `channel` of a [1, C, H, W] tensor (or the last two dims otherwise).
    void setChannel(const TensorValue &activation, int channel, const QString &title);
    void clear();
    QCustomPlot *plot() const { return mPlot; }
    QCPColorMap *colorMap() const { return mMap; }

private:
    QCustomPlot *mPlot;
    QCPColorMap *mMap;
    QCPColorScale *mScale;
};

} // namespace pellucid
