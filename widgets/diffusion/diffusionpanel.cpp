#include "widgets/diffusion/diffusionpanel.h"

#include "engine/core/npy.h"
#include "widgets/common/colormap.h"
#include "widgets/latent/latentpanel.h"

#include <QButtonGroup>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QPainterPath>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTextStream>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace pellucid {

namespace {

/// Image `index` of a batch as [1, C, H, W].
TensorValue oneImage(const TensorValue &batch, int64_t index)
{
    if (batch.shape().size() != 4 || index < 0 || index >= batch.dim(0)) return {};
    return batch.rows(index, index + 1);
}

/// A [H, W] map as a translucent viridis image (divided by its maximum; values below a tenth of it clear).
QImage overlayOf(const TensorValue &map)
{
    if (map.shape().size() != 2 || map.numel() == 0) return {};
    const int h = int(map.dim(0)), w = int(map.dim(1));
    float mx = 0;
    for (int64_t i = 0; i < map.numel(); ++i)
        if (std::isfinite(map.at(i))) mx = std::max(mx, map.at(i));
    QImage img(w, h, QImage::Format_ARGB32);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const float v = map.at(int64_t(y) * w + x);
            const double t = mx > 0 && std::isfinite(v) ? std::clamp(double(v) / mx, 0.0, 1.0) : 0.0;
            const QRgb c = std::isfinite(v) ? viridis(t) : kNanColor;
            img.setPixel(x, y, qRgba(qRed(c), qGreen(c), qBlue(c), int(25 + 135 * t)));
        }
    return img;
}

const QColor kRegionColours[] = {QColor(31, 119, 180), QColor(214, 39, 40), QColor(44, 160, 44), QColor(148, 103, 189), QColor(255, 127, 14)};

/// Bars of each word's gradient norm and gradient × embedding.
class GradientBars : public QWidget {
public:
    explicit GradientBars(QWidget *parent = nullptr) : QWidget(parent) { setMinimumHeight(120); }
    void set(const QStringList &words, const std::vector<double> &norm, const std::vector<double> &gxi)
    {
        mWords = words;
        mNorm = norm;
        mGxi = gxi;
        update();
    }

protected:
    void paintEvent(QPaintEvent *) override
    {
        QPainter p(this);
        p.fillRect(rect(), palette().base());
        p.setPen(palette().text().color());
        if (mWords.isEmpty()) {
            p.drawText(rect(), Qt::AlignCenter, tr("Compute the gradient to see each word's share"));
            return;
        }
        const double n = std::max(1e-30, *std::max_element(mNorm.begin(), mNorm.end()));
        double g = 0;
        for (double v : mGxi) g = std::max(g, std::fabs(v));
        const int rowH = std::max(18, (height() - 20) / int(mWords.size())), labelW = 90;
        const double barW = (width() - labelW - 20) / 2.0;
        p.drawText(QRectF(labelW, 0, barW, 16), Qt::AlignCenter, tr("‖∂score/∂e‖"));
        p.drawText(QRectF(labelW + barW + 10, 0, barW, 16), Qt::AlignCenter, tr("e · ∂score/∂e"));
        for (int k = 0; k < mWords.size(); ++k) {
            const double y = 20 + k * rowH;
            p.setPen(palette().text().color());
            p.drawText(QRectF(0, y, labelW - 4, rowH - 4), Qt::AlignRight | Qt::AlignVCenter, mWords[k]);
            const double nv = size_t(k) < mNorm.size() ? mNorm[size_t(k)] / n : 0;
            p.fillRect(QRectF(labelW, y + 2, barW * nv, rowH - 6), QColor(31, 119, 180));
            const double gv = size_t(k) < mGxi.size() && g > 0 ? mGxi[size_t(k)] / g : 0;
            const double mid = labelW + barW + 10 + barW / 2;
            p.fillRect(QRectF(gv >= 0 ? mid : mid + gv * barW / 2, y + 2, std::fabs(gv) * barW / 2, rowH - 6),
                       gv >= 0 ? QColor(214, 39, 40) : QColor(44, 90, 200));
            p.setPen(Qt::gray);
            p.drawLine(QPointF(mid, y), QPointF(mid, y + rowH - 2));
        }
    }

private:
    QStringList mWords;
    std::vector<double> mNorm, mGxi;
    // The largest norm is the full bar (kept ≥ 1e-30: an all-zero gradient draws no bars rather than NaN).
};

}   // namespace

