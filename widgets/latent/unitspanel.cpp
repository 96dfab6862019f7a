#include "widgets/latent/unitspanel.h"

#include "widgets/common/colormap.h"
#include "widgets/common/dissectionview.h"
#include "widgets/common/maskeditor.h"
#include "widgets/latent/latentpanel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

namespace pellucid {

UnitsPanel::UnitsPanel(QWidget *parent) : QWidget(parent)
{
    auto *l = new QVBoxLayout(this);
    mView = new DissectionView(this);
    auto *bar = new QHBoxLayout;
    mLayer = new QComboBox(this);
    mLayer->setToolTip(tr("The generator layer whose units (channels) are dissected"));
    mCount = new QSpinBox(this);
    mCount->setRange(10, 2000);
    mCount->setValue(100);
    mCount->setSuffix(tr(" codes"));
    mSeed = new QSpinBox(this);
    mSeed->setRange(0, 1000000);
    mSeed->setPrefix(tr("seed "));
    mDissect = new QPushButton(tr("Dissect"), this);
    bar->addWidget(new QLabel(tr("Layer"), this));
    bar->addWidget(mLayer);
    bar->addWidget(mCount);
    bar->addWidget(mSeed);
    bar->addWidget(new QLabel(tr("sort by effect on"), this));
    bar->addWidget(mView->sortChooser());
    bar->addWidget(mDissect);
    bar->addStretch(1);
    l->addLayout(bar);
    mStatus = new QLabel(tr("Units of a generator layer: what each draws, and how much the classifier's verdict depends on it."), this);
    mStatus->setWordWrap(true);
    l->addWidget(mStatus);
    l->addWidget(mView, 1);

    auto *paintHost = new QWidget(this);
    auto *paintRow = new QHBoxLayout(paintHost);
    paintRow->setContentsMargins(0, 0, 0, 0);
    mPaint = new MaskEditor(paintHost);
    mPaint->setMinimumSize(150, 150);
    paintRow->addWidget(mPaint, 1);
    auto *tools = new QVBoxLayout;
    mBrush = new QSpinBox(paintHost);
    mBrush->setRange(1, 64);
    mBrush->setValue(3);
    mBrush->setPrefix(tr("brush "));
    connect(mBrush, &QSpinBox::valueChanged, mPaint, &MaskEditor::setBrushRadius);
    mPaint->setBrushRadius(3);
    auto *clear = new QPushButton(tr("Clear region"), this);
    connect(clear, &QPushButton::clicked, mPaint, &MaskEditor::clear);
    mRemove = new QPushButton(tr("Remove units here"), this);
    mRemove->setToolTip(tr("Set the selected units to 0 inside the painted region (everywhere when none is painted)"));
    mInsert = new QPushButton(tr("Insert units here"), this);
    mInsert->setToolTip(tr("Set the selected units to their 99th percentile inside the painted region"));
    tools->addWidget(mBrush);
    tools->addWidget(clear);
    tools->addWidget(mRemove);
    tools->addWidget(mInsert);
    tools->addStretch(1);
    paintRow->addLayout(tools);
    auto *result = new QVBoxLayout;
    mEdited = new ImageGrid(this);
    mEdited->setMinimumSize(200, 110);
    result->addWidget(mEdited, 1);
    mVerdict = new QLabel(this);
    mVerdict->setWordWrap(true);
    result->addWidget(mVerdict);
    paintRow->addLayout(result, 3);
    mView->addBelowPlots(paintHost, 1);

    connect(mDissect, &QPushButton::clicked, this, &UnitsPanel::dissectRequested);
    connect(mRemove, &QPushButton::clicked, this, [this] { emit editRequested(false); });
    connect(mInsert, &QPushButton::clicked, this, [this] { emit editRequested(true); });
    connect(mView, &DissectionView::resorted, this, [this] {
        if (mView->hasUnits()) mStatus->setText(mView->summary() + tr(" Click units to select them, paint a region, then remove or insert them."));
    });
    connect(mView, &DissectionView::selectionChanged, this, [this] {
        const bool any = !mView->selectedUnits().empty();
        mRemove->setEnabled(any);
        mInsert->setEnabled(any);
    });
    mRemove->setEnabled(false);
    mInsert->setEnabled(false);
}

void UnitsPanel::setLayers(const QStringList &layers, const QString &preferred)
{
    const QSignalBlocker b(mLayer);
    mLayer->clear();
    mLayer->addItems(layers);
    if (!preferred.isEmpty() && layers.contains(preferred)) mLayer->setCurrentText(preferred);
}

void UnitsPanel::setClassLabels(const QStringList &labels) { mView->setClassLabels(labels); }

UnitsPanel::Request UnitsPanel::request() const { return {mLayer->currentText(), mCount->value(), mSeed->value()}; }

void UnitsPanel::setRequest(const Request &r)
{
    if (mLayer->findText(r.layer) >= 0) mLayer->setCurrentText(r.layer);
    mCount->setValue(r.count);
    mSeed->setValue(r.seed);
}

void UnitsPanel::setSortClass(int k) { mView->setSortClass(k); }

int UnitsPanel::sortClass() const { return mView->sortClass(); }
bool UnitsPanel::hasUnits() const { return mView->hasUnits(); }
const UnitMaps &UnitsPanel::maps() const { return mView->maps(); }
const Dissection &UnitsPanel::dissection() const { return mView->dissection(); }
UnitGallery *UnitsPanel::gallery() const { return mView->gallery(); }
QCustomPlot *UnitsPanel::effectPlot() const { return mView->effectPlot(); }
QCustomPlot *UnitsPanel::curvePlot() const { return mView->curvePlot(); }
std::vector<int64_t> UnitsPanel::selectedUnits() const { return mView->selectedUnits(); }
void UnitsPanel::selectUnits(const std::set<int64_t> &units) { mView->selectUnits(units); }

void UnitsPanel::showUnits(const UnitMaps &maps, const Dissection &d) { mView->showUnits(maps, d); }

void UnitsPanel::setImage(const TensorValue &image)
{
    if (image.shape().size() != 4) return;
    mPaint->setBackground(generatedPicture(image, 0));
}

void UnitsPanel::showEdit(const TensorValue &pair, const QString &verdict)
{
    mEdited->setImages(pair, int(pair.dim(0)), {}, tr("original · edited"));
    mVerdict->setText(verdict);
}

void UnitsPanel::showError(const QString &message) { mStatus->setText(QString("<span style='color:#b00'>%1</span>").arg(message.toHtmlEscaped())); }

void UnitsPanel::showStatus(const QString &message) { mStatus->setText(message.toHtmlEscaped()); }

TensorValue UnitsPanel::layerMask() const
{
    const int64_t h = maps().layer.height, w = maps().layer.width;
    const int W = mPaint->maskWidth(), H = mPaint->maskHeight();
    if (h <= 0 || w <= 0 || W <= 0 || H <= 0 || mPaint->area() == 0) return {};
    const std::vector<uint8_t> &m = mPaint->mask();
    std::vector<float> out(size_t(h * w), 0.0f);
    for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j) {
            // The picture's pixels that fall in layer cell (i, j).
            const int y0 = int(i * H / h), y1 = int(std::max<int64_t>((i + 1) * H / h, y0 + 1));
            const int x0 = int(j * W / w), x1 = int(std::max<int64_t>((j + 1) * W / w, x0 + 1));
            int on = 0, all = 0;
            for (int y = y0; y < std::min(y1, H); ++y)
                for (int x = x0; x < std::min(x1, W); ++x) {
                    on += m[size_t(y * W + x)] ? 1 : 0;
                    ++all;
                }
            out[size_t(i * w + j)] = all > 0 && 2 * on >= all ? 1.0f : 0.0f;
        }
    return TensorValue({h, w}, std::move(out));
}

std::vector<double> UnitsPanel::insertValues() const
{
    std::vector<double> v;
    for (int64_t u : selectedUnits()) v.push_back(size_t(u) < maps().quantile.size() ? maps().quantile[size_t(u)] : 0.0);
    return v;
}

}   // namespace pellucid
