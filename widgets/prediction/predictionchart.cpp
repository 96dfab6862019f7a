#include "widgets/prediction/predictionchart.h"

#include "widgets/common/plot.h"
#include <qcustomplot.h>

#include <QFile>
#include <QLabel>
#include <QPainter>
#include <QTextStream>
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
    mReason = new QLabel(this);
    mReason->setObjectName("predictionReason");
    mReason->setWordWrap(true);
    mReason->setAlignment(Qt::AlignCenter);
    mReason->setStyleSheet("color: #555;");
    mReason->hide();
    layout->addWidget(mReason, 1);
    mPlot = new Plot(this);
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
    mTop.clear();
    mBars->data()->clear();
    mLabels.clear();
    mWarning->hide();
    mPlot->replot(QCustomPlot::rpQueuedReplot);
}

void PredictionChart::setReason(const QString &reason)
{
    mReasonText = reason;
    mReason->setText(reason);
    mReason->setVisible(!reason.isEmpty());
    mPlot->setVisible(reason.isEmpty());
    if (!reason.isEmpty()) {
        mTop.clear();
        mLabels.clear();
        mBars->data()->clear();
    }
}

void PredictionChart::setPredictions(const std::vector<Prediction> &top, const TensorValue::Stats &logitStats)
{
    QVector<double> keys, values;
    QVector<QString> names;
    mLabels.clear();
    mTop = top;
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
                              .arg(logitStats.nanCount)
                              .arg(logitStats.infCount));
        mWarning->show();
    } else {
        mWarning->hide();
    }
    mPlot->replot(QCustomPlot::rpQueuedReplot);
}

}   // namespace pellucid

namespace pellucid {

void PredictionChart::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const
{
    p.setFont(s.font());
    const QFontMetricsF fm(s.font(), p.device());
    double labelW = 0;
    for (const auto &t : mTop) labelW = std::max(labelW, fm.horizontalAdvance(QString::fromStdString(t.label)));
    const double axisH = s.fontPt * 2.6;
    const QRectF plot(rect.left() + labelW + s.fontPt * 0.8, rect.top() + s.fontPt * 0.5, rect.width() - labelW - s.fontPt * 4.0,
                      rect.height() - axisH - s.fontPt * 0.5);
    const int n = std::max<int>(1, int(mTop.size()));
    const double rowH = plot.height() / n;
    p.setPen(Qt::NoPen);
    for (int i = 0; i < int(mTop.size()); ++i) {
        const QRectF bar(plot.left(), plot.top() + rowH * (i + 0.15), plot.width() * std::clamp(double(mTop[size_t(i)].probability), 0.0, 1.0),
                         rowH * 0.7);
        p.setBrush(QColor(33, 145, 140));
        p.drawRect(bar);
        p.setPen(Qt::black);
        p.drawText(QRectF(rect.left(), bar.top(), labelW, bar.height()), Qt::AlignRight | Qt::AlignVCenter,
                   QString::fromStdString(mTop[size_t(i)].label));
        p.drawText(QRectF(bar.right() + 2, bar.top(), s.fontPt * 4, bar.height()), Qt::AlignLeft | Qt::AlignVCenter,
                   QString::number(100.0 * mTop[size_t(i)].probability, 'f', 1) + "%");
        p.setPen(Qt::NoPen);
    }
    // Probability axis.
    p.setPen(QPen(Qt::black, 0.5));
    p.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()));
    for (int k = 0; k <= 4; ++k) {
        const double x = plot.left() + plot.width() * k / 4.0;
        p.drawLine(QPointF(x, plot.bottom()), QPointF(x, plot.bottom() + 2));
        p.drawText(QRectF(x - 15, plot.bottom() + 2, 30, s.fontPt * 1.2), Qt::AlignHCenter | Qt::AlignTop, QString::number(k / 4.0, 'g', 2));
    }
    p.drawText(QRectF(plot.left(), plot.bottom() + s.fontPt * 1.3, plot.width(), s.fontPt * 1.3), Qt::AlignHCenter | Qt::AlignTop,
               QObject::tr("probability"));
}

QStringList PredictionChart::writeRawData(const QString &base) const
{
    QFile f(base + ".csv");
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) throw FigureError("Cannot write " + (base + ".csv").toStdString());
    QTextStream out(&f);
    out << "rank,index,label,probability,logit\n";
    for (size_t i = 0; i < mTop.size(); ++i)
        out << i + 1 << ',' << mTop[i].index << ",\"" << QString::fromStdString(mTop[i].label).replace('"', "\"\"") << "\","
            << QString::number(mTop[i].probability, 'g', 9) << ',' << QString::number(mTop[i].logit, 'g', 9) << '\n';
    return {base + ".csv"};
}

}   // namespace pellucid
