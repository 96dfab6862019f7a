#include "app/figures/composer.h"

#include "app/io/imageinput.h"
#include "engine/core/errors.h"
#include "engine/core/npy.h"
#include "widgets/attribution/attributionview.h"
#include "widgets/common/colormap.h"

#include <QFileInfo>
#include <QPainter>

#include <cmath>

namespace pellucid {
namespace {

const char *scaleName(ComposerSpec::Scale s)
{
    return s == ComposerSpec::Scale::PerPanel ? "panel" : s == ComposerSpec::Scale::Shared ? "shared" : "column";
}

std::string columnTitle(const ComposerColumn &c)
{
    if (!c.title.empty()) return c.title;
    switch (c.kind) {
    case ComposerColumn::Kind::Input: return "input";
    case ComposerColumn::Kind::Attribution:
        return std::string(methodName(c.params.method))
            + (c.params.layer.empty() || !(isCamMethod(c.params.method) || c.params.method == AttributionMethod::GuidedGradCam)
                   ? ""
                   : " @ " + c.params.layer);
    case ComposerColumn::Kind::Activation: return c.layer + " (mean)";
    }
    return "?";
}

}   // namespace

Json composerToJson(const ComposerSpec &spec)
{
    Json j = Json::object();
    Json rows = Json::array();
    for (const QString &r : spec.rows) rows.push(Json(r.toStdString()));
    j["rows"] = rows;
    Json cols = Json::array();
    for (const auto &c : spec.columns) {
        Json cj = Json::object();
        cj["kind"] = c.kind == ComposerColumn::Kind::Input ? "input" : c.kind == ComposerColumn::Kind::Attribution ? "attribution" : "activation";
        if (c.kind == ComposerColumn::Kind::Attribution) cj["params"] = attributionParamsToJson(c.params);
        if (c.kind == ComposerColumn::Kind::Activation) cj["layer"] = c.layer;
        if (!c.title.empty()) cj["title"] = c.title;
        cols.push(cj);
    }
    j["columns"] = cols;
    j["scale"] = scaleName(spec.scale);
    j["letters"] = spec.letters;
    j["clip_percentile"] = spec.clipPercentile;
    return j;
}

ComposerSpec composerFromJson(const Json &j)
{
    ComposerSpec s;
    try {
        if (const Json *rows = j.find("rows"))
            for (const Json &r : rows->asArray()) s.rows << QString::fromStdString(r.asString());
        if (const Json *cols = j.find("columns")) {
            for (const Json &cj : cols->asArray()) {
                ComposerColumn c;
                const std::string kind = cj.find("kind") ? cj.find("kind")->asString() : "input";
                if (kind == "attribution") {
                    c.kind = ComposerColumn::Kind::Attribution;
                    c.params = attributionParamsFromJson(*cj.find("params"));
                } else if (kind == "activation") {
                    c.kind = ComposerColumn::Kind::Activation;
                    c.layer = cj.find("layer")->asString();
                } else if (kind != "input") {
                    throw std::runtime_error("unknown column kind '" + kind + "'");
                }
                if (const Json *t = cj.find("title")) c.title = t->asString();
                s.columns.push_back(c);
            }
        }
        if (const Json *sc = j.find("scale")) {
            const std::string v = sc->asString();
            s.scale = v == "panel" ? ComposerSpec::Scale::PerPanel : v == "shared" ? ComposerSpec::Scale::Shared : ComposerSpec::Scale::PerColumn;
        }
        if (const Json *l = j.find("letters")) s.letters = l->asBool();
        if (const Json *c = j.find("clip_percentile")) s.clipPercentile = c->asNumber();
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::BadInput, std::string("Invalid composer layout: ") + e.what());
    }
    return s;
}

