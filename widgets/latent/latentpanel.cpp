#include "widgets/latent/latentpanel.h"
#include "widgets/latent/unitspanel.h"

#include "engine/core/npy.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMouseEvent>
#include <QPainter>
#include <QTabWidget>
#include <QTextBrowser>
#include "widgets/common/plot.h"
#include <qcustomplot.h>
#include <QPushButton>
#include <QScrollArea>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include <cmath>

namespace pellucid {

ImageGrid::ImageGrid(QWidget *parent) : QWidget(parent) { setMinimumSize(200, 80); }

void ImageGrid::setImages(const TensorValue &images, int cols, QStringList rowLabels, QString title)
{
    mImages = images;
    mCols = std::max(1, cols);
    mRowLabels = std::move(rowLabels);
    mTitle = std::move(title);
    update();
}

double ImageGrid::figureAspect() const
{
    if (mImages.shape().size() != 4) return 1.0;
    const int n = int(mImages.dim(0)), rows = (n + mCols - 1) / mCols;
    return (double(mCols) + (mRowLabels.isEmpty() ? 0.0 : 0.8)) / std::max(1, rows);
}

double ImageGrid::cellSize(const QRectF &rect, const QFont &font, double &labelW) const
{
    const int n = int(mImages.dim(0)), rows = (n + mCols - 1) / mCols;
    labelW = mRowLabels.isEmpty() ? 0 : QFontMetricsF(font).horizontalAdvance("dim 00") + 4;
    return std::min((rect.width() - labelW) / mCols, rect.height() / std::max(1, rows));
}

int ImageGrid::indexAt(const QPoint &pos) const
{
    if (mImages.shape().size() != 4) return -1;
    const QRectF rect = QRectF(this->rect()).adjusted(2, 2, -2, -2);
    double labelW = 0;
    const double cell = cellSize(rect, font(), labelW);
    if (cell <= 0) return -1;
    const double x = pos.x() - rect.left() - labelW, y = pos.y() - rect.top();
    if (x < 0 || y < 0) return -1;
    const int col = int(x / cell), row = int(y / cell);
    const int i = row * mCols + col;
    return col < mCols && i < int(mImages.dim(0)) ? i : -1;
}

void ImageGrid::mousePressEvent(QMouseEvent *e)
{
    const int i = indexAt(e->position().toPoint());
    if (i >= 0) emit clicked(i);
}

void ImageGrid::paintGrid(QPainter &p, const QRectF &rect, const QFont &font) const
{
    if (mImages.shape().size() != 4) return;
    const int n = int(mImages.dim(0)), rows = (n + mCols - 1) / mCols;
    p.setFont(font);
    const double labelW = mRowLabels.isEmpty() ? 0 : QFontMetricsF(font, p.device()).horizontalAdvance("dim 00") + 4;
    const double cell = std::min((rect.width() - labelW) / mCols, rect.height() / std::max(1, rows));
    if (mHighlight >= 0 && mHighlight < n) {
        p.fillRect(QRectF(rect.left() + labelW + (mHighlight % mCols) * cell - 1, rect.top() + (mHighlight / mCols) * cell - 1, cell + 2, cell + 2),
                   palette().highlight());
    }
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    for (int i = 0; i < n; ++i) {
        const QRectF r(rect.left() + labelW + (i % mCols) * cell + 1, rect.top() + (i / mCols) * cell + 1, cell - 2, cell - 2);
        p.drawImage(r, generatedPicture(mImages, i));
    }
    p.setPen(palette().color(QPalette::WindowText));
    for (int r = 0; r < rows && r < mRowLabels.size(); ++r)
        p.drawText(QRectF(rect.left(), rect.top() + r * cell, labelW - 2, cell), Qt::AlignRight | Qt::AlignVCenter, mRowLabels[r]);
}

void ImageGrid::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    if (mImages.numel() == 0) {
        p.drawText(rect(), Qt::AlignCenter, tr("Nothing decoded yet"));
        return;
    }
    paintGrid(p, QRectF(rect()).adjusted(2, 2, -2, -2), font());
}

