#include "app/gui/features/datasetfeature.h"

#include "app/io/dataset.h"
#include "app/workflows/workflows.h"
#include "widgets/attribution/attributionview.h"
#include "widgets/dataset/datasetpanel.h"

#include <QFileDialog>
#include <QFileInfo>

namespace pellucid {

namespace {

struct EvaluationOutput : JobOutput {
    EvalResult result;
};
struct ProjectionOutput : JobOutput {
    TensorValue points;
    QString title;
};
struct FaithfulnessOutput : JobOutput {
    std::vector<DatasetPanel::MethodCurves> curves;
    int items = 0;
};
struct SanityOutput : JobOutput {
    AttributionMethod method;
    SanityResult result;
};

}   // namespace

DatasetFeature::DatasetFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mPanel = new DatasetPanel;
    mDock = addDock(tr("Dataset"), "DatasetDock", mPanel);
    connect(mPanel, &DatasetPanel::openRequested, this, [this] {
        QString path = QFileDialog::getOpenFileName(mWindow, tr("Open dataset (IDX or CSV); cancel to choose a folder of class folders"), QString(),
                                                    tr("Datasets (*.gz *ubyte *.csv);;All files (*)"));
        if (path.isEmpty()) path = QFileDialog::getExistingDirectory(mWindow, tr("Open a folder with one sub-folder per class"));
        if (!path.isEmpty()) openDataset(path);
    });
    connect(mPanel, &DatasetPanel::evaluateRequested, this, [this] { evaluate(); });
    connect(mPanel, &DatasetPanel::projectRequested, this, [this](const QString &m) { project(m); });
    connect(mPanel, &DatasetPanel::faithfulnessRequested, this, &DatasetFeature::faithfulness);
    connect(mPanel, &DatasetPanel::sanityRequested, this, &DatasetFeature::sanity);
    connect(mPanel, &DatasetPanel::itemActivated, this, [this](size_t i) {
        const auto ds = mWorkspace->dataset();
        const auto s = mWorkspace->model();
        if (!ds || !s) return;
        try {
            mWorkspace->clearError();
            mWorkspace->setInput(ds->batch(i, i + 1, s->metadata.input, s->inputShape), InputOrigin::Tensor, QString(), {},
                                 QString::fromStdString(ds->itemName(i)));
        } catch (const std::exception &e) {
            mWorkspace->showError(QString::fromStdString(e.what()));
        }
    });
}

void DatasetFeature::placeDocks(DockLayout &layout) { layout.tab(mDock); }

void DatasetFeature::openDataset(const QString &path)
{
    try {
        const auto s = mWorkspace->model();
        std::vector<std::string> labels = s ? s->metadata.labels : std::vector<std::string>{};
        auto ds = std::make_shared<const Dataset>(Dataset::open(path.toStdString(), labels));
        mWorkspace->setDataset(ds);
        QStringList classes;
        int maxLabel = 0;
        for (int l : ds->labels()) maxLabel = std::max(maxLabel, l);
        for (int c = 0; c <= maxLabel; ++c) classes << (size_t(c) < labels.size() ? QString::fromStdString(labels[size_t(c)]) : QString::number(c));
        const InputSpec spec = s ? s->metadata.input : InputSpec();
        const Shape shape = s ? s->inputShape : Shape();
        mPanel->setDataset(
            QFileInfo(path).fileName(), ds->size(),
            [ds, spec, shape](size_t i) {
                try {
                    return inputPicture(ds->batch(i, i + 1, spec, shape));
                } catch (const std::exception &) {
                    QImage broken(8, 8, QImage::Format_RGB32);
                    broken.fill(QColor(255, 0, 255));
                    return broken;
                }
            },
            ds->labels(), classes);
        mDock->raise();
        if (!ds->note().empty()) mWorkspace->showStatus(QString::fromStdString(path.toStdString() + ": " + ds->note()), 8000);
    } catch (const std::exception &e) {
        mWorkspace->showError(QString::fromStdString(e.what()));
    }
}

