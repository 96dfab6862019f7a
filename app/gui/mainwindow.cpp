#include "app/gui/mainwindow.h"

#include "app/gui/enginebridge.h"
#include "app/gui/exportdialog.h"
#include "app/gui/composerdialog.h"
#include "app/io/imageinput.h"
#include "app/io/livesource.h"
#include "engine/core/errors.h"
#include "widgets/activations/activationgrid.h"
#include "widgets/activations/activationpanel.h"
#include "widgets/attribution/attributionpanel.h"
#include "widgets/attribution/attributionview.h"
#include "widgets/activations/channelview.h"
#include "widgets/activations/histogramview.h"
#include "widgets/input/inputpanel.h"
#include "widgets/model/layertree.h"
#include "widgets/prediction/predictionchart.h"
#include "widgets/recommender/recommenderpanel.h"
#include "widgets/dataset/datasetpanel.h"
#include "widgets/latent/latentpanel.h"
#include "widgets/attention/attentionpanel.h"
#include "engine/generative/generative.h"
#include "app/io/dataset.h"
#include "engine/projection/projection.h"
#include "engine/evaluation/sanity.h"

#include <QAction>
#include <QBuffer>
#include <algorithm>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QImage>
#include <QInputDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QStatusBar>
#include <QThread>
#include <utility>
#include <QToolButton>

