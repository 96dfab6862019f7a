#include "widgets/model/modelsettingsdialog.h"

#include "engine/core/errors.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

namespace pellucid {

namespace {

QString joined(const std::vector<float> &v)
{
    QStringList s;
    for (float x : v) s << QString::number(double(x), 'g', 6);
    return s.join(",");
}

std::vector<double> numbers(const QString &text, const char *what)
{
    std::vector<double> out;
    for (const QString &part : text.split(',', Qt::SkipEmptyParts)) {
        bool ok = false;
        const double v = part.trimmed().toDouble(&ok);
        if (!ok) throw Error(ErrorCode::BadInput, std::string(what) + ": '" + part.trimmed().toStdString() + "' is not a number");
        out.push_back(v);
    }
    return out;
}

}   // namespace

ModelSettingsDialog::ModelSettingsDialog(const ModelMetadata &current, const QString &modelName, QWidget *parent) : QDialog(parent), mBase(current)
{
    setWindowTitle(tr("Model settings — %1").arg(modelName));
    auto *form = new QFormLayout;
    const InputSpec &in = current.input;
    QStringList dims;
    for (int64_t d : in.shape) dims << QString::number(d);
    mShape = new QLineEdit(dims.join(","));
    mShape->setPlaceholderText(tr("1,3,224,224 (empty: from the graph)"));
    form->addRow(tr("Input shape"), mShape);
    mLayout = new QComboBox;
    mLayout->addItems({"NCHW", "NHWC"});
    mLayout->setCurrentText(QString::fromStdString(in.layout));
    form->addRow(tr("Layout"), mLayout);
    mChannels = new QComboBox;
    mChannels->addItem(tr("as the picture (RGB)"), "");
    for (const char *c : {"rgb", "bgr", "gray"}) mChannels->addItem(c, c);
    mChannels->setCurrentIndex(std::max(0, mChannels->findData(QString::fromStdString(in.channelOrder))));
    form->addRow(tr("Channel order"), mChannels);
    mPreset = new QComboBox;
    mPreset->addItem(tr("— choose a preset —"), "");
    mPreset->addItem(tr("ImageNet (torchvision)"), "imagenet");
    mPreset->addItem(tr("CLIP"), "clip");
    mPreset->addItem(tr("[−1, 1]"), "minus-one-one");
    mPreset->addItem(tr("none (values in [0, 1])"), "none");
    form->addRow(tr("Normalisation preset"), mPreset);
    auto *range = new QHBoxLayout;
    mLo = new QDoubleSpinBox;
    mHi = new QDoubleSpinBox;
    for (QDoubleSpinBox *b : {mLo, mHi}) {
        b->setRange(-1e6, 1e6);
        b->setDecimals(4);
        range->addWidget(b);
    }
    mLo->setValue(in.rangeLo);
    mHi->setValue(in.rangeHi);
    form->addRow(tr("Value range"), range);
    mMean = new QLineEdit(joined(in.mean));
    mStd = new QLineEdit(joined(in.std));
    mMean->setPlaceholderText(tr("per channel, e.g. 0.485,0.456,0.406"));
    form->addRow(tr("Mean"), mMean);
    form->addRow(tr("Std"), mStd);
    mResize = new QSpinBox;
    mResize->setRange(0, 8192);
    mResize->setSpecialValueText(tr("no resize"));
    mResize->setValue(in.resize);
    form->addRow(tr("Resize shorter side to"), mResize);
    mCrop = new QSpinBox;
    mCrop->setRange(0, 8192);
    mCrop->setSpecialValueText(tr("no crop"));
    mCrop->setValue(int(in.cropH));
    form->addRow(tr("Centre crop"), mCrop);
    auto *labelsRow = new QHBoxLayout;
    mLabels = new QLineEdit;
    mLabels->setPlaceholderText(current.labels.empty() ? tr("a file: one label per line, a JSON list or an id → label dict")
                                                       : tr("%1 labels from the metadata").arg(current.labels.size()));
    auto *browse = new QPushButton(tr("Browse…"));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Labels file"), QString(), tr("Labels (*.txt *.json);;All files (*)"));
        if (!f.isEmpty()) mLabels->setText(f);
    });
    labelsRow->addWidget(mLabels);
    labelsRow->addWidget(browse);
    form->addRow(tr("Labels"), labelsRow);
    mTask = new QComboBox;
    mTask->addItem(tr("(unspecified)"), "");
    for (const char *t : {"classification", "recommendation"}) mTask->addItem(t, t);
    mTask->setCurrentIndex(std::max(0, mTask->findData(QString::fromStdString(current.task))));
    form->addRow(tr("Task"), mTask);
    mRole = new QComboBox;
    mRole->addItem(tr("(unspecified)"), "");
    for (const char *r : {"generator", "decoder", "conditional_generator", "encoder"}) mRole->addItem(r, r);
    const Json *role = current.raw.isObject() ? current.raw.find("role") : nullptr;
    if (role && role->isString()) mRole->setCurrentIndex(std::max(0, mRole->findData(QString::fromStdString(role->asString()))));
    form->addRow(tr("Role"), mRole);

    mPreview = new QLabel;
    mPreview->setMinimumSize(160, 160);
    mPreview->setAlignment(Qt::AlignCenter);
    mPreview->setStyleSheet("background: #202020;");
    mPreviewText = new QLabel;
    mPreviewText->setWordWrap(true);
    auto *right = new QVBoxLayout;
    right->addWidget(new QLabel(tr("<b>Preprocessed input</b>")));
    right->addWidget(mPreview, 1);
    right->addWidget(mPreviewText);
    auto *columns = new QHBoxLayout;
    columns->addLayout(form, 3);
    columns->addLayout(right, 2);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto *outer = new QVBoxLayout(this);
    outer->addLayout(columns);
    outer->addWidget(new QLabel(tr("Saved beside the model as its sidecar (MODEL.pt.json), which takes precedence over metadata inside the file.")));
    outer->addWidget(buttons);

    connect(mPreset, &QComboBox::currentIndexChanged, this, [this] {
        if (!mPreset->currentData().toString().isEmpty()) applyPreset(mPreset->currentData().toString());
    });
    for (QLineEdit *e : {mShape, mMean, mStd, mLabels}) connect(e, &QLineEdit::textChanged, this, &ModelSettingsDialog::changed);
    for (QComboBox *c : {mLayout, mChannels}) connect(c, &QComboBox::currentIndexChanged, this, &ModelSettingsDialog::changed);
    for (QDoubleSpinBox *b : {mLo, mHi}) connect(b, &QDoubleSpinBox::valueChanged, this, &ModelSettingsDialog::changed);
    for (QSpinBox *b : {mResize, mCrop}) connect(b, &QSpinBox::valueChanged, this, &ModelSettingsDialog::changed);
}

