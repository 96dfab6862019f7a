#include "app/figures/composer.h"

#include "app/io/imageinput.h"
#include "app/io/tokenizer.h"
#include "engine/attention/attention.h"
#include "engine/core/errors.h"
#include "engine/core/files.h"
#include "engine/core/npy.h"
#include "engine/generative/generative.h"
#include "engine/language/lm.h"
#include "widgets/attribution/attributionview.h"
#include "widgets/common/colormap.h"
#include "widgets/generation/generationpanel.h"
#include "widgets/latent/latentpanel.h"

#include <QFileInfo>
#include <QPainter>

#include <algorithm>
#include <cmath>
#include <cstdio>

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
    case ComposerColumn::Kind::Attention:
        switch (c.attention) {
        case ComposerColumn::AttentionView::Cls:
            return "CLS attention" + (c.attentionLayer >= 0 ? ", layer " + std::to_string(c.attentionLayer) : std::string(", last layer"))
                + (c.head >= 0 ? ", head " + std::to_string(c.head) : std::string());
        case ComposerColumn::AttentionView::Rollout: return "attention rollout";
        case ComposerColumn::AttentionView::GradientRollout: return "gradient rollout";
        }
        break;
    case ComposerColumn::Kind::Tokens: return "token attributions (IG)";
    case ComposerColumn::Kind::Generated: return "generated (colour: probability)";
    case ComposerColumn::Kind::GenerationAttribution: return c.method + " per generated token";
    case ComposerColumn::Kind::LogitLens: return "logit lens";
    }
    return "?";
}

bool isLanguageColumn(ComposerColumn::Kind k)
{
    return k == ComposerColumn::Kind::Generated || k == ComposerColumn::Kind::GenerationAttribution || k == ComposerColumn::Kind::LogitLens;
}

bool isMatrixColumn(ComposerColumn::Kind k) { return k == ComposerColumn::Kind::GenerationAttribution || k == ComposerColumn::Kind::LogitLens; }

const char *kindName(ComposerColumn::Kind k)
{
    switch (k) {
    case ComposerColumn::Kind::Input: return "input";
    case ComposerColumn::Kind::Attribution: return "attribution";
    case ComposerColumn::Kind::Activation: return "activation";
    case ComposerColumn::Kind::Attention: return "attention";
    case ComposerColumn::Kind::Tokens: return "tokens";
    case ComposerColumn::Kind::Generated: return "generated";
    case ComposerColumn::Kind::GenerationAttribution: return "generation_attribution";
    case ComposerColumn::Kind::LogitLens: return "logit_lens";
    }
    return "input";
}

const char *attentionViewName(ComposerColumn::AttentionView v)
{
    return v == ComposerColumn::AttentionView::Cls ? "cls" : v == ComposerColumn::AttentionView::Rollout ? "rollout" : "grad_rollout";
}

int argmax(const TensorValue &t)
{
    int best = 0;
    for (int64_t i = 1; i < t.numel(); ++i)
        if (t.at(i) > t.at(best)) best = int(i);
    return best;
}

/// The CLS query's row of an attention view: per key, [L].
std::vector<float> clsRow(Model &model, const TensorValue &input, const ComposerColumn &col, int cls, int &target)
{
    TensorValue m;   // [1, L, L] or [1, H, L, L]
    if (col.attention == ComposerColumn::AttentionView::GradientRollout) {
        target = col.target >= 0 ? col.target : argmax(model.forward(input, {}).outputs.at(0));
        m = gradientRollout(model, input, target);
    } else {
        const AttentionResult r = computeAttention(model, input);
        if (col.attention == ComposerColumn::AttentionView::Rollout) {
            m = attentionRollout(r.layers);
        } else {
            const int n = int(r.layers.size());
            if (col.attentionLayer >= n)
                throw Error(ErrorCode::BadInput,
                            "Attention layer " + std::to_string(col.attentionLayer) + " is out of range: the model has " + std::to_string(n));
            const TensorValue &a = r.layers[size_t(col.attentionLayer < 0 ? n - 1 : col.attentionLayer)];
            const int64_t H = a.dim(1), L = a.dim(2), S = a.dim(3);
            if (col.head >= H)
                throw Error(ErrorCode::BadInput, "Head " + std::to_string(col.head) + " is out of range: the layer has " + std::to_string(H));
            if (cls >= L)
                throw Error(ErrorCode::BadInput, "The CLS position " + std::to_string(cls) + " is outside the sequence of " + std::to_string(L));
            std::vector<float> row(size_t(S), 0.f);
            for (int64_t h = 0; h < H; ++h) {
                if (col.head >= 0 && h != col.head) continue;
                for (int64_t k = 0; k < S; ++k) row[size_t(k)] += a.at(((h * L) + cls) * S + k) / float(col.head >= 0 ? 1 : H);
            }
            return row;
        }
    }
    const int64_t L = m.dim(1);
    if (cls >= L) throw Error(ErrorCode::BadInput, "The CLS position " + std::to_string(cls) + " is outside the sequence of " + std::to_string(L));
    return std::vector<float>(m.data() + cls * L, m.data() + (cls + 1) * L);
}

