#include "widgets/common/linescale.h"
#include "widgets/attention/attentionpanel.h"

#include "engine/core/npy.h"
#include "widgets/common/colormap.h"

#include "widgets/common/plot.h"
#include <qcustomplot.h>

#include <QCheckBox>
#include <QElapsedTimer>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QWheelEvent>
#include <QTabWidget>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace pellucid {
namespace {

/// One head's matrix [L, S] of a layer [1, H, L, S], or the heads' mean for head < 0.
std::vector<float> headMatrix(const TensorValue &layer, int head)
{
    const int64_t H = layer.dim(1), L = layer.dim(2), S = layer.dim(3);
    std::vector<float> m(size_t(L * S), 0.f);
    for (int64_t h = 0; h < H; ++h) {
        if (head >= 0 && h != head) continue;
        for (int64_t i = 0; i < L * S; ++i) m[size_t(i)] += layer.at(h * L * S + i) / float(head >= 0 ? 1 : H);
    }
    return m;
}

QImage matrixImage(const std::vector<float> &m, int rows, int cols)
{
    float hi = 0;
    for (float v : m) hi = std::max(hi, std::isfinite(v) ? v : 0.f);
    return renderPlane(m.data(), rows, cols, 0.f, hi > 0 ? hi : 1.f);
}

/// Blends a 1-px line of colour c at opacity a into an RGB32 image (DDA along the major axis). QPainter's
/// translucent cosmetic lines cost ~85 µs each; this costs about one blend per pixel.
void blendLine(QImage &img, int x0, int y0, int x1, int y1, QRgb c, double a)
{
    const int dx = x1 - x0, dy = y1 - y0, n = std::max(std::abs(dx), std::abs(dy));
    if (n == 0) return;
    const int ia = int(std::clamp(a, 0.0, 1.0) * 256), r = qRed(c), g = qGreen(c), b = qBlue(c);
    const int w = img.width(), h = img.height();
    uchar *bits = img.bits();   // one detach, not one per pixel
    const qsizetype stride = img.bytesPerLine();
    // 16.16 fixed-point steps along both axes.
    int64_t fx = int64_t(x0) << 16, fy = int64_t(y0) << 16;
    const int64_t sx = (int64_t(dx) << 16) / n, sy = (int64_t(dy) << 16) / n;
    for (int i = 0; i <= n; ++i, fx += sx, fy += sy) {
        const int x = int(fx >> 16), y = int(fy >> 16);
        if (unsigned(x) >= unsigned(w) || unsigned(y) >= unsigned(h)) continue;
        QRgb *px = reinterpret_cast<QRgb *>(bits + y * stride) + x;
        const QRgb d = *px;
        *px = qRgb(qRed(d) + (((r - qRed(d)) * ia) >> 8), qGreen(d) + (((g - qGreen(d)) * ia) >> 8), qBlue(d) + (((b - qBlue(d)) * ia) >> 8));
    }
}

}   // namespace

// ---------------------------------------------------------------- model view

AttentionGridView::AttentionGridView(QWidget *parent) : QWidget(parent) { setMinimumSize(200, 120); }

void AttentionGridView::setData(const std::vector<TensorValue> *layers)
{
    mImages.clear();
    mLayers = layers ? int(layers->size()) : 0;
    mHeads = mLayers ? int(layers->front().dim(1)) : 0;
    for (int l = 0; l < mLayers; ++l) {
        const TensorValue &t = (*layers)[size_t(l)];
        std::vector<QImage> row;
        for (int h = 0; h < int(t.dim(1)); ++h) row.push_back(matrixImage(headMatrix(t, h), int(t.dim(2)), int(t.dim(3))));
        mImages.push_back(std::move(row));
    }
    update();
}

QRect AttentionGridView::cellRect(int layer, int head) const
{
    const int label = 40, top = 18;
    const int cell = std::max(8, std::min((width() - label) / std::max(1, mHeads), (height() - top) / std::max(1, mLayers)));
    return QRect(label + head * cell + 1, top + layer * cell + 1, cell - 2, cell - 2);
}

QSize AttentionGridView::cellAt(const QPoint &pos) const
{
    for (int l = 0; l < mLayers; ++l)
        for (int h = 0; h < mHeads; ++h)
            if (cellRect(l, h).contains(pos)) return QSize(l, h);
    return QSize(-1, -1);
}

