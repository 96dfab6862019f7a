#include "widgets/attribution/attributionpanel.h"

#include <QStandardItemModel>

#include "widgets/attribution/attributionview.h"

#include <QCheckBox>
#include <QPainter>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QScrollArea>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QVBoxLayout>

#include <cmath>

namespace pellucid {
namespace {

QString displayName(AttributionMethod m) { return QString::fromUtf8(methodInfo(m).displayName); }

}   // namespace

AttributionPanel::AttributionPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    auto *split = new QSplitter(Qt::Horizontal, this);
    layout->addWidget(split);

    // Controls.
    auto *controls = new QWidget(split);
    auto *form = new QFormLayout(controls);
    form->setContentsMargins(4, 4, 4, 4);
    mMethod = new QComboBox(controls);
    mMethod->setObjectName("attributionMethod");
    for (AttributionMethod m : allMethods()) mMethod->addItem(displayName(m), int(m));
    form->addRow(tr("Method"), mMethod);
    mTarget = new QComboBox(controls);
    mTarget->setObjectName("attributionTarget");
    form->addRow(tr("Target"), mTarget);
    mLayer = new QComboBox(controls);
    mLayer->setToolTip(tr("Layer for the CAM methods (spatial layers only)"));
    form->addRow(tr("CAM layer"), mLayer);
    mSteps = new QSpinBox(controls);
    const auto range = [](QSpinBox *box, const char *name) {
        const ParameterInfo &p = parameterInfo(name);
        box->setRange(int(p.minimum), int(p.maximum));
        box->setValue(int(p.defaultValue));
    };
    range(mSteps, "steps");
    form->addRow(tr("IG steps"), mSteps);
    mIntegration = new QComboBox(controls);
    for (auto r : {IntegrationRule::GaussLegendre, IntegrationRule::RiemannLeft, IntegrationRule::RiemannRight, IntegrationRule::RiemannMiddle,
                   IntegrationRule::RiemannTrapezoid})
        mIntegration->addItem(integrationName(r), int(r));
    form->addRow(tr("Integration"), mIntegration);
    mBaseline = new QComboBox(controls);
    mBaseline->addItem(tr("zero"), int(BaselineKind::Zero));
    mBaseline->addItem(tr("blurred input"), int(BaselineKind::Blur));
    mBaseline->addItem(tr("uniform noise"), int(BaselineKind::Uniform));
    form->addRow(tr("Baseline"), mBaseline);
    mSamples = new QSpinBox(controls);
    range(mSamples, "samples");
    mSamples->setToolTip(tr("Noise-tunnel samples; LIME and KernelSHAP use at least 200"));
    form->addRow(tr("Samples"), mSamples);
    mStdev = new QDoubleSpinBox(controls);
    mStdev->setRange(parameterInfo("stdev").minimum, parameterInfo("stdev").maximum);
    mStdev->setSingleStep(0.05);
    mStdev->setValue(parameterInfo("stdev").defaultValue);
    mStdev->setToolTip(tr("Noise σ as a fraction of the input's value range"));
    form->addRow(tr("Noise σ"), mStdev);
    mNoiseType = new QComboBox(controls);
    mNoiseType->addItem("SmoothGrad", int(NoiseType::SmoothGrad));
    mNoiseType->addItem("SmoothGrad²", int(NoiseType::SmoothGradSquared));
    mNoiseType->addItem("VarGrad", int(NoiseType::VarGrad));
    form->addRow(tr("Noise type"), mNoiseType);
    mSeed = new QSpinBox(controls);
    range(mSeed, "seed");
    form->addRow(tr("Seed"), mSeed);
    mWindow = new QSpinBox(controls);
    range(mWindow, "window");
    mWindow->setSpecialValueText(tr("auto (1/8 of the side)"));
    form->addRow(tr("Occlusion window"), mWindow);
    mSign = new QComboBox(controls);
    mSign->addItems({tr("all (signed)"), tr("positive"), tr("negative"), tr("absolute")});
    form->addRow(tr("Sign"), mSign);
    mClip = new QDoubleSpinBox(controls);
    mClip->setRange(50, 100);
    mClip->setDecimals(1);
    mClip->setValue(99.5);
    mClip->setSuffix(" %");
    form->addRow(tr("Clip at percentile"), mClip);
    mOpacity = new QSlider(Qt::Horizontal, controls);
    mOpacity->setRange(0, 100);
    mOpacity->setValue(60);
    form->addRow(tr("Opacity"), mOpacity);
    mCompare = new QCheckBox(tr("Compare methods"), controls);
    form->addRow(mCompare);
    mCompareList = new QListWidget(controls);
    for (AttributionMethod m : allMethods()) {
        auto *item = new QListWidgetItem(displayName(m), mCompareList);
        item->setData(Qt::UserRole, int(m));
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        const bool on = m == AttributionMethod::Saliency || m == AttributionMethod::IntegratedGradients || m == AttributionMethod::GradCam
            || m == AttributionMethod::Occlusion;
        item->setCheckState(on ? Qt::Checked : Qt::Unchecked);
    }
    mCompareList->setMaximumHeight(140);
    form->addRow(mCompareList);
    mShared = new QCheckBox(tr("Shared colour scale"), controls);
    form->addRow(mShared);
    mStatus = new QLabel(controls);
    mStatus->setWordWrap(true);
    form->addRow(mStatus);