/// A traversal: row d decodes z + t·e_dims[d], t = linspace(lo, hi, steps).
ComposerData computeTraversal(Model &model, const ComposerSpec &spec, const std::function<bool()> &cancelled)
{
    const ComposerTraversal &t = spec.traversal;
    const int64_t D = latentDim(model);
    if (t.dims.empty()) throw Error(ErrorCode::BadInput, "The traversal names no latent dimension");
    if (t.steps < 1 || t.steps > 64) throw Error(ErrorCode::BadInput, "Traversal steps must be 1 to 64, not " + std::to_string(t.steps));
    if (!std::isfinite(t.lo) || !std::isfinite(t.hi)) throw Error(ErrorCode::BadInput, "The traversal range must be finite");
    for (int d : t.dims)
        if (d < 0 || d >= D)
            throw Error(ErrorCode::BadInput, "Latent dimension " + std::to_string(d) + " is out of range: the code has " + std::to_string(D));
    const TensorValue z = t.seed < 0 ? TensorValue({1, D}, std::vector<float>(size_t(D), 0.f)) : sampleCodes(1, D, uint64_t(t.seed));
    std::vector<float> codes;
    for (int d : t.dims) {
        const TensorValue c = traverseCodes(z, d, t.lo, t.hi, t.steps);
        codes.insert(codes.end(), c.data(), c.data() + c.numel());
    }
    if (cancelled && cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
    ComposerData out;
    out.layout = ComposerSpec::Layout::Traversal;
    out.rows = int(t.dims.size());
    out.cols = t.steps;
    out.codes = TensorValue({int64_t(t.dims.size()) * t.steps, D}, std::move(codes));
    TensorValue images = decodeCodes(model, out.codes, t.classIndex);
    if (images.shape().size() != 4)
        throw Error(ErrorCode::BadInput, "The generator's output " + shapeToString(images.shape()) + " is not images [N, C, H, W]");
    // To [0, 1] from the generator's output range (metadata output.range, default [0, 1]).
    double lo = 0, hi = 1;
    if (const Json *o = model.summary().metadata.raw.find("output"))
        if (const Json *r = o->find("range"); r && r->isArray() && r->asArray().size() == 2) {
            lo = r->asArray()[0].asNumber();
            hi = r->asArray()[1].asNumber();
        }
    if (!(hi > lo)) throw Error(ErrorCode::BadMetadata, model.summary().fileName + ": output.range must be increasing");
    std::vector<float> unit(images.data(), images.data() + images.numel());
    for (float &v : unit) v = float((v - lo) / (hi - lo));
    out.images = TensorValue(images.shape(), std::move(unit));
    for (int d : t.dims) out.rowTitles << QString("z%1").arg(d);
    for (int k = 0; k < t.steps; ++k) {
        const double v = t.steps == 1 ? t.lo : t.lo + (t.hi - t.lo) * k / (t.steps - 1);
        out.columnTitles << QString::number(v, 'g', 3);
    }
    return out;
}

}   // namespace

int fieldInt(const Json &v, const char *field, int lo, int hi)
{
    const int64_t x = v.asInt();
    if (x < lo || x > hi)
        throw std::runtime_error(std::string("\"") + field + "\" is " + std::to_string(x) + "; it must be an integer from " + std::to_string(lo)
                                 + " to " + std::to_string(hi));
    return int(x);
}

double fieldReal(const Json &v, const char *field, double lo, double hi)
{
    const double x = v.asNumber();
    if (!(x >= lo && x <= hi)) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "\"%s\" is %.6g; it must be from %.6g to %.6g", field, x, lo, hi);
        throw std::runtime_error(buf);
    }
    return x;
}

QStringList composerColumnTitles(const ComposerSpec &spec)
{
    QStringList out;
    for (const auto &c : spec.columns) out << QString::fromStdString(columnTitle(c));
    return out;
}