void AttentionGridView::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    if (!mLayers) {
        p.drawText(rect(), Qt::AlignCenter, tr("No attention yet"));
        return;
    }
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);   // one crisp cell per weight
    for (int h = 0; h < mHeads; ++h) {
        const QRect r = cellRect(0, h);
        p.drawText(QRect(r.left(), 0, r.width(), 16), Qt::AlignCenter, tr("head %1").arg(h));
    }
    for (int l = 0; l < mLayers; ++l) {
        const QRect r0 = cellRect(l, 0);
        p.drawText(QRect(0, r0.top(), 38, r0.height()), Qt::AlignRight | Qt::AlignVCenter, tr("L%1").arg(l));
        for (int h = 0; h < int(mImages[size_t(l)].size()); ++h) p.drawImage(cellRect(l, h), mImages[size_t(l)][size_t(h)]);
    }
}

void AttentionGridView::mousePressEvent(QMouseEvent *e)
{
    const QSize c = cellAt(e->position().toPoint());
    if (c.width() >= 0) emit cellClicked(c.width(), c.height());
}

// ---------------------------------------------------------------- head view

HeadView::HeadView(QWidget *parent) : QWidget(parent) { setMouseTracking(true); }

QColor HeadView::headColor(int head, int heads) { return QColor::fromHsvF(std::fmod(0.07 + double(head) / std::max(1, heads), 1.0), 0.75, 0.85); }

void HeadView::setData(const TensorValue *layer, const QStringList &queries, const QStringList &keys)
{
    mLayer = layer;
    mQueries = queries;
    mKeys = keys;
    if (layer && mHeads.size() != size_t(layer->dim(1))) mHeads.assign(size_t(layer->dim(1)), true);
    mHoverQuery = mHoverKey = -1;
    mTop.clear();
    emit contentChanged(contentHeight());
    update();
}