void ImageGrid::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const
{
    p.setPen(Qt::black);
    paintGrid(p, rect, s.font());
}

QStringList ImageGrid::writeRawData(const QString &base) const
{
    if (mImages.numel() == 0) return {};
    writeNpy((base + ".npy").toStdString(), mImages);
    return {base + ".npy"};
}

LatentPanel::LatentPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    auto *bar = new QHBoxLayout;
    mInfo = new QLabel(tr("Open a generator or decoder (metadata role \"generator\" / \"decoder\")"), this);
    bar->addWidget(mInfo, 1);
    mSeed = new QSpinBox(this);
    mSeed->setRange(0, 1 << 30);
    mSeed->setPrefix(tr("seed "));
    mTruncation = new QDoubleSpinBox(this);
    mTruncation->setRange(0, 5);
    mTruncation->setSingleStep(0.1);
    mTruncation->setSpecialValueText(tr("no truncation"));
    auto *random = new QPushButton(tr("Random code"), this);
    mClass = new QComboBox(this);
    mClass->setToolTip(tr("Class of the conditional generator"));
    mClass->setVisible(false);
    bar->addWidget(mClass);
    bar->addWidget(mSeed);
    bar->addWidget(mTruncation);
    bar->addWidget(random);
    layout->addLayout(bar);
    auto *split = new QSplitter(Qt::Horizontal, this);
    auto *scroll = new QScrollArea(split);
    scroll->setWidgetResizable(true);
    mSliderHost = new QWidget(scroll);
    new QGridLayout(mSliderHost);
    scroll->setWidget(mSliderHost);
    scroll->setMinimumWidth(220);
    mDecoded = new QLabel(split);
    mDecoded->setAlignment(Qt::AlignCenter);
    mDecoded->setMinimumSize(180, 180);
    mDecoded->setObjectName("latentDecoded");
    mTabs = new QTabWidget(split);
    mTabs->addTab(buildTraverseTab(), tr("Traverse"));
    mTabs->addTab(buildDirectionsTab(), tr("Directions"));
    mTabs->addTab(buildGalleryTab(), tr("Gallery"));
    mTabs->addTab(buildCounterfactualTab(), tr("Counterfactual"));
    mTabs->addTab(buildVaeTab(), tr("VAE"));
    mTabs->addTab(buildMetricsTab(), tr("Metrics"));
    mTabs->addTab(mUnits = new UnitsPanel, tr("Units"));
    split->addWidget(scroll);
    split->addWidget(mDecoded);
    split->addWidget(mTabs);
    split->setStretchFactor(2, 2);
    layout->addWidget(split, 1);
    mCompanions = new QLabel(this);
    mCompanions->setWordWrap(true);
    layout->addWidget(mCompanions);
    connect(random, &QPushButton::clicked, this, [this] { emit randomRequested(mSeed->value(), mTruncation->value()); });
    connect(mClass, &QComboBox::currentIndexChanged, this, [this] { emit codeChanged(); });
}

