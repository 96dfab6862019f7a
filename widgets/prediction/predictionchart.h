#pragma once
// Top-k classes as a horizontal bar chart of probabilities (QCustomPlot).
#include "engine/runtime/model.h"
#include "widgets/common/figure.h"

#include <QWidget>

class QCustomPlot;
class QCPBars;
class QLabel;

namespace pellucid {

class PredictionChart : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit PredictionChart(QWidget *parent = nullptr);
    void setPredictions(const std::vector<Prediction> &top, const TensorValue::Stats &logitStats);
    void clear();
    /// For a model that predicts no classes (a decoder, a recommender, a language model): one line saying
    /// why instead of empty axes. An empty reason shows the chart again.
    void setReason(const QString &reason);
    QString reason() const { return mReasonText; }
    QCustomPlot *plot() const { return mPlot; }
    QStringList labels() const { return mLabels; }

    // FigureSource: horizontal bars with class labels and a probability axis (all vector); raw data: CSV.
    double figureAspect() const override { return 2.0; }
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;

private:
    QCustomPlot *mPlot;
    QCPBars *mBars;
    QLabel *mWarning, *mReason;
    QString mReasonText;
    QStringList mLabels;
    std::vector<Prediction> mTop;
};

}   // namespace pellucid
