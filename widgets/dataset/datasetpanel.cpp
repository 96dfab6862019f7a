#include "widgets/common/plot.h"
#include "widgets/dataset/datasetpanel.h"

#include "widgets/common/colormap.h"

#include <qcustomplot.h>

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListView>
#include <QListWidget>
#include <QPainter>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

namespace pellucid {

void ThumbnailModel::setSource(size_t count, Loader loader, std::vector<int> labels, QStringList classNames)
{
    beginResetModel();
    mCount = count;
    mLoader = std::move(loader);
    mLabels = std::move(labels);
    mClasses = std::move(classNames);
    mPred.clear();
    mConf.clear();
    mCache.clear();
    mVisible.resize(count);
    std::iota(mVisible.begin(), mVisible.end(), size_t(0));
    endResetModel();
}

void ThumbnailModel::setPredictions(const std::vector<int> &pred, const std::vector<float> &conf)
{
    mPred = pred;
    mConf = conf;
    emit dataChanged(index(0), index(rowCount() - 1));
}

void ThumbnailModel::setFilter(int cls, int correctness, double minConfidence, int predicted)
{
    beginResetModel();
    mVisible.clear();
    const bool havePred = mPred.size() == mCount;
    for (size_t i = 0; i < mCount; ++i) {
        if (cls >= 0 && mLabels[i] != cls) continue;
        if (havePred) {
            const bool ok = mPred[i] == mLabels[i];
            if ((correctness == 1 && !ok) || (correctness == 2 && ok)) continue;
            if (mConf[i] < minConfidence) continue;
            if (predicted >= 0 && mPred[i] != predicted) continue;
        }
        mVisible.push_back(i);
    }
    endResetModel();
}

int ThumbnailModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : int(mVisible.size()); }

QVariant ThumbnailModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= int(mVisible.size())) return {};
    const size_t i = mVisible[size_t(index.row())];
    // Thumbnails are loaded when first shown, then cached: scrolling 60,000 items only loads what is on screen.
    if (role == Qt::DecorationRole) return thumbnail(i);
    if (role == Qt::DisplayRole) return QString::number(i);
    if (role == Qt::ToolTipRole) return describe(i);
    if (role == Qt::BackgroundRole && mPred.size() == mCount && mPred[i] != mLabels[i]) return QColor(255, 220, 220);
    return {};
}

QPixmap ThumbnailModel::thumbnail(size_t i) const
{
    if (i >= mCount || !mLoader) return {};
    auto it = mCache.find(i);
    if (it == mCache.end()) {
        if (mCache.size() > 4000) mCache.clear();
        it = mCache.insert(i, QPixmap::fromImage(mLoader(i).scaled(48, 48, Qt::KeepAspectRatio, Qt::FastTransformation)));
    }
    return *it;
}

QString ThumbnailModel::describe(size_t i) const
{
    if (i >= mCount) return {};
    const QString label = mLabels[i] < mClasses.size() ? mClasses[mLabels[i]] : QString::number(mLabels[i]);
    QString tip = QString("#%1  %2").arg(i).arg(label);
    if (mPred.size() == mCount)
        tip +=
            QString("  → %1 (%2%)").arg(mPred[i] < mClasses.size() ? mClasses[mPred[i]] : QString::number(mPred[i])).arg(100.0 * mConf[i], 0, 'f', 1);
    return tip;
}