    auto *scroll = new QScrollArea(split);
    scroll->setWidget(controls);
    scroll->setWidgetResizable(true);
    scroll->setMinimumWidth(280);

    // Views.
    mStack = new QStackedWidget(split);
    mMain = new AttributionView(mStack);
    mStack->addWidget(mMain);
    mGridHost = new QWidget(mStack);
    mGrid = new QGridLayout(mGridHost);
    mGrid->setContentsMargins(0, 0, 0, 0);
    mStack->addWidget(mGridHost);
    split->addWidget(scroll);
    split->addWidget(mStack);
    split->setStretchFactor(1, 3);

    auto rerun = [this] {
        updateEnabled();
        emit runRequested();
    };
    connect(mMethod, qOverload<int>(&QComboBox::currentIndexChanged), this, rerun);
    connect(mTarget, qOverload<int>(&QComboBox::currentIndexChanged), this, rerun);
    connect(mLayer, qOverload<int>(&QComboBox::currentIndexChanged), this, rerun);
    connect(mIntegration, qOverload<int>(&QComboBox::currentIndexChanged), this, rerun);
    connect(mBaseline, qOverload<int>(&QComboBox::currentIndexChanged), this, rerun);
    connect(mNoiseType, qOverload<int>(&QComboBox::currentIndexChanged), this, rerun);
    for (QSpinBox *s : {mSteps, mSamples, mSeed, mWindow}) connect(s, &QSpinBox::editingFinished, this, rerun);
    connect(mStdev, &QDoubleSpinBox::editingFinished, this, rerun);
    connect(mCompare, &QCheckBox::toggled, this, [this] {
        rebuildCompareGrid();
        emit runRequested();
    });
    connect(mCompareList, &QListWidget::itemChanged, this, [this] {
        if (mCompare->isChecked()) {
            rebuildCompareGrid();
            emit runRequested();
        }
    });
    connect(mSign, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { applyStyle(); });
    connect(mClip, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this] { applyStyle(); });
    connect(mOpacity, &QSlider::valueChanged, this, [this] { applyStyle(); });
    connect(mShared, &QCheckBox::toggled, this, [this] { applyStyle(); });
    updateEnabled();
}

void AttributionPanel::setModel(const ModelSummary &summary)
{
    const QSignalBlocker b1(mTarget), b2(mLayer);
    mTarget->clear();
    mTarget->addItem(tr("predicted class"), -1);
    int classes = 0;
    if (!summary.outputShapes.empty() && summary.outputShapes[0].size() == 2) classes = int(summary.outputShapes[0][1]);
    for (int i = 0; i < classes; ++i) {
        const QString label =
            size_t(i) < summary.metadata.labels.size() ? QString::fromStdString(summary.metadata.labels[size_t(i)]) : tr("class %1").arg(i);
        mTarget->addItem(QString("%1: %2").arg(i).arg(label), i);
    }
    mLayer->clear();
    for (const auto &l : summary.layers)
        if (isCamLayer(l)) mLayer->addItem(QString::fromStdString(l.path));
    mLayer->setCurrentText(QString::fromStdString(suggestedCamLayer(summary)));
    // A model another backend runs (ONNX through OpenCV DNN) has no gradients: only the forward-only methods.
    const bool gradients = summary.format == "torchscript";
    if (auto *items = qobject_cast<QStandardItemModel *>(mMethod->model())) {
        for (int i = 0; i < mMethod->count(); ++i) {
            const auto m = AttributionMethod(mMethod->itemData(i).toInt());
            if (QStandardItem *item = items->item(i)) {
                item->setEnabled(gradients || isForwardOnlyMethod(m));
                item->setToolTip(gradients || isForwardOnlyMethod(m) ? QString() : tr("needs gradients: %1 models run forward passes only")
                                                                                      .arg(QString::fromStdString(summary.format).toUpper()));
            }
        }
    }
    if (!gradients && !isForwardOnlyMethod(AttributionMethod(mMethod->currentData().toInt()))) {
        const QSignalBlocker b3(mMethod);
        mMethod->setCurrentIndex(mMethod->findData(int(AttributionMethod::Occlusion)));
    }
    mLast.clear();
    updateEnabled();
}

