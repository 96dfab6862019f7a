#pragma once
// Histogram of a layer's values (QCustomPlot bars), with NaN/Inf counts in the title.
#include "engine/tensorvalue.h"

#include <QWidget>

class QCustomPlot;
class QCPBars;

namespace pellucid {

class HistogramView : public QWidget {
    Q_OBJECT
public:
    explicit HistogramView(QWidget *parent = nullptr);
    void setHistogram(const Histogram &h, const TensorValue::Stats &stats, const QString &title);
    QCustomPlot *plot() const { return mPlot; }
    int barCount() const;

private:
    QCustomPlot *mPlot;
    QCPBars *mBars;
};

} // namespace pellucid
