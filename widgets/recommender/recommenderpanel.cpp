#include "widgets/recommender/recommenderpanel.h"

#include "widgets/common/colormap.h"

#include <QFile>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QTextStream>
#include <QVBoxLayout>

#include <cmath>
#include <set>

namespace pellucid {
namespace {

QColor factorColour(int k, int n) { return QColor(viridis(n <= 1 ? 0.5 : 0.1 + 0.8 * double(k) / double(n - 1))); }

const QColor kBiasColours[3] = {QColor(160, 160, 160), QColor(230, 140, 60), QColor(120, 90, 170)};

}   // namespace

// ---------------------------------------------------------------------------------------------- ScoreBars

ScoreBars::ScoreBars(QWidget *parent) : QWidget(parent) { setMinimumSize(260, 180); }

void ScoreBars::setItems(std::vector<ScoreDecomposition> items)
{
    mItems = std::move(items);
    mSelected = mItems.empty() ? -1 : 0;
    update();
}

void ScoreBars::select(int row)
{
    if (row < 0 || row >= int(mItems.size())) return;
    mSelected = row;
    update();
    emit itemSelected(row);
}

void ScoreBars::paintBars(QPainter &p, const QRectF &rect, const QFont &font, bool interactive) const
{
    if (mItems.empty()) return;
    p.setFont(font);
    const QFontMetricsF fm(font, p.device());
    const double lineH = fm.height();
    double labelW = 0;
    for (const auto &d : mItems) labelW = std::max(labelW, fm.horizontalAdvance(QString::fromStdString(d.name)));
    labelW = std::min(labelW + 4, rect.width() * 0.35);
    const int nf = int(mItems.front().factors.size());
    const double legendH = lineH * 1.6;
    const QRectF plot(rect.left() + labelW, rect.top(), rect.width() - labelW - fm.horizontalAdvance("0.000") - 4,
                      rect.height() - legendH - lineH * 1.4);
    double lo = 0, hi = 0;
    for (const auto &d : mItems) {
        double pos = 0, neg = 0;
        for (double v : {double(d.global), double(d.userBias), double(d.itemBias)}) (v >= 0 ? pos : neg) += v;
        for (float v : d.factors) (v >= 0 ? pos : neg) += v;
        hi = std::max(hi, pos);
        lo = std::min(lo, neg);
    }
    const double span = std::max(1e-9, hi - lo);
    auto X = [&](double v) { return plot.left() + (v - lo) / span * plot.width(); };
    const double rowH = plot.height() / double(mItems.size());
    for (size_t r = 0; r < mItems.size(); ++r) {
        const auto &d = mItems[r];
        const double y = plot.top() + rowH * double(r);
        if (interactive && int(r) == mSelected) p.fillRect(QRectF(rect.left(), y, rect.width(), rowH), QColor(255, 240, 200));
        p.setPen(Qt::black);
        p.drawText(QRectF(rect.left(), y, labelW - 4, rowH), Qt::AlignRight | Qt::AlignVCenter,
                   fm.elidedText(QString::fromStdString(d.name), Qt::ElideRight, labelW - 4));
        double pos = 0, neg = 0;
        std::vector<std::pair<double, QColor>> segs = {{d.global, kBiasColours[0]}, {d.userBias, kBiasColours[1]}, {d.itemBias, kBiasColours[2]}};
        for (int k = 0; k < nf; ++k) segs.emplace_back(d.factors[size_t(k)], factorColour(k, nf));
        p.setPen(Qt::NoPen);
        for (const auto &[v, c] : segs) {
            const double a = v >= 0 ? pos : neg + v, b = v >= 0 ? pos + v : neg;
            p.setBrush(c);
            p.drawRect(QRectF(X(a), y + rowH * 0.18, X(b) - X(a), rowH * 0.64));
            (v >= 0 ? pos : neg) += v;
        }
        p.setPen(Qt::black);
        p.drawText(QRectF(plot.right() + 3, y, rect.right() - plot.right() - 3, rowH), Qt::AlignLeft | Qt::AlignVCenter,
                   QString::number(d.score, 'f', 2));
    }
    p.setPen(QPen(Qt::black, 0.5));
    p.drawLine(QPointF(X(0), plot.top()), QPointF(X(0), plot.bottom()));
    p.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()));
    for (int t = 0; t <= 4; ++t) {
        const double v = lo + span * t / 4.0;
        p.drawText(QRectF(X(v) - 20, plot.bottom() + 1, 40, lineH), Qt::AlignHCenter | Qt::AlignTop, QString::number(v, 'g', 2));
    }
    // Legend.
    double x = rect.left();
    const double ly = rect.bottom() - legendH * 0.8;
    QStringList names = {QObject::tr("global"), QObject::tr("user bias"), QObject::tr("item bias")};
    for (int k = 0; k < nf; ++k) names << QObject::tr("f%1").arg(k);
    for (int i = 0; i < names.size(); ++i) {
        const QColor c = i < 3 ? kBiasColours[i] : factorColour(i - 3, nf);
        p.setPen(Qt::NoPen);
        p.setBrush(c);
        p.drawRect(QRectF(x, ly + lineH * 0.2, lineH * 0.7, lineH * 0.7));
        p.setPen(Qt::black);
        const double w = fm.horizontalAdvance(names[i]);
        p.drawText(QRectF(x + lineH * 0.9, ly, w + 2, lineH), Qt::AlignLeft | Qt::AlignVCenter, names[i]);
        x += lineH * 0.9 + w + lineH * 0.6;
    }
}