namespace pellucid {

/// Recommender jobs' outputs (computed on the engine thread).
struct RecLoadOutput : JobOutput {
    std::shared_ptr<const MFModel> model;
    std::shared_ptr<const InteractionData> data;
    bool hasMetrics = false;
    RecMetrics metrics;
};
struct DatasetEvalOutput : JobOutput {
    EvalResult result;
};
struct DatasetProjectionOutput : JobOutput {
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
struct LatentImagesOutput : JobOutput {
    QString what;   // "decoded", "traversal", "interpolation"
    TensorValue images;
    int dims = 0, steps = 0;
};
struct RecTopOutput : JobOutput {
    std::vector<ScoreDecomposition> top;
};
struct RecInfluenceOutput : JobOutput {
    InfluenceResult result;
};

/// The composer job's output: every panel's numbers, computed on the engine thread.
struct ComposerOutput : JobOutput {
    ComposerData data;
    ComposerSpec spec;
};

/// Bumped whenever docks are added or removed.
constexpr int kDockLayoutVersion = 2;

MainWindow::MainWindow(QWidget *parent) : QMainWindow(parent)
{
    setWindowTitle(tr("Pellucid"));
    setObjectName("PellucidMainWindow");
    setAcceptDrops(true);
    setDockNestingEnabled(true);
    resize(1280, 820);

    mBridge = new EngineBridge(this);
    mLayers = new LayerTree;
    mInput = new InputPanel;
    mActivations = new ActivationPanel;
    mPrediction = new PredictionChart;
    mAttribution = new AttributionPanel;
    mRecommender = new RecommenderPanel;
    mDataset = new DatasetPanel;
    mLatent = new LatentPanel;
    mAttentionPanel = new AttentionPanel;
    setCentralWidget(nullptr);
    mModelDock = addPanel(tr("Model"), "ModelDock", mLayers);
    mInputDock = addPanel(tr("Input"), "InputDock", mInput);
    mActivationsDock = addPanel(tr("Activations"), "ActivationsDock", mActivations);
    mPredictionDock = addPanel(tr("Prediction"), "PredictionDock", mPrediction);
    mAttributionDock = addPanel(tr("Attribution"), "AttributionDock", mAttribution);
    mRecommenderDock = addPanel(tr("Recommender"), "RecommenderDock", mRecommender);
    mDatasetDock = addPanel(tr("Dataset"), "DatasetDock", mDataset);
    mLatentDock = addPanel(tr("Latent"), "LatentDock", mLatent);
    mAttentionDock = addPanel(tr("Attention"), "AttentionDock", mAttentionPanel);
    resetLayout();
    mDefaultState = saveState();

    mDeviceLabel = new QLabel(tr("device: —"));
    mModelLabel = new QLabel(tr("no model"));
    mErrorLabel = new QLabel;
    mErrorLabel->setObjectName("errorLabel");
    mErrorLabel->setStyleSheet("color: #b00020;");
    mProgress = new QProgressBar;
    mProgress->setMaximumWidth(160);
    mProgress->setRange(0, 0);
    mProgress->hide();
    mCancel = new QToolButton;
    mCancel->setText(tr("Cancel"));
    mCancel->hide();
    statusBar()->addWidget(mErrorLabel, 1);
    statusBar()->addPermanentWidget(mModelLabel);
    statusBar()->addPermanentWidget(mDeviceLabel);
    statusBar()->addPermanentWidget(mProgress);
    statusBar()->addPermanentWidget(mCancel);
    buildMenus();

    connect(mCancel, &QToolButton::clicked, mBridge, &EngineBridge::cancelAll);
    connect(mBridge, &EngineBridge::busyChanged, this, [this](bool busy) {
        busy = busy && !mLive;   // live frames come and go many times a second: no flickering progress bar
        mProgress->setVisible(busy);
        mCancel->setVisible(busy);
    });
    connect(mBridge, &EngineBridge::progress, this, [this](quint64, const QString &, qint64 done, qint64 total, const QString &stage) {
        mProgress->setRange(0, int(total));
        mProgress->setValue(int(done));
        if (!stage.isEmpty()) statusBar()->showMessage(stage, 3000);
    });
    connect(mBridge, &EngineBridge::modelLoaded, this, &MainWindow::onModelLoaded);
    connect(mBridge, &EngineBridge::activationsReady, this, &MainWindow::onActivations);
    connect(mBridge, &EngineBridge::jobFailed, this, [this](quint64, const QString &kind, const QString &message) {
        if (mLive && mLiveInFlight && kind == mLiveKind) mLiveInFlight = 0;   // the next frame goes on
        if (kind == "activations") mActivations->clear(message);
        if (kind.startsWith("attribution")) mAttribution->showError(kind.toStdString(), message);
        showError(message);
    });
    connect(mLayers, &LayerTree::layerSelected, this, &MainWindow::selectLayer);
    auto latentJob = [this](const char *kind, std::function<std::shared_ptr<LatentImagesOutput>(Model &)> work) {
        Job job;
        job.kind = kind;
        job.work = [work](JobContext &ctx) -> std::shared_ptr<const JobOutput> { return work(ctx.model()); };
        mBridge->submit(std::move(job));
    };
    connect(mLatent, &LatentPanel::codeChanged, this, [this, latentJob] {
        const std::vector<float> z = mLatent->code();
        const int cls = mLatent->classIndex();
        if (z.empty()) return;
        latentJob("latent-decode", [z, cls](Model &m) {
            auto out = std::make_shared<LatentImagesOutput>();
            out->what = "decoded";
            out->images = decodeCodes(m, checkCode(m, TensorValue({1, int64_t(z.size())}, z)), cls);
            return out;
        });
    });
    connect(mLatent, &LatentPanel::randomRequested, this, [this](int seed, double truncation) {
        const int64_t d = int64_t(mLatent->code().size());
        if (d == 0) return;
        const TensorValue z = sampleCodes(1, d, uint64_t(seed), truncation);
        mLatent->setCode(std::vector<float>(z.data(), z.data() + z.numel()));
    });
    connect(mLatent, &LatentPanel::traversalRequested, this, [this, latentJob] {
        const std::vector<float> z = mLatent->code();
        const std::vector<int> dims = mLatent->traversalDims();
        const int steps = mLatent->traversalSteps();
        const double range = mLatent->traversalRange();
        const int cls = mLatent->classIndex();
        if (z.empty() || dims.empty()) return;
        latentJob("latent-traverse", [z, dims, steps, range, cls](Model &m) {
            const TensorValue code = checkCode(m, TensorValue({1, int64_t(z.size())}, z));
            std::vector<float> all;
            for (int d : dims) {
                const TensorValue c = traverseCodes(code, d, -range, range, steps);
                all.insert(all.end(), c.data(), c.data() + c.numel());
            }
            auto out = std::make_shared<LatentImagesOutput>();
            out->what = "traversal";
            out->images = decodeCodes(m, TensorValue({int64_t(dims.size()) * steps, int64_t(z.size())}, std::move(all)), cls);
            out->dims = int(dims.size());
            out->steps = steps;
            return out;
        });
    });
    wireLatentTabs();
    wireAttention();
    wireLive();
    connect(mLatent, &LatentPanel::interpolationRequested, this, [this, latentJob] {
        const std::vector<float> a = mLatent->codeA(), b = mLatent->codeB();
        const int steps = mLatent->interpolationSteps();
        const InterpolationMode mode = mLatent->interpolationMode();
        const int cls = mLatent->classIndex();
        if (a.empty()) return;
        latentJob("latent-interp", [a, b, steps, mode, cls](Model &m) {
            auto out = std::make_shared<LatentImagesOutput>();
            out->what = "interpolation";
            out->images = decodeCodes(m, interpolateCodes(TensorValue({1, int64_t(a.size())}, a), TensorValue({1, int64_t(b.size())}, b), steps, mode), cls);
            return out;
        });
    });
    connect(mDataset, &DatasetPanel::openRequested, this, [this] {
        QString path = QFileDialog::getOpenFileName(this, tr("Open dataset (IDX or CSV); cancel to choose a folder of class folders"),
                                                    QString(), tr("Datasets (*.gz *ubyte *.csv);;All files (*)"));
        if (path.isEmpty()) path = QFileDialog::getExistingDirectory(this, tr("Open a folder with one sub-folder per class"));
        if (!path.isEmpty()) openDataset(path);
    });
    connect(mDataset, &DatasetPanel::evaluateRequested, this, [this] { evaluateDataset(); });
    connect(mDataset, &DatasetPanel::projectRequested, this, [this](const QString &m) { projectDataset(m); });
    connect(mDataset, &DatasetPanel::faithfulnessRequested, this, [this](const std::vector<AttributionMethod> &methods, int items) {
        if (!mDatasetData || !mSummary || methods.empty()) return;
        Job job;
        job.kind = "dataset-faithfulness";
        job.work = [ds = mDatasetData, spec = mSummary->metadata.input, shape = mSummary->inputShape, base = mAttribution->currentParams(),
                    methods, items](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
            auto out = std::make_shared<FaithfulnessOutput>();
            const size_t n = std::min(ds->size(), size_t(items));
            out->items = int(n);
            const int steps = 20;
            int64_t done = 0;
            for (AttributionMethod m : methods) {
                DatasetPanel::MethodCurves c;
                c.method = m;
                c.deletion.assign(steps + 1, 0.0);
                c.insertion.assign(steps + 1, 0.0);
                AttributionParams p = base;
                p.method = m;
                p.window.clear();
                p.stride.clear();
                p.samples = std::max(p.samples, methodInfo(m).minSamples);
                for (size_t i = 0; i < n; ++i) {
                    ctx.throwIfCancelled();
                    const TensorValue x = ds->batch(i, i + 1, spec, shape);
                    const auto r = computeAttribution(ctx.model(), x, p);
                    const double sigma = std::max(1.0, double(std::max(x.dim(2), x.dim(3))) / 10.0);
                    const auto d = faithfulnessCurve(ctx.model(), x, r->map, r->targetClass, steps, false, blackBaseline(x, spec));
                    const auto in = faithfulnessCurve(ctx.model(), x, r->map, r->targetClass, steps, true, gaussianBlur(x, sigma));
                    for (int k = 0; k <= steps; ++k) {
                        c.deletion[size_t(k)] += d.scores[size_t(k)] / double(n);
                        c.insertion[size_t(k)] += in.scores[size_t(k)] / double(n);
                    }
                    c.deletionAuc += d.auc / double(n);
                    c.insertionAuc += in.auc / double(n);
                    ctx.progress(++done, int64_t(n * methods.size()), "deletion / insertion");
                }
                out->curves.push_back(c);
            }
            return out;
        };
        mBridge->submit(std::move(job));
    });
    connect(mDataset, &DatasetPanel::sanityRequested, this, [this] {
        if (!mSummary || mInputTensor.numel() == 0) return;
        Job job;
        job.kind = "sanity";
        job.work = [x = mInputTensor, p = mAttribution->currentParams()](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
            AttributionParams fixed = p;
            if (fixed.target.kind == AttributionTarget::Kind::Predicted) {
                const auto top = ctx.model().topK(ctx.model().forward(x, {}).outputs.at(0), 1);
                fixed.target.kind = AttributionTarget::Kind::Class;
                fixed.target.classIndex = top.empty() ? 0 : top[0].index;
            }
            auto out = std::make_shared<SanityOutput>();
            out->method = p.method;
            out->result = cascadingRandomization(ctx.model(), [&](Model &m) { ctx.throwIfCancelled(); return computeAttribution(m, x, fixed)->map; });
            return out;
        };
        mBridge->submit(std::move(job));
    });
    connect(mDataset, &DatasetPanel::itemActivated, this, [this](size_t i) {
        if (!mDatasetData || !mSummary) return;
        try {
            setInputTensor(mDatasetData->batch(i, i + 1, mSummary->metadata.input, mSummary->inputShape),
                           QString::fromStdString(mDatasetData->itemName(i)));
        } catch (const std::exception &e) {
            showError(QString::fromStdString(e.what()));
        }
    });
    connect(mRecommender, &RecommenderPanel::recommendationsRequested, this, [this](int64_t user, int n) {
        if (!mMF) return;
        Job job;
        job.kind = "rec-top";
        job.work = [m = mMF, d = mRecData, user, n](JobContext &) -> std::shared_ptr<const JobOutput> {
            auto out = std::make_shared<RecTopOutput>();
            out->top = recommend(*m, *d, user, n);
            return out;
        };
        mBridge->submit(std::move(job));
    });
    connect(mRecommender, &RecommenderPanel::influenceRequested, this, [this](int64_t user, int64_t item, int n) {
        if (!mMF) return;
        Job job;
        job.kind = "rec-influence";
        job.work = [m = mMF, d = mRecData, user, item, n](JobContext &) -> std::shared_ptr<const JobOutput> {
            auto out = std::make_shared<RecInfluenceOutput>();
            out->result = influence(*m, *d, user, item, n);
            return out;
        };
        mBridge->submit(std::move(job));
    });
    connect(mBridge, &EngineBridge::partialResult, this, [this](quint64, const QString &, std::shared_ptr<const JobOutput> out) {
        if (auto r = std::dynamic_pointer_cast<const DatasetProjectionOutput>(out)) {
            mDataset->setProjection(r->points, r->title);
            emit datasetShown("projecting");
        }
    });
    connect(mBridge, &EngineBridge::jobFinished, this, [this](quint64, const QString &kind, std::shared_ptr<const JobOutput> out) {
        if (auto r = std::dynamic_pointer_cast<const RecLoadOutput>(out)) {
            mMF = r->model;
            mRecData = r->data;
            mRecommender->setRecommender(mMF, mRecData);
            if (r->hasMetrics) mRecommender->setMetrics(r->metrics);
            mRecommenderDock->raise();
            emit recommenderShown("loaded");
            emit mRecommender->recommendationsRequested(mRecommender->user(), mRecommender->topN());
            return;
        }
        if (auto r = std::dynamic_pointer_cast<const DatasetEvalOutput>(out)) {
            mDataset->setEvaluation(r->result);
            emit datasetShown("evaluated");
            return;
        }
        if (auto r = std::dynamic_pointer_cast<const LatentImagesOutput>(out)) {
            if (r->what == "decoded") mLatent->showDecoded(r->images);
            else if (r->what == "traversal") mLatent->showTraversal(r->images, r->dims, r->steps);
            else mLatent->showInterpolation(r->images);
            emit latentShown(r->what);
            return;
        }
        if (auto r = std::dynamic_pointer_cast<const FaithfulnessOutput>(out)) {
            mDataset->setFaithfulness(r->curves, r->items);
            emit datasetShown("faithfulness");
            return;
        }
        if (auto r = std::dynamic_pointer_cast<const SanityOutput>(out)) {
            mDataset->setSanity(r->method, r->result);
            emit datasetShown("sanity");
            return;
        }
        if (auto r = std::dynamic_pointer_cast<const DatasetProjectionOutput>(out)) {
            mDataset->setProjection(r->points, r->title);
            emit datasetShown("projected");
            return;
        }
        if (auto r = std::dynamic_pointer_cast<const RecTopOutput>(out)) {
            mRecommender->showRecommendations(r->top);
            emit recommenderShown("top");
            return;
        }
        if (auto r = std::dynamic_pointer_cast<const RecInfluenceOutput>(out)) {
            mRecommender->showInfluence(r->result);
            emit recommenderShown("influence");
            return;
        }
        if (kind != "compose") return;
        if (auto c = std::dynamic_pointer_cast<const ComposerOutput>(out))
            emit composed(std::make_shared<const ComposedFigure>(c->data, c->spec));
    });
    connect(mAttribution, &AttributionPanel::runRequested, this, &MainWindow::requestAttributions);
    connect(mActivationsDock, &QDockWidget::visibilityChanged, this, [this](bool visible) {
        if (visible && mHiddenActivations) mActivations->setResult(std::exchange(mHiddenActivations, nullptr));
    });
    connect(mAttributionDock, &QDockWidget::visibilityChanged, this, [this](bool visible) {
        if (visible) requestAttributions();
    });
    connect(mBridge, &EngineBridge::attributionReady, this,
            [this](const std::string &kind, std::shared_ptr<const AttributionResult> r) {
                auto show = [this, kind, r] {
                    mAttribution->showResult(kind, r);
                    emit attributionShown(QString::fromStdString(kind), r->partial);
                };
                if (!deferToLiveTimer("attribution:" + QString::fromStdString(kind), r->inputId, !r->partial, show)) show();
            });
    connect(mInput, &InputPanel::imageChosen, this, &MainWindow::openImage);
    connect(mInput, &InputPanel::drawingChanged, this, &MainWindow::setDrawing);
    connect(mLatent, &LatentPanel::animationExportRequested, this, [this](const QString &which) {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export %1 animation").arg(which), which + ".gif", tr("Animations (*.gif *.mp4)"));
        if (!path.isEmpty()) exportLatentAnimation(which, path);
    });

    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    // The saved layout is versioned by the set of docks: a layout saved before a dock existed is ignored
    // (restoring it would float or stack the docks it does not know).
    if (settings.value("window/docks").toInt() == kDockLayoutVersion) restoreState(settings.value("window/state").toByteArray());
}

MainWindow::~MainWindow() { stopLive(); }

int MainWindow::kDockLayoutVersionForPresentation() { return kDockLayoutVersion; }

QDockWidget *MainWindow::addPanel(const QString &title, const QString &objectName, QWidget *content)
{
    auto *dock = new QDockWidget(title, this);
    dock->setObjectName(objectName);
    dock->setWidget(content);
    addDockWidget(Qt::LeftDockWidgetArea, dock);
    return dock;
}

void MainWindow::resetLayout()
{
    for (QDockWidget *d : {mModelDock, mInputDock, mActivationsDock, mPredictionDock, mAttributionDock, mRecommenderDock, mDatasetDock, mLatentDock, mAttentionDock}) {
        d->setFloating(false);
        d->show();
        removeDockWidget(d);
    }
    addDockWidget(Qt::LeftDockWidgetArea, mModelDock);
    addDockWidget(Qt::LeftDockWidgetArea, mInputDock);
    addDockWidget(Qt::RightDockWidgetArea, mActivationsDock);
    splitDockWidget(mActivationsDock, mPredictionDock, Qt::Vertical);
    tabifyDockWidget(mActivationsDock, mAttributionDock);
    tabifyDockWidget(mAttributionDock, mRecommenderDock);
    tabifyDockWidget(mRecommenderDock, mDatasetDock);
    tabifyDockWidget(mDatasetDock, mLatentDock);
    tabifyDockWidget(mLatentDock, mAttentionDock);
    mLatentDock->show();
    mAttentionDock->show();
    mAttributionDock->show();
    mRecommenderDock->show();
    mDatasetDock->show();
    mActivationsDock->raise();
    mModelDock->show();
    mInputDock->show();
    mActivationsDock->show();
    mPredictionDock->show();
    resizeDocks({mModelDock, mActivationsDock}, {380, 900}, Qt::Horizontal);
    resizeDocks({mActivationsDock, mPredictionDock}, {560, 220}, Qt::Vertical);
}

void MainWindow::buildMenus()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open model…"), QKeySequence::Open, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open TorchScript model"), QString(),
                                                          tr("TorchScript (*.pt *.pth *.ptl *.zip);;All files (*)"));
        if (!path.isEmpty()) openModel(path);
    });
    file->addAction(tr("Open &image…"), QKeySequence(tr("Ctrl+I")), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open image or .npy"), QString(),
                                                          tr("Inputs (*.png *.jpg *.jpeg *.bmp *.pgm *.tif *.npy);;All files (*)"));
        if (!path.isEmpty()) openImage(path);
    });
    file->addAction(tr("&Export figure…"), QKeySequence(tr("Ctrl+E")), this, [this] {
        ExportDialog dlg(figurePanels(), this);
        if (dlg.exec() != QDialog::Accepted || dlg.path().isEmpty()) return;
        try {
            const QStringList files = exportPanel(dlg.panel(), dlg.path(), dlg.settings(), dlg.rawData());
            statusBar()->showMessage(tr("Wrote %1").arg(files.join(", ")), 5000);
        } catch (const std::exception &e) {
            showError(QString::fromStdString(e.what()));
        }
    });
    file->addAction(tr("Figure &composer…"), this, [this] {
        QStringList inputs;
        if (!mImagePath.isEmpty()) inputs << mImagePath;
        for (int i = 0; i < mInput->sampleCount(); ++i)
            if (!inputs.contains(mInput->samplePath(i))) inputs << mInput->samplePath(i);
        ComposerDialog dlg(this, inputs, mLayer);
        if (!mComposer.rows.isEmpty()) dlg.setSpec(mComposer);
        dlg.exec();
        mComposer = dlg.spec();
    });
    file->addSeparator();
    file->addAction(tr("&Save session…"), QKeySequence::Save, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save session"), QString(), tr("Pellucid session (*.json)"));
        if (path.isEmpty()) return;
        try {
            saveSessionTo(path);
            statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
        } catch (const std::exception &e) {
            showError(QString::fromStdString(e.what()));
        }
    });
    file->addAction(tr("Open sess&ion…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open session"), QString(), tr("Pellucid session (*.json)"));
        if (!path.isEmpty()) openSession(path);
    });
    mRecentMenu = file->addMenu(tr("&Recent models"));
    QMenu *device = file->addMenu(tr("&Device"));
    auto *group = new QActionGroup(this);
    const bool cuda = cudaAvailable();
    const std::pair<QString, DevicePreference> devices[] = {{tr("Automatic (CUDA when available)"), DevicePreference::Auto},
                                                            {tr("CPU"), DevicePreference::Cpu},
                                                            {cuda ? tr("CUDA") : tr("CUDA (not available)"), DevicePreference::Cuda}};
    for (const auto &[label, pref] : devices) {
        QAction *a = device->addAction(label, this, [this, pref = pref] { setDevice(pref); });
        a->setCheckable(true);
        a->setChecked(pref == mDevice);
        a->setEnabled(pref != DevicePreference::Cuda || cuda);
        group->addAction(a);
    }
    QMenu *threadsMenu = file->addMenu(tr("CPU &threads"));
    auto *threadGroup = new QActionGroup(this);
    mThreads = QSettings().value("engine/threads", 0).toInt();
    for (int n : {0, 1, 2, 4, 8, 16}) {
        QAction *a = threadsMenu->addAction(n == 0 ? tr("All cores (%1)").arg(QThread::idealThreadCount()) : QString::number(n), this, [this, n] { setThreads(n); });
        a->setCheckable(true);
        a->setChecked(n == mThreads);
        threadGroup->addAction(a);
    }
    QMenu *precisionMenu = file->addMenu(tr("&Precision"));
    precisionMenu->setToolTip(tr("Arithmetic of forward-only work (activations, predictions); gradient methods stay float32. "
                                 "A reduced precision is taken only when it keeps every checked prediction."));
    auto *precisionGroup = new QActionGroup(this);
    parsePrecision(QSettings().value("engine/precision", "fp32").toString().toStdString(), mPrecision);
    for (const auto &[label, p] : std::vector<std::pair<QString, Precision>>{{tr("float32"), Precision::Float32},
                                                                            {tr("bfloat16 (forward only)"), Precision::BFloat16},
                                                                            {tr("float16 (forward only)"), Precision::Float16}}) {
        QAction *a = precisionMenu->addAction(label, this, [this, p = p] { setPrecision(p); });
        a->setCheckable(true);
        a->setChecked(p == mPrecision);
        precisionGroup->addAction(a);
    }
    QMenu *live = file->addMenu(tr("&Live input"));
    live->addAction(tr("Camera…"), this, [this] { chooseCamera(); });
    live->addAction(tr("Video file…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Play a video through the model"), QString(), tr("Videos (*.mp4 *.avi *.mkv *.webm *.mov);;All files (*)"));
        if (!path.isEmpty()) startLive(path, true);
    });
    live->addAction(tr("Stop"), this, [this] { stopLive(); });
    QMenu *roles = file->addMenu(tr("Model &role"));
    auto *roleGroup = new QActionGroup(this);
    const std::pair<QString, QString> roleItems[] = {{tr("As the metadata says"), QString()},
                                                     {tr("Classifier"), "classifier"},
                                                     {tr("Generator / decoder (z → image)"), "generator"},
                                                     {tr("Conditional generator (z, class → image)"), "conditional_generator"},
                                                     {tr("Encoder (image → z)"), "encoder"}};
    for (const auto &[label, role] : roleItems) {
        QAction *a = roles->addAction(label, this, [this, role = role] { setModelRole(role); });
        a->setCheckable(true);
        a->setChecked(role == mRole);
        roleGroup->addAction(a);
    }
    updateRecentMenu();
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    mViewMenu = menuBar()->addMenu(tr("&View"));
    for (QDockWidget *d : {mModelDock, mInputDock, mActivationsDock, mPredictionDock, mAttributionDock, mRecommenderDock, mDatasetDock, mLatentDock, mAttentionDock})
        mViewMenu->addAction(d->toggleViewAction());
    mViewMenu->addSeparator();
    QAction *present = mViewMenu->addAction(tr("&Presentation mode"), QKeySequence(Qt::Key_F5), this, [this] { setPresentationMode(!mPresenting); });
    present->setToolTip(tr("Full screen for a class: PgUp/PgDn layers, ↑/↓ channels, H pointer, +/− font, Esc leaves"));
    QAction *reset = mViewMenu->addAction(tr("&Reset layout"), this, &MainWindow::resetLayout);
    reset->setObjectName("resetLayoutAction");

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Pellucid"), this, [this] {
        QMessageBox::about(this, tr("About Pellucid"),
                           tr("Pellucid %1 — see inside neural networks.").arg(QApplication::applicationVersion()));
    });
}

