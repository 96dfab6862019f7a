#include "app/gui/features/comparefeature.h"

#include "app/io/imageinput.h"
#include "app/workflows/workflows.h"
#include "engine/core/errors.h"
#include "engine/core/stats.h"
#include "widgets/attribution/attributionview.h"
#include "widgets/prediction/predictionchart.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QLabel>
#include <QPushButton>

#include <map>

namespace pellucid {

namespace {

/// A layer's output averaged over channels, batch item 0: [1, 1, h, w] (spatial outputs only).
TensorValue channelMean(const TensorValue &a)
{
    if (a.shape().size() != 4) return {};
    const int64_t C = a.dim(1), H = a.dim(2), W = a.dim(3);
    std::vector<float> m(size_t(H * W), 0.f);
    for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < H * W; ++i) m[size_t(i)] += a.at(c * H * W + i) / float(C);
    return TensorValue({1, 1, H, W}, std::move(m));
}

TensorValue difference(const TensorValue &a, const TensorValue &b)
{
    if (a.numel() == 0 || a.shape() != b.shape()) return {};
    std::vector<float> d(size_t(a.numel()));
    for (int64_t i = 0; i < a.numel(); ++i) d[size_t(i)] = b.at(i) - a.at(i);
    return TensorValue(a.shape(), std::move(d));
}

std::vector<double> values(const TensorValue &t) { return std::vector<double>(t.data(), t.data() + t.numel()); }

}   // namespace

CompareFeature::CompareFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    auto *host = new QWidget;
    auto *grid = new QGridLayout(host);
    grid->setContentsMargins(4, 4, 4, 4);
    const QString titles[3] = {tr("A"), tr("B"), tr("B − A")};
    for (int c = 0; c < 3; ++c) {
        mHeader[c] = new QLabel(titles[c]);
        mHeader[c]->setAlignment(Qt::AlignCenter);
        grid->addWidget(mHeader[c], 0, c + 1);
    }
    const QString rows[3] = {tr("Prediction"), tr("Activations"), tr("Attribution")};
    for (int r = 0; r < 3; ++r) grid->addWidget(new QLabel("<b>" + rows[r] + "</b>"), r + 1, 0);
    for (int c = 0; c < 2; ++c) {
        mPrediction[c] = new PredictionChart;
        mPrediction[c]->setMinimumHeight(140);
        grid->addWidget(mPrediction[c], 1, c + 1);
    }
    mDelta = new QLabel;
    mDelta->setObjectName("compareDelta");
    mDelta->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    grid->addWidget(mDelta, 1, 3);
    for (int c = 0; c < 3; ++c) {
        mActivation[c] = new AttributionView;
        mAttribution[c] = new AttributionView;
        grid->addWidget(mActivation[c], 2, c + 1);
        grid->addWidget(mAttribution[c], 3, c + 1);
    }
    mNotes = new QLabel(tr("File → Compare with… opens a second model to compare with this one."));
    mNotes->setWordWrap(true);
    auto *again = new QPushButton(tr("Compare again"));
    again->setToolTip(tr("After changing the Attribution dock's method or parameters"));
    connect(again, &QPushButton::clicked, this, [this] { compare(); });
    grid->addWidget(mNotes, 4, 0, 1, 3);
    grid->addWidget(again, 4, 3);
    for (int r = 2; r <= 3; ++r) grid->setRowStretch(r, 1);
    mDock = addDock(tr("Compare"), "CompareDock", host);
    connect(mWorkspace, &Workspace::compareModelChanged, this, [this](std::shared_ptr<const ModelSummary> s) {
        mHeader[1]->setText(s ? tr("B: %1").arg(QString::fromStdString(s->fileName)) : tr("B"));
        if (!s) return;
        mDock->show();
        mDock->raise();
        compare();
    });
    connect(mWorkspace, &Workspace::modelChanged, this,
            [this](std::shared_ptr<const ModelSummary> s) { mHeader[0]->setText(tr("A: %1").arg(QString::fromStdString(s->fileName))); });
    connect(mWorkspace, &Workspace::inputChanged, this, [this](InputOrigin origin) {
        if (origin != InputOrigin::Live && origin != InputOrigin::Text) compare();
    });
    connect(mWorkspace, &Workspace::layerChanged, this, [this] { compare(); });
}

void CompareFeature::placeDocks(DockLayout &layout) { layout.tab(mDock); }

void CompareFeature::addActions(Menus &menus)
{
    menus.file->addAction(tr("Co&mpare with…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(mWindow, tr("Compare with a second model"), QString(),
                                                          tr("Models (*.pt *.pth *.ptl *.zip *.onnx);;All files (*)"));
        if (!path.isEmpty()) mWorkspace->openCompareModel(path);
    });
}

QList<QPair<QString, const FigureSource *>> CompareFeature::figures() const
{
    return {{"compare-attribution-a", mAttribution[0]},
            {"compare-attribution-b", mAttribution[1]},
            {"compare-attribution-delta", mAttribution[2]},
            {"compare-activations-delta", mActivation[2]}};
}

