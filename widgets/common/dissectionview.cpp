#include "widgets/common/dissectionview.h"

#include "engine/core/npy.h"
#include "widgets/common/colormap.h"

#include "widgets/common/plot.h"
#include <qcustomplot.h>

#include <QComboBox>
#include <QFile>
#include <QHBoxLayout>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollArea>
#include <QSplitter>
#include <QTextStream>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace pellucid {

namespace {
constexpr double kThumb = 40;   // px: a map or a sample in a gallery cell
constexpr double kGap = 6;
constexpr double kLabel = 14;
}   // namespace

UnitGallery::UnitGallery(QWidget *parent) : QWidget(parent)
{
    setMinimumSize(200, 80);
    QSizePolicy p(QSizePolicy::Expanding, QSizePolicy::Preferred);
    p.setHeightForWidth(true);
    setSizePolicy(p);
}

void UnitGallery::setUnits(const UnitMaps &maps, const std::vector<int64_t> &order, const std::vector<double> &score, int samplesPerUnit)
{
    mMaps.clear();
    mSamples.clear();
    mOrder = order;
    mScore = score;
    mMeanMaps = maps.meanMaps;
    const int64_t U = maps.layer.units, h = maps.layer.height, w = maps.layer.width;
    for (int64_t u = 0; u < U; ++u) {
        const float *m = maps.meanMaps.data() + u * h * w;
        float lo = 0, hi = 0;
        for (int64_t i = 0; i < h * w; ++i) hi = std::max(hi, m[i]), lo = std::min(lo, m[i]);
        mMaps.push_back(renderPlane(m, int(h), int(w), lo, hi > lo ? hi : lo + 1));
        std::vector<QImage> s;
        for (size_t i = 0; i < std::min<size_t>(size_t(samplesPerUnit), maps.topSamples[size_t(u)].size()); ++i)
            s.push_back(generatedPicture(maps.images, maps.topSamples[size_t(u)][i]));
        mSamples.push_back(std::move(s));
    }
    std::set<int64_t> keep;
    for (int64_t u : mSelected)
        if (u < U) keep.insert(u);
    mSelected = keep;
    updateGeometry();
    update();
}

void UnitGallery::setSelected(const std::set<int64_t> &units)
{
    mSelected = units;
    update();
    emit selectionChanged();
}

double UnitGallery::cellWidth() const
{
    size_t samples = 0;
    for (const auto &s : mSamples) samples = std::max(samples, s.size());
    return kThumb * double(1 + samples) + 2 * double(samples) + 2 * kGap;
}

double UnitGallery::cellHeight() const { return kThumb + kLabel + 2 * kGap; }

int UnitGallery::columnsFor(double width) const { return std::max(1, int(width / cellWidth())); }

QRect UnitGallery::cellRect(int index) const
{
    const int cols = columnsFor(width());
    return QRect(int((index % cols) * cellWidth()), int((index / cols) * cellHeight()), int(cellWidth()), int(cellHeight()));
}

int UnitGallery::heightForWidth(int w) const
{
    if (mOrder.empty()) return 80;
    const int cols = columnsFor(w);
    return int(std::ceil(double(mOrder.size()) / cols) * cellHeight());
}

QSize UnitGallery::sizeHint() const { return {int(cellWidth() * 3), heightForWidth(int(cellWidth() * 3))}; }

void UnitGallery::resizeEvent(QResizeEvent *e)
{
    QWidget::resizeEvent(e);
    const int h = heightForWidth(width());
    if (h != minimumHeight()) setMinimumHeight(h);
}

int64_t UnitGallery::unitAt(const QPoint &pos) const
{
    for (size_t i = 0; i < mOrder.size(); ++i)
        if (cellRect(int(i)).contains(pos)) return mOrder[i];
    return -1;
}

void UnitGallery::mousePressEvent(QMouseEvent *e)
{
    const int64_t u = unitAt(e->pos());
    if (u < 0) return;
    if (mSelected.count(u))
        mSelected.erase(u);
    else
        mSelected.insert(u);
    update();
    emit unitClicked(u);
    emit selectionChanged();
}

void UnitGallery::paintCells(QPainter &p, const QRectF &rect, const QFont &font, int cols, double cellW, bool forFigure,
                             const std::vector<int64_t> &order) const
{
    const double scale = cellW / cellWidth();
    const double cellH = cellHeight() * scale, thumb = kThumb * scale, gap = kGap * scale;
    p.setFont(font);
    for (size_t i = 0; i < order.size(); ++i) {
        const int64_t u = order[i];
        const QRectF cell(rect.left() + double(i % size_t(cols)) * cellW, rect.top() + double(i / size_t(cols)) * cellH, cellW, cellH);
        if (!forFigure && mSelected.count(u)) {
            p.setPen(QPen(QColor(230, 120, 0), 2));
            p.setBrush(QColor(255, 240, 220));
            p.drawRect(cell.adjusted(1, 1, -1, -1));
        }
        double x = cell.left() + gap;
        const double y = cell.top() + gap;
        p.drawImage(QRectF(x, y, thumb, thumb), mMaps[size_t(u)]);
        x += thumb + 2 * scale;
        for (const QImage &s : mSamples[size_t(u)]) {
            p.drawImage(QRectF(x, y, thumb, thumb), s);
            x += thumb + 2 * scale;
        }
        p.setPen(forFigure ? Qt::black : palette().color(QPalette::WindowText));
        const QString score =
            size_t(u) < mScore.size() ? QString("  Δp %1%2").arg(mScore[size_t(u)] >= 0 ? "+" : "").arg(mScore[size_t(u)], 0, 'f', 4) : QString();
        p.drawText(QRectF(cell.left() + gap, y + thumb, cellW - 2 * gap, kLabel * scale), Qt::AlignLeft | Qt::AlignVCenter,
                   QString("unit %1%2").arg(u).arg(score));
    }
}