void MainWindow::updateRecentMenu()
{
    mRecentMenu->clear();
    const QStringList recent = QSettings().value("recentModels").toStringList();
    for (const QString &p : recent)
        mRecentMenu->addAction(QFileInfo(p).fileName(), this, [this, p] { openModel(p); })->setToolTip(p);
    mRecentMenu->setEnabled(!recent.isEmpty());
}

AttributionParams MainWindow::attributionPanelParams() const { return mAttribution->currentParams(); }

Session MainWindow::currentSession() const
{
    Session s;
    if (mSummary) s.modelPath = QString::fromStdString(mSummary->path);
    if (!mImagePath.isEmpty()) s.inputs << mImagePath;
    for (const QString &r : mComposer.rows)
        if (!s.inputs.contains(r)) s.inputs << r;
    s.currentInput = mImagePath;
    s.layer = mLayer;
    s.attribution = mAttribution->currentParams();
    s.compare = mAttribution->compareMethods();
    s.composer = mComposer;
    s.figure = ExportDialog::savedSettings();
    s.windowState = saveState();
    return s;
}

void MainWindow::saveSessionTo(const QString &path) { saveSession(currentSession(), path); }

void MainWindow::openSession(const QString &path)
{
    try {
        auto s = std::make_unique<Session>(loadSession(path));
        if (!s->warnings.isEmpty()) showError(s->warnings.join("; "));
        if (!QFileInfo::exists(s->modelPath)) {
            // The model is named in the warning; apply what does not need it.
            mComposer = s->composer;
            restoreState(s->windowState);
            emit sessionOpened();
            return;
        }
        mPendingSession = std::move(s);
        openModel(mPendingSession->modelPath);
    } catch (const std::exception &e) {
        showError(QString::fromStdString(e.what()));
    }
}