DatasetPanel::DatasetPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    auto *bar = new QHBoxLayout;
    auto *open = new QPushButton(tr("Open dataset…"), this);
    auto *evaluate = new QPushButton(tr("Evaluate"), this);
    bar->addWidget(open);
    bar->addWidget(evaluate);
    mInfo = new QLabel(tr("No dataset: a folder per class, Fashion-MNIST/MNIST IDX files, or a CSV of path,label"), this);
    bar->addWidget(mInfo, 1);
    layout->addLayout(bar);
    auto *filters = new QHBoxLayout;
    mClass = new QComboBox(this);
    mCorrect = new QComboBox(this);
    mCorrect->addItems({tr("all"), tr("correct"), tr("incorrect")});
    mConfidence = new QSlider(Qt::Horizontal, this);
    mConfidence->setRange(0, 100);
    filters->addWidget(new QLabel(tr("Class"), this));
    filters->addWidget(mClass);
    filters->addWidget(new QLabel(tr("Show"), this));
    filters->addWidget(mCorrect);
    filters->addWidget(new QLabel(tr("Confidence ≥"), this));
    filters->addWidget(mConfidence);
    layout->addLayout(filters);

    auto *split = new QSplitter(Qt::Horizontal, this);
    mModel = new ThumbnailModel(this);
    mList = new QListView(split);
    mList->setModel(mModel);
    mList->setViewMode(QListView::IconMode);
    mList->setIconSize(QSize(48, 48));
    mList->setGridSize(QSize(60, 70));
    mList->setUniformItemSizes(true);
    mList->setLayoutMode(QListView::Batched);
    mList->setBatchSize(500);
    mList->setResizeMode(QListView::Adjust);
    mList->setMovement(QListView::Static);
    mList->setObjectName("datasetThumbnails");
    mTabs = new QTabWidget(split);
    auto *evalTab = new QWidget(mTabs);
    auto *el = new QVBoxLayout(evalTab);
    mSummary = new QLabel(tr("Press Evaluate"), evalTab);
    mSummary->setWordWrap(true);
    el->addWidget(mSummary);
    auto *evalSplit = new QSplitter(Qt::Vertical, evalTab);
    mConfusion = new Plot(evalSplit);
    mConfusion->setMinimumHeight(220);
    mPerClass = new QTableWidget(evalSplit);
    mPerClass->setColumnCount(5);
    mPerClass->setHorizontalHeaderLabels({tr("Class"), tr("Precision"), tr("Recall"), tr("F1"), tr("Support")});
    mPerClass->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    mPerClass->verticalHeader()->hide();
    mCalibration = new Plot(evalSplit);
    mCalibration->setMinimumHeight(160);
    el->addWidget(evalSplit, 1);
    mTabs->addTab(evalTab, tr("Evaluation"));
    auto *projTab = new QWidget(mTabs);
    auto *pl = new QVBoxLayout(projTab);
    auto *pbar = new QHBoxLayout;
    mMethod = new QComboBox(projTab);
    mMethod->addItems({"pca", "tsne", "umap"});
    auto *run = new QPushButton(tr("Project the current layer"), projTab);
    mColourBy = new QComboBox(projTab);
    mColourBy->addItems({tr("label"), tr("prediction"), tr("correctness")});
    mPerplexity = new QDoubleSpinBox(projTab);
    mPerplexity->setRange(2, 200);
    mPerplexity->setValue(30);
    mPerplexity->setPrefix(tr("perplexity "));
    mNeighbours = new QSpinBox(projTab);
    mNeighbours->setRange(2, 200);
    mNeighbours->setValue(15);
    mNeighbours->setPrefix(tr("neighbours "));
    pbar->addWidget(mMethod);
    pbar->addWidget(mPerplexity);
    pbar->addWidget(mNeighbours);
    pbar->addWidget(run);
    auto methodControls = [this] {
        mPerplexity->setVisible(mMethod->currentText() == "tsne");
        mNeighbours->setVisible(mMethod->currentText() == "umap");
    };
    connect(mMethod, &QComboBox::currentTextChanged, this, methodControls);
    methodControls();
    pbar->addWidget(new QLabel(tr("Colour by"), projTab));
    pbar->addWidget(mColourBy);
    mSelectMode = new QComboBox(projTab);
    mSelectMode->addItems({tr("pan / zoom"), tr("box select"), tr("lasso select")});
    mSelectMode->setToolTip(tr("Mouse mode of the scatter: drag to pan (wheel zooms), or select with a box or a lasso"));
    pbar->addWidget(mSelectMode);
    pl->addLayout(pbar);
    mProjector = new Plot(projTab);
    mProjector->setMouseTracking(true);
    mProjector->addLayer("lasso", nullptr, QCustomPlot::limAbove);
    mProjector->layer("lasso")->setMode(QCPLayer::lmBuffered);
    pl->addWidget(mProjector, 1);
    mSelection = new QListWidget(projTab);
    mSelection->setMaximumHeight(90);
    pl->addWidget(mSelection);
    mHover = new QLabel(this, Qt::ToolTip);
    mHover->setObjectName("projectorHover");
    mHover->setStyleSheet("QLabel { background: palette(tooltip-base); border: 1px solid gray; padding: 3px; }");
    mHover->hide();
    applySelectionMode();
    mTabs->addTab(projTab, tr("Projector"));
    // Explanation quality: deletion/insertion curves of several methods, and the randomisation test.
    auto *qualTab = new QWidget(mTabs);
    auto *ql = new QVBoxLayout(qualTab);
    auto *qbar = new QHBoxLayout;
    mFaithMethods = new QListWidget(qualTab);
    mFaithMethods->setMaximumHeight(70);
    mFaithMethods->setFlow(QListView::LeftToRight);
    mFaithMethods->setWrapping(true);
    for (AttributionMethod m : {AttributionMethod::Saliency, AttributionMethod::IntegratedGradients, AttributionMethod::GradCam,
                                AttributionMethod::Occlusion, AttributionMethod::GuidedBackprop, AttributionMethod::KernelShap}) {
        auto *item = new QListWidgetItem(QString::fromLatin1(methodName(m)), mFaithMethods);
        item->setData(Qt::UserRole, int(m));
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(m == AttributionMethod::Saliency || m == AttributionMethod::IntegratedGradients || m == AttributionMethod::GradCam
                                ? Qt::Checked
                                : Qt::Unchecked);
    }
    qbar->addWidget(mFaithMethods, 1);
    auto *items = new QSpinBox(qualTab);
    items->setRange(1, 10000);
    items->setValue(20);
    items->setPrefix(tr("items: "));
    qbar->addWidget(items);
    auto *runFaith = new QPushButton(tr("Deletion / insertion"), qualTab);
    qbar->addWidget(runFaith);
    auto *runSanity = new QPushButton(tr("Sanity check (current input)"), qualTab);
    qbar->addWidget(runSanity);
    ql->addLayout(qbar);
    mFaith = new Plot(qualTab);
    mFaith->setMinimumHeight(200);
    ql->addWidget(mFaith, 1);
    mSanityInfo = new QLabel(qualTab);
    ql->addWidget(mSanityInfo);
    mSanity = new Plot(qualTab);
    mSanity->setMinimumHeight(160);
    ql->addWidget(mSanity, 1);
    mTabs->addTab(qualTab, tr("Explanation quality"));
    connect(runFaith, &QPushButton::clicked, this, [this, items] {
        std::vector<AttributionMethod> methods;
        for (int i = 0; i < mFaithMethods->count(); ++i)
            if (mFaithMethods->item(i)->checkState() == Qt::Checked)
                methods.push_back(AttributionMethod(mFaithMethods->item(i)->data(Qt::UserRole).toInt()));
        emit faithfulnessRequested(methods, items->value());
    });
    connect(runSanity, &QPushButton::clicked, this, &DatasetPanel::sanityRequested);

    split->addWidget(mList);
    split->addWidget(mTabs);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);

    connect(open, &QPushButton::clicked, this, &DatasetPanel::openRequested);
    connect(evaluate, &QPushButton::clicked, this, &DatasetPanel::evaluateRequested);
    connect(run, &QPushButton::clicked, this, [this] { emit projectRequested(mMethod->currentText()); });
    connect(mList, &QListView::clicked, this, [this](const QModelIndex &i) { emit itemActivated(mModel->itemAt(i.row())); });
    connect(mClass, qOverload<int>(&QComboBox::currentIndexChanged), this, &DatasetPanel::applyFilter);
    connect(mCorrect, qOverload<int>(&QComboBox::currentIndexChanged), this, &DatasetPanel::applyFilter);
    connect(mConfidence, &QSlider::valueChanged, this, &DatasetPanel::applyFilter);
    connect(mColourBy, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        if (mPoints.numel()) setProjection(mPoints, mProjector->xAxis->label());
    });
    connect(mConfusion, &QCustomPlot::plottableClick, this, [this](QCPAbstractPlottable *, int, QMouseEvent *e) {
        const int pred = int(std::lround(mConfusion->xAxis->pixelToCoord(e->position().x())));
        const int truth = int(std::lround(mConfusion->yAxis->pixelToCoord(e->position().y())));
        showConfusionCell(truth, pred);
    });
    connect(mSelectMode, qOverload<int>(&QComboBox::currentIndexChanged), this, &DatasetPanel::applySelectionMode);
    connect(mProjector->selectionRect(), &QCPSelectionRect::accepted, this, [this](const QRect &r, QMouseEvent *) {
        const double x0 = mProjector->xAxis->pixelToCoord(r.left()), x1 = mProjector->xAxis->pixelToCoord(r.right());
        const double y0 = mProjector->yAxis->pixelToCoord(r.top()), y1 = mProjector->yAxis->pixelToCoord(r.bottom());
        selectPolygon(QPolygonF({QPointF(x0, y0), QPointF(x1, y0), QPointF(x1, y1), QPointF(x0, y1)}));
    });
    connect(mProjector, &QCustomPlot::mousePress, this, [this](QMouseEvent *e) {
        if (mSelectMode->currentIndex() != 2 || !mPoints.numel()) return;
        mLassoActive = true;
        mLasso.clear();
        mLasso << QPointF(mProjector->xAxis->pixelToCoord(e->position().x()), mProjector->yAxis->pixelToCoord(e->position().y()));
    });
    connect(mProjector, &QCustomPlot::mouseMove, this, [this](QMouseEvent *e) {
        if (!mLassoActive) {
            hoverAt(e->position());
            return;
        }
        mLasso << QPointF(mProjector->xAxis->pixelToCoord(e->position().x()), mProjector->yAxis->pixelToCoord(e->position().y()));
        if (!mLassoCurve) {
            mLassoCurve = new QCPCurve(mProjector->xAxis, mProjector->yAxis);
            mLassoCurve->setLayer("lasso");
            mLassoCurve->setPen(QPen(QColor(30, 30, 30), 1.5, Qt::DashLine));
            mLassoCurve->removeFromLegend();
        }
        QVector<double> xs, ys;
        for (const QPointF &p : mLasso) {
            xs << p.x();
            ys << p.y();
        }
        mLassoCurve->setData(xs, ys);
        mProjector->layer("lasso")->replot();   // only the lasso layer: 60,000 points stay put
    });
    connect(mProjector, &QCustomPlot::mouseRelease, this, [this](QMouseEvent *) {
        if (!mLassoActive) return;
        mLassoActive = false;
        if (mLassoCurve) {
            mProjector->removePlottable(mLassoCurve);
            mLassoCurve = nullptr;
        }
        if (mLasso.size() >= 3)
            selectPolygon(mLasso);
        else
            mProjector->replot();
    });
    connect(mSelection, &QListWidget::itemActivated, this, [this](QListWidgetItem *item) {
        const QVariant v = item->data(Qt::UserRole);
        if (v.isValid()) emit itemActivated(size_t(v.toLongLong()));
    });
}