void UnitGallery::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().color(QPalette::Base));
    if (mOrder.empty()) {
        p.drawText(rect(), Qt::AlignCenter, tr("Dissect a layer to see its units"));
        return;
    }
    QFont f = font();
    f.setPointSizeF(7.5);
    paintCells(p, rect(), f, columnsFor(width()), cellWidth(), false, mOrder);
}

double UnitGallery::figureAspect() const
{
    const size_t n = std::max<size_t>(1, std::min<size_t>(mOrder.size(), 24));
    const int cols = 4;
    const double rows = std::ceil(double(n) / cols);
    return cols * cellWidth() / (rows * cellHeight());
}

void UnitGallery::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const
{
    // The first 24 units of the order (the most effective), 4 per row.
    const int cols = 4;
    const std::vector<int64_t> first(mOrder.begin(), mOrder.begin() + long(std::min<size_t>(mOrder.size(), 24)));
    paintCells(p, rect, settings.font(), cols, rect.width() / cols, true, first);
}

QStringList UnitGallery::writeRawData(const QString &base) const
{
    if (mMeanMaps.numel() == 0) return {};
    QStringList files;
    writeNpy((base + "_mean_maps.npy").toStdString(), mMeanMaps);
    files << base + "_mean_maps.npy";
    QFile f(base + "_units.csv");
    if (f.open(QIODevice::WriteOnly | QIODevice::Text)) {
        QTextStream out(&f);
        out << "rank,unit,effect\n";
        for (size_t i = 0; i < mOrder.size(); ++i)
            out << i << "," << mOrder[i] << "," << (size_t(mOrder[i]) < mScore.size() ? mScore[size_t(mOrder[i])] : 0.0) << "\n";
        files << f.fileName();
    }
    return files;
}

// --- the view -----------------------------------------------------------------------------------------------

DissectionView::DissectionView(QWidget *parent) : QWidget(parent)
{
    auto *l = new QHBoxLayout(this);
    l->setContentsMargins(0, 0, 0, 0);
    auto *split = new QSplitter(Qt::Horizontal, this);
    auto *scroll = new QScrollArea(split);
    scroll->setWidgetResizable(true);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    mScroll = scroll;
    mGallery = new UnitGallery;
    scroll->setWidget(mGallery);
    split->addWidget(scroll);
    auto *right = new QWidget(split);
    mSide = new QVBoxLayout(right);
    mSide->setContentsMargins(0, 0, 0, 0);
    auto *pl = new QHBoxLayout;
    mEffectPlot = new Plot(right);
    mEffectPlot->setMinimumSize(200, 160);
    mEffectPlot->yAxis->setLabel(tr("Δp when removed"));
    pl->addWidget(mEffectPlot, 1);
    mCurvePlot = new Plot(right);
    mCurvePlot->setMinimumSize(200, 160);
    mCurvePlot->xAxis->setLabel(tr("top units removed together"));
    mCurvePlot->yAxis->setLabel(tr("Δp"));
    pl->addWidget(mCurvePlot, 1);
    mSide->addLayout(pl, 1);
    split->addWidget(right);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 3);
    l->addWidget(split);
    mSortClass = new QComboBox(this);
    mSortClass->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    mSortClass->setToolTip(tr("Units are sorted by their causal effect on this class"));
    connect(mSortClass, &QComboBox::currentIndexChanged, this, [this] {
        resort();
        showCurve();
        emit resorted();
    });
    connect(mGallery, &UnitGallery::unitClicked, this, &DissectionView::showEffects);
    connect(mGallery, &UnitGallery::selectionChanged, this, &DissectionView::selectionChanged);
}

void DissectionView::addBelowPlots(QWidget *w, int stretch) { mSide->addWidget(w, stretch); }

void DissectionView::setClassLabels(const QStringList &labels)
{
    const QSignalBlocker b(mSortClass);
    mSortClass->clear();
    for (int k = 0; k < labels.size(); ++k) mSortClass->addItem(QString("%1 %2").arg(k).arg(labels[k]), k);
}

void DissectionView::setSortClass(int k)
{
    if (k >= 0 && k < mSortClass->count()) mSortClass->setCurrentIndex(k);
}

int DissectionView::sortClass() const { return std::max(0, mSortClass->currentIndex()); }

QString DissectionView::sortClassName() const { return mSortClass->currentText(); }