ComposerData computeComposer(Model &model, const ComposerSpec &spec, const std::function<bool()> &cancelled)
{
    ComposerData d;
    d.rows = int(spec.rows.size());
    d.cols = int(spec.columns.size());
    for (const auto &c : spec.columns) d.columnTitles << QString::fromStdString(columnTitle(c));
    const ModelSummary &s = model.summary();
    for (const QString &row : spec.rows) {
        d.rowTitles << QFileInfo(row).fileName();
        d.inputs.push_back(loadInputFile(row.toStdString(), s.metadata.input, s.inputShape));
    }
    AttributionSink sink;
    sink.cancelled = cancelled;
    for (int r = 0; r < d.rows; ++r) {
        for (int c = 0; c < d.cols; ++c) {
            if (cancelled && cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
            const ComposerColumn &col = spec.columns[size_t(c)];
            TensorValue map;
            int target = -1;
            if (col.kind == ComposerColumn::Kind::Attribution) {
                auto res = computeAttribution(model, d.inputs[size_t(r)], col.params, sink);
                map = res->map;
                target = res->targetClass;
            } else if (col.kind == ComposerColumn::Kind::Activation) {
                const TensorValue a = model.forward(d.inputs[size_t(r)], {col.layer}).taps.at(model.resolveLayer(col.layer).path).at(0);
                if (a.shape().size() != 4)
                    throw Error(ErrorCode::BadInput, "Layer '" + col.layer + "' output " + shapeToString(a.shape()) + " is not a map");
                const int64_t C = a.dim(1), plane = a.dim(2) * a.dim(3);
                std::vector<float> mean(size_t(plane), 0.f);
                for (int64_t ch = 0; ch < C; ++ch)
                    for (int64_t i = 0; i < plane; ++i) mean[size_t(i)] += a.at(ch * plane + i) / float(C);
                map = TensorValue({1, 1, a.dim(2), a.dim(3)}, std::move(mean));
            }
            d.maps.push_back(map);
            d.targets.push_back(target);
        }
    }
    return d;
}

ComposedFigure::ComposedFigure(ComposerData data, ComposerSpec spec) : mData(std::move(data)), mSpec(std::move(spec))
{
    const int n = mData.rows * mData.cols;
    mBase.resize(size_t(n));
    mOverlay.resize(size_t(n));
    mLo.assign(size_t(n), 0);
    mHi.assign(size_t(n), 0);
    mDiverging.assign(size_t(n), false);
    const auto count = static_cast<size_t>(n);
    std::vector<QVector<float>> planes(count);
    std::vector<int> hs(count), ws(count);
    std::vector<double> bounds(count, 0.0);
    for (int r = 0; r < mData.rows; ++r) {
        const QImage picture = inputPicture(mData.inputs[size_t(r)]).convertToFormat(QImage::Format_Grayscale8).convertToFormat(QImage::Format_RGB32);
        for (int c = 0; c < mData.cols; ++c) {
            const size_t i = size_t(r * mData.cols + c);
            const ComposerColumn &col = mSpec.columns[size_t(c)];
            mBase[i] = picture;
            if (col.kind == ComposerColumn::Kind::Input) continue;
            const bool signedMap = col.kind == ComposerColumn::Kind::Attribution && isSignedMethod(col.params.method);
            mDiverging[i] = signedMap;
            planes[i] = reducePlane(mData.maps[i], signedMap ? SignMode::All : SignMode::Absolute, hs[i], ws[i]);
            bounds[i] = percentileBound(planes[i], mSpec.clipPercentile);
        }
    }
    // Colour scales: each panel its own, one per column, or one for all.
    for (size_t i = 0; i < size_t(n); ++i) {
        if (planes[i].isEmpty()) continue;
        double b = bounds[i];
        for (size_t k = 0; k < size_t(n); ++k) {
            const bool sameColumn = int(k) % mData.cols == int(i) % mData.cols;
            if ((mSpec.scale == ComposerSpec::Scale::Shared || (mSpec.scale == ComposerSpec::Scale::PerColumn && sameColumn)) && !planes[k].isEmpty())
                b = std::max(b, bounds[k]);
        }
        if (b <= 0) b = 1;
        mHi[i] = b;
        mLo[i] = mDiverging[i] ? -b : 0;
        QImage img(ws[i], hs[i], QImage::Format_ARGB32);
        for (int y = 0; y < hs[i]; ++y)
            for (int x = 0; x < ws[i]; ++x) {
                const float v = planes[i][y * ws[i] + x];
                const QRgb col = !std::isfinite(v) ? kNanColor : mDiverging[i] ? divergingColor(v / b) : viridis(std::clamp(v / b, 0.0, 1.0));
                img.setPixel(x, y, qRgba(qRed(col), qGreen(col), qBlue(col), 170));
            }
        mOverlay[i] = img;
    }
}

double ComposedFigure::figureAspect() const { return mData.rows == 0 ? 1.0 : (double(mData.cols) * 1.3) / (double(mData.rows) * 1.0 + 0.25); }

QStringList ComposedFigure::panelLabels() const
{
    QStringList out;
    for (int r = 0; r < mData.rows; ++r)
        for (int c = 0; c < mData.cols; ++c) {
            const int i = r * mData.cols + c;
            QString letter = i < 26 ? QString(QChar('a' + i)) : QString("%1%2").arg(QChar('a' + i / 26 - 1)).arg(QChar('a' + i % 26));
            out << QString("(%1) %2 / %3").arg(letter, mData.rowTitles.value(r), mData.columnTitles.value(c));
        }
    return out;
}

void ComposedFigure::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const
{
    if (mData.rows == 0 || mData.cols == 0) return;
    const double header = s.fontPt * 1.8;
    const double cellW = rect.width() / mData.cols;
    const double cellH = (rect.height() - header) / mData.rows;
    p.setFont(s.font());
    p.setPen(Qt::black);
    for (int c = 0; c < mData.cols; ++c)
        p.drawText(QRectF(rect.left() + c * cellW, rect.top(), cellW, header), Qt::AlignCenter,
                   QFontMetricsF(s.font(), p.device()).elidedText(mData.columnTitles.value(c), Qt::ElideRight, cellW - 2));
    const QStringList labels = panelLabels();
    for (int r = 0; r < mData.rows; ++r)
        for (int c = 0; c < mData.cols; ++c) {
            const size_t i = size_t(r * mData.cols + c);
            const QRectF cell(rect.left() + c * cellW + 2, rect.top() + header + r * cellH + 1, cellW - 4, cellH - 3);
            const QString letter = mSpec.letters ? labels[int(i)].section(' ', 0, 0) + " " : QString();
            const QString title = letter + (c == 0 ? mData.rowTitles.value(r) : QString());
            const bool diverging = mDiverging[i];
            auto colour = [diverging](double t) { return diverging ? divergingColor(2 * t - 1) : viridis(t); };
            paintHeatmapPanel(p, cell, mBase[i], mOverlay[i], mLo[i], mHi[i], colour, title, s, !mOverlay[i].isNull());
        }
}

QStringList ComposedFigure::writeRawData(const QString &base) const
{
    QStringList files;
    for (int r = 0; r < mData.rows; ++r)
        for (int c = 0; c < mData.cols; ++c) {
            const TensorValue &m = mData.maps[size_t(r * mData.cols + c)];
            if (m.numel() == 0) continue;
            const QString f = QString("%1_r%2_c%3.npy").arg(base).arg(r).arg(c);
            writeNpy(f.toStdString(), m);
            files << f;
        }
    return files;
}

}   // namespace pellucid