void MainWindow::applyPendingSession()
{
    const std::unique_ptr<Session> s = std::move(mPendingSession);
    if (!s) return;
    mComposer = s->composer;
    if (!s->windowState.isEmpty()) restoreState(s->windowState);
    if (!s->currentInput.isEmpty() && QFileInfo::exists(s->currentInput)) openImage(s->currentInput);
    if (!s->layer.isEmpty()) selectLayer(s->layer);
    mAttribution->setParams(s->attribution);
    if (!s->compare.empty()) mAttribution->setCompareMethods(s->compare);
    emit sessionOpened();
}

quint64 MainWindow::compose(const ComposerSpec &spec)
{
    mComposer = spec;
    Job job;
    job.kind = "compose";
    job.work = [spec](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        auto out = std::make_shared<ComposerOutput>();
        out->data = computeComposer(ctx.model(), spec, [&ctx] { return ctx.cancelled(); });
        out->spec = spec;
        return out;
    };
    return mBridge->submit(std::move(job));
}

void MainWindow::openDataset(const QString &path)
{
    try {
        std::vector<std::string> labels = mSummary ? mSummary->metadata.labels : std::vector<std::string>{};
        auto ds = std::make_shared<const Dataset>(Dataset::open(path.toStdString(), labels));
        mDatasetData = ds;
        QStringList classes;
        int maxLabel = 0;
        for (int l : ds->labels()) maxLabel = std::max(maxLabel, l);
        for (int c = 0; c <= maxLabel; ++c)
            classes << (size_t(c) < labels.size() ? QString::fromStdString(labels[size_t(c)]) : QString::number(c));
        const InputSpec spec = mSummary ? mSummary->metadata.input : InputSpec();
        const Shape shape = mSummary ? mSummary->inputShape : Shape();
        mDataset->setDataset(QFileInfo(path).fileName(), ds->size(), [ds, spec, shape](size_t i) {
            try {
                return inputPicture(ds->batch(i, i + 1, spec, shape));
            } catch (const std::exception &) {
                QImage broken(8, 8, QImage::Format_RGB32);
                broken.fill(QColor(255, 0, 255));
                return broken;
            }
        }, ds->labels(), classes);
        mDatasetDock->raise();
    } catch (const std::exception &e) {
        showError(QString::fromStdString(e.what()));
    }
}

