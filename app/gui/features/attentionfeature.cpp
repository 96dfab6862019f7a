#include "app/gui/features/attentionfeature.h"

#include "engine/attention/attention.h"
#include "engine/core/errors.h"
#include "widgets/attention/attentionpanel.h"

namespace pellucid {

/// One input's attention maps and rollouts.
struct AttentionOutput : JobOutput {
    AttentionResult result;
    TensorValue rollout, gradRollout;
    quint64 inputId = 0;
};

namespace {

struct AttentionSitesOutput : JobOutput {
    std::vector<std::string> sites;
};
struct TokenAttributionOutput : JobOutput {
    TokenAttribution result;
};

}   // namespace

AttentionFeature::AttentionFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mPanel = new AttentionPanel;
    mDock = addDock(tr("Attention"), "AttentionDock", mPanel);
    connect(mWorkspace, &Workspace::modelChanged, this, [this] {
        if (!mWorkspace->isGenerator() && !mWorkspace->isRecommender()) checkSites();
    });
    connect(mWorkspace, &Workspace::inputChanged, this, &AttentionFeature::request);
    connect(mPanel, &AttentionPanel::tokenAttributionRequested, this, [this](int target) {
        if (!mWorkspace->hasModel() || mWorkspace->tokens().isEmpty() || mWorkspace->input().numel() == 0) {
            mPanel->setTokenAttributions({}, {}, tr("Type a text in the Input dock first"));
            return;
        }
        TaskHooks<TokenAttributionOutput> hooks;
        hooks.failed = [this](const QString &message) { mPanel->setTokenAttributions({}, {}, message); };
        mBridge->run<TokenAttributionOutput>(
            &mTokensSlot, this,
            [ids = mWorkspace->input(), target](JobContext &ctx) {
                auto out = std::make_shared<TokenAttributionOutput>();
                out->result = tokenAttributions(ctx.model(), ids, "", target, 50, 0);
                return out;
            },
            [this](std::shared_ptr<const TokenAttributionOutput> r) {
                const auto &labels = mWorkspace->model()->metadata.labels;
                const QString cls = r->result.target >= 0 && size_t(r->result.target) < labels.size()
                    ? QString::fromStdString(labels[size_t(r->result.target)])
                    : QString::number(r->result.target);
                mPanel->setTokenAttributions(mWorkspace->tokens(), r->result.scores,
                                             tr("Integrated gradients on %1 for class \"%2\" (50 Gauss–Legendre points, baseline: padding tokens "
                                                "between the first and last); completeness error %3")
                                                 .arg(QString::fromStdString(r->result.layer), cls)
                                                 .arg(r->result.delta, 0, 'g', 2));
                emit attentionShown("tokens");
            },
            hooks);
    });
}

void AttentionFeature::placeDocks(DockLayout &layout) { layout.tab(mDock); }

void AttentionFeature::checkSites()
{
    mHasAttention = false;
    mAttentionFor = ~quint64(0);
    mPanel->clear(tr("Looking for attention sites…"));
    mBridge->run<AttentionSitesOutput>(
        &mSitesSlot, this,
        [](JobContext &ctx) {
            auto out = std::make_shared<AttentionSitesOutput>();
            try {
                out->sites = attentionSites(ctx.model());
            } catch (const std::exception &) {
                // A graph we cannot rewrite has, for the dock's purpose, no attention.
            }
            return out;
        },
        [this](std::shared_ptr<const AttentionSitesOutput> r) {
            const auto summary = mWorkspace->model();
            mHasAttention = !r->sites.empty();
            mDock->setWindowTitle(mHasAttention ? tr("Attention (%1 sites)").arg(r->sites.size()) : tr("Attention"));
            if (mHasAttention) {
                QStringList labels;
                for (const auto &l : summary->metadata.labels) labels << QString::fromStdString(l);
                mPanel->setClasses(labels);
                mDock->raise();
                request();
            } else {
                mPanel->clear(tr("%1 has no attention site").arg(QString::fromStdString(summary->fileName)));
            }
            emit attentionShown("sites");
        });
}

void AttentionFeature::request()
{
    const auto summary = mWorkspace->model();
    if (!mHasAttention || !summary || mWorkspace->input().numel() == 0 || mAttentionFor == mWorkspace->inputId()) return;
    mAttentionFor = mWorkspace->inputId();   // a layer change alone does not change the attention
    const bool classifier = !summary->metadata.labels.empty();
    TaskHooks<AttentionOutput> hooks;
    hooks.failed = [this](const QString &message) { mPanel->clear(message); };
    mBridge->run<AttentionOutput>(
        &mSlot, this,
        [input = mWorkspace->input(), id = mWorkspace->inputId(), classifier](JobContext &ctx) {
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
        },
        [this](std::shared_ptr<const AttentionOutput> r) {
            if (r->inputId != mWorkspace->inputId()) return;   // a newer input is on its way
            mWorkspace->present("attention", r->inputId, false, [this, r] { show(r); });
        },
        hooks);
}

void AttentionFeature::show(std::shared_ptr<const AttentionOutput> r)
{
    const auto summary = mWorkspace->model();

    AttentionData d;
    d.layers = r->result.layers;
    d.rollout = r->rollout;
    d.gradRollout = r->gradRollout;
    d.title = QString::fromStdString(summary->fileName);
    const int64_t L = d.layers.empty() ? 0 : d.layers[0].dim(2);
    if (!mWorkspace->tokens().isEmpty()) {
        d.queryTokens = d.keyTokens = mWorkspace->tokens();
    } else {
        // A vision transformer: CLS then the patches, row by row.
        const Json *att = summary->metadata.raw.find("attention");
        const Json *grid = att ? att->find("patch_grid") : nullptr;
        if (grid && grid->isArray() && grid->asArray().size() == 2) {
            d.gridRows = int(grid->asArray()[0].asInt());
            d.gridCols = int(grid->asArray()[1].asInt());
            const Json *cls = att->find("cls_token");
            d.clsIndex = cls ? int(cls->asInt()) : -1;
        }
        for (int64_t i = 0; i < L; ++i) {
            const int patch = int(i) - (d.clsIndex >= 0 ? d.clsIndex + 1 : 0);
            d.queryTokens << (i == d.clsIndex                    ? QString("CLS")
                                  : patch >= 0 && d.gridCols > 0 ? QString("p%1,%2").arg(patch / d.gridCols).arg(patch % d.gridCols)
                                                                 : QString::number(i));
        }
        d.keyTokens = d.queryTokens;
        if (!mWorkspace->imagePath().isEmpty())
            d.image = QImage(mWorkspace->imagePath());
        else if (mWorkspace->live())
            d.image = mWorkspace->liveFrame();   // the live frame the attention was computed from
    }
    mPanel->setData(d);
    emit attentionShown("attention");
}

}   // namespace pellucid