quint64 DatasetFeature::evaluate()
{
    const auto ds = mWorkspace->dataset();
    if (!ds || !mWorkspace->hasModel()) return 0;
    return mBridge->run<EvaluationOutput>(
        &mEvalSlot, this,
        [ds](JobContext &ctx) {
            auto out = std::make_shared<EvaluationOutput>();
            out->result = evaluateDataset(ctx.model(), *ds, 0, 256, 5, sinkOf(ctx)).result;
            return out;
        },
        [this](std::shared_ptr<const EvaluationOutput> r) {
            mPanel->setEvaluation(r->result);
            emit datasetShown("evaluated");
        });
}

quint64 DatasetFeature::project(const QString &method)
{
    const auto ds = mWorkspace->dataset();
    if (!ds || !mWorkspace->hasModel() || mWorkspace->layer().isEmpty()) {
        mWorkspace->showError(tr("Open a dataset and select a layer to project"));
        return 0;
    }
    ProjectionOptions o;
    o.method = method.toStdString();
    o.perplexity = mPanel->perplexity();
    o.neighbours = mPanel->neighbours();
    TaskHooks<ProjectionOutput> hooks;
    hooks.partial = [this](std::shared_ptr<const ProjectionOutput> r) {
        mPanel->setProjection(r->points, r->title);
        emit datasetShown("projecting");
    };
    // Every item: PCA is exact, t-SNE (Barnes–Hut, FFT-interpolated from 10,000 items) and UMAP scale to the 60,000-image training sets.
    return mBridge->run<ProjectionOutput>(
        &mProjectSlot, this,
        [ds, o, layer = mWorkspace->layer().toStdString()](JobContext &ctx) {
            const WorkflowSink sink = sinkOf(ctx);
            const TensorValue X = datasetFeatures(ctx.model(), *ds, layer, 0, sink);
            const Projection p = projectFeatures(X, layer, o, sink, [&ctx](const std::string &title, const TensorValue &y) {
                auto live = std::make_shared<ProjectionOutput>();   // the embedding so far, shown while it is optimised
                live->points = y;
                live->title = QString::fromStdString(title);
                ctx.partial(live);
            });
            auto out = std::make_shared<ProjectionOutput>();
            out->points = p.points;
            out->title = QString::fromStdString(p.title);
            return out;
        },
        [this](std::shared_ptr<const ProjectionOutput> r) {
            mPanel->setProjection(r->points, r->title);
            emit datasetShown("projected");
        },
        hooks);
}

void DatasetFeature::faithfulness(const std::vector<AttributionMethod> &methods, int items)
{
    const auto ds = mWorkspace->dataset();
    if (!ds || !mWorkspace->hasModel() || methods.empty()) return;
    std::vector<AttributionParams> params;
    for (AttributionMethod m : methods) {
        AttributionParams p = mWorkspace->attributionParams();
        p.method = m;
        p.window.clear();   // the method's default window, not the panel's image-specific one
        p.stride.clear();
        p.samples = std::max(p.samples, methodInfo(m).minSamples);
        params.push_back(p);
    }
    FaithfulnessOptions o;
    o.limit = size_t(items);
    mBridge->run<FaithfulnessOutput>(
        &mFaithSlot, this,
        [ds, params, o](JobContext &ctx) {
            auto out = std::make_shared<FaithfulnessOutput>();
            out->items = int(std::min(ds->size(), o.limit));
            for (const MethodFaithfulness &m : pellucid::faithfulness(ctx.model(), *ds, params, o, sinkOf(ctx)))
                out->curves.push_back({m.params.method, m.deletion, m.insertion, m.deletionAuc, m.insertionAuc});
            return out;
        },
        [this](std::shared_ptr<const FaithfulnessOutput> r) {
            mPanel->setFaithfulness(r->curves, r->items);
            emit datasetShown("faithfulness");
        });
}

void DatasetFeature::sanity()
{
    if (!mWorkspace->hasModel() || mWorkspace->input().numel() == 0) return;
    mBridge->run<SanityOutput>(
        &mSanitySlot, this,
        [x = mWorkspace->input(), p = mWorkspace->attributionParams()](JobContext &ctx) {
            auto out = std::make_shared<SanityOutput>();
            out->method = p.method;
            AttributionParams fixed = p;
            out->result = sanityCheck(ctx.model(), x, fixed, {}, 0, sinkOf(ctx));
            return out;
        },
        [this](std::shared_ptr<const SanityOutput> r) {
            mPanel->setSanity(r->method, r->result);
            emit datasetShown("sanity");
        });
}

}   // namespace pellucid