// --- DiffusionImageView ------------------------------------------------------------------------------------

DiffusionImageView::DiffusionImageView(QWidget *parent) : QWidget(parent)
{
    setMinimumSize(224, 130);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void DiffusionImageView::show(const TensorValue &image, const TensorValue &map, const QString &title)
{
    mImage = image.shape().size() == 3
        ? TensorValue({1, image.dim(0), image.dim(1), image.dim(2)}, std::vector<float>(image.data(), image.data() + image.numel()))
        : image;
    mMap = map;
    mTitle = title;
    mPicture = mImage.shape().size() == 4 && mImage.numel() ? generatedPicture(mImage, 0) : QImage();
    mOverlay = overlayOf(map);
    update();
}

double DiffusionImageView::figureAspect() const
{
    if (mPicture.isNull()) return 2.0;
    return double(mPicture.width()) / mPicture.height();
}

void DiffusionImageView::paintContent(QPainter &p, const QRectF &rect, const QFont &font) const
{
    p.setFont(font);
    const double titleH = mTitle.isEmpty() ? 0 : QFontMetricsF(font).height() + 2;
    if (!mTitle.isEmpty()) p.drawText(QRectF(rect.left(), rect.top(), rect.width(), titleH), Qt::AlignCenter, mTitle);
    if (mPicture.isNull()) return;
    const QRectF area = rect.adjusted(0, titleH, 0, 0);
    const double s = std::min(area.width() / mPicture.width(), area.height() / mPicture.height());
    const QRectF target(area.center().x() - s * mPicture.width() / 2, area.center().y() - s * mPicture.height() / 2, s * mPicture.width(),
                        s * mPicture.height());
    p.save();
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    p.drawImage(target, mPicture);
    if (!mOverlay.isNull()) p.drawImage(target, mOverlay);
    p.restore();
}

void DiffusionImageView::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    p.setPen(palette().text().color());
    if (mPicture.isNull()) {
        p.drawText(rect(), Qt::AlignCenter, tr("Type a prompt and Generate"));
        return;
    }
    paintContent(p, QRectF(rect()).adjusted(4, 4, -4, -4), font());
}

void DiffusionImageView::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const
{
    p.setPen(Qt::black);
    paintContent(p, rect, settings.font());
}

QStringList DiffusionImageView::writeRawData(const QString &base) const
{
    QStringList out;
    if (mImage.numel()) {
        writeNpy((base + ".npy").toStdString(), mImage);
        out << base + ".npy";
    }
    if (mMap.numel()) {
        writeNpy((base + "-map.npy").toStdString(), mMap);
        out << base + "-map.npy";
    }
    return out;
}

// --- LensChart ---------------------------------------------------------------------------------------------

LensChart::LensChart(QWidget *parent) : QWidget(parent) { setMinimumHeight(150); }

void LensChart::show(const QStringList &regions, const QStringList &labels, const TensorValue &probabilities)
{
    mRegions = regions;
    mLabels = labels;
    mProbs = probabilities;
    update();
}

std::vector<LensChart::Decided> LensChart::decided() const
{
    std::vector<Decided> out;
    if (mProbs.shape().size() != 3) return out;
    const int64_t N = mProbs.dim(0), R = mProbs.dim(1), C = mProbs.dim(2);
    auto argmax = [&](int64_t n, int64_t r) {
        int best = 0;
        for (int64_t c = 1; c < C; ++c)
            if (mProbs.at((n * R + r) * C + c) > mProbs.at((n * R + r) * C + best)) best = int(c);
        return best;
    };
    for (int64_t r = 0; r < R; ++r) {
        Decided d;
        d.cls = argmax(N - 1, r);
        d.step = int(N - 1);
        for (int64_t n = N - 1; n >= 0 && argmax(n, r) == d.cls; --n) d.step = int(n);
        out.push_back(d);
    }
    return out;
}