void HeadView::computeTop()
{
    mTop.clear();
    if (!mLayer) return;
    const int64_t H = mLayer->dim(1), L = mLayer->dim(2), S = mLayer->dim(3);
    const int64_t keep = std::min<int64_t>(S, L * S > 128 * 128 ? 8 : 16);
    std::vector<int64_t> order(static_cast<size_t>(S));
    mTop.resize(size_t(H * L));
    for (int64_t h = 0; h < H; ++h)
        for (int64_t q = 0; q < L; ++q) {
            const float *row = mLayer->data() + (h * L + q) * S;
            std::iota(order.begin(), order.end(), 0);
            std::partial_sort(order.begin(), order.begin() + keep, order.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
            auto &top = mTop[size_t(h * L + q)];
            for (int64_t r = 0; r < keep && row[order[size_t(r)]] > 0.01f; ++r) top.push_back({int(order[size_t(r)]), row[order[size_t(r)]]});
        }
}

void HeadView::setHeads(const std::vector<bool> &enabled)
{
    mHeads = enabled;
    update();
}

void HeadView::setHover(int query, int key)
{
    mHoverQuery = query;
    mHoverKey = key;
    update();
}

int HeadView::contentHeight() const
{
    const int rows = mLayer ? int(std::max(mLayer->dim(2), mLayer->dim(3))) : 0;
    return 24 + rows * kRow;
}

void HeadView::setOffset(int pixels)
{
    mOffset = std::max(0, pixels);
    update();
}

void HeadView::wheelEvent(QWheelEvent *e) { emit scrollRequested(-e->angleDelta().y() / 2); }

QSize HeadView::sizeHint() const
{
    const int rows = mLayer ? int(std::max(mLayer->dim(2), mLayer->dim(3))) : 4;
    return QSize(420, 24 + rows * kRow);
}

void HeadView::paintEvent(QPaintEvent *e)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    mLinesDrawn = 0;
    if (!mLayer) return;
    const int64_t H = mLayer->dim(1), L = mLayer->dim(2), S = mLayer->dim(3);
    const int colW = 110, left = 4, right = width() - colW - 4, top = 20;
    p.setPen(palette().color(QPalette::WindowText));
    QFont f = font();
    f.setPointSizeF(std::max(6.0, f.pointSizeF() - 1));
    p.setFont(f);
    // Content coordinates: the widget shows [offset, offset + height) of the token rows.
    p.translate(0, -mOffset);
    const QRect visible = e->rect().translated(0, mOffset);
    const int firstRow = std::max(0, (visible.top() - top) / kRow - 1), lastRow = (visible.bottom() - top) / kRow + 1;
    for (int64_t i = 0; i < std::max(L, S); ++i) {
        if (i < firstRow || i > lastRow) continue;
        const int y = top + int(i) * kRow;
        if (i < L) {
            p.setPen(i == mHoverQuery ? palette().color(QPalette::Highlight) : palette().color(QPalette::WindowText));
            p.drawText(QRect(left, y, colW - 6, kRow), Qt::AlignRight | Qt::AlignVCenter,
                       i < mQueries.size() ? mQueries[int(i)] : QString::number(i));
        }
        if (i < S) {
            p.setPen(i == mHoverKey ? palette().color(QPalette::Highlight) : palette().color(QPalette::WindowText));
            p.drawText(QRect(right + 6, y, colW - 6, kRow), Qt::AlignLeft | Qt::AlignVCenter, i < mKeys.size() ? mKeys[int(i)] : QString::number(i));
        }
    }
    const int x0 = left + colW, x1 = right;
    const bool long_ = L * S > 128 * 128;
    p.setRenderHint(QPainter::Antialiasing, !long_);   // smooth lines for short inputs
    // Each query's strongest links only (weights above 1 %, at most 16 per query and head — 8 for long
    // inputs, where only the links of tokens on screen are drawn): 512 tokens stay fluid.
    if (mTop.empty()) computeTop();
    // Lines are batched per head and opacity level (10 levels): one drawLines call each, as one call per
    // line costs the raster engine's thread hand-offs thousands of times over.
    constexpr int kLevels = 10;
    QImage band;
    for (int64_t h = 0; h < H; ++h) {
        if (size_t(h) < mHeads.size() && !mHeads[size_t(h)]) continue;
        std::vector<QLine> buckets[kLevels];
        for (int64_t q = 0; q < L; ++q) {
            if (mHoverQuery >= 0 && q != mHoverQuery) continue;
            const int yq = top + int(q) * kRow + kRow / 2;
            const bool qOn = yq >= visible.top() && yq <= visible.bottom();
            for (const auto &[k, w] : mTop[size_t(h * L + q)]) {
                if (mHoverKey >= 0 && k != mHoverKey) continue;
                const int yk = top + k * kRow + kRow / 2;
                if (std::max(yq, yk) < visible.top() || std::min(yq, yk) > visible.bottom()) continue;
                const bool kOn = yk >= visible.top() && yk <= visible.bottom();
                if (long_ && !qOn && !kOn) continue;
                buckets[std::clamp(int(w * kLevels), 0, kLevels - 1)].push_back(QLine(x0, yq, x1, yk));
                ++mLinesDrawn;
            }
        }
        QColor c = headColor(int(h), int(H));
        for (int b = 0; b < kLevels; ++b) {
            if (buckets[b].empty()) continue;
            const double alpha = std::max(0.12, (b + 0.5) / kLevels);   // opacity = weight
            if (long_) {
                // Many lines: blended into an image of the visible band, then drawn once.
                if (band.isNull()) {
                    band = QImage(width(), visible.height(), QImage::Format_RGB32);
                    band.fill(palette().color(QPalette::Base));
                }
                for (const QLine &l : buckets[b]) blendLine(band, l.x1(), l.y1() - visible.top(), l.x2(), l.y2() - visible.top(), c.rgb(), alpha);
            } else {
                c.setAlphaF(alpha);
                p.setPen(QPen(c, scaledWidth(2.0)));
                p.drawLines(buckets[b].data(), int(buckets[b].size()));
            }
        }
    }
    if (!band.isNull()) {
        // The band goes under the token labels: redraw them on top.
        p.drawImage(QPoint(x0, visible.top()), band, QRect(x0, 0, x1 - x0, band.height()));
    }
}

void HeadView::mouseMoveEvent(QMouseEvent *e)
{
    const int row = (int(e->position().y()) + mOffset - 20) / kRow;
    const int colW = 110;
    int q = -1, k = -1;
    if (mLayer && row >= 0) {
        if (e->position().x() < 4 + colW && row < mLayer->dim(2))
            q = row;
        else if (e->position().x() > width() - colW - 4 && row < mLayer->dim(3))
            k = row;
    }
    if (q != mHoverQuery || k != mHoverKey) {
        setHover(q, k);
        emit hovered(q, k);
    }
}