QWidget *LatentPanel::buildTraverseTab()
{
    auto *right = new QWidget;
    auto *rl = new QVBoxLayout(right);
    auto *travBar = new QHBoxLayout;
    mTravDims = new QSpinBox(right);
    mTravDims->setRange(1, 64);
    mTravDims->setValue(6);
    mTravDims->setPrefix(tr("first "));
    mTravDims->setSuffix(tr(" dims"));
    mTravSteps = new QSpinBox(right);
    mTravSteps->setRange(2, 21);
    mTravSteps->setValue(7);
    mTravSteps->setSuffix(tr(" steps"));
    mTravRange = new QDoubleSpinBox(right);
    mTravRange->setRange(0.1, 10);
    mTravRange->setValue(3);
    mTravRange->setPrefix(tr("±"));
    mTravRange->setSuffix(" σ");
    auto *trav = new QPushButton(tr("Traverse"), right);
    auto *travAnim = new QPushButton(tr("Animation…"), right);
    travAnim->setToolTip(tr("Export the traversal as a GIF or MP4 (one frame per step, the dimensions stacked)"));
    travBar->addWidget(mTravDims);
    travBar->addWidget(mTravSteps);
    travBar->addWidget(mTravRange);
    travBar->addWidget(trav);
    travBar->addWidget(travAnim);
    connect(travAnim, &QPushButton::clicked, this, [this] { emit animationExportRequested("traversal"); });
    rl->addLayout(travBar);
    mTraversal = new ImageGrid(right);
    rl->addWidget(mTraversal, 3);
    auto *interpBar = new QHBoxLayout;
    auto *setA = new QPushButton(tr("Code → A"), right);
    auto *setB = new QPushButton(tr("Code → B"), right);
    mMode = new QComboBox(right);
    mMode->addItems({"lerp", "slerp"});
    mInterpSteps = new QSpinBox(right);
    mInterpSteps->setRange(2, 32);
    mInterpSteps->setValue(8);
    mInterpSteps->setSuffix(tr(" steps"));
    auto *interp = new QPushButton(tr("Interpolate A → B"), right);
    interpBar->addWidget(setA);
    interpBar->addWidget(setB);
    interpBar->addWidget(mMode);
    interpBar->addWidget(mInterpSteps);
    interpBar->addWidget(interp);
    auto *interpAnim = new QPushButton(tr("Animation…"), right);
    interpAnim->setToolTip(tr("Export the interpolation as a GIF or MP4"));
    interpBar->addWidget(interpAnim);
    connect(interpAnim, &QPushButton::clicked, this, [this] { emit animationExportRequested("interpolation"); });
    rl->addLayout(interpBar);
    mInterp = new ImageGrid(right);
    rl->addWidget(mInterp, 1);
    connect(trav, &QPushButton::clicked, this, &LatentPanel::traversalRequested);
    connect(interp, &QPushButton::clicked, this, &LatentPanel::interpolationRequested);
    connect(setA, &QPushButton::clicked, this, [this] { mA = code(); });
    connect(setB, &QPushButton::clicked, this, [this] { mB = code(); });
    return right;
}

