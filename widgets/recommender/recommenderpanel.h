#pragma once
// The Recommender dock: a user's top-N with each score decomposed into biases and per-factor
// contributions (stacked bars), which of their interactions pushed the selected item up (exact
// leave-one-out beside the fast similarity approximation, with their agreement, and the counterfactual),
// an interactive force-directed interaction graph, and held-out metrics. Bars and graph export as figures.
#include "engine/recommender/recommender.h"
#include "widgets/common/figure.h"

#include <QWidget>

#include <memory>

class QLabel;
class QSpinBox;
class QTableWidget;

namespace pellucid {

/// Horizontal stacked bars: global + user bias + item bias + one segment per latent factor.
class ScoreBars : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit ScoreBars(QWidget *parent = nullptr);
    void setItems(std::vector<ScoreDecomposition> items);
    const std::vector<ScoreDecomposition> &items() const { return mItems; }
    int selected() const { return mSelected; }
    void select(int row);
    double figureAspect() const override { return 1.8; }
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;
    QSize sizeHint() const override { return {420, 300}; }

signals:
    void itemSelected(int row);

protected:
    void paintEvent(QPaintEvent *) override;
    void mousePressEvent(QMouseEvent *) override;

private:
    void paintBars(QPainter &p, const QRectF &rect, const QFont &font, bool interactive) const;
    std::vector<ScoreDecomposition> mItems;
    int mSelected = 0;
};

/// The user, their rated items and the recommended items, laid out force-directed. Edge width: influence
/// on the selected recommendation (user–rated) or embedding similarity (item–item). Drag nodes; hover a
/// node to highlight its edges.
class InteractionGraph : public QWidget, public FigureSource {
    Q_OBJECT
public:
    struct Node {
        QString label;
        int kind = 0;   // 0 user, 1 rated, 2 recommended, 3 selected recommendation
        double x = 0.5, y = 0.5;
    };
    struct Edge {
        int a = 0, b = 0;
        double weight = 0;   // ≥ 0, drawn as width
        bool influence = false;
    };
    explicit InteractionGraph(QWidget *parent = nullptr);
    void setGraph(std::vector<Node> nodes, std::vector<Edge> edges);
    const std::vector<Node> &nodes() const { return mNodes; }
    const std::vector<Edge> &edges() const { return mEdges; }
    double figureAspect() const override { return 1.3; }
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QSize sizeHint() const override { return {420, 320}; }

protected:
    void paintEvent(QPaintEvent *) override;
    void mousePressEvent(QMouseEvent *) override;
    void mouseMoveEvent(QMouseEvent *) override;
    void mouseReleaseEvent(QMouseEvent *) override;

private:
    void paintGraph(QPainter &p, const QRectF &rect, const QFont &font) const;
    int nodeAt(const QPointF &pos) const;
    std::vector<Node> mNodes;
    std::vector<Edge> mEdges;
    int mHover = -1, mDrag = -1;
};

class RecommenderPanel : public QWidget {
    Q_OBJECT
public:
    explicit RecommenderPanel(QWidget *parent = nullptr);
    /// The model and its data (nullptr: no recommender loaded).
    void setRecommender(std::shared_ptr<const MFModel> model, std::shared_ptr<const InteractionData> data);
    void setMetrics(const RecMetrics &m);
    void setUser(int64_t user);
    int64_t user() const;
    int topN() const;
    /// Results computed on the engine thread.
    void showRecommendations(std::vector<ScoreDecomposition> top);
    void showInfluence(const InfluenceResult &r);
    ScoreBars *bars() const { return mBars; }
    InteractionGraph *graph() const { return mGraph; }
    QTableWidget *influenceTable() const { return mTable; }
    QString summaryText() const;

signals:
    /// The user or N changed: recompute the top-N; an item was chosen: recompute its influence.
    void recommendationsRequested(int64_t user, int n);
    void influenceRequested(int64_t user, int64_t item, int n);

private:
    void rebuildGraph(const InfluenceResult *r);
    std::shared_ptr<const MFModel> mModel;
    std::shared_ptr<const InteractionData> mData;
    QSpinBox *mUser, *mTopN;
    QLabel *mInfo, *mMetrics, *mSummary;
    ScoreBars *mBars;
    QTableWidget *mTable;
    InteractionGraph *mGraph;
};

}   // namespace pellucid