void HeadView::leaveEvent(QEvent *)
{
    setHover(-1, -1);
    emit hovered(-1, -1);
}

// ---------------------------------------------------------------- panel

AttentionPanel::AttentionPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    auto *bar = new QHBoxLayout;
    mInfo = new QLabel(tr("Open a transformer (ViT or text) to see its attention"), this);
    mLayerBox = new QComboBox(this);
    mHeadBox = new QComboBox(this);
    bar->addWidget(mInfo, 1);
    bar->addWidget(new QLabel(tr("Layer"), this));
    bar->addWidget(mLayerBox);
    bar->addWidget(new QLabel(tr("Head"), this));
    bar->addWidget(mHeadBox);
    layout->addLayout(bar);
    mTabs = new QTabWidget(this);
    layout->addWidget(mTabs, 1);

    mGrid = new AttentionGridView(mTabs);
    mTabs->addTab(mGrid, tr("Model view"));

    auto *headTab = new QWidget(mTabs);
    auto *hl = new QVBoxLayout(headTab);
    mHeadChecks = new QWidget(headTab);
    new QHBoxLayout(mHeadChecks);
    hl->addWidget(mHeadChecks);
    auto *headRow = new QHBoxLayout;
    mHeadView = new HeadView(headTab);
    mHeadBar = new QScrollBar(Qt::Vertical, headTab);
    headRow->addWidget(mHeadView, 1);
    headRow->addWidget(mHeadBar);
    hl->addLayout(headRow, 1);
    auto syncBar = [this](int content) {
        mHeadBar->setRange(0, std::max(0, content - mHeadView->height()));
        mHeadBar->setPageStep(std::max(1, mHeadView->height()));
        mHeadBar->setSingleStep(16);
    };
    connect(mHeadView, &HeadView::contentChanged, this, syncBar);
    connect(mHeadBar, &QScrollBar::valueChanged, mHeadView, &HeadView::setOffset);
    connect(mHeadView, &HeadView::scrollRequested, this, [this](int d) { mHeadBar->setValue(mHeadBar->value() + d); });
    mTabs->addTab(headTab, tr("Head view"));

    mMatrix = new Plot(mTabs);
    mMatrix->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    mMatrix->xAxis->setLabel(tr("key"));
    mMatrix->yAxis->setLabel(tr("query"));
    mMatrix->yAxis->setRangeReversed(true);
    mTabs->addTab(mMatrix, tr("Matrix view"));

    auto *overlayTab = new QWidget(mTabs);
    auto *ol = new QVBoxLayout(overlayTab);
    auto *obar = new QHBoxLayout;
    mOverlaySource = new QComboBox(overlayTab);
    mOverlaySource->addItem(tr("attention of the query token (layer, head above)"), "attention");
    mOverlaySource->addItem(tr("attention rollout (Abnar & Zuidema)"), "rollout");
    mOverlaySource->addItem(tr("gradient-weighted rollout (Chefer et al.)"), "grad-rollout");
    obar->addWidget(mOverlaySource);
    obar->addWidget(new QLabel(tr("Click a patch to make it the query; CLS is the default."), overlayTab), 1);
    ol->addLayout(obar);
    mOverlay = new QLabel(overlayTab);
    mOverlay->setAlignment(Qt::AlignCenter);
    mOverlay->setMinimumSize(200, 200);
    mOverlay->installEventFilter(this);
    ol->addWidget(mOverlay, 1);
    mTabs->addTab(overlayTab, tr("Image overlay"));

    auto *tokTab = new QWidget(mTabs);
    auto *tl = new QVBoxLayout(tokTab);
    auto *tbar = new QHBoxLayout;
    mTarget = new QComboBox(tokTab);
    auto *attribute = new QPushButton(tr("Attribute tokens (integrated gradients on the embedding)"), tokTab);
    tbar->addWidget(new QLabel(tr("Class"), tokTab));
    tbar->addWidget(mTarget);
    tbar->addWidget(attribute);
    tbar->addStretch(1);
    tl->addLayout(tbar);
    mTokens = new QTextBrowser(tokTab);
    tl->addWidget(mTokens, 1);
    mTabs->addTab(tokTab, tr("Token attributions"));

    connect(mLayerBox, &QComboBox::currentIndexChanged, this, [this] { refreshLayer(); });
    connect(mHeadBox, &QComboBox::currentIndexChanged, this, [this] { refreshLayer(); });
    connect(mOverlaySource, &QComboBox::currentIndexChanged, this, [this] { refreshOverlay(); });
    connect(mGrid, &AttentionGridView::cellClicked, this, [this](int l, int h) {
        selectLayerHead(l, h);
        mTabs->setCurrentWidget(mMatrix);
    });
    connect(attribute, &QPushButton::clicked, this, [this] { emit tokenAttributionRequested(mTarget->currentIndex()); });
}

