#pragma once
// Histogram of a layer's values (QCustomPlot bars), with NaN/Inf counts in the title.
#include "engine/core/tensorvalue.h"
#include "widgets/common/figure.h"

#include <QWidget>

class QCustomPlot;
class QCPBars;

namespace pellucid {

class HistogramView : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit HistogramView(QWidget *parent = nullptr);
    void setHistogram(const Histogram &h, const TensorValue::Stats &stats, const QString &title);
    QCustomPlot *plot() const { return mPlot; }
    int barCount() const;

    // FigureSource: bars and axes, all vector; raw data: a CSV of the bins.
    double figureAspect() const override { return 1.6; }
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;

private:
    QCustomPlot *mPlot;
    QCPBars *mBars;
    Histogram mHist;
    QString mTitle;
};

}   // namespace pellucid