quint64 CompareFeature::compare()
{
    if (!mWorkspace->compareModel() || !mWorkspace->hasModel() || mWorkspace->input().numel() == 0) return 0;
    if (mWorkspace->isGenerator() || mWorkspace->isRecommender()) return 0;
    TaskHooks<ComparisonOutput> hooks;
    hooks.failed = [this](const QString &message) { mNotes->setText(message); };
    return mBridge->run<ComparisonOutput>(
        &mSlot, this,
        [x = mWorkspace->input(), id = mWorkspace->inputId(), image = mWorkspace->imagePath().toStdString(),
         layer = mWorkspace->layer().toStdString(), params = mWorkspace->attributionParams()](JobContext &ctx) {
            Model &A = ctx.model();
            Model &B = ctx.model(kCompareModel);
            auto out = std::make_shared<ComparisonOutput>();
            out->inputId = id;
            out->method = params.method;
            // The same picture through each model's own preprocessing; a tensor input is used as it is.
            const TensorValue xb = image.empty() ? x : loadInputFile(image, B.summary().metadata.input, B.summary().inputShape);
            std::vector<std::string> notes;
            ForwardResult fa = A.forward(x, layer.empty() ? std::vector<std::string>{} : std::vector<std::string>{layer});
            std::vector<std::string> tapB;
            if (!layer.empty()) {
                try {
                    B.resolveLayer(layer);
                    tapB.push_back(layer);
                } catch (const std::exception &) {
                    notes.push_back("B has no layer " + layer);
                }
            }
            ForwardResult fb = B.forward(xb, tapB);
            out->topA = A.topK(fa.outputs.at(0), 5);
            out->topB = B.topK(fb.outputs.at(0), 5);
            // p_B − p_A for every class in either top-5, by label.
            std::map<int, std::string> classes;
            for (const auto &p : out->topA) classes[p.index] = p.label;
            for (const auto &p : out->topB) classes[p.index] = p.label;
            const auto allA = A.topK(fa.outputs.at(0), 1 << 20), allB = B.topK(fb.outputs.at(0), 1 << 20);
            auto prob = [](const std::vector<Prediction> &all, int k) {
                for (const auto &p : all)
                    if (p.index == k) return double(p.probability);
                return 0.0;
            };
            for (const auto &[k, label] : classes)
                out->probabilityDelta.emplace_back(label.empty() ? std::to_string(k) : label, prob(allB, k) - prob(allA, k));
            if (!layer.empty()) {
                const std::string path = A.resolveLayer(layer).path;
                out->activationA = channelMean(fa.taps.at(path).at(0));
                if (!tapB.empty()) out->activationB = channelMean(fb.taps.at(B.resolveLayer(layer).path).at(0));
                out->activationDelta = difference(out->activationA, out->activationB);
                if (out->activationA.numel() && out->activationB.numel() && out->activationDelta.numel() == 0)
                    notes.push_back("the layer's maps differ in size in A and B");
            }
            AttributionParams p = params;
            if (p.target.kind == AttributionTarget::Kind::Predicted && !out->topA.empty()) {
                // One class explained in both: A's prediction.
                p.target.kind = AttributionTarget::Kind::Class;
                p.target.classIndex = out->topA.front().index;
            }
            try {
                out->mapA = explainInput(A, x, p)->map;
                out->mapB = explainInput(B, xb, p)->map;
                out->mapDelta = difference(out->mapA, out->mapB);
                if (out->mapDelta.numel() == 0)
                    notes.push_back("the attribution maps differ in shape");
                else
                    out->spearman = spearman(values(out->mapA), values(out->mapB));
            } catch (const std::exception &e) {
                notes.push_back(std::string("attribution: ") + e.what());
            }
            for (const auto &n : notes) out->notes += (out->notes.empty() ? "" : "; ") + n;
            return out;
        },
        [this](std::shared_ptr<const ComparisonOutput> r) { show(r); }, hooks);
}

void CompareFeature::show(std::shared_ptr<const ComparisonOutput> r)
{
    mLast = r;
    mPrediction[0]->setPredictions(r->topA, {});
    mPrediction[1]->setPredictions(r->topB, {});
    QString delta = tr("<b>p(B) − p(A)</b><table>");
    for (const auto &[label, d] : r->probabilityDelta)
        delta += QString("<tr><td>%1</td><td align='right' style='color:%3'>%2</td></tr>")
                     .arg(QString::fromStdString(label).toHtmlEscaped())
                     .arg(d, 0, 'f', 3)
                     .arg(d >= 0 ? "#b2182b" : "#2166ac");
    mDelta->setText(delta + "</table>");
    const QImage picture = inputPicture(mWorkspace->input());
    const QString name = QString::fromLatin1(methodName(r->method));
    const TensorValue *acts[3] = {&r->activationA, &r->activationB, &r->activationDelta};
    const TensorValue *maps[3] = {&r->mapA, &r->mapB, &r->mapDelta};
    for (int c = 0; c < 3; ++c) {
        OverlayStyle a;
        a.signedMap = c == 2;   // the difference is signed; the channel means of a ReLU layer are not
        mActivation[c]->setInput(picture);
        mActivation[c]->setStyle(a);
        if (acts[c]->numel())
            mActivation[c]->setMap(*acts[c], c == 2 ? tr("%1: B − A").arg(mWorkspace->layer()) : mWorkspace->layer());
        else
            mActivation[c]->clear(c == 1 && r->activationA.numel() ? tr("B has no layer %1").arg(mWorkspace->layer()) : tr("—"));
        OverlayStyle m;
        m.signedMap = c == 2 || isSignedMethod(r->method);
        mAttribution[c]->setInput(picture);
        mAttribution[c]->setStyle(m);
        if (maps[c]->numel())
            mAttribution[c]->setMap(*maps[c], c == 2 ? tr("%1: B − A").arg(name) : name);
        else
            mAttribution[c]->clear(tr("—"));
    }
    QString notes = tr("Attribution maps' rank correlation (Spearman): %1").arg(r->spearman, 0, 'f', 3);
    if (!r->notes.empty()) notes += " — " + QString::fromStdString(r->notes);
    mNotes->setText(notes);
    emit compareShown();
}

}   // namespace pellucid