void DatasetPanel::setDataset(const QString &name, size_t count, ThumbnailModel::Loader loader, std::vector<int> labels, QStringList classNames)
{
    mName = name;
    mLabels = labels;
    mClasses = classNames;
    mHasEval = false;
    mModel->setSource(count, std::move(loader), std::move(labels), classNames);
    const QSignalBlocker b(mClass);
    mClass->clear();
    mClass->addItem(tr("all"), -1);
    for (int c = 0; c < classNames.size(); ++c) mClass->addItem(classNames[c], c);
    mInfo->setText(tr("%1: %2 items").arg(name).arg(count));
}

int DatasetPanel::visibleCount() const { return mModel->rowCount(); }
QString DatasetPanel::summaryText() const { return mSummary->text(); }

void DatasetPanel::applyFilter() { mModel->setFilter(mClass->currentData().toInt(), mCorrect->currentIndex(), mConfidence->value() / 100.0); }

void DatasetPanel::showConfusionCell(int trueClass, int predictedClass)
{
    mModel->setFilter(trueClass, 0, 0.0, predictedClass);
    mInfo->setText(tr("%1 items labelled %2 and predicted %3")
                       .arg(mModel->rowCount())
                       .arg(mClasses.value(trueClass, QString::number(trueClass)), mClasses.value(predictedClass, QString::number(predictedClass))));
}