void LensChart::paintContent(QPainter &p, const QRectF &rect, const QFont &font) const
{
    p.setFont(font);
    const QFontMetricsF fm(font);
    if (mProbs.shape().size() != 3 || mProbs.dim(0) < 1) {
        p.drawText(rect, Qt::AlignCenter, tr("The trajectory lens needs a companion classifier"));
        return;
    }
    const int64_t N = mProbs.dim(0), R = mProbs.dim(1), C = mProbs.dim(2);
    const std::vector<Decided> dec = decided();
    const double left = fm.horizontalAdvance("0.00") + 6, bottom = fm.height() * 2 + 4, legendH = fm.height() * double(R) + 4;
    const QRectF plot(rect.left() + left, rect.top() + legendH, rect.width() - left - 6, rect.height() - legendH - bottom);
    const QColor axis = p.pen().color();
    p.drawRect(plot);
    for (double v : {0.0, 0.5, 1.0}) {
        const double y = plot.bottom() - v * plot.height();
        p.drawText(QRectF(rect.left(), y - fm.height() / 2, left - 4, fm.height()), Qt::AlignRight | Qt::AlignVCenter, QString::number(v, 'f', 1));
    }
    auto xOf = [&](int64_t n) { return N > 1 ? plot.left() + plot.width() * double(n) / double(N - 1) : plot.center().x(); };
    p.drawText(QRectF(plot.left(), plot.bottom() + 2, 40, fm.height()), Qt::AlignLeft, "1");
    p.drawText(QRectF(plot.right() - 40, plot.bottom() + 2, 40, fm.height()), Qt::AlignRight, QString::number(N));
    p.drawText(QRectF(plot.left(), plot.bottom() + 2 + fm.height(), plot.width(), fm.height()), Qt::AlignCenter,
               tr("step (x̂₀ through the classifier)"));
    p.save();
    p.setRenderHint(QPainter::Antialiasing);
    for (int64_t r = 0; r < R; ++r) {
        const QColor col = kRegionColours[r % 5];
        QPainterPath path;
        for (int64_t n = 0; n < N; ++n) {
            const QPointF pt(xOf(n), plot.bottom() - plot.height() * double(mProbs.at((n * R + r) * C + dec[size_t(r)].cls)));
            if (n == 0)
                path.moveTo(pt);
            else
                path.lineTo(pt);
        }
        p.setPen(QPen(col, 1.6));
        p.drawPath(path);
        p.setPen(QPen(col, 1, Qt::DashLine));
        p.drawLine(QPointF(xOf(dec[size_t(r)].step), plot.top()), QPointF(xOf(dec[size_t(r)].step), plot.bottom()));
        const QString region = r < mRegions.size() ? mRegions[int(r)] : tr("image");
        const QString label = dec[size_t(r)].cls < mLabels.size() ? mLabels[dec[size_t(r)].cls] : QString::number(dec[size_t(r)].cls);
        p.setPen(col);
        p.drawText(QRectF(plot.left(), rect.top() + fm.height() * double(r), plot.width(), fm.height()), Qt::AlignLeft,
                   tr("%1: p(%2) — decided at step %3 of %4").arg(region, label).arg(dec[size_t(r)].step + 1).arg(N));
    }
    p.restore();
    p.setPen(axis);
}

void LensChart::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    p.setPen(palette().text().color());
    paintContent(p, QRectF(rect()).adjusted(4, 4, -4, -4), font());
}

void LensChart::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const
{
    p.setPen(Qt::black);
    paintContent(p, rect, settings.font());
}

QStringList LensChart::writeRawData(const QString &base) const
{
    if (mProbs.numel() == 0) return {};
    writeNpy((base + ".npy").toStdString(), mProbs);
    QFile f(base + ".csv");
    if (!f.open(QIODevice::WriteOnly | QIODevice::Text)) return {base + ".npy"};
    QTextStream out(&f);
    const int64_t N = mProbs.dim(0), R = mProbs.dim(1), C = mProbs.dim(2);
    out << "step,region";
    for (int64_t c = 0; c < C; ++c) out << "," << (c < mLabels.size() ? mLabels[int(c)] : QString::number(c));
    out << "\n";
    for (int64_t n = 0; n < N; ++n)
        for (int64_t r = 0; r < R; ++r) {
            out << n + 1 << "," << (r < mRegions.size() ? mRegions[int(r)] : QString("image"));
            for (int64_t c = 0; c < C; ++c) out << "," << mProbs.at((n * R + r) * C + c);
            out << "\n";
        }
    return {base + ".npy", base + ".csv"};
}

