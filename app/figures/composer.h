#pragma once
// The figure composer: rows of inputs × columns of views (the input, an attribution method, a layer's
// activation, a vision transformer's attention on its patch grid, a text's token attributions), with panel
// letters (a), (b), … and a per-panel, per-column or shared colour scale, painted as one figure. Rows are
// image / tensor files, or texts (through the model's tokenizer). A second layout draws a generator's latent
// traversal: chosen dimensions × steps, decoded from one seeded (or zero) code. The numbers come from computeComposer (engine calls only), shared by the GUI and the headless
// `pellucid-cli figure`, so both draw identical data.
#include "engine/attribution/attribution.h"
#include "engine/core/json.h"
#include "engine/language/lm.h"
#include "engine/runtime/model.h"
#include "widgets/common/figure.h"

#include <QImage>
#include <QStringList>

#include <functional>
#include <vector>

namespace pellucid {

struct ComposerColumn {
    /// Generated, GenerationAttribution, LogitLens: a language model's continuation of a text row (greedy,
    /// ComposerSpec::maxNew tokens) coloured by probability, its per-step attribution matrix [G, P + G], and
    /// its logit lens (each block's top next token and its probability).
    enum class Kind { Input, Attribution, Activation, Attention, Tokens, Generated, GenerationAttribution, LogitLens };
    /// Attention: the CLS token's attention at one layer (heads averaged, or one head), attention rollout, or
    /// gradient-weighted rollout; for image rows on the patch grid (metadata attention.patch_grid), for text
    /// rows over the tokens.
    enum class AttentionView { Cls, Rollout, GradientRollout };
    Kind kind = Kind::Input;
    AttributionParams params;   // Attribution
    std::string layer;          // Activation: the layer; its channels are averaged
    AttentionView attention = AttentionView::Rollout;
    int attentionLayer = -1;           // Cls: the attention site (−1: the last)
    int head = -1;                     // Cls: one head (−1: their mean)
    int target = -1;                   // GradientRollout and Tokens: the class explained (−1: predicted)
    int steps = 50;                    // Tokens, GenerationAttribution (ig): integration points
    std::string method = "saliency";   // GenerationAttribution: saliency, inputxgrad, ig, ablation, attention, rollout
    std::string title;                 // empty: derived
};

/// The traversal layout: row d is the code z + t·e_dims[d] for `steps` offsets t = linspace(lo, hi).
struct ComposerTraversal {
    std::vector<int> dims{0, 1, 2, 3};
    double lo = -3, hi = 3;
    int steps = 7;
    int64_t seed = -1;     // z from the prior as torch.manual_seed(seed); torch.randn(1, D); −1: z = 0
    int classIndex = -1;   // a conditional generator's class
};

struct ComposerSpec {
    enum class Scale { PerPanel, PerColumn, Shared };
    enum class Layout { Grid, Traversal };
    Layout layout = Layout::Grid;
    QStringList rows;        // Grid: input files, or texts when `textRows`
    bool textRows = false;   // rows are texts, encoded by the model's tokenizer
    int maxNew = 12;         // language-model columns: tokens generated (greedy) per text row
    std::vector<ComposerColumn> columns;
    ComposerTraversal traversal;   // Traversal
    Scale scale = Scale::PerColumn;
    bool letters = true;
    double clipPercentile = 99.5;
};

Json composerToJson(const ComposerSpec &spec);
/// The columns' titles (a column's own title, else one derived from its kind and parameters).
QStringList composerColumnTitles(const ComposerSpec &spec);
ComposerSpec composerFromJson(const Json &j);   // throws Error(BadInput)
/// A numeric field of a composer or session JSON in its range, else std::runtime_error naming the field.
int fieldInt(const Json &v, const char *field, int lo, int hi);
double fieldReal(const Json &v, const char *field, double lo, double hi);

struct ComposerData {
    ComposerSpec::Layout layout = ComposerSpec::Layout::Grid;
    int rows = 0, cols = 0;
    std::vector<TensorValue> inputs;                   // per row, as fed to the model
    std::vector<QStringList> tokens;                   // per row of a text grid, its tokens (a language model's: prompt + generated)
    std::vector<int> promptLengths;                    // per row, with language-model columns: the prompt's tokens
    std::vector<QStringList> matrixRows, cellTexts;    // per cell: a matrix's row labels and per-entry texts (lens)
    std::vector<Generation> generations;               // per row, with language-model columns
    std::function<QString(int64_t)> tokenizerPieces;   // id → token string, with language-model columns
    std::vector<TensorValue> maps;                     // rows × cols, row-major; empty for input columns; [1, L] over tokens
    std::vector<int> targets;                          // per cell, the explained class (-1 if none)
    TensorValue images;                                // Traversal: [rows × cols, C, H, W] in [0, 1], row-major
    TensorValue codes;                                 // Traversal: the decoded codes [rows × cols, D]
    QStringList rowTitles, columnTitles;
    QStringList classNames;   // the model's labels (titles name the explained class)
};

/// Computes every cell (blocking: call it on the engine thread or in the CLI). `cancelled` may stop it.
ComposerData computeComposer(Model &model, const ComposerSpec &spec, const std::function<bool()> &cancelled = {});

class ComposedFigure : public FigureSource {
public:
    ComposedFigure(ComposerData data, ComposerSpec spec);
    double figureAspect() const override;
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    /// base_r{row}_c{col}.npy per computed cell (a text's tokens beside it as base_r{row}_tokens.txt); a
    /// traversal as base_images.npy and base_codes.npy.
    QStringList writeRawData(const QString &base) const override;
    int panelCount() const { return mData.rows * mData.cols; }
    QStringList panelLabels() const;   // "(a) row/column", in painting order
    const ComposerData &data() const { return mData; }

private:
    void paintTraversal(QPainter &p, const QRectF &rect, const FigureSettings &settings) const;
    void paintTokens(QPainter &p, const QRectF &cell, size_t index, const QString &title, const FigureSettings &settings) const;
    ComposerData mData;
    ComposerSpec mSpec;
    std::vector<QImage> mBase, mOverlay;
    std::vector<double> mLo, mHi;
    std::vector<bool> mDiverging;
    std::vector<QImage> mPictures;   // Traversal: the decoded images
};

}   // namespace pellucid