void DissectionView::showUnits(const UnitMaps &maps, const Dissection &d)
{
    mMaps = maps;
    mDissection = d;
    mSamplesName = d.itemsPerClass.empty() ? tr("codes") : tr("items");
    if (mSortClass->count() != int(d.classes)) {
        QStringList labels;
        for (int64_t k = 0; k < d.classes; ++k)
            labels << (size_t(k) < d.labels.size() ? QString::fromStdString(d.labels[size_t(k)]) : QString::number(k));
        setClassLabels(labels);
    }
    resort();
    showCurve();
    mScroll->setMinimumWidth(int(mGallery->cellWidth()) + 24);   // one cell and the scroll bar
    emit resorted();
}

void DissectionView::clear()
{
    mMaps = UnitMaps();
    mDissection = Dissection();
    mGallery->setUnits(mMaps, {}, {});
    mEffectPlot->clearPlottables();
    mCurvePlot->clearGraphs();
    if (isVisible()) {   // a hidden plot has no paint buffer to draw into
        mEffectPlot->replot();
        mCurvePlot->replot();
    }
}

QString DissectionView::summary() const
{
    if (!hasUnits()) return {};
    return tr("Layer %1: %2 units at %3×%4 over %5 %6, sorted by the drop in p(%7) when each is removed.")
        .arg(QString::fromStdString(mMaps.layer.layer))
        .arg(mMaps.layer.units)
        .arg(mMaps.layer.height)
        .arg(mMaps.layer.width)
        .arg(mMaps.peaks.dim(0))
        .arg(mSamplesName)
        .arg(mSortClass->currentText());
}

void DissectionView::resort()
{
    if (!hasUnits() || mDissection.ranking.empty()) return;
    const int k = std::min<int>(sortClass(), int(mDissection.ranking.size()) - 1);
    std::vector<double> score;
    for (int64_t u = 0; u < mDissection.layer.units; ++u) score.push_back(mDissection.effect.at(u * mDissection.classes + k));
    mGallery->setUnits(mMaps, mDissection.ranking[size_t(k)], score);
    if (!mGallery->order().empty()) showEffects(mGallery->order().front());
}

void DissectionView::showEffects(int64_t unit)
{
    if (!hasUnits() || unit < 0 || unit >= mDissection.layer.units) return;
    mEffectPlot->clearPlottables();
    auto *bars = new QCPBars(mEffectPlot->xAxis, mEffectPlot->yAxis);
    QVector<double> x, y;
    QSharedPointer<QCPAxisTickerText> ticks(new QCPAxisTickerText);
    double lo = 0, hi = 0;
    for (int64_t k = 0; k < mDissection.classes; ++k) {
        x << double(k);
        const double v = mDissection.effect.at(unit * mDissection.classes + k);
        y << v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        ticks->addTick(double(k), size_t(k) < mDissection.labels.size() ? QString::fromStdString(mDissection.labels[size_t(k)]) : QString::number(k));
    }
    bars->setData(x, y);
    bars->setBrush(QColor(60, 110, 190));
    bars->setPen(Qt::NoPen);
    mEffectPlot->xAxis->setTicker(ticks);
    mEffectPlot->xAxis->setTickLabelRotation(40);
    mEffectPlot->xAxis->setRange(-0.7, double(mDissection.classes) - 0.3);
    const double pad = std::max(1e-4, 0.1 * (hi - lo));
    mEffectPlot->yAxis->setRange(lo - pad, hi + pad);
    mEffectPlot->yAxis->setLabel(tr("Δp, unit %1 removed").arg(unit));
    mEffectPlot->replot();
}

void DissectionView::showCurve()
{
    if (!hasUnits() || mDissection.removal.empty()) return;
    const int k = std::min<int>(sortClass(), int(mDissection.removal.size()) - 1);
    const std::vector<double> &c = mDissection.removal[size_t(k)];
    mCurvePlot->clearGraphs();
    auto *g = mCurvePlot->addGraph();
    QVector<double> x, y;
    double lo = 0, hi = 0;
    for (size_t n = 0; n < c.size(); ++n) {
        x << double(n + 1);
        y << c[n];
        lo = std::min(lo, c[n]);
        hi = std::max(hi, c[n]);
    }
    g->setData(x, y);
    g->setPen(QPen(QColor(190, 60, 40), 2));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 5));
    mCurvePlot->xAxis->setRange(0.5, double(c.size()) + 0.5);
    const double base = size_t(k) < mDissection.baseProbability.size() ? mDissection.baseProbability[size_t(k)] : 0.0;
    hi = std::max(hi, base);
    mCurvePlot->yAxis->setRange(lo - 0.02, hi + 0.02);
    mCurvePlot->yAxis->setLabel(tr("Δp(%1), mean p %2").arg(k).arg(base, 0, 'f', 2));
    mCurvePlot->replot();
}

std::vector<int64_t> DissectionView::selectedUnits() const
{
    std::vector<int64_t> out;
    for (int64_t u : mGallery->order())
        if (mGallery->selected().count(u)) out.push_back(u);
    return out;
}

void DissectionView::selectUnits(const std::set<int64_t> &units) { mGallery->setSelected(units); }

}   // namespace pellucid