// --- DiffusionPanel ----------------------------------------------------------------------------------------

DiffusionPanel::DiffusionPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    mStatus = new QLabel(tr("Open a diffusion denoiser (forward(x_t, t, cond) → ε, metadata role \"denoiser\")"));
    mStatus->setWordWrap(true);
    layout->addWidget(mStatus);

    auto *form = new QHBoxLayout;
    mPrompt = new QLineEdit;
    mPrompt->setPlaceholderText(tr("words of the vocabulary, or ids \"3,7\""));
    mPrompt->setObjectName("diffusionPrompt");
    form->addWidget(new QLabel(tr("Prompt")));
    form->addWidget(mPrompt, 3);
    mSeed = new QSpinBox;
    mSeed->setRange(0, 1000000);
    mSeed->setPrefix(tr("seed "));
    mSteps = new QSpinBox;
    mSteps->setRange(1, 1000);
    mSteps->setValue(50);
    mSteps->setSuffix(tr(" steps"));
    mSampler = new QComboBox;
    mSampler->addItem("DDIM", "ddim");
    mSampler->addItem("DDPM", "ddpm");
    mGuidance = new QDoubleSpinBox;
    mGuidance->setRange(0, 30);
    mGuidance->setSingleStep(0.5);
    mGuidance->setValue(1.0);
    mGuidance->setPrefix(tr("guidance "));
    mGenerate = new QPushButton(tr("Generate"));
    for (QWidget *w : std::initializer_list<QWidget *>{mSeed, mSteps, mSampler, mGuidance, mGenerate}) form->addWidget(w);
    layout->addLayout(form);
    mVocab = new QLabel;
    mVocab->setWordWrap(true);
    mVocab->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(mVocab);
    connect(mPrompt, &QLineEdit::returnPressed, this, [this] {
        if (!mRunning && mAvailable) emit generateRequested();
    });
    connect(mGenerate, &QPushButton::clicked, this, [this] {
        if (mRunning)
            emit stopRequested();
        else
            emit generateRequested();
    });

    auto *split = new QSplitter(Qt::Vertical);
    auto *top = new QWidget;
    auto *topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    mView = new DiffusionImageView;
    topLayout->addWidget(mView, 1);
    auto *stepRow = new QHBoxLayout;
    mShow = new QComboBox;
    mShow->addItem(tr("x̂₀ (predicted image)"));
    mShow->addItem(tr("x_t (noisy state)"));
    mStepSlider = new QSlider(Qt::Horizontal);
    mStepSlider->setRange(0, 0);
    mStepLabel = new QLabel(tr("step –"));
    mExportAnim = new QPushButton(tr("Trajectory as GIF/MP4…"));
    stepRow->addWidget(mShow);
    stepRow->addWidget(mStepSlider, 1);
    stepRow->addWidget(mStepLabel);
    stepRow->addWidget(mExportAnim);
    topLayout->addLayout(stepRow);
    connect(mShow, &QComboBox::currentIndexChanged, this, [this] { refreshImage(); });
    connect(mStepSlider, &QSlider::valueChanged, this, [this] { refreshImage(); });
    connect(mExportAnim, &QPushButton::clicked, this, &DiffusionPanel::animationExportRequested);

    // Words (click one: its heat map over the image) and the filters of the maps.
    mWordRow = new QHBoxLayout;
    mWordRow->addWidget(new QLabel(tr("Heat map of")));
    mWordRow->addStretch(1);
    topLayout->addLayout(mWordRow);
    auto *filters = new QHBoxLayout;
    mFrom = new QSpinBox;
    mFrom->setPrefix(tr("steps "));
    mTo = new QSpinBox;
    mTo->setPrefix(tr("to "));
    mSite = new QComboBox;
    mHead = new QComboBox;
    mSite->addItem(tr("all sites"), -1);
    mHead->addItem(tr("all heads"), -1);
    mSite->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    mHead->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    for (QWidget *w : std::initializer_list<QWidget *>{mFrom, mTo, mSite, mHead}) filters->addWidget(w);
    filters->addStretch(1);
    topLayout->addLayout(filters);
    auto changed = [this] {
        if (mTrajectory.numel()) emit mapsRequested();
    };
    connect(mFrom, &QSpinBox::valueChanged, this, [this](int v) {
        if (mTo->value() < v) mTo->setValue(v);   // the range never runs backwards
    });
    connect(mTo, &QSpinBox::valueChanged, this, [this](int v) {
        if (mFrom->value() > v) mFrom->setValue(v);
    });
    connect(mFrom, &QSpinBox::valueChanged, this, changed);
    connect(mTo, &QSpinBox::valueChanged, this, changed);
    connect(mSite, &QComboBox::currentIndexChanged, this, changed);
    connect(mHead, &QComboBox::currentIndexChanged, this, changed);
    split->addWidget(top);

    mTabs = new QTabWidget;
    mTabs->addTab(buildLensTab(), tr("Trajectory lens"));
    mTabs->addTab(buildReweightTab(), tr("Re-weight"));
    mTabs->addTab(buildGradientTab(), tr("Gradient"));
    mTabs->addTab(buildGalleryTab(), tr("Seeds"));
    split->addWidget(mTabs);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);
    setAvailable(false, mStatus->text());
}