void AttentionPanel::clear(const QString &message)
{
    mData = AttentionData();
    mInfo->setText(message);
    mGrid->setData(nullptr);
    mHeadView->setData(nullptr, {}, {});
    mLayerBox->clear();
    mHeadBox->clear();
    mOverlay->clear();
    mTokens->clear();
    if (mMap) {
        mMatrix->removePlottable(mMap);
        mMap = nullptr;
    }
    mMatrix->replot();
}

void AttentionPanel::setClasses(const QStringList &labels)
{
    mTarget->clear();
    mTarget->addItems(labels);
}

void AttentionPanel::setData(const AttentionData &data)
{
    const int keepLayer = mLayerBox->currentIndex(), keepHead = mHeadBox->currentIndex();
    mData = data;
    if (mData.layers.empty()) {
        clear(tr("No attention"));
        return;
    }
    const int64_t H = mData.layers[0].dim(1), L = mData.layers[0].dim(2), S = mData.layers[0].dim(3);
    mInfo->setText(tr("%1 — %2 layers × %3 heads, %4 × %5 tokens").arg(mData.title).arg(mData.layers.size()).arg(H).arg(L).arg(S));
    {
        const QSignalBlocker b1(mLayerBox), b2(mHeadBox);
        mLayerBox->clear();
        for (size_t l = 0; l < mData.layers.size(); ++l) mLayerBox->addItem(QString::number(l));
        mHeadBox->clear();
        mHeadBox->addItem(tr("mean of heads"));
        for (int64_t h = 0; h < H; ++h) mHeadBox->addItem(QString::number(h));
        mLayerBox->setCurrentIndex(std::clamp(keepLayer, 0, int(mData.layers.size()) - 1));
        mHeadBox->setCurrentIndex(std::clamp(keepHead, 0, int(H)));
    }
    // Head colour checkboxes.
    for (QCheckBox *c : mHeadBoxes) c->deleteLater();
    mHeadBoxes.clear();
    std::vector<bool> enabled(size_t(H), true);
    for (int64_t h = 0; h < H; ++h) {
        auto *c = new QCheckBox(tr("head %1").arg(h), mHeadChecks);
        c->setChecked(true);
        const QColor col = HeadView::headColor(int(h), int(H));
        c->setStyleSheet(QString("QCheckBox { color: %1; font-weight: bold; }").arg(col.name()));
        connect(c, &QCheckBox::toggled, this, [this] {
            std::vector<bool> en;
            for (QCheckBox *b : mHeadBoxes) en.push_back(b->isChecked());
            mHeadView->setHeads(en);
        });
        mHeadChecks->layout()->addWidget(c);
        mHeadBoxes.push_back(c);
    }
    mHeadView->setHeads(enabled);
    mGrid->setData(&mData.layers);
    if (mOverlayQuery >= L) mOverlayQuery = -1;
    mTabs->setTabEnabled(3, !mData.image.isNull() && mData.gridRows > 0);
    refreshLayer();
}

int AttentionPanel::layer() const { return std::max(0, mLayerBox->currentIndex()); }
int AttentionPanel::head() const { return mHeadBox->currentIndex() - 1; }

void AttentionPanel::selectLayerHead(int l, int h)
{
    const QSignalBlocker b(mLayerBox);
    mLayerBox->setCurrentIndex(l);
    mHeadBox->setCurrentIndex(h + 1);   // refreshes
}

std::vector<float> AttentionPanel::currentMatrix(int &rows, int &cols) const
{
    const TensorValue &t = mData.layers[size_t(std::min<int>(layer(), int(mData.layers.size()) - 1))];
    rows = int(t.dim(2));
    cols = int(t.dim(3));
    return headMatrix(t, head());
}

