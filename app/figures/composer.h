#pragma once
// The figure composer: rows of inputs × columns of views (the input, an attribution method, a layer's
// activation), with panel letters (a), (b), … and a per-panel, per-column or shared colour scale, painted as
// one figure. The numbers come from computeComposer (engine calls only), shared by the GUI and the headless
// `pellucid-cli figure`, so both draw identical data.
#include "engine/attribution/attribution.h"
#include "engine/core/json.h"
#include "engine/runtime/model.h"
#include "widgets/common/figure.h"

#include <QImage>
#include <QStringList>

#include <functional>
#include <vector>

namespace pellucid {

struct ComposerColumn {
    enum class Kind { Input, Attribution, Activation };
    Kind kind = Kind::Input;
    AttributionParams params;   // Attribution
    std::string layer;          // Activation: the layer; its channels are averaged
    std::string title;          // empty: derived
};

struct ComposerSpec {
    enum class Scale { PerPanel, PerColumn, Shared };
    QStringList rows;   // input files
    std::vector<ComposerColumn> columns;
    Scale scale = Scale::PerColumn;
    bool letters = true;
    double clipPercentile = 99.5;
};

Json composerToJson(const ComposerSpec &spec);
ComposerSpec composerFromJson(const Json &j);   // throws Error(BadInput)

struct ComposerData {
    int rows = 0, cols = 0;
    std::vector<TensorValue> inputs;   // per row, as fed to the model
    std::vector<TensorValue> maps;     // rows × cols, row-major; empty for input columns
    std::vector<int> targets;          // per cell, the explained class (-1 if none)
    QStringList rowTitles, columnTitles;
};

/// Computes every cell (blocking: call it on the engine thread or in the CLI). `cancelled` may stop it.
ComposerData computeComposer(Model &model, const ComposerSpec &spec, const std::function<bool()> &cancelled = {});

class ComposedFigure : public FigureSource {
public:
    ComposedFigure(ComposerData data, ComposerSpec spec);
    double figureAspect() const override;
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;   // base_r{row}_c{col}.npy per computed cell
    int panelCount() const { return mData.rows * mData.cols; }
    QStringList panelLabels() const;   // "(a) row/column", in painting order
    const ComposerData &data() const { return mData; }

private:
    ComposerData mData;
    ComposerSpec mSpec;
    std::vector<QImage> mBase, mOverlay;
    std::vector<double> mLo, mHi;
    std::vector<bool> mDiverging;
};

}   // namespace pellucid