QWidget *LatentPanel::buildDirectionsTab()
{
    auto *w = new QWidget;
    auto *l = new QVBoxLayout(w);
    auto *bar = new QHBoxLayout;
    mDirSource = new QComboBox(w);
    mDirSource->addItem(tr("GANSpace: PCA of a layer"), "ganspace");
    mDirSource->addItem(tr("SeFa: closed form from the first layer's weight"), "sefa");
    mDirSource->addItem(tr("PCA of encoded dataset items"), "pca");
    mDirSource->addItem(tr("Attribute: class A → class B"), "attribute");
    mDirLayer = new QComboBox(w);
    mDirLayer->setToolTip(tr("Generator layer whose activations are decomposed"));
    mDirK = new QSpinBox(w);
    mDirK->setRange(1, 32);
    mDirK->setValue(5);
    mDirK->setPrefix(tr("k = "));
    mDirCount = new QSpinBox(w);
    mDirCount->setRange(50, 100000);
    mDirCount->setValue(2000);
    mDirCount->setSuffix(tr(" samples"));
    mDirFrom = new QComboBox(w);
    mDirTo = new QComboBox(w);
    auto *go = new QPushButton(tr("Compute directions"), w);
    bar->addWidget(mDirSource);
    bar->addWidget(mDirLayer);
    bar->addWidget(mDirK);
    bar->addWidget(mDirCount);
    bar->addWidget(mDirFrom);
    auto *arrow = new QLabel("→", w);
    bar->addWidget(arrow);
    bar->addWidget(mDirTo);
    bar->addWidget(go);
    l->addLayout(bar);
    auto *row = new QHBoxLayout;
    mDirList = new QListWidget(w);
    mDirList->setMaximumWidth(200);
    row->addWidget(mDirList);
    mDirGrid = new ImageGrid(w);
    row->addWidget(mDirGrid, 1);
    l->addLayout(row, 1);
    auto *move = new QHBoxLayout;
    move->addWidget(new QLabel(tr("Move the code along the selected direction:"), w));
    mDirAmount = new QSlider(Qt::Horizontal, w);
    mDirAmount->setRange(-400, 400);
    mDirAmount->setEnabled(false);
    move->addWidget(mDirAmount, 1);
    mDirStatus = new QLabel(w);
    move->addWidget(mDirStatus);
    l->addLayout(move);
    auto updateControls = [this, arrow] {
        const QString src = mDirSource->currentData().toString();
        mDirLayer->setVisible(src == "ganspace");
        mDirCount->setVisible(src != "attribute" && src != "sefa");
        mDirCount->setSuffix(src == "ganspace" ? tr(" samples") : tr(" items"));
        mDirK->setVisible(src != "attribute");
        mDirFrom->setVisible(src == "attribute");
        mDirTo->setVisible(src == "attribute");
        arrow->setVisible(src == "attribute");
    };
    connect(mDirSource, &QComboBox::currentIndexChanged, this, updateControls);
    updateControls();
    connect(go, &QPushButton::clicked, this, &LatentPanel::directionsRequested);
    connect(mDirList, &QListWidget::currentRowChanged, this, [this](int row) {
        mDirBase = code();
        const QSignalBlocker b(mDirAmount);
        mDirAmount->setValue(0);
        mDirAmount->setEnabled(row >= 0 && mDirections.shape().size() == 2 && row < mDirections.dim(0));
        mDirGrid->setHighlight(-1);
    });
    connect(mDirAmount, &QSlider::valueChanged, this, [this](int v) {
        const int row = mDirList->currentRow();
        if (row < 0 || mDirections.shape().size() != 2 || row >= mDirections.dim(0) || mDirBase.size() != size_t(mDirections.dim(1))) return;
        const double t = v / 100.0;
        std::vector<float> z = mDirBase;
        for (size_t j = 0; j < z.size(); ++j) z[j] += float(t * mDirections.at(row * mDirections.dim(1) + int64_t(j)));
        mDirStatus->setText(QString("%1 %2 σ").arg(t >= 0 ? "+" : "").arg(t, 0, 'f', 2));
        setCode(z);
    });
    return w;
}

QWidget *LatentPanel::buildGalleryTab()
{
    auto *w = new QWidget;
    auto *l = new QVBoxLayout(w);
    auto *bar = new QHBoxLayout;
    mGalleryCount = new QSpinBox(w);
    mGalleryCount->setRange(1, 256);
    mGalleryCount->setValue(32);
    mGalleryCount->setSuffix(tr(" samples"));
    auto *go = new QPushButton(tr("Sample gallery (seed and truncation above)"), w);
    bar->addWidget(mGalleryCount);
    bar->addWidget(go);
    bar->addStretch(1);
    bar->addWidget(new QLabel(tr("Click a sample to make it the current code"), w));
    l->addLayout(bar);
    mGallery = new ImageGrid(w);
    l->addWidget(mGallery, 1);
    connect(go, &QPushButton::clicked, this, [this] { emit galleryRequested(mGalleryCount->value(), mSeed->value(), mTruncation->value()); });
    connect(mGallery, &ImageGrid::clicked, this, [this](int i) {
        if (mGalleryCodes.shape().size() != 2 || i >= mGalleryCodes.dim(0)) return;
        const int64_t D = mGalleryCodes.dim(1);
        mGallery->setHighlight(i);
        setCode(std::vector<float>(mGalleryCodes.data() + i * D, mGalleryCodes.data() + (i + 1) * D));
    });
    return w;
}