Json composerToJson(const ComposerSpec &spec)
{
    Json j = Json::object();
    Json rows = Json::array();
    for (const QString &r : spec.rows) rows.push(Json(r.toStdString()));
    j["rows"] = rows;
    Json cols = Json::array();
    for (const auto &c : spec.columns) {
        Json cj = Json::object();
        cj["kind"] = kindName(c.kind);
        if (c.kind == ComposerColumn::Kind::Attribution) cj["params"] = attributionParamsToJson(c.params);
        if (c.kind == ComposerColumn::Kind::Activation) cj["layer"] = c.layer;
        if (c.kind == ComposerColumn::Kind::Attention) {
            cj["view"] = attentionViewName(c.attention);
            cj["layer"] = c.attentionLayer;
            cj["head"] = c.head;
        }
        if (c.kind == ComposerColumn::Kind::Attention || c.kind == ComposerColumn::Kind::Tokens) cj["target"] = c.target;
        if (c.kind == ComposerColumn::Kind::Tokens || c.kind == ComposerColumn::Kind::GenerationAttribution) cj["steps"] = c.steps;
        if (c.kind == ComposerColumn::Kind::GenerationAttribution) cj["method"] = c.method;
        if (!c.title.empty()) cj["title"] = c.title;
        cols.push(cj);
    }
    j["columns"] = cols;
    if (spec.textRows) j["text_rows"] = true;
    j["max_new"] = spec.maxNew;
    j["layout"] = spec.layout == ComposerSpec::Layout::Traversal ? "traversal" : "grid";
    if (spec.layout == ComposerSpec::Layout::Traversal) {
        Json t = Json::object(), dims = Json::array(), range = Json::array();
        for (int d : spec.traversal.dims) dims.push(Json(int64_t(d)));
        range.push(Json(spec.traversal.lo));
        range.push(Json(spec.traversal.hi));
        t["dims"] = dims;
        t["range"] = range;
        t["steps"] = spec.traversal.steps;
        t["seed"] = spec.traversal.seed;
        t["class"] = spec.traversal.classIndex;
        j["traversal"] = t;
    }
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
                    const Json *params = cj.find("params");
                    if (!params || !params->isObject()) throw std::runtime_error("an attribution column needs \"params\" (at least {\"method\": …})");
                    c.params = attributionParamsFromJson(*params);
                } else if (kind == "activation") {
                    c.kind = ComposerColumn::Kind::Activation;
                    const Json *layer = cj.find("layer");
                    if (!layer || !layer->isString() || layer->asString().empty()) throw std::runtime_error("an activation column needs \"layer\"");
                    c.layer = layer->asString();
                } else if (kind == "attention") {
                    c.kind = ComposerColumn::Kind::Attention;
                    const std::string view = cj.find("view") ? cj.find("view")->asString() : "rollout";
                    if (view == "cls")
                        c.attention = ComposerColumn::AttentionView::Cls;
                    else if (view == "rollout")
                        c.attention = ComposerColumn::AttentionView::Rollout;
                    else if (view == "grad_rollout")
                        c.attention = ComposerColumn::AttentionView::GradientRollout;
                    else
                        throw std::runtime_error("unknown attention view '" + view + "' (cls, rollout or grad_rollout)");
                    if (const Json *v = cj.find("layer")) c.attentionLayer = fieldInt(*v, "layer", -1, 4096);
                    if (const Json *v = cj.find("head")) c.head = fieldInt(*v, "head", -1, 4096);
                } else if (kind == "tokens") {
                    c.kind = ComposerColumn::Kind::Tokens;
                    if (const Json *v = cj.find("steps")) c.steps = fieldInt(*v, "steps", 1, 1000);
                } else if (kind == "generated") {
                    c.kind = ComposerColumn::Kind::Generated;
                } else if (kind == "generation_attribution") {
                    c.kind = ComposerColumn::Kind::GenerationAttribution;
                    if (const Json *v = cj.find("method")) c.method = v->asString();
                    GenerationMethod m;
                    if (!parseGenerationMethod(c.method, m))
                        throw std::runtime_error("unknown generation attribution method '" + c.method
                                                 + "' (saliency, inputxgrad, ig, ablation, attention, rollout)");
                    if (const Json *v = cj.find("steps")) c.steps = fieldInt(*v, "steps", 2, 1000);
                } else if (kind == "logit_lens") {
                    c.kind = ComposerColumn::Kind::LogitLens;
                } else if (kind != "input") {
                    throw std::runtime_error(
                        "unknown column kind '" + kind
                        + "' (input, attribution, activation, attention, tokens, generated, generation_attribution or logit_lens)");
                }
                if (const Json *v = cj.find("target"); v && (kind == "attention" || kind == "tokens"))
                    c.target = fieldInt(*v, "target", -1, 16777215);
                if (const Json *t = cj.find("title")) c.title = t->asString();
                s.columns.push_back(c);
            }
        }
        if (const Json *v = j.find("text_rows")) s.textRows = v->asBool();
        if (const Json *v = j.find("max_new")) s.maxNew = fieldInt(*v, "max_new", 1, 4096);
        if (s.maxNew < 1 || s.maxNew > 256) throw std::runtime_error("max_new must be 1 to 256");
        if (const Json *v = j.find("layout")) {
            const std::string l = v->asString();
            if (l == "traversal")
                s.layout = ComposerSpec::Layout::Traversal;
            else if (l != "grid")
                throw std::runtime_error("unknown layout '" + l + "' (grid or traversal)");
        }
        if (const Json *t = j.find("traversal")) {
            if (const Json *v = t->find("dims")) {
                s.traversal.dims.clear();
                for (const Json &d : v->asArray()) s.traversal.dims.push_back(fieldInt(d, "dims", 0, 1000000));
            }
            if (const Json *v = t->find("range")) {
                if (v->asArray().size() != 2) throw std::runtime_error("traversal range must be [lo, hi]");
                s.traversal.lo = fieldReal(v->asArray()[0], "range", -1e6, 1e6);
                s.traversal.hi = fieldReal(v->asArray()[1], "range", -1e6, 1e6);
            }
            if (const Json *v = t->find("steps")) s.traversal.steps = fieldInt(*v, "steps", 1, 1000);
            if (const Json *v = t->find("seed")) s.traversal.seed = fieldInt(*v, "seed", -1, 1 << 30);
            if (const Json *v = t->find("class")) s.traversal.classIndex = fieldInt(*v, "class", -1, 16777215);
        }
        if (const Json *sc = j.find("scale")) {
            const std::string v = sc->asString();
            s.scale = v == "panel" ? ComposerSpec::Scale::PerPanel : v == "shared" ? ComposerSpec::Scale::Shared : ComposerSpec::Scale::PerColumn;
        }
        if (const Json *l = j.find("letters")) s.letters = l->asBool();
        if (const Json *c = j.find("clip_percentile")) s.clipPercentile = fieldReal(*c, "clip_percentile", 0, 100);
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::BadInput, std::string("Invalid composer layout: ") + e.what());
    }
    return s;
}

