#pragma once
// The Dataset dock: a labelled dataset as thumbnails (lazy, uniform, smooth at 60,000 items) with filters
// by class, correctness and confidence; clicking one makes it the current input. Tabs show the evaluation
// (accuracy, per-class precision/recall/F1, a clickable confusion matrix, a reliability diagram) and an
// embedding projector (a layer's pooled activations by PCA or t-SNE, coloured by label, prediction or
// correctness; hover names the item, a box selection lists them).
#include "engine/attribution/attribution.h"
#include "engine/evaluation/evaluation.h"
#include "engine/evaluation/sanity.h"
#include "engine/core/tensorvalue.h"

#include <QAbstractListModel>
#include <QPolygonF>
#include <QWidget>

#include <functional>
#include <vector>

class QComboBox;
class QCustomPlot;
class QLabel;
class QDoubleSpinBox;
class QSpinBox;
class QCPCurve;
class QCPGraph;
class QListView;
class QListWidget;
class QSlider;
class QTableWidget;
class QTabWidget;

namespace pellucid {

class ThumbnailModel : public QAbstractListModel {
    Q_OBJECT
public:
    using Loader = std::function<QImage(size_t)>;
    explicit ThumbnailModel(QObject *parent = nullptr) : QAbstractListModel(parent) { }
    void setSource(size_t count, Loader loader, std::vector<int> labels, QStringList classNames);
    void setPredictions(const std::vector<int> &pred, const std::vector<float> &conf);
    /// Shows only the items passing the filters (class -1: any; correctness 0 any, 1 correct, 2 wrong).
    void setFilter(int cls, int correctness, double minConfidence, int predicted = -1);
    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    size_t itemAt(int row) const { return mVisible[size_t(row)]; }
    size_t total() const { return mCount; }
    /// The cached 48-px thumbnail of item i (loaded on first use) and its "#i label → prediction" text.
    QPixmap thumbnail(size_t i) const;
    QString describe(size_t i) const;

private:
    size_t mCount = 0;
    Loader mLoader;
    std::vector<int> mLabels, mPred;
    std::vector<float> mConf;
    QStringList mClasses;
    std::vector<size_t> mVisible;
    mutable QHash<size_t, QPixmap> mCache;
};

class DatasetPanel : public QWidget {
    Q_OBJECT
public:
    explicit DatasetPanel(QWidget *parent = nullptr);
    void setDataset(const QString &name, size_t count, ThumbnailModel::Loader loader, std::vector<int> labels, QStringList classNames);
    void setEvaluation(const EvalResult &r);
    void setProjection(const TensorValue &points, const QString &title);
    /// Mean deletion and insertion curves per method (Explanation quality tab).
    struct MethodCurves {
        AttributionMethod method;
        std::vector<double> deletion, insertion;
        double deletionAuc = 0, insertionAuc = 0;
    };
    void setFaithfulness(const std::vector<MethodCurves> &curves, int items);
    void setSanity(AttributionMethod method, const SanityResult &r);
    QCustomPlot *faithfulnessPlot() const { return mFaith; }
    QCustomPlot *sanityPlot() const { return mSanity; }
    ThumbnailModel *thumbnails() const { return mModel; }
    QString summaryText() const;
    int visibleCount() const;
    QCustomPlot *confusionPlot() const { return mConfusion; }
    QCustomPlot *projectorPlot() const { return mProjector; }
    /// Lists the items of a confusion-matrix cell in the thumbnails (what clicking the cell does).
    void showConfusionCell(int trueClass, int predictedClass);
    QStringList selectedItems() const;
    /// Items selected in the projector (box or lasso), in item order.
    const std::vector<int64_t> &selection() const { return mSelected; }
    /// Selects the points inside a polygon given in data coordinates (what box and lasso do).
    void selectPolygon(const QPolygonF &dataPolygon);
    /// The item whose point is nearest a widget position of the projector, within `radius` pixels; −1 if none.
    int64_t pointAt(const QPointF &pixel, double radius = 6) const;
    /// Shows the hover preview (thumbnail and description) for the point under a projector position.
    void hoverAt(const QPointF &pixel);
    QLabel *hoverPreview() const { return mHover; }
    QComboBox *selectionMode() const { return mSelectMode; }
    /// t-SNE perplexity and UMAP neighbour count chosen in the projector bar.
    double perplexity() const;
    int neighbours() const;
    const EvalResult &evaluation() const { return mEval; }

signals:
    void openRequested();
    void itemActivated(size_t index);
    void evaluateRequested();
    void projectRequested(const QString &method);
    void faithfulnessRequested(const std::vector<pellucid::AttributionMethod> &methods, int items);
    void sanityRequested();

private:
    void applyFilter();
    QString mName;
    std::vector<int> mLabels;
    QStringList mClasses;
    EvalResult mEval;
    bool mHasEval = false;
    TensorValue mPoints;
    std::vector<int64_t> mSelected;
    QPolygonF mLasso;
    bool mLassoActive = false;
    QComboBox *mSelectMode = nullptr;
    QDoubleSpinBox *mPerplexity = nullptr;
    QSpinBox *mNeighbours = nullptr;
    QLabel *mHover = nullptr;
    QCPCurve *mLassoCurve = nullptr;
    QCPGraph *mSelectedGraph = nullptr;
    void showSelection();
    void applySelectionMode();
    ThumbnailModel *mModel;
    QListView *mList;
    QComboBox *mClass, *mCorrect, *mColourBy, *mMethod;
    QSlider *mConfidence;
    QLabel *mInfo, *mSummary;
    QTabWidget *mTabs;
    QCustomPlot *mConfusion, *mCalibration, *mProjector;
    QTableWidget *mPerClass;
    QListWidget *mSelection;
    QCustomPlot *mFaith, *mSanity;
    QListWidget *mFaithMethods;
    QLabel *mSanityInfo;
};

}   // namespace pellucid
