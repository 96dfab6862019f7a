#pragma once
// The Latent dock for generators and decoders: one slider per latent dimension (in σ units) with the decoded
// image updating while a slider moves (newest request wins), random codes with seed and truncation, a
// traversal grid (chosen dimensions × steps) and an interpolation row between two stored codes (lerp or
// slerp). The traversal grid exports as a figure.
#include "engine/generative.h"
#include "widgets/figure.h"

#include <QWidget>

#include <vector>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSlider;
class QSpinBox;

namespace pellucid {

class ImageGrid : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit ImageGrid(QWidget *parent = nullptr);
    /// images [N, C, H, W] in [0, 1], laid out `cols` per row, with optional row labels.
    void setImages(const TensorValue &images, int cols, QStringList rowLabels = {}, QString title = {});
    const TensorValue &images() const { return mImages; }
    double figureAspect() const override;
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;

protected:
    void paintEvent(QPaintEvent *) override;

private:
    void paintGrid(QPainter &p, const QRectF &rect, const QFont &font) const;
    TensorValue mImages;
    int mCols = 1;
    QStringList mRowLabels;
    QString mTitle;
};

class LatentPanel : public QWidget {
    Q_OBJECT
public:
    explicit LatentPanel(QWidget *parent = nullptr);
    void setLatentDim(int dim, const QString &modelName);   // 0: no generator loaded
    std::vector<float> code() const;
    void setCode(const std::vector<float> &z);
    void showDecoded(const TensorValue &image);
    void showTraversal(const TensorValue &images, int dims, int steps);
    void showInterpolation(const TensorValue &images);
    ImageGrid *traversalGrid() const { return mTraversal; }
    ImageGrid *interpolationRow() const { return mInterp; }
    QLabel *decodedView() const { return mDecoded; }
    int traversalSteps() const;
    double traversalRange() const;
    std::vector<int> traversalDims() const;
    InterpolationMode interpolationMode() const;
    const std::vector<float> &codeA() const { return mA; }
    const std::vector<float> &codeB() const { return mB; }
    int interpolationSteps() const;

signals:
    void codeChanged();                 // decode the current code
    void randomRequested(int seed, double truncation);
    void traversalRequested();
    void interpolationRequested();

private:
    int mDim = 0;
    std::vector<QSlider *> mSliders;
    std::vector<float> mA, mB;
    QWidget *mSliderHost;
    QLabel *mInfo, *mDecoded;
    QSpinBox *mSeed, *mTravDims, *mTravSteps, *mInterpSteps;
    QDoubleSpinBox *mTruncation, *mTravRange;
    QComboBox *mMode;
    ImageGrid *mTraversal, *mInterp;
};

} // namespace pellucid
