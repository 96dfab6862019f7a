// The Attention dock's engine jobs: which models have attention sites, the attention of the current input
// (with rollout and gradient-weighted rollout), typed text through the model's tokenizer, and token
// attributions.
#include "app/gui/mainwindow.h"

#include "app/gui/enginebridge.h"
#include "app/io/tokenizer.h"
#include "engine/attention/attention.h"
#include "engine/core/errors.h"
#include "widgets/attention/attentionpanel.h"
#include "widgets/input/inputpanel.h"

#include <QDockWidget>
#include <QLabel>
#include <QPainter>
#include <QFileInfo>

#include <filesystem>

namespace pellucid {
namespace {

struct AttentionSitesOutput : JobOutput {
    std::vector<std::string> sites;
};
struct TokenAttributionOutput : JobOutput {
    TokenAttribution result;
};

} // namespace

/// One input's attention maps and rollouts (declared in mainwindow.h for showAttention).
struct AttentionOutput : JobOutput {
    AttentionResult result;
    TensorValue rollout, gradRollout;
    quint64 inputId = 0;
};

void MainWindow::wireAttention()
{
    connect(mInput, &InputPanel::textSubmitted, this, [this](const QString &t) { setText(t); });
    connect(mAttentionPanel, &AttentionPanel::tokenAttributionRequested, this, [this](int target) {
        if (!mSummary || mTokens.isEmpty() || mInputTensor.numel() == 0) {
            mAttentionPanel->setTokenAttributions({}, {}, tr("Type a text in the Input dock first"));
            return;
        }
        Job job;
        job.kind = "attention-tokens";
        job.work = [ids = mInputTensor, target](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
            auto out = std::make_shared<TokenAttributionOutput>();
            out->result = tokenAttributions(ctx.model(), ids, "", target, 50, 0);
            return out;
        };
        mBridge->submit(std::move(job));
    });
    connect(mBridge, &EngineBridge::jobFailed, this, [this](quint64, const QString &kind, const QString &message) {
        if (kind == "attention") mAttentionPanel->clear(message);
        if (kind == "attention-tokens") mAttentionPanel->setTokenAttributions({}, {}, message);
    });
    connect(mBridge, &EngineBridge::jobFinished, this, [this](quint64, const QString &, std::shared_ptr<const JobOutput> out) {
        if (auto r = std::dynamic_pointer_cast<const AttentionSitesOutput>(out)) {
            mHasAttention = !r->sites.empty();
            mAttentionDock->setWindowTitle(mHasAttention ? tr("Attention (%1 sites)").arg(r->sites.size()) : tr("Attention"));
            if (mHasAttention) {
                QStringList labels;
                for (const auto &l : mSummary->metadata.labels) labels << QString::fromStdString(l);
                mAttentionPanel->setClasses(labels);
                mAttentionDock->raise();
                requestAttention();
            } else {
                mAttentionPanel->clear(tr("%1 has no attention site").arg(QString::fromStdString(mSummary->fileName)));
            }
            emit attentionShown("sites");
        } else if (auto r = std::dynamic_pointer_cast<const AttentionOutput>(out)) {
            if (r->inputId != mInputId) return;   // a newer input is on its way
            auto show = [this, r] { showAttention(r); };
            if (!deferToLiveTimer("attention", r->inputId, false, show)) show();
        } else if (auto r = std::dynamic_pointer_cast<const TokenAttributionOutput>(out)) {
            const auto &labels = mSummary->metadata.labels;
            const QString cls = r->result.target >= 0 && size_t(r->result.target) < labels.size() ? QString::fromStdString(labels[size_t(r->result.target)])
                                                                                              : QString::number(r->result.target);
            mAttentionPanel->setTokenAttributions(mTokens, r->result.scores,
                                                  tr("Integrated gradients on %1 for class \"%2\" (50 Gauss–Legendre points, baseline: padding tokens "
                                                     "between the first and last); completeness error %3")
                                                      .arg(QString::fromStdString(r->result.layer), cls)
                                                      .arg(r->result.delta, 0, 'g', 2));
            emit attentionShown("tokens");
        }
    });
}

void MainWindow::checkAttention()
{
    mHasAttention = false;
    mAttentionFor = ~quint64(0);
    mTokens.clear();
    mAttentionPanel->clear(tr("Looking for attention sites…"));
    const Json *tok = mSummary->metadata.raw.find("tokenizer");
    mInput->setTextInput(tok && tok->isObject(), tr("Type a text for %1 and press Enter").arg(QString::fromStdString(mSummary->fileName)));
    Job job;
    job.kind = "attention-sites";
    job.work = [](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        auto out = std::make_shared<AttentionSitesOutput>();
        try {
            out->sites = attentionSites(ctx.model());
        } catch (const std::exception &) {
            // A graph we cannot rewrite has, for the dock's purpose, no attention.
        }
        return out;
    };
    mBridge->submit(std::move(job));
}

void MainWindow::requestAttention()
{
    if (!mHasAttention || !mSummary || mInputTensor.numel() == 0 || mAttentionFor == mInputId) return;
    mAttentionFor = mInputId;   // a layer change alone does not change the attention
    Job job;
    job.kind = "attention";
    const bool classifier = !mSummary->metadata.labels.empty();
    job.work = [input = mInputTensor, id = mInputId, classifier](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        auto out = std::make_shared<AttentionOutput>();
        out->inputId = id;
        TensorValue first = input;
        if (input.shape().size() >= 1 && input.dim(0) > 1) first = input.slice0(0);
        out->result = computeAttention(ctx.model(), input);
        // Batch item 0 for the views.
        for (TensorValue &l : out->result.layers) {
            if (l.dim(0) > 1) {
                const TensorValue s = l.slice0(0);
                Shape sh = s.shape();
                sh.insert(sh.begin(), 1);
                l = TensorValue(sh, std::vector<float>(s.data(), s.data() + s.numel()));
            }
        }
        const Shape &s0 = out->result.layers.front().shape();
        bool square = true;
        for (const auto &l : out->result.layers) square = square && l.shape() == s0 && l.dim(2) == l.dim(3);
        if (square) {
            out->rollout = attentionRollout(out->result.layers);
            if (classifier) {
                try {
                    out->gradRollout = gradientRollout(ctx.model(), input, -1);
                } catch (const std::exception &) {
                    // Shown as "not computed" in the overlay.
                }
            }
        }
        return out;
    };
    mBridge->submit(std::move(job));
}

void MainWindow::setText(const QString &text)
{
    if (!mSummary) return;
    try {
        TokenizerOptions o;
        std::string file;
        tokenizerFromMetadata(*mSummary, file, o);
        if (file.empty()) throw Error(ErrorCode::BadMetadata, mSummary->fileName + " names no tokenizer in its metadata (\"tokenizer\": {\"file\": …})");
        o.truncate = true;   // the app cuts long texts (and says so); the CLI asks for --truncate
        const Tokenized t = Tokenizer::open(file, o)->encode(text.toStdString());
        mTokens.clear();
        for (const auto &tok : t.tokens) mTokens << QString::fromStdString(tok);
        std::vector<float> ids(t.ids.begin(), t.ids.end());
        const int64_t n = int64_t(ids.size());   // before the vector is moved
        mImagePath.clear();
        mInputTensor = TensorValue({1, n}, std::move(ids));
        ++mInputId;
        // The preview shows the text itself.
        QImage card(320, 320, QImage::Format_RGB32);
        card.fill(QColor(32, 32, 32));
        {
            QPainter p(&card);
            p.setPen(QColor(230, 230, 230));
            QFont f = p.font();
            f.setPointSize(14);
            p.setFont(f);
            p.drawText(card.rect().adjusted(12, 12, -12, -12), Qt::TextWordWrap | Qt::AlignLeft | Qt::AlignTop, text);
        }
        mInput->showImage(QString(), card);
        mInput->showMessage(tr("%1 tokens%2").arg(t.ids.size()).arg(t.truncated ? tr(" (truncated to the model's %1)").arg(o.maxLength) : QString()));
        mErrorLabel->clear();
        requestActivations();
    } catch (const std::exception &e) {
        showError(QString::fromStdString(e.what()));
    }
}

void MainWindow::showAttention(std::shared_ptr<const AttentionOutput> r)
{
    AttentionData d;
    d.layers = r->result.layers;
    d.rollout = r->rollout;
    d.gradRollout = r->gradRollout;
    d.title = QString::fromStdString(mSummary->fileName);
    const int64_t L = d.layers.empty() ? 0 : d.layers[0].dim(2);
    if (!mTokens.isEmpty()) {
        d.queryTokens = d.keyTokens = mTokens;
    } else {
        // A vision transformer: CLS then the patches, row by row.
        const Json *att = mSummary->metadata.raw.find("attention");
        const Json *grid = att ? att->find("patch_grid") : nullptr;
        if (grid && grid->isArray() && grid->asArray().size() == 2) {
            d.gridRows = int(grid->asArray()[0].asInt());
            d.gridCols = int(grid->asArray()[1].asInt());
            const Json *cls = att->find("cls_token");
            d.clsIndex = cls ? int(cls->asInt()) : -1;
        }
        for (int64_t i = 0; i < L; ++i) {
            const int patch = int(i) - (d.clsIndex >= 0 ? d.clsIndex + 1 : 0);
            d.queryTokens << (i == d.clsIndex ? QString("CLS") : patch >= 0 && d.gridCols > 0 ? QString("p%1,%2").arg(patch / d.gridCols).arg(patch % d.gridCols)
                                                                                                 : QString::number(i));
        }
        d.keyTokens = d.queryTokens;
        if (!mImagePath.isEmpty()) d.image = QImage(mImagePath);
        else if (mLive) d.image = mLiveImage;   // the live frame the attention was computed from
    }
    mAttentionPanel->setData(d);
    emit attentionShown("attention");
}

} // namespace pellucid
