#pragma once
// Top-k classes as a horizontal bar chart of probabilities (QCustomPlot).
#include "engine/model.h"

#include <QWidget>

class QCustomPlot;
class QCPBars;
class QLabel;

namespace pellucid {

class PredictionChart : public QWidget {
    Q_OBJECT
public:
    explicit PredictionChart(QWidget *parent = nullptr);
    void setPredictions(const std::vector<Prediction> &top, const TensorValue::Stats &logitStats);
    void clear();
    QCustomPlot *plot() const { return mPlot; }
    QStringList labels() const { return mLabels; }

private:
    QCustomPlot *mPlot;
    QCPBars *mBars;
    QLabel *mWarning;
    QStringList mLabels;
};

} // namespace pellucid
