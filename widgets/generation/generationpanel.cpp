#include "widgets/generation/generationpanel.h"

#include "engine/core/files.h"
#include "engine/core/npy.h"
#include "widgets/attribution/attributionview.h"
#include "widgets/common/colormap.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMouseEvent>
#include <QPainter>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace pellucid {
namespace {

QString display(QString tok)
{
    tok.replace(QChar(0x2581), ' ');   // SentencePiece's word start
    if (tok.startsWith("##")) tok = tok.mid(2);
    return tok.trimmed().isEmpty() ? QStringLiteral("\u2423") : tok;
}

QRgb colourOf(double v, double bound, bool diverging)
{
    if (!std::isfinite(v)) return qRgb(235, 235, 235);
    return diverging ? divergingColor(std::clamp(v / bound, -1.0, 1.0)) : viridis(std::clamp(v / bound, 0.0, 1.0));
}

}   // namespace

// ---- TokenStrip

TokenStrip::TokenStrip(QWidget *parent) : QWidget(parent) { setMinimumHeight(60); }

void TokenStrip::setTokens(const QStringList &tokens, const std::vector<double> &values, Scale scale, const QString &title, double bound)
{
    mTokens = tokens;
    mValues = values;
    mScale = scale;
    mTitle = title;
    mBound = bound;
    if (mBound <= 0) {
        mBound = 0;
        for (double v : values)
            if (std::isfinite(v)) mBound = std::max(mBound, std::fabs(v));
        if (mBound <= 0) mBound = 1;
    }
    if (mSelected >= tokens.size()) mSelected = -1;
    update();
}

void TokenStrip::setSelected(int index)
{
    mSelected = index;
    update();
}

std::vector<QRectF> TokenStrip::layout(const QRectF &rect, const QFontMetricsF &fm) const
{
    std::vector<QRectF> boxes;
    const double h = fm.height() + 4, pad = 3;
    double x = rect.left(), y = rect.top();
    for (const QString &t : mTokens) {
        const double w = fm.horizontalAdvance(display(t)) + 2 * pad;
        if (x + w > rect.right() && x > rect.left()) {
            x = rect.left();
            y += h + 3;
        }
        boxes.emplace_back(x, y, w, h);
        x += w + 2;
    }
    return boxes;
}

int TokenStrip::tokenAt(const QPoint &pos) const
{
    const QRectF area = QRectF(rect()).adjusted(4, 4 + fontMetrics().height() + 2, -4, -4);
    const auto boxes = layout(area, QFontMetricsF(font()));
    for (size_t i = 0; i < boxes.size(); ++i)
        if (boxes[i].contains(pos)) return int(i);
    return -1;
}

void TokenStrip::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const
{
    const QFont f = s.font();
    p.setFont(f);
    const QFontMetricsF fm(f, p.device());
    p.setPen(Qt::black);
    QRectF area = rect;
    if (!mTitle.isEmpty()) {
        p.drawText(QRectF(rect.left(), rect.top(), rect.width(), fm.height()), Qt::AlignLeft | Qt::AlignVCenter, mTitle);
        area.setTop(rect.top() + fm.height() + 2);
    }
    const auto boxes = layout(area, fm);
    const bool div = mScale == Scale::Diverging;
    for (size_t i = 0; i < boxes.size(); ++i) {
        const double v = i < mValues.size() ? mValues[i] : NAN;
        const QRgb c = colourOf(v, mBound, div);
        p.fillRect(boxes[i], QColor(c));
        if (int(i) == mSelected) {
            p.setPen(QPen(QColor(230, 60, 20), 1.6));
            p.drawRect(boxes[i]);
        }
        p.setPen(std::isfinite(v) && qGray(c) < 110 ? Qt::white : Qt::black);
        p.drawText(boxes[i], Qt::AlignCenter, display(mTokens[int(i)]));
    }
}