QWidget *LatentPanel::buildCounterfactualTab()
{
    auto *w = new QWidget;
    auto *l = new QVBoxLayout(w);
    auto *bar = new QHBoxLayout;
    mCfStart = new QComboBox(w);
    mCfStart->addItem(tr("from the input image (encoded)"));
    mCfStart->addItem(tr("from the current code"));
    mCfTarget = new QComboBox(w);
    mCfTarget->setToolTip(tr("The class the classifier should assign"));
    mCfSteps = new QSpinBox(w);
    mCfSteps->setRange(1, 5000);
    mCfSteps->setValue(300);
    mCfSteps->setSuffix(tr(" steps max"));
    mCfLambda = new QDoubleSpinBox(w);
    mCfLambda->setRange(0, 10);
    mCfLambda->setDecimals(3);
    mCfLambda->setSingleStep(0.01);
    mCfLambda->setValue(0.05);
    mCfLambda->setPrefix(tr("λ = "));
    mCfLambda->setToolTip(tr("Weight of the distance penalty λ‖z − z0‖²"));
    mCfStop = new QDoubleSpinBox(w);
    mCfStop->setRange(0.1, 0.999);
    mCfStop->setDecimals(3);
    mCfStop->setValue(0.9);
    mCfStop->setPrefix(tr("stop at p ≥ "));
    auto *go = new QPushButton(tr("Find counterfactual"), w);
    auto *use = new QPushButton(tr("Use as code"), w);
    bar->addWidget(mCfStart);
    bar->addWidget(new QLabel(tr("target"), w));
    bar->addWidget(mCfTarget);
    bar->addWidget(mCfSteps);
    bar->addWidget(mCfLambda);
    bar->addWidget(mCfStop);
    bar->addWidget(go);
    bar->addWidget(use);
    l->addLayout(bar);
    mCfStrip = new ImageGrid(w);
    l->addWidget(mCfStrip, 2);
    mCfSummary = new QLabel(w);
    mCfSummary->setWordWrap(true);
    mCfSummary->setMinimumHeight(2 * mCfSummary->fontMetrics().height() + 6);
    mCfSummary->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Minimum);
    l->addWidget(mCfSummary);
    mCfPlot = new Plot(w);
    mCfPlot->setMinimumHeight(120);
    mCfPlot->xAxis->setLabel(tr("step"));
    mCfPlot->yAxis->setLabel(tr("p(target)"));
    mCfPlot->yAxis->setRange(0, 1);
    mCfPlot->addGraph();
    l->addWidget(mCfPlot, 1);
    connect(go, &QPushButton::clicked, this, &LatentPanel::counterfactualRequested);
    connect(use, &QPushButton::clicked, this, [this] {
        if (!mCfCode.empty()) setCode(mCfCode);
    });
    return w;
}

QWidget *LatentPanel::buildVaeTab()
{
    auto *w = new QWidget;
    auto *l = new QVBoxLayout(w);
    auto *bar = new QHBoxLayout;
    mVaeItems = new QSpinBox(w);
    mVaeItems->setRange(1, 60000);
    mVaeItems->setValue(1000);
    mVaeItems->setSuffix(tr(" dataset items"));
    mVaeItems->setToolTip(tr("KL is averaged over these items of the open dataset (or the input image alone when none is open)"));
    auto *go = new QPushButton(tr("Encode and reconstruct"), w);
    auto *encode = new QPushButton(tr("Input image → code"), w);
    encode->setToolTip(tr("Make the input image's posterior mean μ the current code (then Code → A / B to interpolate between two images)"));
    bar->addWidget(mVaeItems);
    bar->addWidget(go);
    bar->addWidget(encode);
    connect(encode, &QPushButton::clicked, this, &LatentPanel::encodeInputRequested);
    bar->addStretch(1);
    l->addLayout(bar);
    mVaeSummary = new QLabel(tr("Input (left) beside its reconstruction (right); KL(q(z|x) ‖ p(z)) per latent dimension below."), w);
    mVaeSummary->setWordWrap(true);
    mVaeSummary->setMinimumHeight(2 * mVaeSummary->fontMetrics().height() + 6);
    mVaeSummary->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Minimum);
    l->addWidget(mVaeSummary);
    mVaePairs = new ImageGrid(w);
    l->addWidget(mVaePairs, 2);
    mKlPlot = new Plot(w);
    mKlPlot->setMinimumHeight(140);
    mKlPlot->xAxis->setLabel(tr("latent dimension"));
    mKlPlot->yAxis->setLabel(tr("KL (nats)"));
    QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
    ticker->setTickStep(1);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    mKlPlot->xAxis->setTicker(ticker);
    l->addWidget(mKlPlot, 2);
    connect(go, &QPushButton::clicked, this, [this] { emit vaeRequested(mVaeItems->value()); });
    return w;
}