QWidget *DiffusionPanel::buildLensTab()
{
    auto *w = new QWidget;
    auto *l = new QVBoxLayout(w);
    mLensSummary = new QLabel(tr("Each step's x̂₀ (each region of it) through the companion classifier: when the picture is decided."));
    mLensSummary->setWordWrap(true);
    mLens = new LensChart;
    l->addWidget(mLensSummary);
    l->addWidget(mLens, 1);
    return w;
}

QWidget *DiffusionPanel::buildReweightTab()
{
    auto *w = new QWidget;
    auto *l = new QVBoxLayout(w);
    auto *row = new QHBoxLayout;
    mReweightWord = new QComboBox;
    mFactor = new QSlider(Qt::Horizontal);
    mFactor->setRange(0, 50);   // ×0.0 … ×5.0 in tenths
    mFactor->setValue(20);
    mFactorLabel = new QLabel("×2.0");
    auto *go = new QPushButton(tr("Regenerate"));
    row->addWidget(new QLabel(tr("Word")));
    row->addWidget(mReweightWord);
    row->addWidget(new QLabel(tr("attention")));
    row->addWidget(mFactor, 1);
    row->addWidget(mFactorLabel);
    row->addWidget(go);
    l->addLayout(row);
    mReweightGrid = new ImageGrid;
    l->addWidget(mReweightGrid, 1);
    mReweightSummary = new QLabel(tr("Prompt-to-prompt re-weighting: one word's cross-attention times a factor at every site and step, the "
                                     "same seed — original, re-weighted and their difference."));
    mReweightSummary->setWordWrap(true);
    l->addWidget(mReweightSummary);
    connect(mFactor, &QSlider::valueChanged, this, [this](int v) { mFactorLabel->setText(QString("×%1").arg(v / 10.0, 0, 'f', 1)); });
    connect(mFactor, &QSlider::sliderReleased, this, [this] {
        if (mAvailable && !mRunning && mTrajectory.numel()) emit reweightRequested();
    });
    connect(go, &QPushButton::clicked, this, [this] {
        if (mAvailable) emit reweightRequested();
    });
    return w;
}

QWidget *DiffusionPanel::buildGradientTab()
{
    auto *w = new QWidget;
    auto *l = new QVBoxLayout(w);
    auto *row = new QHBoxLayout;
    mGradRegion = new QComboBox;
    mGradSteps = new QSpinBox;
    mGradSteps->setRange(1, 1000);
    mGradSteps->setValue(5);
    mGradSteps->setPrefix(tr("through the last "));
    mGradSteps->setSuffix(tr(" steps"));
    auto *go = new QPushButton(tr("Compute"));
    row->addWidget(new QLabel(tr("Score: p(class) of")));
    row->addWidget(mGradRegion);
    row->addWidget(mGradSteps);
    row->addWidget(go);
    row->addStretch(1);
    l->addLayout(row);
    auto *bars = new GradientBars;
    mGradientBars = bars;
    l->addWidget(bars, 1);
    mGradientSummary = new QLabel(tr("The gradient of a region's class probability (its mean pixel without a classifier) with respect to each "
                                     "word's embedding."));
    mGradientSummary->setWordWrap(true);
    l->addWidget(mGradientSummary);
    connect(go, &QPushButton::clicked, this, [this] {
        if (mAvailable) emit gradientRequested();
    });
    return w;
}