void TokenStrip::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), Qt::white);
    FigureSettings s;
    s.fontPt = font().pointSizeF() > 0 ? font().pointSizeF() : 9;
    s.fontFamily = font().family();
    if (mTokens.isEmpty()) {
        p.drawText(rect(), Qt::AlignCenter, mTitle.isEmpty() ? tr("Nothing yet") : mTitle);
        return;
    }
    paintFigure(p, QRectF(rect()).adjusted(4, 4, -4, -4), s);
}

void TokenStrip::mousePressEvent(QMouseEvent *e)
{
    const int i = tokenAt(e->pos());
    if (i >= 0) emit tokenClicked(i);
}

QStringList TokenStrip::writeRawData(const QString &base) const
{
    std::string text;
    for (int i = 0; i < mTokens.size(); ++i)
        text += mTokens[i].toStdString() + "\t"
            + (size_t(i) < mValues.size() && std::isfinite(mValues[size_t(i)]) ? std::to_string(mValues[size_t(i)]) : "") + "\n";
    writeTextAtomically((base + ".tsv").toStdString(), "token\tvalue\n" + text);
    return {base + ".tsv"};
}

// ---- LabelledMatrix

LabelledMatrix::LabelledMatrix(QWidget *parent) : QWidget(parent) { setMinimumHeight(120); }

void LabelledMatrix::setMatrix(const TensorValue &values, const QStringList &rows, const QStringList &columns, bool diverging, const QString &title,
                               const QStringList &cellTexts)
{
    mValues = values;
    mRows = rows;
    mColumns = columns;
    mDiverging = diverging;
    mTitle = title;
    mTexts = cellTexts;
    mBound = 0;
    for (int64_t i = 0; i < values.numel(); ++i)
        if (std::isfinite(values.at(i))) mBound = std::max(mBound, double(std::fabs(values.at(i))));
    if (mBound <= 0) mBound = 1;
    update();
}

double LabelledMatrix::figureAspect() const
{
    if (mValues.shape().size() != 2) return 1.5;
    return std::clamp((double(mValues.dim(1)) + 3) / (double(mValues.dim(0)) + 3), 0.5, 4.0);
}

void paintLabelledMatrix(QPainter &p, const QRectF &rect, const QFont &font, const TensorValue &mValues, const QStringList &mRows,
                         const QStringList &mColumns, bool mDiverging, const QString &mTitle, const QStringList &mTexts, double mBound,
                         QRectF *cellsOut)
{
    if (mValues.shape().size() != 2) return;
    const int R = int(mValues.dim(0)), C = int(mValues.dim(1));
    if (mBound <= 0) {
        for (int64_t i = 0; i < mValues.numel(); ++i)
            if (std::isfinite(mValues.at(i))) mBound = std::max(mBound, double(std::fabs(mValues.at(i))));
        if (mBound <= 0) mBound = 1;
    }
    p.setFont(font);
    const QFontMetricsF fm(font, p.device());
    double rowW = 0, colH = 0;
    for (const QString &r : mRows) rowW = std::max(rowW, fm.horizontalAdvance(display(r)));
    for (const QString &c : mColumns) colH = std::max(colH, fm.horizontalAdvance(display(c)));
    rowW += 6;
    colH = std::min(colH + 6, rect.height() * 0.35);
    const double titleH = mTitle.isEmpty() ? 0 : fm.height() + 2;
    const QRectF cells(rect.left() + rowW, rect.top() + titleH + colH, rect.width() - rowW, rect.height() - titleH - colH);
    if (cellsOut) *cellsOut = cells;
    const double cw = cells.width() / C, ch = cells.height() / R;
    p.setPen(Qt::black);
    if (!mTitle.isEmpty()) p.drawText(QRectF(rect.left(), rect.top(), rect.width(), fm.height()), Qt::AlignLeft, mTitle);
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) {
            const double v = mValues.at(int64_t(r) * C + c);
            const QRectF cell(cells.left() + c * cw, cells.top() + r * ch, cw, ch);
            const QRgb col = colourOf(v, mBound, mDiverging);
            p.fillRect(cell.adjusted(0, 0, 0.5, 0.5), QColor(col));
            if (r * C + c < mTexts.size() && ch > fm.height() * 0.8) {
                p.setPen(qGray(col) < 110 ? Qt::white : Qt::black);
                p.drawText(cell, Qt::AlignCenter, fm.elidedText(display(mTexts[r * C + c]), Qt::ElideRight, cw - 1));
            }
        }
    p.setPen(Qt::black);
    for (int r = 0; r < R && r < mRows.size(); ++r)
        p.drawText(QRectF(rect.left(), cells.top() + r * ch, rowW - 4, ch), Qt::AlignRight | Qt::AlignVCenter, display(mRows[r]));
    for (int c = 0; c < C && c < mColumns.size(); ++c) {
        p.save();
        p.translate(cells.left() + (c + 0.5) * cw, cells.top() - 3);
        p.rotate(-90);
        p.drawText(QRectF(0, -fm.height() / 2, colH, fm.height()), Qt::AlignLeft | Qt::AlignVCenter, display(mColumns[c]));
        p.restore();
    }
}

