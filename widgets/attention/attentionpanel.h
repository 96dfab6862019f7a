#pragma once
// The Attention dock: a model view (layers × heads grid of small attention matrices; click one to open it),
// a head view (tokens in two columns joined by lines whose opacity is the weight, heads by colour, hover a
// token to isolate its lines), a matrix view (the full matrix as a QCustomPlot heat map with token labels),
// an image overlay for vision transformers (the attention of the CLS token — or of any patch clicked —
// on the patch grid, per head or averaged; attention rollout and gradient-weighted rollout) and token
// attributions for text (integrated gradients on the embedding layer, tokens coloured by contribution).
// 512-token inputs stay interactive: matrices are cached images and the head view draws only each query's
// strongest links.
#include "engine/core/tensorvalue.h"
#include "widgets/common/figure.h"

#include <QImage>
#include <QWidget>

#include <vector>

class QComboBox;
class QCustomPlot;
class QCPColorMap;
class QLabel;
class QScrollArea;
class QScrollBar;
class QTabWidget;
class QTextBrowser;
class QCheckBox;

namespace pellucid {

struct AttentionData {
    std::vector<TensorValue> layers;   // per layer [1, H, L, S] (batch item 0)
    QStringList queryTokens, keyTokens;
    QImage image;                       // a ViT's input image (null for text)
    int gridRows = 0, gridCols = 0;     // patch grid of a ViT
    int clsIndex = -1;                  // the CLS token's position (−1: none)
    TensorValue rollout, gradRollout;   // [1, L, L] (may be empty)
    QString title;
};

/// Layers × heads grid of attention matrices.
class AttentionGridView : public QWidget {
    Q_OBJECT
public:
    explicit AttentionGridView(QWidget *parent = nullptr);
    void setData(const std::vector<TensorValue> *layers);
    QSize cellAt(const QPoint &pos) const;   // (layer, head) as width/height, or (−1, −1)
signals:
    void cellClicked(int layer, int head);

protected:
    void paintEvent(QPaintEvent *) override;
    void mousePressEvent(QMouseEvent *) override;

private:
    QRect cellRect(int layer, int head) const;
    std::vector<std::vector<QImage>> mImages;   // [layer][head]
    int mLayers = 0, mHeads = 0;
};

/// BertViz-style head view of one layer.
class HeadView : public QWidget {
    Q_OBJECT
public:
    explicit HeadView(QWidget *parent = nullptr);
    void setData(const TensorValue *layer, const QStringList &queries, const QStringList &keys);
    void setHeads(const std::vector<bool> &enabled);
    void setHover(int query, int key);   // isolate a token's lines (−1: none)
    int linesDrawn() const { return mLinesDrawn; }
    /// The view scrolls itself (only the rows on screen are ever painted): content height and offset.
    int contentHeight() const;
    void setOffset(int pixels);
    int offset() const { return mOffset; }
    static QColor headColor(int head, int heads);
    QSize sizeHint() const override;
signals:
    void hovered(int query, int key);
    void contentChanged(int contentHeight);
    void scrollRequested(int delta);

protected:
    void paintEvent(QPaintEvent *) override;
    void mouseMoveEvent(QMouseEvent *) override;
    void leaveEvent(QEvent *) override;
    void wheelEvent(QWheelEvent *) override;

private:
    const TensorValue *mLayer = nullptr;
    int mOffset = 0;
    QStringList mQueries, mKeys;
    std::vector<bool> mHeads;
    int mHoverQuery = -1, mHoverKey = -1;
    int mLinesDrawn = 0;
    static constexpr int kRow = 16;
    // Each (head, query)'s strongest keys, strongest first: computed once per layer.
    std::vector<std::vector<std::pair<int, float>>> mTop;
    void computeTop();
};

class AttentionPanel : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit AttentionPanel(QWidget *parent = nullptr);
    void setData(const AttentionData &data);
    void clear(const QString &message);
    /// Token attributions (one score per token) for the target class named.
    void setTokenAttributions(const QStringList &tokens, const std::vector<double> &scores, const QString &info);
    void setClasses(const QStringList &labels);
    int layer() const;
    int head() const;   // −1: mean of the heads
    void selectLayerHead(int layer, int head);
    /// The overlay's query: the CLS token, or a clicked patch.
    void setOverlayQuery(int token);
    QImage overlayImage() const { return mOverlayImage; }
    AttentionGridView *modelView() const { return mGrid; }
    HeadView *headView() const { return mHeadView; }
    QCustomPlot *matrixPlot() const { return mMatrix; }
    QTabWidget *tabs() const { return mTabs; }
    QTextBrowser *tokenView() const { return mTokens; }
    QComboBox *overlaySource() const { return mOverlaySource; }
    const AttentionData &data() const { return mData; }

    double figureAspect() const override;
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;

signals:
    void tokenAttributionRequested(int target);

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    void refreshLayer();
    void refreshOverlay();
    /// The matrix shown: one head, or the heads' mean, of the current layer ([L, S] row-major).
    std::vector<float> currentMatrix(int &rows, int &cols) const;
    AttentionData mData;
    QLabel *mInfo;
    QComboBox *mLayerBox, *mHeadBox, *mOverlaySource, *mTarget;
    QTabWidget *mTabs;
    AttentionGridView *mGrid;
    HeadView *mHeadView;
    QWidget *mHeadChecks;
    std::vector<QCheckBox *> mHeadBoxes;
    QScrollBar *mHeadBar;
    QCustomPlot *mMatrix;
    QCPColorMap *mMap = nullptr;
    QLabel *mOverlay;
    QImage mOverlayImage;
    int mOverlayQuery = -1;
    QTextBrowser *mTokens;
};

}   // namespace pellucid