void ScoreBars::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    if (mItems.empty()) {
        p.drawText(rect(), Qt::AlignCenter, tr("No recommendations"));
        return;
    }
    paintBars(p, QRectF(rect()).adjusted(4, 4, -4, -4), font(), true);
}

void ScoreBars::mousePressEvent(QMouseEvent *e)
{
    if (mItems.empty()) return;
    const QFontMetricsF fm(font());
    const double legendH = fm.height() * 1.6, plotH = height() - 8 - legendH - fm.height() * 1.4;
    const int row = int((e->position().y() - 4) / (plotH / double(mItems.size())));
    select(row);
}

void ScoreBars::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const { paintBars(p, rect, s.font(), false); }

QStringList ScoreBars::writeRawData(const QString &base) const
{
    QFile f(base + ".csv");
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) throw FigureError("Cannot write " + (base + ".csv").toStdString());
    QTextStream out(&f);
    out << "item,name,score,global,user_bias,item_bias";
    const size_t nf = mItems.empty() ? 0 : mItems.front().factors.size();
    for (size_t k = 0; k < nf; ++k) out << ",f" << k;
    out << '\n';
    for (const auto &d : mItems) {
        out << d.item << ",\"" << QString::fromStdString(d.name).replace('"', "\"\"") << "\"," << d.score << ',' << d.global << ',' << d.userBias
            << ',' << d.itemBias;
        for (float v : d.factors) out << ',' << v;
        out << '\n';
    }
    return {base + ".csv"};
}

// ---------------------------------------------------------------------------------------- InteractionGraph

InteractionGraph::InteractionGraph(QWidget *parent) : QWidget(parent)
{
    setMinimumSize(260, 200);
    setMouseTracking(true);
}

void InteractionGraph::setGraph(std::vector<Node> nodes, std::vector<Edge> edges)
{
    mNodes = std::move(nodes);
    mEdges = std::move(edges);
    mHover = mDrag = -1;
    update();
}