quint64 MainWindow::evaluateDataset()
{
    if (!mDatasetData || !mSummary) return 0;
    Job job;
    job.kind = "dataset-eval";
    job.work = [ds = mDatasetData, spec = mSummary->metadata.input, shape = mSummary->inputShape](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        std::unique_ptr<Evaluator> ev;
        for (size_t b = 0; b < ds->size(); b += 256) {
            ctx.throwIfCancelled();
            const size_t e = std::min(ds->size(), b + 256);
            const TensorValue logits = ctx.model().forward(ds->batch(b, e, spec, shape), {}).outputs.at(0);
            if (!ev) {
                if (logits.shape().size() != 2) throw Error(ErrorCode::BadInput, "Evaluation needs a classifier with output [N, classes]");
                ev = std::make_unique<Evaluator>(int(logits.dim(1)), 5);
            }
            ev->add(logits, std::vector<int>(ds->labels().begin() + long(b), ds->labels().begin() + long(e)));
            ctx.progress(int64_t(e), int64_t(ds->size()), "evaluating");
        }
        if (!ev) throw Error(ErrorCode::BadInput, "The dataset is empty");
        auto out = std::make_shared<DatasetEvalOutput>();
        out->result = ev->finish();
        return out;
    };
    return mBridge->submit(std::move(job));
}

