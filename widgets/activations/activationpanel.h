#pragma once
// The Activations panel: the channel grid (sortable), the selected channel enlarged with a colour scale,
// and a histogram of the layer's values. NaN/Inf are reported, never painted as black.
#include "engine/runtime/jobs.h"
#include "widgets/common/figure.h"

#include <QWidget>

#include <memory>

class QComboBox;
class QCheckBox;
class QLabel;

namespace pellucid {

class ActivationGrid;
class ChannelView;
class HistogramView;

class ActivationPanel : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit ActivationPanel(QWidget *parent = nullptr);
    void setResult(std::shared_ptr<const ActivationOutput> result);
    void clear(const QString &message = {});
    ActivationGrid *grid() const { return mGrid; }
    ChannelView *channelView() const { return mChannel; }
    HistogramView *histogram() const { return mHistogram; }
    QString infoText() const;

    // FigureSource: the channel grid (raster maps, vector labels); raw data: the activation as .npy.
    double figureAspect() const override { return 1.0; }
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;

private:
    void showChannel(int c);
    std::shared_ptr<const ActivationOutput> mResult;
    ActivationGrid *mGrid;
    ChannelView *mChannel;
    HistogramView *mHistogram;
    QComboBox *mSort;
    QCheckBox *mShared;
    QLabel *mInfo;
};

}   // namespace pellucid