void InteractionGraph::paintGraph(QPainter &p, const QRectF &rect, const QFont &font) const
{
    p.setRenderHint(QPainter::Antialiasing);
    double maxW = 1e-12;
    for (const auto &e : mEdges) maxW = std::max(maxW, e.weight);
    auto at = [&](int i) { return QPointF(rect.left() + mNodes[size_t(i)].x * rect.width(), rect.top() + mNodes[size_t(i)].y * rect.height()); };
    for (const auto &e : mEdges) {
        const bool lit = mHover >= 0 && (e.a == mHover || e.b == mHover);
        QColor c = e.influence ? QColor(200, 60, 40) : QColor(90, 110, 160);
        c.setAlphaF(mHover >= 0 && !lit ? 0.15 : 0.75);
        p.setPen(QPen(c, 0.4 + 3.5 * e.weight / maxW, Qt::SolidLine, Qt::RoundCap));
        p.drawLine(at(e.a), at(e.b));
    }
    p.setFont(font);
    const QFontMetricsF fm(font, p.device());
    const double r = std::max(3.0, fm.height() * 0.35);
    for (size_t i = 0; i < mNodes.size(); ++i) {
        const auto &n = mNodes[i];
        const QColor fill = n.kind == 0 ? QColor(40, 40, 40)
            : n.kind == 1               ? QColor(70, 130, 200)
            : n.kind == 3               ? QColor(230, 90, 30)
                                        : QColor(240, 170, 60);
        p.setPen(QPen(Qt::white, 0.8));
        p.setBrush(fill);
        p.drawEllipse(at(int(i)), n.kind == 0 ? r * 1.6 : r, n.kind == 0 ? r * 1.6 : r);
        if (n.kind != 1 || int(i) == mHover || mNodes.size() < 20) {
            p.setPen(Qt::black);
            p.drawText(QRectF(at(int(i)).x() + r + 1, at(int(i)).y() - fm.height() / 2, 160, fm.height()), Qt::AlignLeft | Qt::AlignVCenter, n.label);
        }
    }
}

void InteractionGraph::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    if (mNodes.empty()) {
        p.drawText(rect(), Qt::AlignCenter, tr("Choose a recommendation to see its graph"));
        return;
    }
    paintGraph(p, QRectF(rect()).adjusted(12, 12, -110, -12), font());
}

void InteractionGraph::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const
{
    paintGraph(p, rect.adjusted(4, 4, -rect.width() * 0.22, -4), s.font(0.85));
}

int InteractionGraph::nodeAt(const QPointF &pos) const
{
    const QRectF r = QRectF(rect()).adjusted(12, 12, -110, -12);
    for (size_t i = 0; i < mNodes.size(); ++i)
        if (QLineF(pos, QPointF(r.left() + mNodes[i].x * r.width(), r.top() + mNodes[i].y * r.height())).length() < 8) return int(i);
    return -1;
}

void InteractionGraph::mousePressEvent(QMouseEvent *e) { mDrag = nodeAt(e->position()); }

void InteractionGraph::mouseMoveEvent(QMouseEvent *e)
{
    if (mDrag >= 0) {
        const QRectF r = QRectF(rect()).adjusted(12, 12, -110, -12);
        mNodes[size_t(mDrag)].x = std::clamp((e->position().x() - r.left()) / r.width(), 0.0, 1.0);
        mNodes[size_t(mDrag)].y = std::clamp((e->position().y() - r.top()) / r.height(), 0.0, 1.0);
        update();
        return;
    }
    const int h = nodeAt(e->position());
    if (h != mHover) {
        mHover = h;
        setToolTip(h >= 0 ? mNodes[size_t(h)].label : QString());
        update();
    }
}

void InteractionGraph::mouseReleaseEvent(QMouseEvent *) { mDrag = -1; }

// ---------------------------------------------------------------------------------------- RecommenderPanel