bool AttributionPanel::methodOffered(AttributionMethod m) const
{
    const int i = mMethod->findData(int(m));
    const auto *items = qobject_cast<const QStandardItemModel *>(mMethod->model());
    return i >= 0 && (!items || !items->item(i) || items->item(i)->isEnabled());
}

void AttributionPanel::setInput(const TensorValue &input, quint64 inputId)
{
    mPicture = inputPicture(input);
    mPictures[inputId] = mPicture;
    while (mPictures.size() > 16) mPictures.erase(mPictures.begin());
    mMain->setInput(mPicture);
    for (auto &kv : mCompareViews) kv.second->setInput(mPicture);
}

void AttributionPanel::updateEnabled()
{
    const auto m = AttributionMethod(mMethod->currentData().toInt());
    const bool compare = mCompare->isChecked();
    // The fields the registry says the method reads (all of them when comparing several methods).
    auto uses = [&](MethodParam p) { return compare || usesParam(m, p); };
    mLayer->setEnabled(uses(ParamLayer));
    mSteps->setEnabled(uses(ParamSteps));
    mIntegration->setEnabled(uses(ParamIntegration));
    mBaseline->setEnabled(uses(ParamBaseline));
    mSamples->setEnabled(uses(ParamSamples));
    mStdev->setEnabled(uses(ParamNoise));
    mNoiseType->setEnabled(uses(ParamNoise));
    mWindow->setEnabled(uses(ParamWindow));
    mCompareList->setEnabled(compare);
    mShared->setEnabled(compare);
}

AttributionParams AttributionPanel::baseParams(AttributionMethod m) const
{
    AttributionParams p;
    p.method = m;
    const int t = mTarget->currentData().isValid() ? mTarget->currentData().toInt() : -1;
    if (t >= 0) {
        p.target.kind = AttributionTarget::Kind::Class;
        p.target.classIndex = t;
    }
    p.layer = mLayer->currentText().toStdString();
    p.steps = mSteps->value();
    p.integration = IntegrationRule(mIntegration->currentData().toInt());
    p.baseline = BaselineKind(mBaseline->currentData().toInt());
    p.samples = mSamples->value();
    p.samples = std::max(p.samples, methodInfo(m).minSamples);
    p.stdev = float(mStdev->value());
    p.noise = NoiseType(mNoiseType->currentData().toInt());
    p.seed = uint64_t(mSeed->value());
    if (mWindow->value() > 0) {
        p.window = {0, mWindow->value(), mWindow->value()};   // 0: all channels at once
        p.stride = p.window;
    }
    return p;
}

std::vector<std::pair<std::string, AttributionParams>> AttributionPanel::requests() const
{
    std::vector<std::pair<std::string, AttributionParams>> out;
    auto add = [&](const std::string &kind, AttributionMethod m) {
        if (needsLayer(m) && mLayer->count() == 0) return;   // no spatial layer: nothing to run
        out.emplace_back(kind, baseParams(m));
    };
    if (!mCompare->isChecked()) {
        add("attribution", AttributionMethod(mMethod->currentData().toInt()));
        return out;
    }
    for (int i = 0; i < mCompareList->count(); ++i) {
        const auto *item = mCompareList->item(i);
        if (item->checkState() != Qt::Checked) continue;
        const auto m = AttributionMethod(item->data(Qt::UserRole).toInt());
        add(std::string("attribution:") + methodName(m), m);
    }
    return out;
}