QWidget *DiffusionPanel::buildGalleryTab()
{
    auto *w = new QWidget;
    auto *l = new QVBoxLayout(w);
    auto *row = new QHBoxLayout;
    mGalleryCount = new QSpinBox;
    mGalleryCount->setRange(2, 64);
    mGalleryCount->setValue(8);
    mGalleryCount->setSuffix(tr(" seeds"));
    auto *go = new QPushButton(tr("Sample"));
    row->addWidget(mGalleryCount);
    row->addWidget(go);
    row->addWidget(new QLabel(tr("from the seed above; click one to make it the seed")));
    row->addStretch(1);
    l->addLayout(row);
    mGallery = new ImageGrid;
    l->addWidget(mGallery, 1);
    connect(go, &QPushButton::clicked, this, [this] {
        if (mAvailable) emit galleryRequested();
    });
    connect(mGallery, &ImageGrid::clicked, this, [this](int i) {
        bool ok = false;
        const int first = mGallery->property("firstSeed").toInt(&ok);
        if (ok && i >= 0) mSeed->setValue(first + i);
    });
    return w;
}

void DiffusionPanel::setAvailable(bool available, const QString &message)
{
    mAvailable = available;
    mStatus->setText(message);
    mGenerate->setEnabled(available);
    mPrompt->setEnabled(available);
    mTabs->setEnabled(available);
    if (!available) {
        mTrajectory = mStates = mMaps = TensorValue();
        mView->show({}, {}, {});
        mLens->show({}, {}, {});
        mWords.clear();
        rebuildWords();
    }
}

void DiffusionPanel::setModel(const QStringList &vocabulary, const QStringList &regions, int promptLength)
{
    mVocab->setText(
        tr("Vocabulary: %1%2").arg(vocabulary.join(", ")).arg(promptLength > 0 ? tr(" — prompts of %1 words").arg(promptLength) : QString()));
    mRegions = regions;
    mGradRegion->clear();
    mGradRegion->addItem(tr("the whole image"), -1);
    for (int r = 0; r < regions.size(); ++r) mGradRegion->addItem(regions[r], r);
    if (!regions.isEmpty()) mGradRegion->setCurrentIndex(1);
}

DiffusionControls DiffusionPanel::controls() const
{
    DiffusionControls c;
    c.prompt = mPrompt->text().trimmed();
    c.seed = mSeed->value();
    c.steps = mSteps->value();
    c.sampler = mSampler->currentData().toString();
    c.guidance = mGuidance->value();
    return c;
}

void DiffusionPanel::setControls(const DiffusionControls &c)
{
    mPrompt->setText(c.prompt);
    mSeed->setValue(c.seed);
    mSteps->setValue(c.steps);
    mSampler->setCurrentIndex(std::max(0, mSampler->findData(c.sampler)));
    mGuidance->setValue(c.guidance);
}

void DiffusionPanel::setRunning(bool running)
{
    mRunning = running;
    mGenerate->setText(running ? tr("Stop") : tr("Generate"));
    if (running) mStreamed = -1;
}

void DiffusionPanel::showMessage(const QString &message) { mStatus->setText(message); }

void DiffusionPanel::showStep(int step, int total, const TensorValue &xt, const TensorValue &x0)
{
    mStreamXt = xt;
    mStreamX0 = x0;
    mStreamed = step;
    mStepLabel->setText(tr("step %1 / %2").arg(step + 1).arg(total));
    mView->show(mShow->currentIndex() == 1 ? xt : x0, {}, tr("step %1 / %2 — %3").arg(step + 1).arg(total).arg(mShow->currentText()));
}