RecommenderPanel::RecommenderPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    auto *bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("User"), this));
    mUser = new QSpinBox(this);
    mUser->setObjectName("recommenderUser");
    bar->addWidget(mUser);
    bar->addWidget(new QLabel(tr("Top"), this));
    mTopN = new QSpinBox(this);
    mTopN->setRange(1, 100);
    mTopN->setValue(10);
    bar->addWidget(mTopN);
    mInfo = new QLabel(tr("Open a recommender model (metadata task \"recommendation\")"), this);
    bar->addWidget(mInfo, 1);
    mMetrics = new QLabel(this);
    bar->addWidget(mMetrics);
    layout->addLayout(bar);
    auto *split = new QSplitter(Qt::Horizontal, this);
    mBars = new ScoreBars(split);
    auto *right = new QSplitter(Qt::Vertical, split);
    auto *tableBox = new QWidget(right);
    auto *tl = new QVBoxLayout(tableBox);
    tl->setContentsMargins(0, 0, 0, 0);
    mSummary = new QLabel(tableBox);
    mSummary->setWordWrap(true);
    tl->addWidget(mSummary);
    mTable = new QTableWidget(tableBox);
    mTable->setColumnCount(4);
    mTable->setHorizontalHeaderLabels({tr("Rated item"), tr("Rating"), tr("Leave-one-out"), tr("Similarity approx.")});
    mTable->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    mTable->verticalHeader()->hide();
    mTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    tl->addWidget(mTable);
    mGraph = new InteractionGraph(right);
    split->addWidget(mBars);
    split->addWidget(right);
    layout->addWidget(split, 1);
    connect(mUser, qOverload<int>(&QSpinBox::valueChanged), this, [this] { emit recommendationsRequested(user(), topN()); });
    connect(mTopN, qOverload<int>(&QSpinBox::valueChanged), this, [this] { emit recommendationsRequested(user(), topN()); });
    connect(mBars, &ScoreBars::itemSelected, this, [this](int row) {
        if (row >= 0 && row < int(mBars->items().size())) emit influenceRequested(user(), mBars->items()[size_t(row)].item, topN());
    });
}

void RecommenderPanel::setRecommender(std::shared_ptr<const MFModel> model, std::shared_ptr<const InteractionData> data)
{
    mModel = std::move(model);
    mData = std::move(data);
    const QSignalBlocker b(mUser);
    mUser->setRange(0, mModel ? int(mModel->users - 1) : 0);
    mInfo->setText(
        mModel ? tr("%1 users, %2 items, %3 factors, %4 interactions").arg(mModel->users).arg(mModel->items).arg(mModel->dim).arg(mData->rows.size())
               : tr("Open a recommender model"));
    mBars->setItems({});
    mGraph->setGraph({}, {});
    mTable->setRowCount(0);
}

void RecommenderPanel::setMetrics(const RecMetrics &m)
{
    mMetrics->setText(tr("held-out: P@%1 %2  R@%1 %3  coverage %4  RMSE %5")
                          .arg(m.k)
                          .arg(m.precisionAtK, 0, 'f', 3)
                          .arg(m.recallAtK, 0, 'f', 3)
                          .arg(m.coverage, 0, 'f', 2)
                          .arg(m.rmse, 0, 'f', 3));
}

void RecommenderPanel::setUser(int64_t u) { mUser->setValue(int(u)); }
int64_t RecommenderPanel::user() const { return mUser->value(); }
int RecommenderPanel::topN() const { return mTopN->value(); }
QString RecommenderPanel::summaryText() const { return mSummary->text(); }

void RecommenderPanel::showRecommendations(std::vector<ScoreDecomposition> top)
{
    mBars->setItems(std::move(top));
    rebuildGraph(nullptr);
    if (!mBars->items().empty()) mBars->select(0);
}