void LabelledMatrix::paintInto(QPainter &p, const QRectF &rect, const QFont &font, QRectF *cellsOut) const
{
    paintLabelledMatrix(p, rect, font, mValues, mRows, mColumns, mDiverging, mTitle, mTexts, mBound, cellsOut);
}

int LabelledMatrix::rowAt(const QPoint &pos) const
{
    if (mValues.shape().size() != 2) return -1;
    QImage scratch(1, 1, QImage::Format_RGB32);
    QPainter p(&scratch);
    QRectF cells;
    paintInto(p, QRectF(rect()).adjusted(4, 4, -4, -4), font(), &cells);
    if (!cells.contains(pos)) return -1;
    return int((pos.y() - cells.top()) / (cells.height() / mValues.dim(0)));
}

void LabelledMatrix::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const { paintInto(p, rect, s.font()); }

void LabelledMatrix::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), Qt::white);
    if (mValues.numel() == 0) {
        p.drawText(rect(), Qt::AlignCenter, mTitle.isEmpty() ? tr("Nothing yet") : mTitle);
        return;
    }
    paintInto(p, QRectF(rect()).adjusted(4, 4, -4, -4), font());
}

void LabelledMatrix::mousePressEvent(QMouseEvent *e)
{
    const int r = rowAt(e->pos());
    if (r >= 0) emit rowClicked(r);
}

QStringList LabelledMatrix::writeRawData(const QString &base) const
{
    if (mValues.numel() == 0) return {};
    writeNpy((base + ".npy").toStdString(), mValues);
    return {base + ".npy"};
}

// ---- GenerationPanel

