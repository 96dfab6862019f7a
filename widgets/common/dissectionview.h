#pragma once
// Units of a layer and their causal effect on a classifier (engine/generative/dissection.h), shown the same
// way for generators (the Latent dock's Units tab) and classifiers (the Activations dock's Units tab): a
// gallery of units sorted by their effect on a chosen class — each unit's mean map beside the samples it fires
// most on —, the clicked unit's effect on every class, and the curve of removing the class's top n units
// together.
#include "engine/generative/dissection.h"
#include "widgets/common/figure.h"

#include <QWidget>

#include <cstdint>
#include <set>
#include <vector>

class QComboBox;
class QCustomPlot;
class QVBoxLayout;

namespace pellucid {

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
    double cellWidth() const;
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
    double cellHeight() const;
    std::vector<QImage> mMaps;                   // per unit
    std::vector<std::vector<QImage>> mSamples;   // per unit
    std::vector<int64_t> mOrder;
    std::vector<double> mScore;   // per unit
    std::set<int64_t> mSelected;
    TensorValue mMeanMaps;
};

/// The gallery with its effect chart and removal curve; `sortChooser()` picks the class (place it where the
/// panel wants). showUnits keeps the selection of units that still exist.
class DissectionView : public QWidget {
    Q_OBJECT
public:
    explicit DissectionView(QWidget *parent = nullptr);
    void setClassLabels(const QStringList &labels);
    void showUnits(const UnitMaps &maps, const Dissection &dissection);
    void clear();
    bool hasUnits() const { return mMaps.meanMaps.numel() > 0; }
    const UnitMaps &maps() const { return mMaps; }
    const Dissection &dissection() const { return mDissection; }
    int sortClass() const;
    void setSortClass(int k);   // ignored outside the classes
    QString sortClassName() const;
    /// The selected units, in gallery order.
    std::vector<int64_t> selectedUnits() const;
    void selectUnits(const std::set<int64_t> &units);
    /// One line on what is shown ("Layer L: U units at h×w over N codes, sorted by …").
    QString summary() const;

    QComboBox *sortChooser() const { return mSortClass; }
    /// A panel's own widget under the plots (beside the gallery).
    void addBelowPlots(QWidget *w, int stretch = 1);
    UnitGallery *gallery() const { return mGallery; }
    QCustomPlot *effectPlot() const { return mEffectPlot; }
    QCustomPlot *curvePlot() const { return mCurvePlot; }

signals:
    void selectionChanged();
    void resorted();

private:
    void resort();
    void showEffects(int64_t unit);
    void showCurve();
    QComboBox *mSortClass;
    UnitGallery *mGallery;
    QCustomPlot *mEffectPlot, *mCurvePlot;
    QVBoxLayout *mSide;
    QWidget *mScroll;
    UnitMaps mMaps;
    Dissection mDissection;
    QString mSamplesName = QStringLiteral("codes");
};

}   // namespace pellucid