void DatasetPanel::setEvaluation(const EvalResult &r)
{
    mEval = r;
    mHasEval = true;
    mModel->setPredictions(r.predictions, r.confidences);
    mSummary->setText(tr("%1 items: top-1 %2%, top-%3 %4%, macro F1 %5, expected calibration error %6")
                          .arg(r.samples)
                          .arg(100 * r.top1, 0, 'f', 2)
                          .arg(r.topK)
                          .arg(100 * r.topK_accuracy, 0, 'f', 2)
                          .arg(r.macroF1, 0, 'f', 4)
                          .arg(r.ece, 0, 'f', 4));
    const int n = int(r.confusion.size());
    // Confusion matrix: rows = true class, columns = predicted, log-scaled colours with counts written in.
    mConfusion->clearPlottables();
    mConfusion->clearItems();
    auto *map = new QCPColorMap(mConfusion->xAxis, mConfusion->yAxis);
    map->data()->setSize(n, n);
    map->data()->setRange(QCPRange(0, n - 1), QCPRange(0, n - 1));
    for (int t = 0; t < n; ++t)
        for (int p = 0; p < n; ++p) {
            map->data()->setCell(p, t, std::log1p(double(r.confusion[size_t(t)][size_t(p)])));
            auto *label = new QCPItemText(mConfusion);
            label->position->setCoords(p, t);
            label->setText(QString::number(r.confusion[size_t(t)][size_t(p)]));
            label->setFont(QFont(font().family(), 7));
            label->setColor(Qt::white);
        }
    QCPColorGradient g;
    g.clearColorStops();
    for (int i = 0; i <= 8; ++i) g.setColorStopAt(i / 8.0, QColor(viridis(i / 8.0)));
    map->setGradient(g);
    map->rescaleDataRange();
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    for (int c = 0; c < n; ++c) ticker->addTick(c, mClasses.value(c, QString::number(c)));
    mConfusion->xAxis->setTicker(ticker);
    mConfusion->yAxis->setTicker(ticker);
    mConfusion->xAxis->setTickLabelRotation(45);
    mConfusion->xAxis->setLabel(tr("predicted"));
    mConfusion->yAxis->setLabel(tr("true (click a cell to list its items)"));
    mConfusion->yAxis->setRangeReversed(true);
    mConfusion->xAxis->setRange(-0.5, n - 0.5);
    mConfusion->yAxis->setRange(-0.5, n - 0.5);
    mConfusion->replot();
    mPerClass->setRowCount(n);
    for (int c = 0; c < n; ++c) {
        mPerClass->setItem(c, 0, new QTableWidgetItem(mClasses.value(c, QString::number(c))));
        mPerClass->setItem(c, 1, new QTableWidgetItem(QString::number(r.precision[size_t(c)], 'f', 3)));
        mPerClass->setItem(c, 2, new QTableWidgetItem(QString::number(r.recall[size_t(c)], 'f', 3)));
        mPerClass->setItem(c, 3, new QTableWidgetItem(QString::number(r.f1[size_t(c)], 'f', 3)));
        mPerClass->setItem(c, 4, new QTableWidgetItem(QString::number(r.support[size_t(c)])));
    }
    // Reliability diagram: accuracy per confidence bin against the diagonal.
    mCalibration->clearPlottables();
    auto *bars = new QCPBars(mCalibration->xAxis, mCalibration->yAxis);
    QVector<double> keys, acc;
    for (const auto &b : r.calibration) {
        keys << (b.lo + b.hi) / 2;
        acc << b.accuracy;
    }
    bars->setData(keys, acc);
    bars->setWidth(1.0 / std::max<size_t>(1, r.calibration.size()) * 0.9);
    bars->setBrush(QColor(59, 82, 139, 180));
    auto *diag = mCalibration->addGraph();
    diag->setData(QVector<double>{0, 1}, QVector<double>{0, 1});
    diag->setPen(QPen(Qt::red, 1, Qt::DashLine));
    mCalibration->xAxis->setRange(0, 1);
    mCalibration->yAxis->setRange(0, 1);
    mCalibration->xAxis->setLabel(tr("confidence"));
    mCalibration->yAxis->setLabel(tr("accuracy"));
    mCalibration->replot();
}

