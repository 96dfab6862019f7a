#pragma once
// The Latent dock's Units tab: GAN Dissection's units of a generator layer (widgets/common/dissectionview.h:
// the gallery sorted by causal effect on the companion classifier, the clicked unit's effect on every class,
// the removal curve), and paint to edit (GANPaint): a brush over the current image marks a region, the
// selected units are removed or inserted there (at the layer's resolution), the edited image beside the
// original with the classifier's verdict on both.
#include "engine/generative/dissection.h"

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

class DissectionView;
class ImageGrid;
class MaskEditor;
class UnitGallery;

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
    void setRequest(const Request &r);   // a layer that is not listed is kept out
    void setSortClass(int k);
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
    /// The value an insertion sets each selected unit to: its 99th-percentile activation over the codes.
    std::vector<double> insertValues() const;
    int sortClass() const;
    bool hasUnits() const;
    const UnitMaps &maps() const;
    const Dissection &dissection() const;

    DissectionView *view() const { return mView; }
    UnitGallery *gallery() const;
    QCustomPlot *effectPlot() const;
    QCustomPlot *curvePlot() const;
    MaskEditor *maskEditor() const { return mPaint; }
    ImageGrid *editView() const { return mEdited; }
    QLabel *statusLabel() const { return mStatus; }
    QLabel *verdictLabel() const { return mVerdict; }

signals:
    void dissectRequested();
    void editRequested(bool insert);

private:
    QComboBox *mLayer;
    QSpinBox *mCount, *mSeed, *mBrush;
    QPushButton *mDissect, *mRemove, *mInsert;
    QLabel *mStatus, *mVerdict;
    DissectionView *mView;
    MaskEditor *mPaint;
    ImageGrid *mEdited;
};

}   // namespace pellucid