ComposerData computeComposer(Model &model, const ComposerSpec &spec, const std::function<bool()> &cancelled)
{
    if (spec.layout == ComposerSpec::Layout::Traversal) return computeTraversal(model, spec, cancelled);
    ComposerData d;
    d.rows = int(spec.rows.size());
    d.cols = int(spec.columns.size());
    for (const auto &c : spec.columns) {
        d.columnTitles << QString::fromStdString(columnTitle(c));
        if (spec.textRows && (c.kind == ComposerColumn::Kind::Attribution || c.kind == ComposerColumn::Kind::Activation))
            throw Error(ErrorCode::BadInput,
                        "The column '" + columnTitle(c) + "' needs image or tensor rows; a text's explanation is a tokens column");
        if (!spec.textRows && (c.kind == ComposerColumn::Kind::Tokens || isLanguageColumn(c.kind)))
            throw Error(ErrorCode::BadInput, "The column '" + columnTitle(c) + "' needs text rows (\"text_rows\": true)");
    }
    const ModelSummary &s = model.summary();
    for (const auto &l : s.metadata.labels) d.classNames << QString::fromStdString(l);
    // Image rows: attention goes on the patch grid (metadata attention.patch_grid) after the CLS token.
    int gridRows = 0, gridCols = 0, cls = spec.textRows ? 0 : -1;
    if (const Json *att = s.metadata.raw.find("attention")) {
        if (const Json *g = att->find("patch_grid"); g && g->isArray() && g->asArray().size() == 2) {
            gridRows = int(g->asArray()[0].asInt());
            gridCols = int(g->asArray()[1].asInt());
        }
        if (const Json *c = att->find("cls_token")) cls = int(c->asInt());
    }
    bool language = false;
    for (const auto &c : spec.columns) language = language || isLanguageColumn(c.kind);
    if (spec.textRows && language) {
        // A language model's rows: the prompt (BOS, no EOS) and its greedy continuation.
        const auto tokenizer = tokenizerForModel(s, true, false);
        for (const QString &row : spec.rows) {
            const std::vector<int64_t> prompt = tokenizer->encode(row.toStdString()).ids;
            GenerationOptions g;
            g.maxNew = spec.maxNew;
            g.cancelled = cancelled;
            const Generation gen = generate(model, prompt, g);
            QStringList tokens;
            for (int64_t id : gen.ids) tokens << QString::fromStdString(tokenizer->piece(id));
            d.tokens.push_back(tokens);
            d.promptLengths.push_back(int(prompt.size()));
            d.inputs.push_back(TensorValue({1, int64_t(gen.ids.size())}, std::vector<float>(gen.ids.begin(), gen.ids.end())).withDtype("int64"));
            d.generations.push_back(gen);
            d.rowTitles << (row.size() > 28 ? row.left(27) + QChar(0x2026) : row);
        }
        d.tokenizerPieces = [tok = std::shared_ptr<Tokenizer>(tokenizerForModel(s, true, false))](int64_t id) {
            return QString::fromStdString(tok->piece(id));
        };
    } else if (spec.textRows) {
        const auto tokenizer = tokenizerForModel(s, true);
        for (const QString &row : spec.rows) {
            const Tokenized t = tokenizer->encode(row.toStdString());
            QStringList tokens;
            for (const auto &tok : t.tokens) tokens << QString::fromStdString(tok);
            d.tokens.push_back(tokens);
            d.inputs.push_back(TensorValue({1, int64_t(t.ids.size())}, std::vector<float>(t.ids.begin(), t.ids.end())));
            d.rowTitles << (row.size() > 28 ? row.left(27) + QChar(0x2026) : row);
        }
    } else {
        for (const QString &row : spec.rows) {
            d.rowTitles << QFileInfo(row).fileName();
            d.inputs.push_back(loadInputFile(row.toStdString(), s.metadata.input, s.inputShape));
        }
    }
    AttributionSink sink;
    sink.cancelled = cancelled;
    for (int r = 0; r < d.rows; ++r) {
        for (int c = 0; c < d.cols; ++c) {
            if (cancelled && cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
            const ComposerColumn &col = spec.columns[size_t(c)];
            const TensorValue &input = d.inputs[size_t(r)];
            TensorValue map;
            int target = -1;
            if (col.kind == ComposerColumn::Kind::Attribution) {
                auto res = computeAttribution(model, input, col.params, sink);
                map = res->map;
                target = res->targetClass;
            } else if (col.kind == ComposerColumn::Kind::Activation) {
                const TensorValue a = model.forward(input, {col.layer}).taps.at(model.resolveLayer(col.layer).path).at(0);
                if (a.shape().size() != 4)
                    throw Error(ErrorCode::BadInput, "Layer '" + col.layer + "' output " + shapeToString(a.shape()) + " is not a map");
                const int64_t C = a.dim(1), plane = a.dim(2) * a.dim(3);
                std::vector<float> mean(size_t(plane), 0.f);
                for (int64_t ch = 0; ch < C; ++ch)
                    for (int64_t i = 0; i < plane; ++i) mean[size_t(i)] += a.at(ch * plane + i) / float(C);
                map = TensorValue({1, 1, a.dim(2), a.dim(3)}, std::move(mean));
            } else if (col.kind == ComposerColumn::Kind::Attention) {
                if (!spec.textRows && (gridRows <= 0 || gridCols <= 0))
                    throw Error(ErrorCode::BadMetadata,
                                s.fileName
                                    + " gives no patch grid (metadata \"attention\": {\"patch_grid\": [rows, cols]}); "
                                      "an attention column on images needs one");
                std::vector<float> row = clsRow(model, input, col, std::max(cls, 0), target);
                if (spec.textRows) {
                    const int64_t n = int64_t(row.size());
                    map = TensorValue({1, n}, std::move(row));
                } else {
                    const size_t first = size_t(cls >= 0 ? cls + 1 : 0), patches = size_t(gridRows) * size_t(gridCols);
                    if (row.size() < first + patches)
                        throw Error(ErrorCode::BadMetadata,
                                    s.fileName + ": the patch grid " + std::to_string(gridRows) + "×" + std::to_string(gridCols)
                                        + " does not fit the " + std::to_string(row.size()) + " attended tokens");
                    map = TensorValue({1, 1, gridRows, gridCols}, std::vector<float>(row.begin() + long(first), row.begin() + long(first + patches)));
                }
            } else if (col.kind == ComposerColumn::Kind::Tokens) {
                const TokenAttribution ta = tokenAttributions(model, input, "", col.target, col.steps, 0);
                map = TensorValue({1, int64_t(ta.scores.size())}, std::vector<float>(ta.scores.begin(), ta.scores.end()));
                target = ta.target;
            }
            QStringList matrixRows, cellTexts;
            if (isLanguageColumn(col.kind)) {
                if (d.generations.empty()) throw Error(ErrorCode::BadInput, "The column '" + columnTitle(col) + "' needs a language model");
                const Generation &gen = d.generations[size_t(r)];
                const int64_t L = int64_t(gen.ids.size()), P = gen.promptLength;
                if (col.kind == ComposerColumn::Kind::Generated) {
                    std::vector<float> v(size_t(L), NAN);
                    for (size_t k = 0; k < gen.steps.size(); ++k) v[size_t(P) + k] = float(gen.steps[k].probability);
                    map = TensorValue({1, L}, std::move(v));
                } else if (col.kind == ComposerColumn::Kind::GenerationAttribution) {
                    GenerationAttributionOptions o;
                    parseGenerationMethod(col.method, o.method);
                    o.steps = col.steps;
                    o.cancelled = cancelled;
                    map = attributeGeneration(model, gen.ids, P, o).scores;
                    matrixRows = d.tokens[size_t(r)].mid(int(P));
                } else {
                    const LogitLens lens = logitLens(model, gen.ids, 1);
                    const int64_t B = lens.probabilities.dim(0), V = lens.probabilities.dim(2);
                    std::vector<float> top(size_t(B * L));
                    for (int64_t c2 = 0; c2 < B * L; ++c2) {
                        top[size_t(c2)] = lens.probabilities.at(c2 * V + lens.topIds[size_t(c2)][0]);
                        cellTexts << d.tokenizerPieces(lens.topIds[size_t(c2)][0]);
                    }
                    map = TensorValue({B, L}, std::move(top));
                    for (const auto &b : lens.blocks) matrixRows << QString::fromStdString(b);
                }
            }
            d.maps.push_back(map);
            d.targets.push_back(target);
            d.matrixRows.push_back(matrixRows);
            d.cellTexts.push_back(cellTexts);
        }
    }
    return d;
}

ComposedFigure::ComposedFigure(ComposerData data, ComposerSpec spec) : mData(std::move(data)), mSpec(std::move(spec))
{
    const int n = mData.rows * mData.cols;
    if (mData.layout == ComposerSpec::Layout::Traversal) {
        for (int i = 0; i < n && mData.images.shape().size() == 4 && i < mData.images.dim(0); ++i)
            mPictures.push_back(generatedPicture(mData.images, i));
        return;
    }
    const bool text = !mData.tokens.empty();
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
        const QImage picture =
            text ? QImage() : inputPicture(mData.inputs[size_t(r)]).convertToFormat(QImage::Format_Grayscale8).convertToFormat(QImage::Format_RGB32);
        for (int c = 0; c < mData.cols; ++c) {
            const size_t i = size_t(r * mData.cols + c);
            const ComposerColumn &col = mSpec.columns[size_t(c)];
            mBase[i] = picture;
            if (col.kind == ComposerColumn::Kind::Input) continue;
            const bool signedMap = (col.kind == ComposerColumn::Kind::Attribution && isSignedMethod(col.params.method))
                || col.kind == ComposerColumn::Kind::Tokens
                || (col.kind == ComposerColumn::Kind::GenerationAttribution
                    && (col.method == "inputxgrad" || col.method == "ig" || col.method == "ablation"));
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
        // One pixel per map element (a text's token colours are the pixels of a 1 × L image).
        QImage img(ws[i], hs[i], QImage::Format_ARGB32);
        for (int y = 0; y < hs[i]; ++y)
            for (int x = 0; x < ws[i]; ++x) {
                const float v = planes[i][y * ws[i] + x];
                const QRgb col = !std::isfinite(v) ? kNanColor : mDiverging[i] ? divergingColor(v / b) : viridis(std::clamp(v / b, 0.0, 1.0));
                img.setPixel(x, y, qRgba(qRed(col), qGreen(col), qBlue(col), text ? 255 : 170));
            }
        mOverlay[i] = img;
    }
}

double ComposedFigure::figureAspect() const
{
    if (mData.rows == 0) return 1.0;
    if (mData.layout == ComposerSpec::Layout::Traversal) return (double(mData.cols) + 0.9) / (double(mData.rows) + 0.35);
    bool matrices = false;
    for (const auto &c : mSpec.columns) matrices = matrices || isMatrixColumn(c.kind);
    const double cell = mData.tokens.empty() ? 1.3 : matrices ? 2.2 : 5.0;   // a text's cells are wide; matrices need height
    return (double(mData.cols) * cell) / (double(mData.rows) * 1.0 + 0.25);
}

QStringList ComposedFigure::panelLabels() const
{
    auto letter = [](int i) { return i < 26 ? QString(QChar('a' + i)) : QString("%1%2").arg(QChar('a' + i / 26 - 1)).arg(QChar('a' + i % 26)); };
    QStringList out;
    if (mData.layout == ComposerSpec::Layout::Traversal) {   // one panel per latent dimension (row)
        for (int r = 0; r < mData.rows; ++r) out << QString("(%1) %2").arg(letter(r), mData.rowTitles.value(r));
        return out;
    }
    for (int r = 0; r < mData.rows; ++r)
        for (int c = 0; c < mData.cols; ++c)
            out << QString("(%1) %2 / %3").arg(letter(r * mData.cols + c), mData.rowTitles.value(r), mData.columnTitles.value(c));
    return out;
}

void ComposedFigure::paintTraversal(QPainter &p, const QRectF &rect, const FigureSettings &s) const
{
    const QFontMetricsF fm(s.font(), p.device());
    const QStringList labels = panelLabels();
    double labelW = 0;
    for (const QString &l : labels) labelW = std::max(labelW, fm.horizontalAdvance(mSpec.letters ? l : l.section(' ', 1)) + 4);
    const double header = s.fontPt * 1.8;
    const double cell = std::min((rect.width() - labelW) / mData.cols, (rect.height() - header) / mData.rows);
    p.setFont(s.font());
    p.setPen(Qt::black);
    for (int c = 0; c < mData.cols; ++c)
        p.drawText(QRectF(rect.left() + labelW + c * cell, rect.top(), cell, header), Qt::AlignCenter, mData.columnTitles.value(c));
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    for (int r = 0; r < mData.rows; ++r) {
        const double y = rect.top() + header + r * cell;
        p.drawText(QRectF(rect.left(), y, labelW - 3, cell), Qt::AlignRight | Qt::AlignVCenter,
                   mSpec.letters ? labels[r] : labels[r].section(' ', 1));
        for (int c = 0; c < mData.cols; ++c) {
            const size_t i = size_t(r * mData.cols + c);
            if (i < mPictures.size()) p.drawImage(QRectF(rect.left() + labelW + c * cell + 0.5, y + 0.5, cell - 1, cell - 1), mPictures[i]);
        }
    }
}

void ComposedFigure::paintTokens(QPainter &p, const QRectF &cell, size_t i, const QString &title, const FigureSettings &s) const
{
    const int row = int(i) / mData.cols;
    const QStringList &tokens = mData.tokens[size_t(row)];
    const QImage &colours = mOverlay[i];
    const QFont font = s.font();
    const QFontMetricsF fm(font, p.device());
    const double line = s.fontPt * 1.4;
    p.setFont(font);
    p.setPen(Qt::black);
    QRectF area = cell;
    if (!title.isEmpty()) {
        p.drawText(QRectF(cell.left(), cell.top(), cell.width(), line), Qt::AlignLeft | Qt::AlignVCenter,
                   fm.elidedText(title, Qt::ElideRight, cell.width()));
        area.setTop(cell.top() + line);
    }
    if (colours.isNull()) {   // the input column: the text itself
        QString text = mData.rowTitles.value(row);
        if (size_t(row) < size_t(mSpec.rows.size())) text = mSpec.rows[row];
        p.drawText(area, Qt::TextWordWrap | Qt::AlignLeft | Qt::AlignTop, text);
        return;
    }
    // The colour scale's ends on the right; tokens flow in the rest, each on its colour.
    const QString hiText = QString::number(mHi[i], 'g', 2), loText = QString::number(mLo[i], 'g', 2);
    const QFontMetricsF small(s.font(0.85), p.device());
    const double scaleW = std::max(small.horizontalAdvance(hiText), small.horizontalAdvance(loText)) + s.fontPt * 1.4;
    const double right = area.right() - scaleW;
    double x = area.left(), y = area.top();
    const double pad = s.fontPt * 0.2, h = fm.height() + pad;
    for (int k = 0; k < tokens.size() && k < colours.width(); ++k) {
        QString tok = tokens[k];
        const bool space = tok.startsWith(QChar(0x2581));   // SentencePiece's word start
        if (space) tok = tok.mid(1);
        if (tok.isEmpty()) tok = QStringLiteral("\u2423");
        const double w = fm.horizontalAdvance(tok) + 2 * pad;
        if (space && x > area.left()) x += fm.horizontalAdvance(' ') * 0.6;
        if (x + w > right && x > area.left()) {
            x = area.left();
            y += h + pad;
        }
        if (y + h > area.bottom()) break;
        const TensorValue &values = mData.maps[i];
        const bool blank = k < values.numel() && !std::isfinite(values.at(k));   // e.g. the prompt of a generated text
        const QRgb c = blank ? qRgb(235, 235, 235) : colours.pixel(k, 0);
        const QRectF box(x, y, w, h);
        p.fillRect(box, QColor(qRed(c), qGreen(c), qBlue(c)));
        p.setPen(qGray(c) < 110 ? Qt::white : Qt::black);
        p.drawText(box, Qt::AlignCenter, tok);
        x += w + 0.6;
    }
    // The scale: a vertical strip with its ends labelled (and 0 when diverging).
    const QRectF bar(right + s.fontPt * 0.4, area.top(), std::max(3.0, s.fontPt * 0.7), std::min(area.height(), s.fontPt * 5));
    const bool diverging = mDiverging[i];
    paintColourStrip(p, bar, [diverging](double t) { return diverging ? divergingColor(2 * t - 1) : viridis(t); });
    p.setFont(s.font(0.85));
    p.drawText(QPointF(bar.right() + 1, bar.top() + small.ascent()), hiText);
    p.drawText(QPointF(bar.right() + 1, bar.bottom()), loText);
}

void ComposedFigure::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const
{
    if (mData.rows == 0 || mData.cols == 0) return;
    if (mData.layout == ComposerSpec::Layout::Traversal) return paintTraversal(p, rect, s);
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
            QString title = letter + (c == 0 && mData.tokens.empty() ? mData.rowTitles.value(r) : QString());
            if (mData.targets[i] >= 0) {
                const QString cls = mData.classNames.value(mData.targets[i]);
                title += (title.isEmpty() ? "" : " ") + (cls.isEmpty() ? QString("class %1").arg(mData.targets[i]) : cls);
            }
            if (!mData.tokens.empty() && isMatrixColumn(mSpec.columns[size_t(c)].kind)) {
                paintLabelledMatrix(p, cell, s.font(0.8), mData.maps[i], mData.matrixRows[i], mData.tokens[size_t(r)], mDiverging[i], title.trimmed(),
                                    mData.cellTexts[i]);
                continue;
            }
            if (!mData.tokens.empty()) {
                paintTokens(p, cell, i, title.trimmed(), s);
                continue;
            }
            const bool diverging = mDiverging[i];
            auto colour = [diverging](double t) { return diverging ? divergingColor(2 * t - 1) : viridis(t); };
            paintHeatmapPanel(p, cell, mBase[i], mOverlay[i], mLo[i], mHi[i], colour, title, s, !mOverlay[i].isNull());
        }
}

QStringList ComposedFigure::writeRawData(const QString &base) const
{
    QStringList files;
    if (mData.layout == ComposerSpec::Layout::Traversal) {
        writeNpy((base + "_images.npy").toStdString(), mData.images);
        writeNpy((base + "_codes.npy").toStdString(), mData.codes);
        return {base + "_images.npy", base + "_codes.npy"};
    }
    for (int r = 0; r < mData.rows; ++r) {
        if (size_t(r) < mData.tokens.size()) {
            const QString f = QString("%1_r%2_tokens.txt").arg(base).arg(r);
            writeTextAtomically(f.toStdString(), mData.tokens[size_t(r)].join('\n').toStdString() + "\n");
            files << f;
        }
        for (int c = 0; c < mData.cols; ++c) {
            const TensorValue &m = mData.maps[size_t(r * mData.cols + c)];
            if (m.numel() == 0) continue;
            const QString f = QString("%1_r%2_c%3.npy").arg(base).arg(r).arg(c);
            writeNpy(f.toStdString(), m);
            files << f;
        }
    }
    return files;
}

}   // namespace pellucid
