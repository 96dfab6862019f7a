#pragma once
// The Attribution dock: a method with its parameters, the target class and a CAM layer; the map over the
// input with colour scale, sign mode, clipping and opacity; and a compare view of several methods side by
// side (own or shared colour scale). Partial results refine the view while a long method runs.
#include "engine/attribution/attribution.h"
#include "widgets/attribution/attributionview.h"

#include <QWidget>

#include <map>
#include <memory>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGridLayout;
class QLabel;
class QListWidget;
class QSlider;
class QSpinBox;
class QStackedWidget;

namespace pellucid {

class AttributionView;

class AttributionPanel : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit AttributionPanel(QWidget *parent = nullptr);

    void setModel(const ModelSummary &summary);
    /// The current input; `inputId` ties it to the results computed from it, so an overlay is always drawn
    /// on the picture it was computed from (live input changes faster than results arrive).
    void setInput(const TensorValue &input, quint64 inputId = 0);
    /// The input id of the picture under the main view's overlay (0 before any result).
    quint64 shownInputId() const { return mShownInput; }
    /// The input id of the newest result shown in the main view.
    quint64 lastResultInputId() const { return mLastResultInput; }

    /// The requests to run now: job kind -> parameters ("attribution" alone, or one per compared method).
    std::vector<std::pair<std::string, AttributionParams>> requests() const;
    /// The main method with its parameters, and the compared methods (empty when not comparing).
    AttributionParams currentParams() const;
    std::vector<AttributionMethod> compareMethods() const;
    /// Sets every control from `p` (a session being reopened) and re-runs.
    void setParams(const AttributionParams &p);
    void showResult(const std::string &kind, std::shared_ptr<const AttributionResult> result);
    void showError(const std::string &kind, const QString &message);

    // For tests and scripting.
    void setMethod(AttributionMethod m);
    /// Whether the method list offers `m` for the open model (a forward-only backend greys out the others).
    bool methodOffered(AttributionMethod m) const;
    void setTargetClass(int index);   // -1: predicted
    void setCamLayer(const QString &layer);
    void setCompareMethods(const std::vector<AttributionMethod> &methods);   // empty: single view
    void setSharedScale(bool shared);
    void setSignMode(SignMode mode);
    AttributionView *mainView() const { return mMain; }
    std::vector<AttributionView *> compareViews() const;
    QString statusText() const;

    // FigureSource: the main view, or the compare grid (each view with its scale); raw data per map.
    double figureAspect() const override;
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;

signals:
    void runRequested();

private:
    void updateEnabled();
    void applyStyle();
    AttributionParams baseParams(AttributionMethod m) const;
    void rebuildCompareGrid();

    QComboBox *mMethod, *mTarget, *mLayer, *mIntegration, *mBaseline, *mNoiseType, *mSign;
    QSpinBox *mSteps, *mSamples, *mSeed, *mWindow;
    QDoubleSpinBox *mStdev, *mClip;
    QSlider *mOpacity;
    QCheckBox *mCompare, *mShared;
    QListWidget *mCompareList;
    QStackedWidget *mStack;
    AttributionView *mMain;
    QWidget *mGridHost;
    QGridLayout *mGrid;
    std::map<std::string, AttributionView *> mCompareViews;   // kind -> view
    QLabel *mStatus;
    QImage mPicture;
    std::map<quint64, QImage> mPictures;   // recent inputs by id
    quint64 mShownInput = 0, mLastResultInput = 0;
    std::map<std::string, std::shared_ptr<const AttributionResult>> mLast;   // kind -> latest result
};

}   // namespace pellucid
