#include "widgets/predictionchart.h"

#include <qcustomplot.h>

#include <QLabel>
#include <QVBoxLayout>

namespace pellucid {

PredictionChart::PredictionChart(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    mWarning = new QLabel(this);
    mWarning->setStyleSheet("color: #b00020; font-weight: bold;");
    mWarning->setWordWrap(true);
    mWarning->hide();
    layout->addWidget(mWarning);
    mPlot = new QCustomPlot(this);
    mPlot->setMinimumSize(220, 160);
    layout->addWidget(mPlot);
    mBars = new QCPBars(mPlot->yAxis, mPlot->xAxis);   // horizontal bars
    mBars->setPen(Qt::NoPen);
    mBars->setBrush(QColor(33, 145, 140));
    mPlot->xAxis->setRange(0, 1);
    mPlot->xAxis->setLabel(tr("probability"));
    mPlot->yAxis->setRangeReversed(true);
}

void PredictionChart::clear()
{
    mBars->data()->clear();
    mLabels.clear();
    mWarning->hide();
    mPlot->replot(QCustomPlot::rpQueuedReplot);
}

void PredictionChart::setPredictions(const std::vector<Prediction> &top, const TensorValue::Stats &logitStats)
{
    QVector<double> keys, values;
    QVector<QString> names;
    mLabels.clear();
    for (size_t i = 0; i < top.size(); ++i) {
        keys << double(i);
        values << double(top[i].probability);
        const QString label = QString::fromStdString(top[i].label);
        names << QString("%1  %2%").arg(label).arg(100.0 * top[i].probability, 0, 'f', 1);
        mLabels << label;
    }
    mBars->setData(keys, values, true);
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    ticker->setTicks(keys, names);
    mPlot->yAxis->setTicker(ticker);
    mPlot->yAxis->setRange(-0.6, std::max<double>(1, keys.size()) - 0.4);
    if (logitStats.nanCount || logitStats.infCount) {
        mWarning->setText(tr("The model's output contains %1 NaN and %2 Inf values: probabilities are not meaningful.")
                              .arg(logitStats.nanCount).arg(logitStats.infCount));
        mWarning->show();
    } else {
        mWarning->hide();
    }
    mPlot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace pellucid
