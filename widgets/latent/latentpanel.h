#pragma once
// The Latent dock for generators and decoders: one slider per latent dimension (in σ units) with the decoded
// image updating while a slider moves (newest request wins), random codes with seed and truncation, a
// traversal grid (chosen dimensions × steps) and an interpolation row between two stored codes (lerp or
// slerp). The traversal grid exports as a figure.
#include "engine/generative/generative.h"
#include "widgets/common/colormap.h"
#include "widgets/common/figure.h"

#include <QWidget>

#include <vector>

class QCPBars;
class QCustomPlot;
class QComboBox;
class QListWidget;
class QTabWidget;
class QTextBrowser;
class QDoubleSpinBox;
class QLabel;
class QSlider;
class QSpinBox;

namespace pellucid {

class UnitsPanel;


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
    /// The image under a widget position, or −1.
    int indexAt(const QPoint &pos) const;
    void setHighlight(int index)
    {
        mHighlight = index;
        update();
    }

signals:
    void clicked(int index);

protected:
    void paintEvent(QPaintEvent *) override;
    void mousePressEvent(QMouseEvent *e) override;

private:
    void paintGrid(QPainter &p, const QRectF &rect, const QFont &font) const;
    double cellSize(const QRectF &rect, const QFont &font, double &labelW) const;
    int mHighlight = -1;
    TensorValue mImages;
    int mCols = 1;
    QStringList mRowLabels;
    QString mTitle;
};

/// The Latent dock. Beside the sliders and the decoded image, tabs for: traversal and interpolation;
/// directions (GANSpace through a generator layer, PCA of encoded items, attribute class A → B) with a
/// slider that moves the code along the chosen one; a gallery of seeded samples (click one to make it the
/// code); a latent counterfactual (path, target probability per step, difference image); the VAE view
/// (input beside its reconstruction, KL per latent dimension with active units); and quality metrics.
class LatentPanel : public QWidget {
    Q_OBJECT
public:
    explicit LatentPanel(QWidget *parent = nullptr);
    void setLatentDim(int dim, const QString &modelName);   // 0: no generator loaded
    /// The generator's layers (for GANSpace) and the class names of its companion classifier / dataset.
    void setLayers(const QStringList &layers, const QString &preferred = {});
    void setClassLabels(const QStringList &labels);
    /// One line naming the companion classifier and encoder the tabs use ("" when none was found).
    void setCompanions(const QString &classifier, const QString &encoder);
    /// A conditional generator's classes (empty: unconditional, the class chooser hides).
    void setConditionalClasses(const QStringList &classes);
    int classIndex() const;   // −1 when unconditional
    QComboBox *classChooser() const { return mClass; }
    std::vector<float> code() const;
    void setCode(const std::vector<float> &z);
    void showDecoded(const TensorValue &image);
    void showTraversal(const TensorValue &images, int dims, int steps);
    void showInterpolation(const TensorValue &images);
    /// directions [k, D] with their explained ratios; images: k rows × steps decoded around the code.
    void showDirections(const TensorValue &directions, const std::vector<double> &ratio, const QString &source, const TensorValue &images, int steps);
    void showGallery(const TensorValue &codes, const TensorValue &images);
    void showCounterfactual(const TensorValue &frames, const std::vector<double> &probability, const QString &summary,
                            const std::vector<float> &finalCode);
    /// images: input and reconstruction pairs [2n, C, H, W]; kl per dimension.
    void showVae(const TensorValue &pairs, const std::vector<double> &kl, const QString &summary);
    void showMetrics(const QString &html);
    void showTabError(const QString &tab, const QString &message);