void ModelSettingsDialog::applyPreset(const QString &preset)
{
    if (preset == "imagenet") {
        mMean->setText("0.485,0.456,0.406");
        mStd->setText("0.229,0.224,0.225");
    } else if (preset == "clip") {
        mMean->setText("0.48145466,0.4578275,0.40821073");
        mStd->setText("0.26862954,0.26130258,0.27577711");
    } else if (preset == "minus-one-one") {
        mMean->setText("0.5,0.5,0.5");
        mStd->setText("0.5,0.5,0.5");
    } else {
        mMean->clear();
        mStd->clear();
    }
    mLo->setValue(0);
    mHi->setValue(1);
    if (preset != "none" && mChannels->currentData().toString().isEmpty()) mChannels->setCurrentIndex(mChannels->findData("rgb"));
    emit changed();
}

Json ModelSettingsDialog::build() const
{
    Json doc = mBase.raw.isObject() ? mBase.raw : Json::object();
    Json in = Json::object();
    Json shape = Json::array();
    for (double d : numbers(mShape->text(), "Input shape")) shape.push(Json(int64_t(d)));
    if (shape.size()) in["shape"] = shape;
    in["layout"] = mLayout->currentText().toStdString();
    if (!mChannels->currentData().toString().isEmpty()) in["channel_order"] = mChannels->currentData().toString().toStdString();
    if (mBase.input.dtypeDeclared) in["dtype"] = mBase.input.dtype;
    in["range"] = Json(Json::Array{Json(mLo->value()), Json(mHi->value())});
    Json mean = Json::array(), sd = Json::array();
    for (double v : numbers(mMean->text(), "Mean")) mean.push(Json(v));
    for (double v : numbers(mStd->text(), "Std")) sd.push(Json(v));
    if (mean.size()) in["mean"] = mean;
    if (sd.size()) in["std"] = sd;
    if (mResize->value() > 0) in["resize"] = int64_t(mResize->value());
    if (mCrop->value() > 0) in["center_crop"] = Json(Json::Array{Json(int64_t(mCrop->value())), Json(int64_t(mCrop->value()))});
    doc["input"] = in;
    if (!mLabels->text().trimmed().isEmpty()) {
        Json labels = Json::array();
        for (const auto &l : readLabelsFile(mLabels->text().trimmed().toStdString())) labels.push(Json(l));
        doc["labels"] = labels;
    }
    const QString task = mTask->currentData().toString();
    if (!task.isEmpty()) doc["task"] = task.toStdString();
    const QString role = mRole->currentData().toString();
    if (!role.isEmpty()) doc["role"] = role.toStdString();
    return doc;
}

Json ModelSettingsDialog::document() const
{
    Json doc = build();
    parseMetadata(doc.dump(), "sidecar", "the model settings");   // refuses what the loader would refuse, by field
    return doc;
}

InputSpec ModelSettingsDialog::inputSpec() const { return parseMetadata(build().dump(), "sidecar", "the model settings").input; }

void ModelSettingsDialog::setPreview(const QImage &picture, const QString &text)
{
    mPreview->setPixmap(picture.isNull() ? QPixmap() : QPixmap::fromImage(picture.scaled(160, 160, Qt::KeepAspectRatio, Qt::FastTransformation)));
    mPreviewText->setText(text);
}

}   // namespace pellucid