GenerationPanel::GenerationPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    auto *top = new QHBoxLayout;
    mPrompt = new QLineEdit(this);
    mPrompt->setPlaceholderText(tr("Prompt, through the model's tokenizer"));
    mGenerate = new QPushButton(tr("Generate"), this);
    mStop = new QPushButton(tr("Stop"), this);
    mStop->setEnabled(false);
    top->addWidget(mPrompt, 1);
    top->addWidget(mGenerate);
    top->addWidget(mStop);
    layout->addLayout(top);
    auto *opts = new QHBoxLayout;
    auto label = [&](const QString &t) { opts->addWidget(new QLabel(t, this)); };
    mMaxNew = new QSpinBox(this);
    mMaxNew->setRange(1, 512);
    mMaxNew->setValue(20);
    mTemperature = new QDoubleSpinBox(this);
    mTemperature->setRange(0, 5);
    mTemperature->setSingleStep(0.1);
    mTemperature->setToolTip(tr("0: greedy"));
    mTopK = new QSpinBox(this);
    mTopK->setRange(0, 100000);
    mTopK->setToolTip(tr("0: all tokens"));
    mTopP = new QDoubleSpinBox(this);
    mTopP->setRange(0.01, 1);
    mTopP->setSingleStep(0.05);
    mTopP->setValue(1);
    mSeed = new QSpinBox(this);
    mSeed->setRange(0, 1 << 30);
    mMethod = new QComboBox(this);
    const std::pair<const char *, const char *> methods[] = {
        {"saliency", "Saliency"}, {"inputxgrad", "Input × gradient"},      {"ig", "Integrated gradients"},
        {"ablation", "Ablation"}, {"attention", "Attention (last layer)"}, {"rollout", "Attention rollout"}};
    for (const auto &[id, name] : methods) mMethod->addItem(tr(name), QString::fromLatin1(id));
    label(tr("new"));
    opts->addWidget(mMaxNew);
    label(tr("T"));
    opts->addWidget(mTemperature);
    label(tr("top-k"));
    opts->addWidget(mTopK);
    label(tr("top-p"));
    opts->addWidget(mTopP);
    label(tr("seed"));
    opts->addWidget(mSeed);
    label(tr("explain by"));
    opts->addWidget(mMethod, 1);
    layout->addLayout(opts);
    mStatus = new QLabel(this);
    mStatus->setWordWrap(true);
    layout->addWidget(mStatus);
    mTabs = new QTabWidget(this);
    auto *textPage = new QWidget;
    auto *tv = new QVBoxLayout(textPage);
    mText = new TokenStrip(textPage);
    mStrip = new TokenStrip(textPage);
    tv->addWidget(mText, 1);
    tv->addWidget(mStrip, 1);
    mTabs->addTab(textPage, tr("Text"));
    mMatrix = new LabelledMatrix(this);
    mTabs->addTab(mMatrix, tr("Attribution matrix"));
    auto *lensPage = new QWidget;
    auto *lv = new QVBoxLayout(lensPage);
    mLens = new LabelledMatrix(lensPage);
    lv->addWidget(mLens, 1);
    auto *tunedRow = new QHBoxLayout;
    mLensColour = new QComboBox(lensPage);
    mLensColour->addItem(tr("Colour: probability of the top token"));
    mLensColour->addItem(tr("Colour: KL to the final layer"));
    tunedRow->addWidget(mLensColour);
    connect(mLensColour, &QComboBox::currentIndexChanged, this, [this](int i) { setLensColour(i == 1); });
    auto *train = new QPushButton(tr("Train tuned lens on a text file…"), lensPage);
    mTunedStatus = new QLabel(tr("No tuned lens: train one to see it beside the logit lens"), lensPage);
    mTunedStatus->setWordWrap(true);
    tunedRow->addWidget(train);
    tunedRow->addWidget(mTunedStatus, 1);
    lv->addLayout(tunedRow);
    mTuned = new LabelledMatrix(lensPage);
    mTuned->hide();
    lv->addWidget(mTuned, 1);
    mTabs->addTab(lensPage, tr("Logit lens"));
    connect(train, &QPushButton::clicked, this, &GenerationPanel::tunedLensRequested);

    auto *patchPage = new QWidget;
    auto *pv = new QVBoxLayout(patchPage);
    auto *pf = new QFormLayout;
    mClean = new QLineEdit(patchPage);
    mClean->setPlaceholderText(tr("The clean prompt"));
    mCorrupt = new QLineEdit(patchPage);
    mCorrupt->setPlaceholderText(tr("The corrupted prompt (as many tokens)"));
    pf->addRow(tr("Clean"), mClean);
    pf->addRow(tr("Corrupted"), mCorrupt);
    auto *prow = new QHBoxLayout;
    mSite = new QComboBox(patchPage);
    mSite->addItem(tr("Block outputs"), "block");
    mSite->addItem(tr("Attention outputs"), "attn");
    mSite->addItem(tr("MLP outputs"), "mlp");
    mSite->addItem(tr("Attention heads"), "head");
    mPatchView = new QComboBox(patchPage);
    mPatchView->addItem(tr("Patched p(target)"));
    mPatchView->addItem(tr("Attribution patching estimate"));
    auto *run = new QPushButton(tr("Patch"), patchPage);
    prow->addWidget(mSite);
    prow->addWidget(mPatchView);
    prow->addWidget(run);
    prow->addStretch(1);
    pf->addRow(prow);
    pv->addLayout(pf);
    mPatchStatus = new QLabel(tr("Restore each block's output at each position from the clean run into the corrupted one"), patchPage);
    mPatchStatus->setWordWrap(true);
    pv->addWidget(mPatchStatus);
    mPatch = new LabelledMatrix(patchPage);
    pv->addWidget(mPatch, 1);
    mTabs->addTab(patchPage, tr("Patching"));
    connect(run, &QPushButton::clicked, this, &GenerationPanel::patchRequested);
    connect(mPatchView, &QComboBox::currentIndexChanged, this, [this] {
        if (mPatched.numel() > 0) showPatching(mPatched, mEstimate, mPatchSites, mPatchTokens, mPatchStatus->text());
    });
    layout->addWidget(mTabs, 1);

    connect(mGenerate, &QPushButton::clicked, this, &GenerationPanel::generateRequested);
    connect(mPrompt, &QLineEdit::returnPressed, this, &GenerationPanel::generateRequested);
    connect(mStop, &QPushButton::clicked, this, &GenerationPanel::stopRequested);
    connect(mMethod, &QComboBox::currentIndexChanged, this, [this] { emit methodChanged(mMethod->currentData().toString()); });
    connect(mText, &TokenStrip::tokenClicked, this, [this](int i) {
        if (i >= mPromptLength) selectToken(i - mPromptLength);
    });
    connect(mMatrix, &LabelledMatrix::rowClicked, this, [this](int r) {
        selectToken(r);
        mTabs->setCurrentIndex(0);
    });
    setAvailable(false, tr("Open a language model (forward(ids) → logits [B, L, V])"));
}

