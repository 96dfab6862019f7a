#include "widgets/latentpanel.h"

#include "engine/npy.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QScrollArea>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include <cmath>

namespace pellucid {
namespace {

QImage toImage(const TensorValue &t, int64_t index)
{
    const Shape &s = t.shape();
    const int c = int(s[1]), h = int(s[2]), w = int(s[3]);
    QImage img(w, h, QImage::Format_RGB32);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            auto px = [&](int ch) {
                const float v = t.at(((index * c + std::min(ch, c - 1)) * h + y) * w + x);
                return int(std::clamp(std::isfinite(v) ? v * 255.0f + 0.5f : 0.0f, 0.0f, 255.0f));
            };
            img.setPixel(x, y, qRgb(px(0), px(1), px(2)));
        }
    return img;
}

} // namespace

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

void ImageGrid::paintGrid(QPainter &p, const QRectF &rect, const QFont &font) const
{
    if (mImages.shape().size() != 4) return;
    const int n = int(mImages.dim(0)), rows = (n + mCols - 1) / mCols;
    p.setFont(font);
    const double labelW = mRowLabels.isEmpty() ? 0 : QFontMetricsF(font, p.device()).horizontalAdvance("dim 00") + 4;
    const double cell = std::min((rect.width() - labelW) / mCols, rect.height() / std::max(1, rows));
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    for (int i = 0; i < n; ++i) {
        const QRectF r(rect.left() + labelW + (i % mCols) * cell + 1, rect.top() + (i / mCols) * cell + 1, cell - 2, cell - 2);
        p.drawImage(r, toImage(mImages, i));
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
    auto *right = new QWidget(split);
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
    travBar->addWidget(mTravDims);
    travBar->addWidget(mTravSteps);
    travBar->addWidget(mTravRange);
    travBar->addWidget(trav);
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
    rl->addLayout(interpBar);
    mInterp = new ImageGrid(right);
    rl->addWidget(mInterp, 1);
    split->addWidget(scroll);
    split->addWidget(mDecoded);
    split->addWidget(right);
    split->setStretchFactor(2, 2);
    layout->addWidget(split, 1);
    connect(random, &QPushButton::clicked, this, [this] { emit randomRequested(mSeed->value(), mTruncation->value()); });
    connect(trav, &QPushButton::clicked, this, &LatentPanel::traversalRequested);
    connect(interp, &QPushButton::clicked, this, &LatentPanel::interpolationRequested);
    connect(setA, &QPushButton::clicked, this, [this] { mA = code(); });
    connect(setB, &QPushButton::clicked, this, [this] { mB = code(); });
}

void LatentPanel::setLatentDim(int dim, const QString &modelName)
{
    mDim = dim;
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
    mDecoded->setPixmap(QPixmap::fromImage(toImage(image, 0).scaled(mDecoded->size().boundedTo(QSize(360, 360)), Qt::KeepAspectRatio, Qt::FastTransformation)));
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

} // namespace pellucid