QWidget *LatentPanel::buildMetricsTab()
{
    auto *w = new QWidget;
    auto *l = new QVBoxLayout(w);
    auto *bar = new QHBoxLayout;
    mMetricCount = new QSpinBox(w);
    mMetricCount->setRange(10, 60000);
    mMetricCount->setValue(1000);
    mMetricCount->setSuffix(tr(" samples"));
    auto *go = new QPushButton(tr("Compute quality metrics"), w);
    bar->addWidget(mMetricCount);
    bar->addWidget(go);
    bar->addStretch(1);
    l->addLayout(bar);
    mMetrics = new QTextBrowser(w);
    mMetrics->setHtml(tr("<p>Inception Score and diversity of generated samples, Fréchet distance to the open dataset "
                         "(features of the companion classifier), and for a VAE reconstruction SSIM/PSNR and KL per dimension.</p>"));
    l->addWidget(mMetrics, 1);
    connect(go, &QPushButton::clicked, this, [this] { emit metricsRequested(mMetricCount->value()); });
    return w;
}

void LatentPanel::setConditionalClasses(const QStringList &classes)
{
    const QSignalBlocker b(mClass);
    mClass->clear();
    for (int i = 0; i < classes.size(); ++i) mClass->addItem(tr("class %1: %2").arg(i).arg(classes[i]), i);
    mClass->setVisible(!classes.isEmpty());
}

int LatentPanel::classIndex() const { return mClass->count() ? mClass->currentData().toInt() : -1; }

void LatentPanel::setLayers(const QStringList &layers, const QString &preferred)
{
    mDirLayer->clear();
    mDirLayer->addItems(layers);
    if (!preferred.isEmpty()) mDirLayer->setCurrentText(preferred);
}

void LatentPanel::setClassLabels(const QStringList &labels)
{
    for (QComboBox *c : {mDirFrom, mDirTo, mCfTarget}) {
        const int keep = c->currentIndex();
        c->clear();
        for (int i = 0; i < labels.size(); ++i) c->addItem(QString("%1 %2").arg(i).arg(labels[i]), i);
        if (keep >= 0 && keep < labels.size()) c->setCurrentIndex(keep);
    }
    if (mDirTo->count() > 1 && mDirTo->currentIndex() == mDirFrom->currentIndex()) mDirTo->setCurrentIndex(1);
}

void LatentPanel::setCompanions(const QString &classifier, const QString &encoder)
{
    mCompanions->setText(tr("Classifier for counterfactuals and metrics: %1 · VAE encoder: %2")
                             .arg(classifier.isEmpty() ? tr("none found beside the model") : classifier,
                                  encoder.isEmpty() ? tr("none (metadata \"pair\")") : encoder));
}

LatentPanel::DirectionRequest LatentPanel::directionRequest() const
{
    DirectionRequest r;
    r.source = mDirSource->currentData().toString();
    r.layer = mDirLayer->currentText();
    r.k = mDirK->value();
    r.count = mDirCount->value();
    r.from = mDirFrom->currentData().toInt();
    r.to = mDirTo->currentData().toInt();
    r.steps = mTravSteps->value();
    r.range = mTravRange->value();
    return r;
}

LatentPanel::CounterfactualRequest LatentPanel::counterfactualRequest() const
{
    CounterfactualRequest r;
    r.target = mCfTarget->currentData().toInt();
    r.steps = mCfSteps->value();
    r.distanceWeight = mCfLambda->value();
    r.stopProbability = mCfStop->value();
    r.fromInput = mCfStart->currentIndex() == 0;
    return r;
}