void RecommenderPanel::showInfluence(const InfluenceResult &r)
{
    mTable->setRowCount(int(r.rows.size()));
    for (int i = 0; i < int(r.rows.size()); ++i) {
        const auto &row = r.rows[size_t(i)];
        mTable->setItem(i, 0, new QTableWidgetItem(QString::fromStdString(row.name)));
        mTable->setItem(i, 1, new QTableWidgetItem(QString::number(row.rating)));
        mTable->setItem(i, 2, new QTableWidgetItem(QString::number(row.loo, 'f', 4)));
        mTable->setItem(i, 3, new QTableWidgetItem(QString::number(row.similarity, 'f', 3)));
    }
    QString cf;
    if (r.counterfactual.found) {
        QStringList names;
        for (int64_t it : r.counterfactual.removed) {
            const auto n = mData ? mData->itemNames.find(it) : decltype(mData->itemNames.end()){};
            names << (mData && n != mData->itemNames.end() ? QString::fromStdString(n->second) : QString::number(it));
        }
        cf = tr("Removing %1 drops it from rank %2 to %3.").arg(names.join(", ")).arg(r.counterfactual.rankBefore).arg(r.counterfactual.rankAfter);
    } else {
        cf = tr("No removal of the user's interactions drops it out of the top %1.").arg(topN());
    }
    const auto nameIt = mData ? mData->itemNames.find(r.item) : decltype(mData->itemNames.end()){};
    const QString name = mData && nameIt != mData->itemNames.end() ? QString::fromStdString(nameIt->second) : QString::number(r.item);
    mSummary->setText(tr("<b>%1</b> for user %2 (score %3). Leave-one-out vs similarity agreement (Spearman): %4. %5")
                          .arg(name)
                          .arg(r.user)
                          .arg(r.score, 0, 'f', 3)
                          .arg(r.agreement, 0, 'f', 2)
                          .arg(cf));
    rebuildGraph(&r);
}

void RecommenderPanel::rebuildGraph(const InfluenceResult *r)
{
    if (!mModel || !mData) return;
    const int64_t u = user();
    std::vector<InteractionGraph::Node> nodes;
    std::vector<InteractionGraph::Edge> edges;
    nodes.push_back({tr("user %1").arg(u), 0});
    std::vector<int64_t> ids;
    std::map<int64_t, double> infl;
    if (r)
        for (const auto &row : r->rows) infl[row.item] = std::max(0.0, row.loo);
    auto name = [&](int64_t i) {
        const auto it = mData->itemNames.find(i);
        return it == mData->itemNames.end() ? QString::number(i) : QString::fromStdString(it->second);
    };
    for (const auto *x : mData->ofUser(u)) {
        ids.push_back(x->item);
        nodes.push_back({name(x->item), 1});
        edges.push_back({0, int(nodes.size() - 1), r ? infl[x->item] : 0.3, r != nullptr});
    }
    const int firstRec = int(nodes.size());
    for (const auto &d : mBars->items()) {
        ids.push_back(d.item);
        nodes.push_back({name(d.item), r && d.item == r->item ? 3 : 2});
    }
    // Items linked by embedding similarity (cosine > 0.6), recommended ↔ rated.
    auto cosine = [&](int64_t a, int64_t b) {
        double dot = 0, na = 0, nb = 0;
        for (int64_t k = 0; k < mModel->dim; ++k) {
            dot += double(mModel->q(a)[k]) * mModel->q(b)[k];
            na += double(mModel->q(a)[k]) * mModel->q(a)[k];
            nb += double(mModel->q(b)[k]) * mModel->q(b)[k];
        }
        return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.0;
    };
    for (int a = firstRec; a < int(nodes.size()); ++a)
        for (int b = 1; b < firstRec; ++b) {
            const double c = cosine(ids[size_t(a - 1)], ids[size_t(b - 1)]);
            if (c > 0.6) edges.push_back({a, b, (c - 0.6) * 0.5, false});
        }
    std::vector<std::tuple<int, int, double>> layoutEdges;
    for (const auto &e : edges) layoutEdges.emplace_back(e.a, e.b, e.influence ? 1.0 : 0.5);
    const auto pos = forceLayout(int(nodes.size()), layoutEdges, 250, unsigned(u) + 1);
    for (size_t i = 0; i < nodes.size(); ++i) {
        nodes[i].x = pos[i].first;
        nodes[i].y = pos[i].second;
    }
    mGraph->setGraph(std::move(nodes), std::move(edges));
}

}   // namespace pellucid