void AttributionPanel::rebuildCompareGrid()
{
    mStack->setCurrentIndex(mCompare->isChecked() ? 1 : 0);
    for (auto &kv : mCompareViews) {
        mGrid->removeWidget(kv.second);
        kv.second->deleteLater();
    }
    mCompareViews.clear();
    updateEnabled();
    if (!mCompare->isChecked()) return;
    std::vector<AttributionMethod> methods;
    for (int i = 0; i < mCompareList->count(); ++i)
        if (mCompareList->item(i)->checkState() == Qt::Checked)
            methods.push_back(AttributionMethod(mCompareList->item(i)->data(Qt::UserRole).toInt()));
    const int cols = std::max(1, int(std::ceil(std::sqrt(double(methods.size())))));
    for (size_t i = 0; i < methods.size(); ++i) {
        auto *v = new AttributionView(mGridHost);
        v->setInput(mPicture);
        v->clear(tr("%1: waiting").arg(displayName(methods[i])));
        mGrid->addWidget(v, int(i) / cols, int(i) % cols);
        mCompareViews[std::string("attribution:") + methodName(methods[i])] = v;
    }
    applyStyle();
}

std::vector<AttributionView *> AttributionPanel::compareViews() const
{
    std::vector<AttributionView *> v;
    for (int i = 0; i < mGrid->count(); ++i)
        if (auto *w = qobject_cast<AttributionView *>(mGrid->itemAt(i)->widget())) v.push_back(w);
    return v;
}

void AttributionPanel::applyStyle()
{
    OverlayStyle s;
    s.sign = SignMode(mSign->currentIndex());
    s.clipPercentile = mClip->value();
    s.opacity = mOpacity->value() / 100.0;
    auto styleFor = [&](const std::string &kind) {
        OverlayStyle st = s;
        const auto it = mLast.find(kind);
        st.signedMap = it == mLast.end() || isSignedMethod(it->second->method);
        return st;
    };
    mMain->setStyle(styleFor("attribution"));
    double shared = 0;
    for (auto &kv : mCompareViews) {
        kv.second->setStyle(styleFor(kv.first));
        shared = std::max(shared, kv.second->bound());
    }
    if (mShared->isChecked() && shared > 0)
        for (auto &kv : mCompareViews) {
            OverlayStyle st = styleFor(kv.first);
            st.sharedBound = shared;
            kv.second->setStyle(st);
        }
}

void AttributionPanel::showResult(const std::string &kind, std::shared_ptr<const AttributionResult> r)
{
    AttributionView *view = kind == "attribution" ? mMain : nullptr;
    if (!view) {
        const auto it = mCompareViews.find(kind);
        if (it == mCompareViews.end()) return;   // a view removed since the request
        view = it->second;
    }
    mLast[kind] = r;
    // Draw the map on the picture it was computed from, not on a newer input.
    if (const auto pic = mPictures.find(r->inputId); pic != mPictures.end()) {
        view->setInput(pic->second);
        if (view == mMain) mShownInput = r->inputId;
    }
    if (view == mMain) mLastResultInput = r->inputId;
    QString title = displayName(r->method);
    if (!r->layer.empty() && (needsLayer(r->method))) title += QString(" @ %1").arg(QString::fromStdString(r->layer));
    if (r->partial)
        title += tr("  (%1/%2…)").arg(r->done).arg(r->total);
    else
        title += tr("  — class %1").arg(r->targetClass);
    view->setMap(r->map, title);
    applyStyle();
    if (!r->partial && kind == "attribution") {
        QString s = tr("%1: %2 model passes in %3 ms").arg(displayName(r->method)).arg(r->modelPasses).arg(r->elapsedMs, 0, 'f', 1);
        if (r->method == AttributionMethod::IntegratedGradients) s += tr("; convergence delta %1").arg(r->convergenceDelta, 0, 'g', 3);
        mStatus->setText(s);
    }
}

void AttributionPanel::showError(const std::string &kind, const QString &message)
{
    if (kind == "attribution") {
        mMain->clear(message);
        mStatus->setText(message);
        return;
    }
    const auto it = mCompareViews.find(kind);
    if (it != mCompareViews.end()) it->second->clear(message);
}

AttributionParams AttributionPanel::currentParams() const { return baseParams(AttributionMethod(mMethod->currentData().toInt())); }