quint64 MainWindow::projectDataset(const QString &method)
{
    if (!mDatasetData || !mSummary || mLayer.isEmpty()) {
        showError(tr("Open a dataset and select a layer to project"));
        return 0;
    }
    Job job;
    job.kind = "dataset-project";
    job.work = [ds = mDatasetData, spec = mSummary->metadata.input, shape = mSummary->inputShape, layer = mLayer.toStdString(),
                method, perplexity = mDataset->perplexity(), neighbours = mDataset->neighbours()](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        // Every item: PCA is exact, t-SNE Barnes–Hut and UMAP scale to the 60,000-image training sets.
        const size_t n = ds->size();
        const std::string path = ctx.model().resolveLayer(layer).path;
        std::vector<float> feats;
        int64_t dim = 0;
        for (size_t b = 0; b < n; b += 256) {
            ctx.throwIfCancelled();
            const size_t e = std::min(n, b + 256);
            const TensorValue pooled = poolActivations(ctx.model().forward(ds->batch(b, e, spec, shape), {layer}).taps.at(path).at(0));
            dim = pooled.dim(1);
            feats.insert(feats.end(), pooled.data(), pooled.data() + pooled.numel());
            ctx.progress(int64_t(e), int64_t(n), "activations");
        }
        const TensorValue X({int64_t(n), dim}, std::move(feats));
        auto out = std::make_shared<DatasetProjectionOutput>();
        const QString name = QString::fromStdString(layer);
        // The embedding so far, shown while the optimisation runs.
        auto live = [&ctx](const QString &title, const TensorValue &y) {
            auto p = std::make_shared<DatasetProjectionOutput>();
            p->points = y;
            p->title = title;
            ctx.partial(p);
        };
        if (method == "pca") {
            const PcaResult r = pca(X, 2);
            out->points = r.projected;
            out->title = QObject::tr("PCA of %1 (%2% + %3% of the variance)").arg(name)
                             .arg(100 * r.explainedRatio[0], 0, 'f', 1).arg(100 * r.explainedRatio[1], 0, 'f', 1);
        } else if (method == "umap") {
            UmapOptions o;
            o.neighbours = neighbours;
            o.cancelled = [&ctx] { return ctx.cancelled(); };
            ctx.progress(0, 1, "UMAP: nearest neighbours");
            o.progress = [&](int epoch, const TensorValue &y) {
                const int total = n > 10000 ? 200 : 500;
                ctx.progress(epoch, total, "UMAP");
                if (epoch % 50 == 0) live(QObject::tr("UMAP of %1 — epoch %2 of %3").arg(name).arg(epoch).arg(total), y);
            };
            out->points = umap(X, o);
            out->title = QObject::tr("UMAP of %1 (%2 items, %3 neighbours, min_dist 0.1)").arg(name).arg(n).arg(neighbours);
        } else {
            TsneOptions o;
            o.perplexity = perplexity;
            o.cancelled = [&ctx] { return ctx.cancelled(); };
            ctx.progress(0, 1, "t-SNE: nearest neighbours");
            o.progress = [&](int it, double kl, const TensorValue &y) {
                ctx.progress(it, 1000, "t-SNE");
                live(QObject::tr("t-SNE of %1 — iteration %2 of 1000, KL %3").arg(name).arg(it).arg(kl, 0, 'f', 3), y);
            };
            out->points = tsne(X, o);
            out->title = QObject::tr("t-SNE of %1 (%2 items, Barnes–Hut θ 0.5, perplexity %3)").arg(name).arg(n).arg(perplexity);
        }
        return out;
    };
    return mBridge->submit(std::move(job));
}

bool MainWindow::exportLatentAnimation(const QString &which, const QString &path)
{
    try {
        TensorValue frames = which == "traversal" ? mLatent->traversalGrid()->images() : mLatent->interpolationRow()->images();
        if (frames.shape().size() != 4 || frames.dim(0) == 0) throw Error(ErrorCode::BadInput, "Nothing to export: run the " + which.toStdString() + " first");
        if (which == "traversal") {
            // Rows are dimensions, columns steps: frame k stacks every dimension's step k vertically.
            const int64_t steps = mLatent->traversalSteps(), rows = frames.dim(0) / steps;
            const int64_t C = frames.dim(1), H = frames.dim(2), W = frames.dim(3);
            std::vector<float> v(size_t(steps * C * rows * H * W));
            for (int64_t k = 0; k < steps; ++k)
                for (int64_t r = 0; r < rows; ++r)
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t y = 0; y < H; ++y)
                            for (int64_t x = 0; x < W; ++x)
                                v[size_t((((k * C + c) * rows + r) * H + y) * W + x)] = frames.at((((r * steps + k) * C + c) * H + y) * W + x);
            frames = TensorValue({steps, C, rows * H, W}, std::move(v));
        }
        writeAnimation(path.toStdString(), frames);
        return true;
    } catch (const std::exception &e) {
        showError(QString::fromStdString(e.what()));
        return false;
    }
}

void MainWindow::setDrawing(const QImage &image)
{
    if (!mSummary) return;
    try {
        // Through PNG bytes, so a drawing is preprocessed exactly as the same picture saved as a file.
        QByteArray png;
        QBuffer buffer(&png);
        buffer.open(QIODevice::WriteOnly);
        image.save(&buffer, "PNG");
        const std::vector<unsigned char> bytes(png.begin(), png.end());
        const TensorValue t = imageBytesToTensor(bytes, mSummary->metadata.input, mSummary->inputShape);
        mInputTensor = t;
        mImagePath.clear();
        mTokens.clear();
        ++mInputId;
        mAttribution->setInput(t, mInputId);
        mInput->showMessage(tr("drawing  tensor %1").arg(QString::fromStdString(shapeToString(t.shape()))));
        mErrorLabel->clear();
        requestActivations();
        requestAttributions();
        emit drawingApplied();
    } catch (const std::exception &e) {
        showError(QString::fromStdString(e.what()));
    }
}

