#pragma once
// File → Model settings…: everything Pellucid needs to know about a model without writing JSON — input shape,
// layout, channel order, value range, mean/std with presets (ImageNet, CLIP, [−1, 1], none), resize and centre
// crop, labels from a file, task and role — with a preview of the preprocessed input. The owner computes the
// preview (it has the image reader) and writes the result as the model's sidecar MODEL.pt.json.
#include "engine/runtime/metadata.h"

#include <QDialog>
#include <QImage>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace pellucid {

class ModelSettingsDialog : public QDialog {
    Q_OBJECT
public:
    ModelSettingsDialog(const ModelMetadata &current, const QString &modelName, QWidget *parent = nullptr);
    /// The metadata document the fields describe (labels read from the labels file); throws Error naming a
    /// bad field or file.
    Json document() const;
    InputSpec inputSpec() const;   // throws like document()
    void setPreview(const QImage &picture, const QString &text);
    /// Applies a preset: "imagenet", "clip", "minus-one-one" or "none".
    void applyPreset(const QString &preset);
    QLineEdit *labelsEdit() const { return mLabels; }
    QLineEdit *shapeEdit() const { return mShape; }
    QSpinBox *resizeBox() const { return mResize; }
    QSpinBox *cropBox() const { return mCrop; }

signals:
    void changed();   // a field changed: the preview is out of date

private:
    Json build() const;   // the document from the fields, not yet checked
    ModelMetadata mBase;
    QLineEdit *mShape, *mMean, *mStd, *mLabels;
    QComboBox *mLayout, *mChannels, *mPreset, *mTask, *mRole;
    QDoubleSpinBox *mLo, *mHi;
    QSpinBox *mResize, *mCrop;
    QLabel *mPreview, *mPreviewText;
};

}   // namespace pellucid
