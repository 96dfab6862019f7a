#pragma once
// The Latent dock's Units tab: GAN Dissection's units of a generator layer, sorted by their causal effect on
// the companion classifier — each unit's mean map over the seeded codes beside the samples it fires most on —,
// the chosen unit's effect on every class, the curve of removing a class's top n units together, and paint to
// edit (GANPaint): a brush over the current image marks a region, the selected units are removed or inserted
// there (at the layer's resolution), the edited image beside the original with the classifier's verdict on
// both.
#include "engine/generative/dissection.h"
#include "widgets/common/figure.h"

#include <QWidget>

#include <cstdint>
#include <set>
#include <vector>

class QComboBox;
class QCustomPlot;
class QLabel;
class QPushButton;
class QSpinBox;

namespace pellucid {

class ImageGrid;
class MaskEditor;

/// The unit gallery: one cell per unit (its mean map, then its top samples), in the order given; click to
/// select or deselect.
class UnitGallery : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit UnitGallery(QWidget *parent = nullptr);
    void setUnits(const UnitMaps &maps, const std::vector<int64_t> &order, const std::vector<double> &score, int samplesPerUnit = 3);
    void setSelected(const std::set<int64_t> &units);
    const std::set<int64_t> &selected() const { return mSelected; }
    const std::vector<int64_t> &order() const { return mOrder; }
    /// The unit under a widget position, or −1.
    int64_t unitAt(const QPoint &pos) const;
    QRect cellRect(int index) const;   // of the index-th cell in display order
    double figureAspect() const override;
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;
    QSize sizeHint() const override;
    int heightForWidth(int w) const override;
    bool hasHeightForWidth() const override { return true; }

signals:
    void unitClicked(int64_t unit);
    void selectionChanged();

protected:
    void paintEvent(QPaintEvent *) override;
    void mousePressEvent(QMouseEvent *e) override;
    void resizeEvent(QResizeEvent *e) override;

private:
    void paintCells(QPainter &p, const QRectF &rect, const QFont &font, int cols, double cellW, bool forFigure,
                    const std::vector<int64_t> &order) const;
    int columnsFor(double width) const;
    double cellWidth() const;
    double cellHeight() const;
    std::vector<QImage> mMaps;                   // per unit
    std::vector<std::vector<QImage>> mSamples;   // per unit
    std::vector<int64_t> mOrder;
    std::vector<double> mScore;   // per unit
    std::set<int64_t> mSelected;
    TensorValue mMeanMaps;
};

class UnitsPanel : public QWidget {
    Q_OBJECT
public:
    explicit UnitsPanel(QWidget *parent = nullptr);
    void setLayers(const QStringList &layers, const QString &preferred = {});
    void setClassLabels(const QStringList &labels);
    struct Request {
        QString layer;
        int count = 100, seed = 0;
    };
    Request request() const;
    void showUnits(const UnitMaps &maps, const Dissection &dissection);
    /// The current code's image (the picture painted over).
    void setImage(const TensorValue &image);
    void showEdit(const TensorValue &pair, const QString &verdict);
    void showError(const QString &message);
    void showStatus(const QString &message);

    /// The units the edit sets, in gallery order.
    std::vector<int64_t> selectedUnits() const;
    void selectUnits(const std::set<int64_t> &units);
    /// The painted region at the layer's h × w (a cell is inside when at least half its pixels are painted);
    /// empty when nothing is painted (the edit applies everywhere).
    TensorValue layerMask() const;
    /// The value an insertion sets each selected unit to: its activation quantile over the codes.
    std::vector<double> insertValues() const;
    int sortClass() const;
    bool hasUnits() const { return mMaps.activations.numel() > 0; }
    const UnitMaps &maps() const { return mMaps; }
    const Dissection &dissection() const { return mDissection; }

    UnitGallery *gallery() const { return mGallery; }
    QCustomPlot *effectPlot() const { return mEffectPlot; }
    QCustomPlot *curvePlot() const { return mCurvePlot; }
    MaskEditor *maskEditor() const { return mPaint; }
    ImageGrid *editView() const { return mEdited; }
    QLabel *statusLabel() const { return mStatus; }
    QLabel *verdictLabel() const { return mVerdict; }

signals:
    void dissectRequested();
    void editRequested(bool insert);

private:
    void resort();
    void showEffects(int64_t unit);
    void showCurve();
    QComboBox *mLayer, *mSortClass;
    QSpinBox *mCount, *mSeed, *mBrush;
    QPushButton *mDissect, *mRemove, *mInsert;
    QLabel *mStatus, *mVerdict;
    UnitGallery *mGallery;
    QCustomPlot *mEffectPlot, *mCurvePlot;
    MaskEditor *mPaint;
    ImageGrid *mEdited;
    QStringList mLabels;
    UnitMaps mMaps;
    Dissection mDissection;
    int64_t mCurrentUnit = -1;
};

}   // namespace pellucid