void LatentPanel::showDirections(const TensorValue &directions, const std::vector<double> &ratio, const QString &source, const TensorValue &images,
                                 int steps)
{
    mDirections = directions;
    mDirList->clear();
    QStringList labels;
    for (int64_t j = 0; j < directions.dim(0); ++j) {
        const QString name = source == "attribute" ? tr("A → B") : QString("d%1").arg(j);
        mDirList->addItem(size_t(j) < ratio.size() ? QString("%1  (%2 %)").arg(name).arg(100 * ratio[size_t(j)], 0, 'f', 1) : name);
        labels << (source == "attribute" ? QString("A→B") : QString("d%1").arg(j));
    }
    mDirGrid->setImages(images, steps, labels);
    mDirStatus->setText(tr("%1 direction(s) from %2").arg(directions.dim(0)).arg(source));
    if (directions.dim(0) > 0) mDirList->setCurrentRow(0);
}

void LatentPanel::showGallery(const TensorValue &codes, const TensorValue &images)
{
    mGalleryCodes = codes;
    const int n = int(images.dim(0));
    mGallery->setImages(images, std::max(1, int(std::ceil(std::sqrt(double(n) * 2)))));
    mGallery->setHighlight(-1);
}

void LatentPanel::showCounterfactual(const TensorValue &frames, const std::vector<double> &probability, const QString &summary,
                                     const std::vector<float> &finalCode)
{
    mCfStrip->setImages(frames, int(frames.dim(0)));
    mCfSummary->setText(summary);
    mCfCode = finalCode;
    QVector<double> x, y;
    for (size_t i = 0; i < probability.size(); ++i) {
        x << double(i);
        y << probability[i];
    }
    mCfPlot->graph(0)->setData(x, y);
    mCfPlot->xAxis->setRange(0, std::max<double>(1, double(probability.size()) - 1));
    mCfPlot->replot();
}

void LatentPanel::showVae(const TensorValue &pairs, const std::vector<double> &kl, const QString &summary)
{
    mVaePairs->setImages(pairs, std::min<int>(8, std::max<int>(2, int(pairs.dim(0)))));
    mVaeSummary->setText(summary);
    mKlPlot->clearPlottables();
    auto *active = new QCPBars(mKlPlot->xAxis, mKlPlot->yAxis);
    auto *inactive = new QCPBars(mKlPlot->xAxis, mKlPlot->yAxis);
    active->setName(tr("active (KL > 0.01)"));
    inactive->setName(tr("inactive"));
    active->setBrush(QColor(40, 110, 200));
    inactive->setBrush(QColor(180, 180, 180));
    double top = 0;
    for (size_t d = 0; d < kl.size(); ++d) {
        (kl[d] > 0.01 ? active : inactive)->addData(double(d), kl[d]);
        top = std::max(top, kl[d]);
    }
    mKlPlot->xAxis->setRange(-0.7, double(kl.size()) - 0.3);
    mKlPlot->yAxis->setRange(0, std::max(0.05, top * 1.1));
    mKlPlot->legend->setVisible(true);
    mKlPlot->replot();
}

void LatentPanel::showMetrics(const QString &html) { mMetrics->setHtml(html); }

void LatentPanel::showTabError(const QString &tab, const QString &message)
{
    const QString text = QString("<span style='color:#b00'>%1</span>").arg(message.toHtmlEscaped());
    if (tab == "directions")
        mDirStatus->setText(text);
    else if (tab == "counterfactual")
        mCfSummary->setText(text);
    else if (tab == "vae")
        mVaeSummary->setText(text);
    else if (tab == "metrics")
        mMetrics->setHtml(text);
    else if (tab == "units")
        mUnits->showError(message);
}