double DatasetPanel::perplexity() const { return mPerplexity->value(); }
int DatasetPanel::neighbours() const { return mNeighbours->value(); }

void DatasetPanel::applySelectionMode()
{
    const int m = mSelectMode->currentIndex();
    mProjector->setInteractions(m == 0 ? QCP::iRangeDrag | QCP::iRangeZoom : QCP::iRangeZoom);
    mProjector->setSelectionRectMode(m == 1 ? QCP::srmCustom : QCP::srmNone);
}

void DatasetPanel::selectPolygon(const QPolygonF &poly)
{
    mSelected.clear();
    if (!mPoints.numel() || poly.size() < 3) {
        showSelection();
        return;
    }
    const QRectF box = poly.boundingRect();
    const int64_t dims = mPoints.dim(1);
    for (int64_t i = 0; i < mPoints.dim(0); ++i) {
        const QPointF p(mPoints.at(i * dims), mPoints.at(i * dims + 1));
        if (box.contains(p) && poly.containsPoint(p, Qt::OddEvenFill)) mSelected.push_back(i);
    }
    showSelection();
}

void DatasetPanel::showSelection()
{
    if (!mSelectedGraph) {
        mSelectedGraph = mProjector->addGraph();
        mSelectedGraph->setLineStyle(QCPGraph::lsNone);
        mSelectedGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(Qt::black, 1.2), Qt::NoBrush, 7));
        mSelectedGraph->setName(tr("selected"));
        mSelectedGraph->removeFromLegend();
        mSelectedGraph->setAdaptiveSampling(false);
    }
    QVector<double> xs, ys;
    const int64_t dims = mPoints.numel() ? mPoints.dim(1) : 2;
    for (int64_t i : mSelected) {
        xs << mPoints.at(i * dims);
        ys << mPoints.at(i * dims + 1);
    }
    mSelectedGraph->setData(xs, ys, true);
    mSelection->clear();
    if (!mSelected.empty()) {
        auto *head = new QListWidgetItem(tr("%1 items selected%2 (double-click one to make it the input)")
                                             .arg(mSelected.size())
                                             .arg(mSelected.size() > 500 ? tr(", the first 500 listed") : QString()));
        head->setFlags(Qt::NoItemFlags);
        mSelection->addItem(head);
    }
    for (size_t k = 0; k < mSelected.size() && k < 500; ++k) {
        auto *item = new QListWidgetItem(mModel->thumbnail(size_t(mSelected[k])), mModel->describe(size_t(mSelected[k])));
        item->setData(Qt::UserRole, qlonglong(mSelected[k]));
        mSelection->addItem(item);
    }
    mProjector->replot();
}