    ImageGrid *traversalGrid() const { return mTraversal; }
    ImageGrid *interpolationRow() const { return mInterp; }
    ImageGrid *directionGrid() const { return mDirGrid; }
    ImageGrid *galleryGrid() const { return mGallery; }
    ImageGrid *counterfactualStrip() const { return mCfStrip; }
    ImageGrid *vaePairs() const { return mVaePairs; }
    QCustomPlot *klPlot() const { return mKlPlot; }
    QCustomPlot *counterfactualPlot() const { return mCfPlot; }
    QTextBrowser *metricsView() const { return mMetrics; }
    QTabWidget *tabs() const { return mTabs; }
    UnitsPanel *units() const { return mUnits; }
    QLabel *decodedView() const { return mDecoded; }
    QListWidget *directionList() const { return mDirList; }
    QSlider *directionAmount() const { return mDirAmount; }
    int traversalSteps() const;
    double traversalRange() const;
    std::vector<int> traversalDims() const;
    InterpolationMode interpolationMode() const;
    const std::vector<float> &codeA() const { return mA; }
    const std::vector<float> &codeB() const { return mB; }
    int interpolationSteps() const;
    const TensorValue &directions() const { return mDirections; }
    const TensorValue &galleryCodes() const { return mGalleryCodes; }
    const std::vector<float> &counterfactualCode() const { return mCfCode; }

    struct DirectionRequest {
        QString source;   // "ganspace", "sefa", "pca" or "attribute"
        QString layer;
        int k = 5, count = 2000, from = 0, to = 1, steps = 7;
        double range = 3;
    };
    struct CounterfactualRequest {
        int target = 0, steps = 300;
        double distanceWeight = 0.05, stopProbability = 0.9;
        bool fromInput = true;   // encode the current input image; else start from the current code
    };
    DirectionRequest directionRequest() const;
    CounterfactualRequest counterfactualRequest() const;

signals:
    void codeChanged();   // decode the current code
    void randomRequested(int seed, double truncation);
    void traversalRequested();
    void interpolationRequested();
    void directionsRequested();
    void galleryRequested(int count, int seed, double truncation);
    void counterfactualRequested();
    void vaeRequested(int items);
    void encodeInputRequested();                           // the input image's posterior mean becomes the code
    void animationExportRequested(const QString &which);   // "traversal" or "interpolation"
    void metricsRequested(int count);

private:
    QWidget *buildTraverseTab();
    QWidget *buildDirectionsTab();
    QWidget *buildGalleryTab();
    QWidget *buildCounterfactualTab();
    QWidget *buildVaeTab();
    QWidget *buildMetricsTab();
    int mDim = 0;
    std::vector<QSlider *> mSliders;
    std::vector<float> mA, mB;
    QWidget *mSliderHost;
    QLabel *mInfo, *mDecoded, *mCompanions;
    QSpinBox *mSeed, *mTravDims, *mTravSteps, *mInterpSteps;
    QDoubleSpinBox *mTruncation, *mTravRange;
    QComboBox *mMode, *mClass;
    ImageGrid *mTraversal, *mInterp;
    QTabWidget *mTabs;
    UnitsPanel *mUnits;
    // Directions
    QComboBox *mDirSource, *mDirLayer, *mDirFrom, *mDirTo;
    QSpinBox *mDirK, *mDirCount;
    QListWidget *mDirList;
    QSlider *mDirAmount;
    QLabel *mDirStatus;
    ImageGrid *mDirGrid;
    TensorValue mDirections;
    std::vector<float> mDirBase;
    // Gallery
    QSpinBox *mGalleryCount;
    ImageGrid *mGallery;
    TensorValue mGalleryCodes;
    // Counterfactual
    QComboBox *mCfTarget, *mCfStart;
    QSpinBox *mCfSteps;
    QDoubleSpinBox *mCfLambda, *mCfStop;
    ImageGrid *mCfStrip;
    QCustomPlot *mCfPlot;
    QLabel *mCfSummary;
    std::vector<float> mCfCode;
    // VAE
    QSpinBox *mVaeItems;
    ImageGrid *mVaePairs;
    QCustomPlot *mKlPlot;
    QLabel *mVaeSummary;
    // Metrics
    QSpinBox *mMetricCount;
    QTextBrowser *mMetrics;
};

}   // namespace pellucid