void AttentionPanel::refreshLayer()
{
    if (mData.layers.empty()) return;
    const TensorValue &t = mData.layers[size_t(std::min<int>(layer(), int(mData.layers.size()) - 1))];
    mHeadView->setData(&t, mData.queryTokens, mData.keyTokens);
    int rows = 0, cols = 0;
    const std::vector<float> m = currentMatrix(rows, cols);
    if (!mMap) {
        mMap = new QCPColorMap(mMatrix->xAxis, mMatrix->yAxis);
        mMap->setGradient(viridisGradient());
        mMap->setInterpolate(false);
    }
    mMap->data()->setSize(cols, rows);
    mMap->data()->setRange(QCPRange(0, cols - 1), QCPRange(0, rows - 1));
    float hi = 0;
    for (int q = 0; q < rows; ++q)
        for (int k = 0; k < cols; ++k) {
            mMap->data()->setCell(k, q, m[size_t(q * cols + k)]);
            hi = std::max(hi, m[size_t(q * cols + k)]);
        }
    mMap->setDataRange(QCPRange(0, hi > 0 ? hi : 1));
    // Token labels on both axes (every n-th when there are many).
    auto labels = [](const QStringList &tokens, int n) {
        QSharedPointer<QCPAxisTickerText> t(new QCPAxisTickerText);
        const int step = std::max(1, n / 40);
        for (int i = 0; i < n; i += step) t->addTick(i, i < tokens.size() ? tokens[i] : QString::number(i));
        return t;
    };
    mMatrix->xAxis->setTicker(labels(mData.keyTokens, cols));
    mMatrix->yAxis->setTicker(labels(mData.queryTokens, rows));
    mMatrix->xAxis->setTickLabelRotation(cols > 20 ? 90 : 0);
    mMatrix->xAxis->setRange(-0.5, cols - 0.5);
    mMatrix->yAxis->setRange(-0.5, rows - 0.5);
    mMatrix->xAxis->setLabel(tr("key — layer %1, %2").arg(layer()).arg(head() < 0 ? tr("mean of heads") : tr("head %1").arg(head())));
    mMatrix->replot();
    refreshOverlay();
}

void AttentionPanel::setOverlayQuery(int token)
{
    mOverlayQuery = token;
    refreshOverlay();
}