int64_t DatasetPanel::pointAt(const QPointF &pixel, double radius) const
{
    if (!mPoints.numel()) return -1;
    const int64_t dims = mPoints.dim(1);
    int64_t best = -1;
    double bd = radius * radius;
    for (int64_t i = 0; i < mPoints.dim(0); ++i) {
        const double dx = mProjector->xAxis->coordToPixel(mPoints.at(i * dims)) - pixel.x();
        const double dy = mProjector->yAxis->coordToPixel(mPoints.at(i * dims + 1)) - pixel.y();
        if (dx * dx + dy * dy <= bd) {
            bd = dx * dx + dy * dy;
            best = i;
        }
    }
    return best;
}

void DatasetPanel::hoverAt(const QPointF &pixel)
{
    const int64_t i = pointAt(pixel);
    if (i < 0) {
        mHover->hide();
        return;
    }
    const QPixmap thumb = mModel->thumbnail(size_t(i)).scaled(96, 96, Qt::KeepAspectRatio, Qt::FastTransformation);
    QString html = QString("<b>%1</b>").arg(mModel->describe(size_t(i)).toHtmlEscaped());
    mHover->setText(QString());
    mHover->setPixmap(QPixmap());
    // Thumbnail above the text.
    QPixmap card(std::max(thumb.width(), 160), thumb.height() + 22);
    card.fill(palette().color(QPalette::ToolTipBase));
    QPainter p(&card);
    p.drawPixmap((card.width() - thumb.width()) / 2, 0, thumb);
    p.setPen(palette().color(QPalette::ToolTipText));
    p.drawText(QRect(0, thumb.height() + 2, card.width(), 20), Qt::AlignCenter, mModel->describe(size_t(i)));
    p.end();
    mHover->setPixmap(card);
    mHover->setToolTip(html);
    mHover->adjustSize();
    mHover->move(mProjector->mapToGlobal(pixel.toPoint()) + QPoint(14, 14));
    mHover->setProperty("item", qlonglong(i));
    mHover->show();
}