void LatentPanel::setLatentDim(int dim, const QString &modelName)
{
    mDim = dim;
    setConditionalClasses({});
    auto *grid = static_cast<QGridLayout *>(mSliderHost->layout());
    for (QSlider *s : mSliders) s->deleteLater();
    while (QLayoutItem *item = grid->takeAt(0)) {
        if (item->widget() && !qobject_cast<QSlider *>(item->widget())) item->widget()->deleteLater();
        delete item;
    }
    mSliders.clear();
    for (int d = 0; d < dim; ++d) {
        auto *s = new QSlider(Qt::Horizontal, mSliderHost);
        s->setRange(-300, 300);   // hundredths of σ
        auto *value = new QLabel("0.00", mSliderHost);
        grid->addWidget(new QLabel(QString("z%1").arg(d), mSliderHost), d, 0);
        grid->addWidget(s, d, 1);
        grid->addWidget(value, d, 2);
        connect(s, &QSlider::valueChanged, this, [this, value](int v) {
            value->setText(QString::number(v / 100.0, 'f', 2));
            emit codeChanged();
        });
        mSliders.push_back(s);
    }
    mInfo->setText(dim > 0 ? tr("%1: latent dimension %2 (sliders in σ of the standard normal prior)").arg(modelName).arg(dim)
                           : tr("Open a generator or decoder"));
    mA.assign(size_t(dim), 0.f);
    mB.assign(size_t(dim), 0.f);
    // Results of the previous model no longer apply.
    mTraversal->setImages(TensorValue(), 1);
    mInterp->setImages(TensorValue(), 1);
    mDirGrid->setImages(TensorValue(), 1);
    mDirList->clear();
    mDirections = TensorValue();
    mGallery->setImages(TensorValue(), 1);
    mGalleryCodes = TensorValue();
    mCfStrip->setImages(TensorValue(), 1);
    mCfCode.clear();
    mVaePairs->setImages(TensorValue(), 1);
    mDecoded->clear();
}

std::vector<float> LatentPanel::code() const
{
    std::vector<float> z;
    for (QSlider *s : mSliders) z.push_back(s->value() / 100.0f);
    return z;
}

void LatentPanel::setCode(const std::vector<float> &z)
{
    for (size_t d = 0; d < mSliders.size() && d < z.size(); ++d) {
        const QSignalBlocker b(mSliders[d]);
        mSliders[d]->setValue(int(std::lround(std::clamp(z[d], -3.0f, 3.0f) * 100)));
        if (auto *grid = static_cast<QGridLayout *>(mSliderHost->layout()))
            if (auto *item = grid->itemAtPosition(int(d), 2))
                if (auto *label = qobject_cast<QLabel *>(item->widget())) label->setText(QString::number(z[d], 'f', 2));
    }
    emit codeChanged();
}

void LatentPanel::showDecoded(const TensorValue &image)
{
    if (image.shape().size() != 4) return;
    mDecoded->setPixmap(QPixmap::fromImage(
        generatedPicture(image, 0).scaled(mDecoded->size().boundedTo(QSize(360, 360)), Qt::KeepAspectRatio, Qt::FastTransformation)));
}

void LatentPanel::showTraversal(const TensorValue &images, int dims, int steps)
{
    QStringList labels;
    for (int d = 0; d < dims; ++d) labels << QString("z%1").arg(traversalDims()[size_t(d)]);
    mTraversal->setImages(images, steps, labels);
}

void LatentPanel::showInterpolation(const TensorValue &images) { mInterp->setImages(images, int(images.dim(0))); }

int LatentPanel::traversalSteps() const { return mTravSteps->value(); }
double LatentPanel::traversalRange() const { return mTravRange->value(); }
int LatentPanel::interpolationSteps() const { return mInterpSteps->value(); }
InterpolationMode LatentPanel::interpolationMode() const { return mMode->currentIndex() ? InterpolationMode::Slerp : InterpolationMode::Lerp; }

std::vector<int> LatentPanel::traversalDims() const
{
    std::vector<int> dims;
    for (int d = 0; d < std::min(mDim, mTravDims->value()); ++d) dims.push_back(d);
    return dims;
}

}   // namespace pellucid