void AttentionPanel::refreshOverlay()
{
    mOverlayImage = QImage();
    if (mData.image.isNull() || mData.gridRows <= 0 || mData.layers.empty()) {
        mOverlay->setText(tr("The image overlay is for vision transformers whose metadata gives the patch grid (attention.patch_grid)"));
        return;
    }
    const QString source = mOverlaySource->currentData().toString();
    const int patches = mData.gridRows * mData.gridCols;
    const int first = mData.clsIndex >= 0 ? mData.clsIndex + 1 : 0;   // patch tokens follow the CLS token
    const int query = mOverlayQuery >= 0 ? mOverlayQuery : std::max(0, mData.clsIndex);
    std::vector<float> weights(size_t(patches), 0.f);
    auto fromMatrix = [&](const float *row) {
        for (int p = 0; p < patches; ++p) weights[size_t(p)] = row[first + p];
    };
    int rows = 0, cols = 0;
    std::vector<float> m;
    if (source == "attention") {
        m = currentMatrix(rows, cols);
        if (query < rows && first + patches <= cols) fromMatrix(m.data() + size_t(query) * size_t(cols));
    } else {
        const TensorValue &r = source == "rollout" ? mData.rollout : mData.gradRollout;
        if (r.numel() == 0) {
            mOverlay->setText(tr("Not computed for this model"));
            return;
        }
        const int64_t n = r.dim(1);
        if (query < n && first + patches <= n) fromMatrix(r.data() + query * n);
    }
    float hi = 0;
    for (float v : weights) hi = std::max(hi, v);
    const QImage heat = renderPlane(weights.data(), mData.gridRows, mData.gridCols, 0.f, hi > 0 ? hi : 1.f)
                            .scaled(mData.image.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
    QImage out = mData.image.convertToFormat(QImage::Format_RGB32);
    QPainter p(&out);
    p.setOpacity(0.55);
    p.drawImage(0, 0, heat);
    p.setOpacity(1.0);
    if (mOverlayQuery >= first && mOverlayQuery < first + patches) {
        const int k = mOverlayQuery - first;
        const double cw = double(out.width()) / mData.gridCols, ch = double(out.height()) / mData.gridRows;
        p.setPen(QPen(Qt::red, scaledWidth(std::max(1.0, out.width() / 100.0))));
        p.drawRect(QRectF((k % mData.gridCols) * cw, (k / mData.gridCols) * ch, cw, ch));
    }
    p.end();
    mOverlayImage = out;
    mOverlay->setPixmap(QPixmap::fromImage(
        out.scaled(mOverlay->size().boundedTo(QSize(520, 520)).expandedTo(QSize(200, 200)), Qt::KeepAspectRatio, Qt::FastTransformation)));
}

bool AttentionPanel::eventFilter(QObject *watched, QEvent *event)
{
    if (watched == mOverlay && event->type() == QEvent::MouseButtonPress && mData.gridRows > 0 && mOverlay->pixmap().width() > 0) {
        auto *e = static_cast<QMouseEvent *>(event);
        const QSize pm = mOverlay->pixmap().size();
        const QPoint origin((mOverlay->width() - pm.width()) / 2, (mOverlay->height() - pm.height()) / 2);
        const QPointF pos = e->position() - QPointF(origin);
        if (pos.x() >= 0 && pos.y() >= 0 && pos.x() < pm.width() && pos.y() < pm.height()) {
            const int c = int(pos.x() * mData.gridCols / pm.width()), r = int(pos.y() * mData.gridRows / pm.height());
            setOverlayQuery((mData.clsIndex >= 0 ? mData.clsIndex + 1 : 0) + r * mData.gridCols + c);
        }
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

void AttentionPanel::setTokenAttributions(const QStringList &tokens, const std::vector<double> &scores, const QString &info)
{
    double m = 1e-12;
    for (double s : scores) m = std::max(m, std::fabs(s));
    QString html = "<p>" + info.toHtmlEscaped() + "</p><p style='font-size:14pt; line-height:180%'>";
    for (int i = 0; i < tokens.size() && size_t(i) < scores.size(); ++i) {
        const double t = scores[size_t(i)] / m;
        const QColor c = t >= 0 ? QColor::fromRgbF(1.0, 1.0 - 0.75 * t, 1.0 - 0.75 * t) : QColor::fromRgbF(1.0 + 0.75 * t, 1.0 + 0.75 * t, 1.0);
        html += QString("<span style='background:%1' title='%2'>&nbsp;%3&nbsp;</span> ")
                    .arg(c.name())
                    .arg(scores[size_t(i)], 0, 'g', 3)
                    .arg(tokens[i].toHtmlEscaped());
    }
    html += "</p><p><i>" + tr("red: towards the class, blue: against; colour scaled to the largest |attribution|") + "</i></p>";
    mTokens->setHtml(html);
    mTabs->setCurrentIndex(4);
}

double AttentionPanel::figureAspect() const { return 1.0; }

void AttentionPanel::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const
{
    if (mData.layers.empty()) return;
    int rows = 0, cols = 0;
    const std::vector<float> m = currentMatrix(rows, cols);
    const QImage img = matrixImage(m, rows, cols);
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    p.setFont(settings.font());
    const double label = rows <= 40 ? QFontMetricsF(settings.font()).horizontalAdvance("MMMMMMM") : 0;
    const QRectF area(rect.left() + label, rect.top() + label, rect.width() - label, rect.height() - label);
    p.drawImage(area, img);
    if (label > 0) {
        p.setPen(Qt::black);
        for (int i = 0; i < rows; ++i)
            p.drawText(QRectF(rect.left(), area.top() + i * area.height() / rows, label - 2, area.height() / rows), Qt::AlignRight | Qt::AlignVCenter,
                       i < mData.queryTokens.size() ? mData.queryTokens[i] : QString::number(i));
        p.save();
        for (int k = 0; k < cols; ++k) {
            p.save();
            p.translate(area.left() + (k + 0.5) * area.width() / cols, area.top() - 2);
            p.rotate(-90);
            p.drawText(QRectF(0, -area.width() / cols / 2, label - 2, area.width() / cols), Qt::AlignLeft | Qt::AlignVCenter,
                       k < mData.keyTokens.size() ? mData.keyTokens[k] : QString::number(k));
            p.restore();
        }
        p.restore();
    }
}

QStringList AttentionPanel::writeRawData(const QString &base) const
{
    if (mData.layers.empty()) return {};
    const TensorValue &t = mData.layers[size_t(layer())];
    writeNpy((base + ".npy").toStdString(), t);
    return {base + ".npy"};
}

}   // namespace pellucid