void MainWindow::setInputTensor(const TensorValue &input, const QString &name)
{
    mInputTensor = input;
    mImagePath.clear();
    ++mInputId;
    mAttribution->setInput(input, mInputId);
    mInput->showImage(name, inputPicture(input));
    mErrorLabel->clear();
    requestActivations();
    requestAttributions();
}

QStringList MainWindow::figurePanels() const
{
    return {"attribution", "activations", "channel", "histogram", "prediction", "recommendations", "interaction-graph",
            "latent-traversal", "latent-interpolation"};
}

const FigureSource *MainWindow::figureSource(const QString &panel) const
{
    if (panel == "attribution") return mAttribution;   // the main view, or the compare grid
    if (panel == "activations") return mActivations;
    if (panel == "channel") return mActivations->channelView();
    if (panel == "histogram") return mActivations->histogram();
    if (panel == "recommendations") return mRecommender->bars();
    if (panel == "latent-traversal") return mLatent->traversalGrid();
    if (panel == "latent-interpolation") return mLatent->interpolationRow();
    if (panel == "interaction-graph") return mRecommender->graph();
    if (panel == "prediction") return mPrediction;
    return nullptr;
}

QStringList MainWindow::exportPanel(const QString &panel, const QString &path, const FigureSettings &settings, bool rawData)
{
    const FigureSource *source = figureSource(panel);
    if (!source) throw FigureError("Unknown panel '" + panel.toStdString() + "'");
    exportFigure(*source, path, settings);
    QStringList files{path};
    if (rawData) {
        const QFileInfo fi(path);
        files += source->writeRawData(fi.absolutePath() + "/" + fi.completeBaseName());
    }
    return files;
}

void MainWindow::setSampleFolder(const QString &folder) { mInput->setSampleFolder(folder); }

void MainWindow::showError(const QString &message)
{
    mLastError = message;
    mErrorLabel->setText(message);
    mErrorLabel->setToolTip(message);
    emit errorShown(message);
}

void MainWindow::openModel(const QString &path)
{
    mModelLabel->setText(tr("loading %1…").arg(QFileInfo(path).fileName()));
    mBridge->loadModel(path, mDevice, mRole, mThreads, mPrecision);
}

void MainWindow::setPrecision(Precision p)
{
    mPrecision = p;
    QSettings().setValue("engine/precision", QString(precisionName(p)));
    if (mSummary) openModel(QString::fromStdString(mSummary->path));
}

void MainWindow::setThreads(int threads)
{
    mThreads = std::max(0, threads);
    QSettings().setValue("engine/threads", mThreads);
    if (mSummary) openModel(QString::fromStdString(mSummary->path));
}

void MainWindow::setModelRole(const QString &role)
{
    mRole = role;
    if (mSummary) openModel(QString::fromStdString(mSummary->path));
}

void MainWindow::setDevice(DevicePreference device)
{
    mDevice = device;
    if (mSummary) openModel(QString::fromStdString(mSummary->path));
}

void MainWindow::onModelLoaded(std::shared_ptr<const ModelSummary> summary)
{
    mSummary = std::move(summary);
    mErrorLabel->clear();
    mModelLabel->setText(QString::fromStdString(mSummary->fileName));
    mModelLabel->setToolTip(QString::fromStdString(mSummary->path));
    mDeviceLabel->setText(mSummary->precision == "fp32" ? tr("device: %1").arg(QString::fromStdString(mSummary->device))
                                                        : tr("device: %1, %2").arg(QString::fromStdString(mSummary->device), QString::fromStdString(mSummary->precision)));
    if (!mSummary->precisionNote.empty()) showError(QString::fromStdString(mSummary->precisionNote));
    setWindowTitle(tr("Pellucid — %1").arg(QString::fromStdString(mSummary->fileName)));
    mLayers->setModel(*mSummary);
    mAttribution->setModel(*mSummary);

    QSettings settings;
    QStringList recent = settings.value("recentModels").toStringList();
    const QString path = QFileInfo(QString::fromStdString(mSummary->path)).absoluteFilePath();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > 10) recent.removeLast();
    settings.setValue("recentModels", recent);
    updateRecentMenu();

    if (const Json *role = mSummary->metadata.raw.find("role");
        role && role->isString() && (role->asString() == "generator" || role->asString() == "decoder" || role->asString() == "conditional_generator")) {
        // A generator: codes, not images, are its input.
        mLatent->setLatentDim(int(mSummary->inputShape.size() == 2 ? mSummary->inputShape[1] : 0), QString::fromStdString(mSummary->fileName));
        if (const Json *lat = mSummary->metadata.raw.find("latent"); lat && lat->find("dim"))
            mLatent->setLatentDim(int(lat->find("dim")->asInt()), QString::fromStdString(mSummary->fileName));
        QStringList classes;
        if (role->asString() == "conditional_generator") {
            for (const auto &l : mSummary->metadata.labels) classes << QString::fromStdString(l);
            if (classes.isEmpty())
                if (const Json *k = mSummary->metadata.raw.find("classes"); k && k->isNumber())
                    for (int64_t c = 0; c < k->asInt(); ++c) classes << QString::number(c);
        }
        mLatent->setConditionalClasses(classes);
        mLatentDock->raise();
        findLatentCompanions();
        emit modelReady();
        emit mLatent->randomRequested(0, 0.0);
        applyPendingSession();
        return;
    }
    mLatent->setLatentDim(0, QString());
    if (mSummary->metadata.task == "recommendation") {
        // A recommender: its tables and data are read on the engine thread; images do not apply.
        mMF.reset();
        mRecData.reset();
        Job job;
        job.kind = "rec-load";
        job.work = [](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
            auto out = std::make_shared<RecLoadOutput>();
            auto mf = std::make_shared<MFModel>(loadMF(ctx.model()));
            if (mf->dataPath.empty()) throw Error(ErrorCode::BadMetadata, "The recommender's metadata names no interaction data (\"data\")");
            auto data = std::make_shared<InteractionData>(readInteractions(mf->dataPath));
            if (!mf->itemsPath.empty()) readItemNames(mf->itemsPath, *data);
            if (!mf->heldoutPath.empty()) {
                out->metrics = evaluateRecommender(*mf, *data, readInteractions(mf->heldoutPath), 10);
                out->hasMetrics = true;
            }
            out->model = mf;
            out->data = data;
            return out;
        };
        mBridge->submit(std::move(job));
        emit modelReady();
        applyPendingSession();
        return;
    }
    mRecommender->setRecommender(nullptr, nullptr);
    // Re-read the current image with the new model's preprocessing.
    if (!mImagePath.isEmpty()) {
        openImage(mImagePath);
    } else if (mInput->sampleCount() > 0) {
        openImage(mInput->samplePath(0));
    }
    // A layer the metadata suggests, else the first called leaf with a spatial output.
    QString layer;
    for (const auto &s : mSummary->metadata.suggestedLayers) {
        layer = QString::fromStdString(s);
        break;
    }
    if (layer.isEmpty())
        for (const auto &l : mSummary->layers)
            if (l.leaf && l.calls > 0 && !l.outputShapes.empty() && l.outputShapes[0].size() == 4) {
                layer = QString::fromStdString(l.path);
                break;
            }
    mLayer.clear();
    checkAttention();
    if (!layer.isEmpty()) mLayers->selectLayer(layer);   // emits layerSelected -> selectLayer
    if (mLayer.isEmpty()) requestActivations();
    emit modelReady();
    applyPendingSession();
}