void DatasetPanel::setProjection(const TensorValue &points, const QString &title)
{
    const bool samePoints = mPoints.numel() && points.numel() && mPoints.dim(0) == points.dim(0);
    mPoints = points;
    mProjector->clearGraphs();
    mSelectedGraph = nullptr;
    if (!samePoints) mSelected.clear();
    const int64_t n = points.dim(0);
    const int mode = mColourBy->currentIndex();
    const bool havePred = mHasEval && mEval.predictions.size() == size_t(n);
    const int groups = mode == 2 ? 2 : std::max<int>(1, int(mClasses.size()));
    std::vector<QCPGraph *> graphs;
    for (int g = 0; g < groups; ++g) {
        auto *graph = mProjector->addGraph();
        graph->setLineStyle(QCPGraph::lsNone);
        const QColor c = mode == 2 ? (g ? QColor(220, 50, 50) : QColor(40, 160, 80)) : QColor(viridis(groups > 1 ? double(g) / (groups - 1) : 0.5));
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, n > 20000 ? 3 : 4));
        // Tens of thousands of antialiased discs cost ~100 ms a replot; plain ones keep pan and zoom fluid.
        graph->setAntialiasedScatters(n <= 20000);
        graph->setName(mode == 2 ? (g ? tr("wrong") : tr("correct")) : mClasses.value(g, QString::number(g)));
        graph->setSelectable(QCP::stMultipleDataRanges);
        graphs.push_back(graph);
    }
    for (int64_t i = 0; i < n && i < int64_t(mLabels.size()); ++i) {
        int g = mLabels[size_t(i)];
        if (mode == 1 && havePred) g = mEval.predictions[size_t(i)];
        if (mode == 2) g = havePred && mEval.predictions[size_t(i)] != mLabels[size_t(i)] ? 1 : 0;
        g = std::clamp(g, 0, groups - 1);
        graphs[size_t(g)]->addData(points.at(i * points.dim(1)), points.at(i * points.dim(1) + 1));
    }
    mProjector->xAxis->setLabel(title);
    mProjector->legend->setVisible(groups <= 12);
    mProjector->rescaleAxes();
    showSelection();   // keeps a selection across the live updates of one projection (replots)
    if (mSelectedGraph) mSelectedGraph->removeFromLegend();
    mTabs->setCurrentIndex(1);
}