void GenerationPanel::setAvailable(bool available, const QString &reason)
{
    for (QWidget *w : std::initializer_list<QWidget *>{mPrompt, mGenerate, mMaxNew, mTemperature, mTopK, mTopP, mSeed, mMethod})
        w->setEnabled(available);
    mStatus->setText(reason);
}

GenerationControls GenerationPanel::controls() const
{
    GenerationControls c;
    c.prompt = mPrompt->text();
    c.maxNew = mMaxNew->value();
    c.temperature = mTemperature->value();
    c.topK = mTopK->value();
    c.topP = mTopP->value();
    c.seed = mSeed->value();
    c.method = mMethod->currentData().toString();
    return c;
}

void GenerationPanel::setControls(const GenerationControls &c)
{
    mPrompt->setText(c.prompt);
    mMaxNew->setValue(c.maxNew);
    mTemperature->setValue(c.temperature);
    mTopK->setValue(c.topK);
    mTopP->setValue(c.topP);
    mSeed->setValue(c.seed);
    const int i = mMethod->findData(c.method);
    if (i >= 0) mMethod->setCurrentIndex(i);
}

void GenerationPanel::showSequence(const QStringList &tokens, int promptLength, const std::vector<double> &probabilities, bool running)
{
    mTokens = tokens;
    mPromptLength = promptLength;
    std::vector<double> values(size_t(tokens.size()), NAN);
    for (size_t i = 0; i < probabilities.size() && promptLength + int(i) < tokens.size(); ++i) values[size_t(promptLength) + i] = probabilities[i];
    mText->setTokens(tokens, values, TokenStrip::Scale::Sequential, tr("Generated tokens, coloured by their probability (click one to explain it)"),
                     1.0);
    mGenerate->setEnabled(!running);
    mStop->setEnabled(running);
    mStatus->setText(running ? tr("Generating… %1 tokens").arg(probabilities.size()) : tr("%1 tokens generated").arg(probabilities.size()));
    if (running) {
        mScores = TensorValue();
        mSelected = -1;
        updateStrip();
    }
}

void GenerationPanel::showAttribution(const TensorValue &scores, const QString &method, bool signedScores)
{
    mScores = scores;
    mSigned = signedScores;
    mMethodName = method;
    QStringList rows;
    for (int i = mPromptLength; i < mTokens.size(); ++i) rows << mTokens[i];
    mMatrix->setMatrix(scores, rows, mTokens, signedScores, tr("%1: generated token (row) by context token (column)").arg(method));
    if (mSelected < 0 && scores.numel() > 0) mSelected = int(scores.dim(0)) - 1;
    updateStrip();
}