void DiffusionPanel::showRun(const TensorValue &trajectory, const TensorValue &states, const QStringList &words, int crossSites, int heads)
{
    mTrajectory = trajectory;
    mStates = states;
    mStreamed = -1;
    const int n = trajectory.shape().size() == 4 ? int(trajectory.dim(0)) : 0;
    {
        const QSignalBlocker b1(mStepSlider), b2(mFrom), b3(mTo), b4(mSite), b5(mHead);
        mStepSlider->setRange(0, std::max(0, n - 1));
        mStepSlider->setValue(std::max(0, n - 1));
        mFrom->setRange(1, std::max(1, n));
        mTo->setRange(1, std::max(1, n));
        mFrom->setValue(1);
        mTo->setValue(std::max(1, n));
        mSite->clear();
        mSite->addItem(tr("all sites"), -1);
        for (int s = 0; s < crossSites; ++s) mSite->addItem(tr("cross site %1").arg(s), s);
        mHead->clear();
        mHead->addItem(tr("all heads"), -1);
        for (int h = 0; h < heads; ++h) mHead->addItem(tr("head %1").arg(h), h);
    }
    if (words != mWords) {
        mWords = words;
        if (mWord >= words.size()) mWord = -1;
        rebuildWords();
    }
    const int keep = mReweightWord->currentIndex();
    mReweightWord->clear();
    for (int k = 0; k < words.size(); ++k) mReweightWord->addItem(QString("%1 (%2)").arg(words[k]).arg(k), k);
    if (keep >= 0 && keep < words.size()) mReweightWord->setCurrentIndex(keep);
    refreshImage();
}

void DiffusionPanel::rebuildWords()
{
    for (QPushButton *b : mWordButtons) delete b;
    mWordButtons.clear();
    for (int k = 0; k < mWords.size(); ++k) {
        auto *b = new QPushButton(mWords[k]);
        b->setCheckable(true);
        b->setChecked(k == mWord);
        b->setIconSize(QSize(48, 24));
        connect(b, &QPushButton::clicked, this, [this, k] { selectWord(mWord == k ? -1 : k); });
        mWordRow->insertWidget(1 + k, b);
        mWordButtons << b;
    }
}

void DiffusionPanel::selectWord(int k)
{
    mWord = k >= 0 && k < mWords.size() ? k : -1;
    for (int i = 0; i < mWordButtons.size(); ++i) mWordButtons[i]->setChecked(i == mWord);
    refreshImage();
}

void DiffusionPanel::showMaps(const TensorValue &maps)
{
    mMaps = maps;
    // Each word's button shows its map as an icon.
    for (int k = 0; k < mWordButtons.size(); ++k) {
        if (maps.shape().size() != 3 || k >= maps.dim(0)) continue;
        const TensorValue one = maps.slice0(k);
        const QImage img = overlayOf(one);
        QImage opaque(img.size(), QImage::Format_RGB32);
        opaque.fill(Qt::black);
        QPainter p(&opaque);
        p.drawImage(0, 0, img);
        p.end();
        mWordButtons[k]->setIcon(QIcon(QPixmap::fromImage(opaque.scaled(48, 24, Qt::KeepAspectRatio))));
    }
    refreshImage();
}

void DiffusionPanel::refreshImage()
{
    const int n = mTrajectory.shape().size() == 4 ? int(mTrajectory.dim(0)) : 0;
    if (n == 0) return;
    const int step = std::clamp(mStepSlider->value(), 0, n - 1);
    mStepLabel->setText(tr("step %1 / %2").arg(step + 1).arg(n));
    const TensorValue img = oneImage(mShow->currentIndex() == 1 ? mStates : mTrajectory, step);
    TensorValue map;
    QString title = tr("step %1 / %2 — %3").arg(step + 1).arg(n).arg(mShow->currentText());
    if (mWord >= 0 && mMaps.shape().size() == 3 && mWord < mMaps.dim(0)) {
        map = mMaps.slice0(mWord);
        const MapFilter f = mapFilter();
        title = tr("“%1” — steps %2–%3, %4, %5")
                    .arg(mWords.value(mWord))
                    .arg(f.stepFrom + 1)
                    .arg(f.stepTo < 0 ? n : f.stepTo + 1)
                    .arg(mSite->currentText(), mHead->currentText());
    }
    mView->show(img, map, title);
}

void DiffusionPanel::showLens(const QStringList &regions, const QStringList &labels, const TensorValue &probabilities)
{
    mLens->show(regions, labels, probabilities);
    QStringList parts;
    const auto dec = mLens->decided();
    for (size_t r = 0; r < dec.size(); ++r)
        parts << tr("%1 is a %2 from step %3")
                     .arg(int(r) < regions.size() ? regions[int(r)] : tr("the image"), labels.value(dec[r].cls, QString::number(dec[r].cls)))
                     .arg(dec[r].step + 1);
    mLensSummary->setText(parts.isEmpty() ? tr("No companion classifier: the lens is not available") : parts.join("; "));
}