std::vector<AttributionMethod> AttributionPanel::compareMethods() const
{
    std::vector<AttributionMethod> out;
    if (!mCompare->isChecked()) return out;
    for (int i = 0; i < mCompareList->count(); ++i)
        if (mCompareList->item(i)->checkState() == Qt::Checked) out.push_back(AttributionMethod(mCompareList->item(i)->data(Qt::UserRole).toInt()));
    return out;
}

void AttributionPanel::setParams(const AttributionParams &p)
{
    {
        const QSignalBlocker b1(mMethod), b2(mTarget), b3(mLayer), b4(mIntegration), b5(mBaseline), b6(mNoiseType);
        mMethod->setCurrentIndex(mMethod->findData(int(p.method)));
        mTarget->setCurrentIndex(std::max(0, mTarget->findData(p.target.kind == AttributionTarget::Kind::Predicted ? -1 : p.target.classIndex)));
        if (!p.layer.empty()) mLayer->setCurrentText(QString::fromStdString(p.layer));
        mSteps->setValue(p.steps);
        mIntegration->setCurrentIndex(mIntegration->findData(int(p.integration)));
        const int b = mBaseline->findData(int(p.baseline));
        if (b >= 0) mBaseline->setCurrentIndex(b);
        mSamples->setValue(p.samples);
        mStdev->setValue(p.stdev);
        mNoiseType->setCurrentIndex(mNoiseType->findData(int(p.noise)));
        mSeed->setValue(int(p.seed));
        mWindow->setValue(p.window.size() == 3 ? int(p.window[1]) : 0);
    }
    updateEnabled();
    emit runRequested();
}

void AttributionPanel::setMethod(AttributionMethod m) { mMethod->setCurrentIndex(mMethod->findData(int(m))); }
void AttributionPanel::setTargetClass(int index) { mTarget->setCurrentIndex(std::max(0, mTarget->findData(index))); }
void AttributionPanel::setCamLayer(const QString &layer) { mLayer->setCurrentText(layer); }
void AttributionPanel::setSharedScale(bool shared) { mShared->setChecked(shared); }
void AttributionPanel::setSignMode(SignMode mode) { mSign->setCurrentIndex(int(mode)); }
QString AttributionPanel::statusText() const { return mStatus->text(); }

void AttributionPanel::setCompareMethods(const std::vector<AttributionMethod> &methods)
{
    {
        const QSignalBlocker b(mCompareList);
        for (int i = 0; i < mCompareList->count(); ++i) {
            const auto m = AttributionMethod(mCompareList->item(i)->data(Qt::UserRole).toInt());
            mCompareList->item(i)->setCheckState(std::find(methods.begin(), methods.end(), m) != methods.end() ? Qt::Checked : Qt::Unchecked);
        }
    }
    const QSignalBlocker b(mCompare);
    mCompare->setChecked(!methods.empty());
    rebuildCompareGrid();
    emit runRequested();
}

}   // namespace pellucid

namespace pellucid {

double AttributionPanel::figureAspect() const
{
    const auto views = compareViews();
    if (!mCompare->isChecked() || views.empty()) return mMain->figureAspect();
    const int cols = std::max(1, int(std::ceil(std::sqrt(double(views.size())))));
    const int rows = (int(views.size()) + cols - 1) / cols;
    return views.front()->figureAspect() * cols / rows;
}

void AttributionPanel::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &s) const
{
    const auto views = compareViews();
    if (!mCompare->isChecked() || views.empty()) {
        mMain->paintFigure(p, rect, s);
        return;
    }
    const int cols = std::max(1, int(std::ceil(std::sqrt(double(views.size())))));
    const int rows = (int(views.size()) + cols - 1) / cols;
    const double w = rect.width() / cols, h = rect.height() / rows;
    for (size_t i = 0; i < views.size(); ++i)
        views[i]->paintFigure(p, QRectF(rect.left() + w * double(int(i) % cols) + 2, rect.top() + h * double(int(i) / cols) + 2, w - 4, h - 4), s);
}

QStringList AttributionPanel::writeRawData(const QString &base) const
{
    const auto views = compareViews();
    if (!mCompare->isChecked() || views.empty()) return mMain->writeRawData(base);
    QStringList files;
    int i = 0;
    for (auto *v : views) files += v->writeRawData(QString("%1_%2").arg(base).arg(i++));
    return files;
}

}   // namespace pellucid