void DatasetPanel::setFaithfulness(const std::vector<MethodCurves> &curves, int items)
{
    mFaith->clearGraphs();
    for (size_t m = 0; m < curves.size(); ++m) {
        const QColor c(viridis(curves.size() > 1 ? double(m) / double(curves.size() - 1) * 0.85 : 0.3));
        for (int kind = 0; kind < 2; ++kind) {
            const auto &ys = kind == 0 ? curves[m].deletion : curves[m].insertion;
            QVector<double> xs, vs;
            for (size_t k = 0; k < ys.size(); ++k) {
                xs << double(k) / double(std::max<size_t>(1, ys.size() - 1));
                vs << ys[k];
            }
            auto *g = mFaith->addGraph();
            g->setData(xs, vs);
            g->setPen(QPen(c, 1.6, kind == 0 ? Qt::SolidLine : Qt::DashLine));
            g->setName(QString("%1 %2 (AUC %3)")
                           .arg(QString::fromLatin1(methodName(curves[m].method)), kind == 0 ? tr("deletion") : tr("insertion"))
                           .arg(kind == 0 ? curves[m].deletionAuc : curves[m].insertionAuc, 0, 'f', 3));
        }
    }
    mFaith->xAxis->setLabel(tr("fraction of pixels removed / inserted (mean over %1 items)").arg(items));
    mFaith->yAxis->setLabel(tr("probability of the class"));
    mFaith->xAxis->setRange(0, 1);
    mFaith->yAxis->setRange(0, 1.02);
    mFaith->legend->setVisible(true);
    QFont lf = font();
    lf.setPointSizeF(7);
    mFaith->legend->setFont(lf);
    mFaith->replot();
    mTabs->setCurrentIndex(2);
}

void DatasetPanel::setSanity(AttributionMethod method, const SanityResult &r)
{
    mSanity->clearGraphs();
    QVector<double> xs, sp, ss;
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    ticker->addTick(0, tr("original"));
    xs << 0;
    sp << 1;
    ss << 1;
    for (size_t i = 0; i < r.steps.size(); ++i) {
        xs << double(i + 1);
        sp << r.steps[i].spearman;
        ss << r.steps[i].ssim;
        ticker->addTick(double(i + 1), QString::fromStdString(r.steps[i].layer));
    }
    auto *a = mSanity->addGraph();
    a->setData(xs, sp);
    a->setName(tr("Spearman rank correlation"));
    a->setPen(QPen(QColor(59, 82, 139), 1.6));
    a->setScatterStyle(QCPScatterStyle::ssDisc);
    auto *b = mSanity->addGraph();
    b->setData(xs, ss);
    b->setName(tr("SSIM"));
    b->setPen(QPen(QColor(33, 145, 140), 1.6, Qt::DashLine));
    b->setScatterStyle(QCPScatterStyle::ssSquare);
    mSanity->xAxis->setTicker(ticker);
    mSanity->xAxis->setTickLabelRotation(30);
    mSanity->xAxis->setRange(-0.3, double(r.steps.size()) + 0.3);
    mSanity->yAxis->setRange(-0.3, 1.05);
    mSanity->legend->setVisible(true);
    mSanity->replot();
    mSanityInfo->setText(tr("%1: layers randomised cumulatively from the top (Adebayo et al. 2018). %2")
                             .arg(QString::fromLatin1(methodName(method)),
                                  r.insensitive ? tr("FLAGGED: the map barely changes — it does not depend on the model's weights.")
                                                : tr("The map changes with the weights.")));
    mTabs->setCurrentIndex(2);
}

QStringList DatasetPanel::selectedItems() const
{
    QStringList out;
    for (int64_t i : mSelected) out << QString("#%1 %2").arg(i).arg(mClasses.value(mLabels[size_t(i)]));
    return out;
}

}   // namespace pellucid
