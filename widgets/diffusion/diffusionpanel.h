#pragma once
// The Diffusion dock for text-to-image denoisers: a prompt (words of the model's vocabulary, or ids), seed,
// steps, sampler and guidance; Generate streams x_t and x̂₀ of each step (a step slider scrubs them); per-word
// heat maps (DAAM) over the image — click a word — filtered by step range, cross-attention site and head; the
// trajectory lens (each region's class probability against the step: when the picture is decided); the
// re-weighting of one word's attention regenerated beside the original; the gradient of a region's score with
// respect to each word; a gallery of seeds. The image, the lens, the re-weighting and the gallery export as figures.
#include "engine/core/tensorvalue.h"
#include "widgets/common/figure.h"

#include <QImage>
#include <QWidget>

#include <vector>

class QButtonGroup;
class QComboBox;
class QDoubleSpinBox;
class QHBoxLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSlider;
class QSpinBox;
class QTabWidget;

namespace pellucid {

class ImageGrid;

/// A sample with an optional heat map over it (viridis, max-normalised, translucent).
class DiffusionImageView : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit DiffusionImageView(QWidget *parent = nullptr);
    /// image [1, C, H, W] (or [C, H, W]) in [0, 1]; map [H, W] (empty: none).
    void show(const TensorValue &image, const TensorValue &map, const QString &title);
    const TensorValue &image() const { return mImage; }
    const TensorValue &map() const { return mMap; }
    const QString &title() const { return mTitle; }
    double figureAspect() const override;
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;

protected:
    void paintEvent(QPaintEvent *) override;

private:
    void paintContent(QPainter &p, const QRectF &rect, const QFont &font) const;
    TensorValue mImage, mMap;
    QImage mPicture, mOverlay;
    QString mTitle;
};

/// The trajectory lens: one line per region, the probability of the class it ends as against the step.
class LensChart : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit LensChart(QWidget *parent = nullptr);
    /// probabilities [N, R, classes]
    void show(const QStringList &regions, const QStringList &labels, const TensorValue &probabilities);
    const TensorValue &probabilities() const { return mProbs; }
    /// Per region: the class it ends as and the first step from which that class stays the most probable.
    struct Decided {
        int cls = -1, step = -1;
    };
    std::vector<Decided> decided() const;
    double figureAspect() const override { return 1.8; }
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;

protected:
    void paintEvent(QPaintEvent *) override;

private:
    void paintContent(QPainter &p, const QRectF &rect, const QFont &font) const;
    QStringList mRegions, mLabels;
    TensorValue mProbs;
};

struct DiffusionControls {
    QString prompt;
    int seed = 0, steps = 50;
    QString sampler = "ddim";
    double guidance = 1.0;
};

class DiffusionPanel : public QWidget {
    Q_OBJECT
public:
    explicit DiffusionPanel(QWidget *parent = nullptr);
    void setAvailable(bool available, const QString &message);
    /// The vocabulary (offered as word buttons to type), the regions (for the gradient) and the sample's size.
    void setModel(const QStringList &vocabulary, const QStringList &regions, int promptLength);
    DiffusionControls controls() const;
    void setControls(const DiffusionControls &c);
    void setRunning(bool running);
    void showMessage(const QString &message);

    /// A step as it streams (images [1, C, H, W] in [0, 1]).
    void showStep(int step, int total, const TensorValue &xt, const TensorValue &x0);
    /// The finished run: x̂₀ and x_t of every step [N, C, H, W] in [0, 1], the prompt's words, the cross sites' heads.
    void showRun(const TensorValue &trajectory, const TensorValue &states, const QStringList &words, int crossSites, int heads);
    /// Per-word maps [K, H, W] for the current filter.
    void showMaps(const TensorValue &maps);
    void showLens(const QStringList &regions, const QStringList &labels, const TensorValue &probabilities);
    void showReweight(const TensorValue &original, const TensorValue &edited, const QString &summary);
    void showGradient(const QStringList &words, const std::vector<double> &norm, const std::vector<double> &gradTimesInput, const QString &summary);
    void showGallery(const TensorValue &images, int firstSeed);
    void showTabMessage(const QString &tab, const QString &message);

    struct MapFilter {
        int stepFrom = 0, stepTo = -1, site = -1, head = -1;
    };
    MapFilter mapFilter() const;
    void setMapFilter(const MapFilter &f);
    int selectedWord() const { return mWord; }   // −1: none
    void selectWord(int k);
    int shownStep() const;
    void showStepAt(int step);    // the slider's position
    bool showingStates() const;   // x_t rather than x̂₀
    int reweightWord() const;
    double reweightFactor() const;
    void setReweight(int word, double factor);
    int gradientSteps() const;
    int gradientRegion() const;   // −1: the whole image
    int galleryCount() const;

    DiffusionImageView *imageView() const { return mView; }
    LensChart *lensChart() const { return mLens; }
    ImageGrid *reweightGrid() const { return mReweightGrid; }
    ImageGrid *galleryGrid() const { return mGallery; }
    QTabWidget *tabs() const { return mTabs; }
    QSlider *stepSlider() const { return mStepSlider; }
    QPushButton *generateButton() const { return mGenerate; }
    QList<QPushButton *> wordButtons() const { return mWordButtons; }
    const TensorValue &maps() const { return mMaps; }
    const TensorValue &trajectory() const { return mTrajectory; }
    QString gradientText() const;

signals:
    void generateRequested();
    void stopRequested();
    void mapsRequested();   // the filter changed
    void reweightRequested();
    void gradientRequested();
    void galleryRequested();
    void animationExportRequested();   // the trajectory as GIF / MP4

private:
    void refreshImage();
    void rebuildWords();
    QWidget *buildLensTab();
    QWidget *buildReweightTab();
    QWidget *buildGradientTab();
    QWidget *buildGalleryTab();
    QLabel *mStatus, *mVocab, *mStepLabel, *mReweightSummary, *mGradientSummary, *mLensSummary;
    QLineEdit *mPrompt;
    QSpinBox *mSeed, *mSteps, *mFrom, *mTo, *mGradSteps, *mGalleryCount;
    QComboBox *mSampler, *mShow, *mSite, *mHead, *mReweightWord, *mGradRegion;
    QDoubleSpinBox *mGuidance;
    QSlider *mStepSlider, *mFactor;
    QLabel *mFactorLabel;
    QPushButton *mGenerate, *mExportAnim;
    DiffusionImageView *mView;
    QHBoxLayout *mWordRow;
    QList<QPushButton *> mWordButtons;
    QTabWidget *mTabs;
    LensChart *mLens;
    ImageGrid *mReweightGrid, *mGallery;
    QWidget *mGradientBars;
    bool mRunning = false, mAvailable = false;
    int mWord = -1, mStreamed = -1;
    QStringList mWords, mRegions;
    TensorValue mTrajectory, mStates, mMaps, mStreamXt, mStreamX0;
    std::vector<double> mGradNorm, mGradGxi;
    QStringList mGradWords;
};

}   // namespace pellucid