void DiffusionPanel::showReweight(const TensorValue &original, const TensorValue &edited, const QString &summary)
{
    // Original, re-weighted and |difference| (scaled to its maximum) side by side.
    std::vector<float> all(original.data(), original.data() + original.numel());
    all.insert(all.end(), edited.data(), edited.data() + edited.numel());
    float mx = 0;
    for (int64_t i = 0; i < original.numel(); ++i) mx = std::max(mx, std::fabs(original.at(i) - edited.at(i)));
    for (int64_t i = 0; i < original.numel(); ++i) all.push_back(mx > 0 ? std::fabs(original.at(i) - edited.at(i)) / mx : 0.f);
    Shape s = original.shape();
    s[0] = 3;
    mReweightGrid->setImages(TensorValue(s, std::move(all)), 3, {}, tr("original · re-weighted · |difference|"));
    mReweightSummary->setText(summary);
}

void DiffusionPanel::showGradient(const QStringList &words, const std::vector<double> &norm, const std::vector<double> &gradTimesInput,
                                  const QString &summary)
{
    mGradWords = words;
    mGradNorm = norm;
    mGradGxi = gradTimesInput;
    static_cast<GradientBars *>(mGradientBars)->set(words, norm, gradTimesInput);
    mGradientSummary->setText(summary);
}

QString DiffusionPanel::gradientText() const
{
    QStringList parts;
    for (int k = 0; k < mGradWords.size(); ++k)
        parts << QString("%1 %2 %3").arg(mGradWords[k]).arg(mGradNorm[size_t(k)], 0, 'g', 4).arg(mGradGxi[size_t(k)], 0, 'g', 4);
    return parts.join("; ");
}

void DiffusionPanel::showGallery(const TensorValue &images, int firstSeed)
{
    mGallery->setProperty("firstSeed", firstSeed);
    mGallery->setImages(images, std::min<int>(8, int(images.dim(0))), {}, tr("seeds %1–%2").arg(firstSeed).arg(firstSeed + int(images.dim(0)) - 1));
}

void DiffusionPanel::showTabMessage(const QString &tab, const QString &message)
{
    if (tab == "reweight")
        mReweightSummary->setText(message);
    else if (tab == "gradient")
        mGradientSummary->setText(message);
    else if (tab == "lens")
        mLensSummary->setText(message);
    else
        mStatus->setText(message);
}

DiffusionPanel::MapFilter DiffusionPanel::mapFilter() const
{
    MapFilter f;
    f.stepFrom = mFrom->value() - 1;
    f.stepTo = mTo->value() >= mTo->maximum() ? -1 : mTo->value() - 1;
    f.site = mSite->currentData().isValid() ? mSite->currentData().toInt() : -1;
    f.head = mHead->currentData().isValid() ? mHead->currentData().toInt() : -1;
    return f;
}

void DiffusionPanel::setMapFilter(const MapFilter &f)
{
    mFrom->setValue(f.stepFrom + 1);
    mTo->setValue(f.stepTo < 0 ? mTo->maximum() : f.stepTo + 1);
    mSite->setCurrentIndex(std::max(0, mSite->findData(f.site)));
    mHead->setCurrentIndex(std::max(0, mHead->findData(f.head)));
}

int DiffusionPanel::shownStep() const { return mStepSlider->value(); }
void DiffusionPanel::showStepAt(int step) { mStepSlider->setValue(step); }
bool DiffusionPanel::showingStates() const { return mShow->currentIndex() == 1; }
int DiffusionPanel::reweightWord() const { return mReweightWord->currentIndex(); }
double DiffusionPanel::reweightFactor() const { return mFactor->value() / 10.0; }
void DiffusionPanel::setReweight(int word, double factor)
{
    if (word >= 0 && word < mReweightWord->count()) mReweightWord->setCurrentIndex(word);
    mFactor->setValue(int(std::lround(factor * 10)));
}
int DiffusionPanel::gradientSteps() const { return mGradSteps->value(); }
int DiffusionPanel::gradientRegion() const { return mGradRegion->currentData().isValid() ? mGradRegion->currentData().toInt() : -1; }
int DiffusionPanel::galleryCount() const { return mGalleryCount->value(); }

}   // namespace pellucid
