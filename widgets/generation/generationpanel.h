#pragma once
// The Generation dock for language models: a prompt typed through the model's tokenizer, Generate (tokens
// stream in as they are chosen; Stop cancels) with greedy or sampled decoding, the text with each generated
// token coloured by its probability; click a generated token to see its attribution over the context as a
// heat strip (the method chosen as in the Attribution dock); the full G × L attribution matrix with token
// labels; the logit-lens grid (blocks × positions, each cell's top token, colour = its probability). Every
// view exports as a figure.
#include "engine/core/tensorvalue.h"
#include "widgets/common/figure.h"

#include <QStringList>
#include <QWidget>

#include <vector>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTabWidget;

namespace pellucid {

/// Tokens in a flowing line, each on a colour: probabilities (sequential), or scores (diverging when signed).
class TokenStrip : public QWidget, public FigureSource {
    Q_OBJECT
public:
    enum class Scale { Sequential, Diverging };
    explicit TokenStrip(QWidget *parent = nullptr);
    /// `values` per token (NaN: uncoloured, e.g. the prompt); `bound` ≤ 0: from the values.
    void setTokens(const QStringList &tokens, const std::vector<double> &values, Scale scale, const QString &title, double bound = 0);
    void setSelected(int index);
    int selected() const { return mSelected; }
    int tokenAt(const QPoint &pos) const;
    const QStringList &tokens() const { return mTokens; }
    const std::vector<double> &values() const { return mValues; }
    double figureAspect() const override { return 4.0; }
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;
    QSize sizeHint() const override { return {480, 90}; }

signals:
    void tokenClicked(int index);

protected:
    void paintEvent(QPaintEvent *) override;
    void mousePressEvent(QMouseEvent *e) override;

private:
    std::vector<QRectF> layout(const QRectF &rect, const QFontMetricsF &fm) const;
    QStringList mTokens;
    std::vector<double> mValues;
    Scale mScale = Scale::Sequential;
    QString mTitle;
    double mBound = 1;
    int mSelected = -1;
};

/// Paints a labelled heat map into `rect` (points): values [R, C] with row and column labels (SentencePiece's
/// ▁ shown as a space), optional per-cell texts, sequential or diverging around `bound` (≤ 0: the largest
/// |value|); `cellsOut` receives the cells' rectangle. Shared by LabelledMatrix and the figure composer.
void paintLabelledMatrix(QPainter &p, const QRectF &rect, const QFont &font, const TensorValue &values, const QStringList &rows,
                         const QStringList &columns, bool diverging, const QString &title, const QStringList &cellTexts = {}, double bound = 0,
                         QRectF *cellsOut = nullptr);

/// A labelled heat map: rows × columns with row and column labels, sequential or diverging; cells may carry
/// a text (the logit lens's top token).
class LabelledMatrix : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit LabelledMatrix(QWidget *parent = nullptr);
    void setMatrix(const TensorValue &values, const QStringList &rowLabels, const QStringList &columnLabels, bool diverging, const QString &title,
                   const QStringList &cellTexts = {});
    const TensorValue &matrix() const { return mValues; }
    int rowAt(const QPoint &pos) const;
    double figureAspect() const override;
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;
    QSize sizeHint() const override { return {480, 300}; }

signals:
    void rowClicked(int row);

protected:
    void paintEvent(QPaintEvent *) override;
    void mousePressEvent(QMouseEvent *e) override;

private:
    void paintInto(QPainter &p, const QRectF &rect, const QFont &font, QRectF *cellsOut = nullptr) const;
    TensorValue mValues;
    QStringList mRows, mColumns, mTexts;
    bool mDiverging = false;
    QString mTitle;
    double mBound = 1;
};

struct GenerationControls {
    QString prompt;
    int maxNew = 20;
    double temperature = 0;
    int topK = 0;
    double topP = 1;
    int seed = 0;
    QString method = QStringLiteral("saliency");
};

class GenerationPanel : public QWidget {
    Q_OBJECT
public:
    explicit GenerationPanel(QWidget *parent = nullptr);
    /// Enables the dock for a language model; otherwise shows `reason`.
    void setAvailable(bool available, const QString &reason = {});
    GenerationControls controls() const;
    void setControls(const GenerationControls &c);
    /// The sequence so far: tokens, the prompt's length and each generated token's probability.
    void showSequence(const QStringList &tokens, int promptLength, const std::vector<double> &probabilities, bool running);
    /// The attribution matrix [G, L] of the chosen method (rows: generated tokens).
    void showAttribution(const TensorValue &scores, const QString &method, bool signedScores);
    /// The logit lens: top-token probability per cell [blocks, L], KL to the final layer [blocks, L], the top
    /// tokens' texts, block names. The colour shows the probability or the KL (the lens tab's choice).
    void showLens(const TensorValue &topProbability, const TensorValue &klToFinal, const QStringList &cellTokens, const QStringList &blocks);
    void setLensColour(bool kl);
    void showMessage(const QString &message);
    /// Activation patching: the change of p(target) from the corrupted run [sites, L] when each site's output at
    /// each position is restored from the clean run (and attribution patching's estimate of it), over the clean
    /// prompt's tokens; diverging colours.
    void showPatching(const TensorValue &patched, const TensorValue &estimate, const QStringList &sites, const QStringList &cleanTokens,
                      const QString &summary);
    QString cleanPrompt() const;
    QString corruptPrompt() const;
    QString patchSite() const;   // "block", "attn", "mlp" or "head"
    void setPatchSite(const QString &site);
    void setPatchPrompts(const QString &clean, const QString &corrupt);
    LabelledMatrix *patchView() const { return mPatch; }
    /// The tuned lens beside the logit lens (empty: none trained or loaded).
    void showTunedLens(const TensorValue &topProbability, const QStringList &cellTokens, const QStringList &blocks, const QString &summary);
    LabelledMatrix *tunedLensView() const { return mTuned; }
    int selectedToken() const { return mSelected; }   // the generated token (0-based) the strip explains
    void selectToken(int generated);
    TokenStrip *textStrip() const { return mText; }
    TokenStrip *attributionStrip() const { return mStrip; }
    LabelledMatrix *matrixView() const { return mMatrix; }
    LabelledMatrix *lensView() const { return mLens; }
    QPushButton *generateButton() const { return mGenerate; }

signals:
    void generateRequested();
    void stopRequested();
    void methodChanged(const QString &method);
    void patchRequested();
    void tunedLensRequested();   // train one on a corpus file

private:
    void updateStrip();
    QLineEdit *mPrompt;
    QPushButton *mGenerate, *mStop;
    QSpinBox *mMaxNew, *mTopK, *mSeed;
    QDoubleSpinBox *mTemperature, *mTopP;
    QComboBox *mMethod;
    QLabel *mStatus;
    QTabWidget *mTabs;
    TokenStrip *mText, *mStrip;
    LabelledMatrix *mMatrix, *mLens, *mTuned, *mPatch;
    QLineEdit *mClean, *mCorrupt;
    QComboBox *mSite, *mPatchView, *mLensColour;
    TensorValue mLensTop, mLensKl;
    QStringList mLensTokens, mLensBlocks;
    QLabel *mPatchStatus, *mTunedStatus;
    TensorValue mPatched, mEstimate;
    QStringList mPatchSites, mPatchTokens;
    QStringList mTokens;
    int mPromptLength = 0, mSelected = -1;
    TensorValue mScores;
    bool mSigned = false;
    QString mMethodName;
};

}   // namespace pellucid