void MainWindow::openImage(const QString &path)
{
    try {
        if (!mLatent->code().empty()) {
            // A generator is loaded: the image is the input of its VAE encoder / counterfactual (Latent dock).
            const QImage preview(path);
            if (preview.isNull()) throw Error(ErrorCode::BadInput, "Cannot read the image " + path.toStdString());
            mImagePath = path;
            mInput->showImage(path, preview);
            mInput->showMessage(tr("%1 — input of the Latent dock's VAE and counterfactual tabs").arg(QFileInfo(path).fileName()));
            mErrorLabel->clear();
            return;
        }
        const InputSpec spec = mSummary ? mSummary->metadata.input : InputSpec();
        const Shape shape = mSummary ? mSummary->inputShape : Shape();
        TensorValue t = loadInputFile(path.toStdString(), spec, shape);
        mInputTensor = t;
        mImagePath = path;
        mTokens.clear();
        mAttribution->setInput(t, mInputId + 1);
        QImage preview(path);
        if (preview.isNull() && t.shape().size() == 4) {
            // A .npy input: show its first plane, min-max scaled to grey.
            const int h = int(t.dim(2)), w = int(t.dim(3));
            const auto st = TensorValue(Shape{int64_t(h) * w}, std::vector<float>(t.data(), t.data() + int64_t(h) * w)).stats();
            preview = QImage(w, h, QImage::Format_Grayscale8);
            const float span = st.max > st.min ? st.max - st.min : 1.0f;
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x)
                    preview.scanLine(y)[x] = uchar(std::clamp((t.at(int64_t(y) * w + x) - st.min) / span * 255.0f, 0.0f, 255.0f));
        }
        if (!preview.isNull()) mInput->showImage(path, preview);
        mInput->showMessage(tr("%1  tensor %2").arg(QFileInfo(path).fileName(), QString::fromStdString(shapeToString(t.shape()))));
        ++mInputId;
        mErrorLabel->clear();
        requestActivations();
        requestAttributions();
    } catch (const std::exception &e) {
        showError(QString::fromStdString(e.what()));   // the previous input stays current
    }
}

void MainWindow::selectLayer(const QString &path)
{
    if (path == mLayer) return;
    mLayer = path;
    mLayers->selectLayer(path);
    requestActivations();
}

void MainWindow::requestActivations()
{
    if (!mSummary || mInputTensor.numel() == 0) return;
    mBridge->requestActivations(mInputTensor, mInputId, mLayer);
    requestAttention();
}

void MainWindow::requestAttributions()
{
    if (!mSummary || mInputTensor.numel() == 0 || !mAttributionDock->isVisible()) return;
    TensorValue segments;
    for (auto [kind, params] : mAttribution->requests()) {
        if (usesSuperpixels(params.method)) {
            try {
                if (segments.numel() == 0 && mInputTensor.shape().size() == 4)
                    segments = slicSegments(mInputTensor, int(std::max<int64_t>(2, std::max(mInputTensor.dim(2), mInputTensor.dim(3)) / 8)));
                params.featureMask = segments;   // empty: the engine's grid
            } catch (const std::exception &e) {
                showError(QString::fromStdString(e.what()));
            }
        }
        mBridge->requestAttribution(mInputTensor, mInputId, params, kind);
    }
}

void MainWindow::onActivations(std::shared_ptr<const ActivationOutput> out)
{
    if (deferToLiveTimer("activations", out->inputId, true, [this, out] { showActivations(out); })) return;
    showActivations(out);
}

void MainWindow::showActivations(std::shared_ptr<const ActivationOutput> out)
{
    mPrediction->setPredictions(out->topK, out->logitStats);
    mHiddenActivations.reset();
    if (out->layer.empty()) mActivations->clear();
    else if (mActivationsDock->isVisible()) mActivations->setResult(out);
    else mHiddenActivations = out;   // a tabbed-away panel is not drawn for every result (live mode), only when shown
    if (out->logitStats.nanCount || out->logitStats.infCount)
        showError(tr("The model's output contains NaN or Inf values (%1 NaN, %2 Inf)").arg(out->logitStats.nanCount).arg(out->logitStats.infCount));
    else if (out->stats.nanCount || out->stats.infCount)
        showError(tr("Layer %1 contains %2 NaN and %3 Inf values").arg(QString::fromStdString(out->layer)).arg(out->stats.nanCount).arg(out->stats.infCount));
    emit activationsShown();
}

void MainWindow::closeEvent(QCloseEvent *e)
{
    if (mPresenting) setPresentationMode(false);   // the working layout is the one saved below
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    settings.setValue("window/docks", kDockLayoutVersion);
    QMainWindow::closeEvent(e);
}

void MainWindow::dragEnterEvent(QDragEnterEvent *e)
{
    if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent *e)
{
    for (const QUrl &url : e->mimeData()->urls()) {
        if (!url.isLocalFile()) continue;
        const QString p = url.toLocalFile();
        const QString suffix = QFileInfo(p).suffix().toLower();
        if (suffix == "pt" || suffix == "pth" || suffix == "ptl" || suffix == "zip") openModel(p);
        else openImage(p);
    }
}

} // namespace pellucid