void GenerationPanel::showLens(const TensorValue &topProbability, const TensorValue &klToFinal, const QStringList &cellTokens,
                               const QStringList &blocks)
{
    mLensTop = topProbability;
    mLensKl = klToFinal;
    mLensTokens = cellTokens;
    mLensBlocks = blocks;
    setLensColour(mLensColour->currentIndex() == 1);
}

void GenerationPanel::setLensColour(bool kl)
{
    if (mLensColour->currentIndex() != (kl ? 1 : 0)) mLensColour->setCurrentIndex(kl ? 1 : 0);   // re-enters once
    if (kl && mLensKl.numel() > 0)
        mLens->setMatrix(mLensKl, mLensBlocks, mTokens, false, tr("Logit lens: each block's top next token; colour: KL(final ‖ block) in nats"),
                         mLensTokens);
    else
        mLens->setMatrix(mLensTop, mLensBlocks, mTokens, false, tr("Logit lens: each block's top next token and its probability"), mLensTokens);
}

void GenerationPanel::showMessage(const QString &message) { mStatus->setText(message); }

void GenerationPanel::showPatching(const TensorValue &patched, const TensorValue &estimate, const QStringList &sites, const QStringList &cleanTokens,
                                   const QString &summary)
{
    mPatched = patched;
    mEstimate = estimate;
    mPatchSites = sites;
    mPatchTokens = cleanTokens;
    mPatchStatus->setText(summary);
    const bool est = mPatchView->currentIndex() == 1;
    mPatch->setMatrix(est ? estimate : patched, sites, cleanTokens, true,
                      est ? tr("Attribution patching: estimated change of p(target) from the corrupted run, site × position")
                          : tr("Activation patching: change of p(target) from the corrupted run when restored, site × position"));
}

QString GenerationPanel::cleanPrompt() const { return mClean->text(); }
QString GenerationPanel::corruptPrompt() const { return mCorrupt->text(); }
void GenerationPanel::setPatchSite(const QString &site)
{
    const int i = mSite->findData(site);
    if (i >= 0) mSite->setCurrentIndex(i);
}

QString GenerationPanel::patchSite() const { return mSite->currentData().toString(); }

void GenerationPanel::setPatchPrompts(const QString &clean, const QString &corrupt)
{
    mClean->setText(clean);
    mCorrupt->setText(corrupt);
}

void GenerationPanel::showTunedLens(const TensorValue &topProbability, const QStringList &cellTokens, const QStringList &blocks,
                                    const QString &summary)
{
    mTunedStatus->setText(summary);
    if (topProbability.numel() == 0) {
        mTuned->hide();
        return;
    }
    mTuned->setMatrix(topProbability, blocks, mTokens, false, tr("Tuned lens: each block's top next token after its translator"), cellTokens);
    mTuned->show();
}

void GenerationPanel::selectToken(int generated)
{
    mSelected = generated;
    mText->setSelected(generated >= 0 ? mPromptLength + generated : -1);
    updateStrip();
}

void GenerationPanel::updateStrip()
{
    if (mScores.shape().size() != 2 || mSelected < 0 || mSelected >= mScores.dim(0)) {
        mStrip->setTokens({}, {}, TokenStrip::Scale::Sequential, tr("Click a generated token to see what it came from"));
        return;
    }
    const int64_t L = mScores.dim(1);
    const int upto = mPromptLength + mSelected;   // the context of the selected token
    QStringList ctx = mTokens.mid(0, upto + 1);
    std::vector<double> v;
    for (int j = 0; j < upto && j < L; ++j) v.push_back(mScores.at(mSelected * L + j));
    v.push_back(NAN);   // the explained token itself
    mStrip->setTokens(
        ctx, v, mSigned ? TokenStrip::Scale::Diverging : TokenStrip::Scale::Sequential,
        tr("%1 of “%2” (generated token %3) to its context").arg(mMethodName, display(mTokens.value(upto)).trimmed()).arg(mSelected + 1));
    mStrip->setSelected(upto);
}

}   // namespace pellucid
