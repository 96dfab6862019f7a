#include "app/gui/features/inputfeature.h"

#include "app/io/imageinput.h"
#include "app/io/tokenizer.h"
#include "engine/core/errors.h"
#include "widgets/attribution/attributionview.h"
#include "widgets/input/inputpanel.h"

#include <QBuffer>
#include <QFileDialog>
#include <QFileInfo>
#include <QPainter>

#include <algorithm>

namespace pellucid {

InputFeature::InputFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mPanel = new InputPanel;
    addDock(tr("Input"), "InputDock", mPanel);
    connect(mPanel, &InputPanel::imageChosen, this, &InputFeature::openImage);
    connect(mWorkspace, &Workspace::imageRequested, this, &InputFeature::openImage);
    connect(mPanel, &InputPanel::drawingChanged, this, &InputFeature::setDrawing);
    connect(mPanel, &InputPanel::textSubmitted, this, &InputFeature::setText);
    connect(mWorkspace, &Workspace::modelChanged, this, &InputFeature::onModel);
    connect(mWorkspace, &Workspace::inputChanged, this, [this](InputOrigin origin) {
        if (origin == InputOrigin::Tensor) mPanel->showImage(mWorkspace->inputName(), inputPicture(mWorkspace->input()));
    });
}

void InputFeature::placeDocks(DockLayout &layout) { layout.left(docks().front()); }

void InputFeature::addActions(Menus &menus)
{
    menus.file->addAction(tr("Open &image…"), QKeySequence(tr("Ctrl+I")), this, [this] {
        const QString path = QFileDialog::getOpenFileName(mWindow, tr("Open image or .npy"), QString(),
                                                          tr("Inputs (*.png *.jpg *.jpeg *.bmp *.pgm *.tif *.npy);;All files (*)"));
        if (!path.isEmpty()) openImage(path);
    });
}

void InputFeature::onModel(std::shared_ptr<const ModelSummary> s)
{
    if (mWorkspace->isGenerator() || mWorkspace->isRecommender()) return;   // codes or users are their inputs
    const Json *tok = s->metadata.raw.find("tokenizer");
    mPanel->setTextInput(tok && tok->isObject(), tr("Type a text for %1 and press Enter").arg(QString::fromStdString(s->fileName)));
    // Re-read the current image with the new model's preprocessing.
    if (!mWorkspace->imagePath().isEmpty())
        openImage(mWorkspace->imagePath());
    else if (mPanel->sampleCount() > 0)
        openImage(mPanel->samplePath(0));
}

void InputFeature::openImage(const QString &path)
{
    try {
        if (mWorkspace->isGenerator()) {
            // A generator is loaded: the image is the input of its VAE encoder / counterfactual (Latent dock).
            const QImage preview(path);
            if (preview.isNull()) throw Error(ErrorCode::BadInput, "Cannot read the image " + path.toStdString());
            mWorkspace->setImagePath(path);
            mPanel->showImage(path, preview);
            mPanel->showMessage(tr("%1 — input of the Latent dock's VAE and counterfactual tabs").arg(QFileInfo(path).fileName()));
            mWorkspace->clearError();
            return;
        }
        const auto s = mWorkspace->model();
        const TensorValue t = loadInputFile(path.toStdString(), s ? s->metadata.input : InputSpec(), s ? s->inputShape : Shape());
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
        if (!preview.isNull()) mPanel->showImage(path, preview);
        mPanel->showMessage(tr("%1  tensor %2").arg(QFileInfo(path).fileName(), QString::fromStdString(shapeToString(t.shape()))));
        mWorkspace->clearError();
        mWorkspace->setInput(t, InputOrigin::File, path);
    } catch (const std::exception &e) {
        mWorkspace->showError(QString::fromStdString(e.what()));   // the previous input stays current
    }
}

void InputFeature::setDrawing(const QImage &image)
{
    const auto s = mWorkspace->model();
    if (!s) return;
    try {
        // Through PNG bytes, so a drawing is preprocessed exactly as the same picture saved as a file.
        QByteArray png;
        QBuffer buffer(&png);
        buffer.open(QIODevice::WriteOnly);
        image.save(&buffer, "PNG");
        const std::vector<unsigned char> bytes(png.begin(), png.end());
        const TensorValue t = imageBytesToTensor(bytes, s->metadata.input, s->inputShape);
        mPanel->showMessage(tr("drawing  tensor %1").arg(QString::fromStdString(shapeToString(t.shape()))));
        mWorkspace->clearError();
        mWorkspace->setInput(t, InputOrigin::Drawing);
        emit drawingApplied();
    } catch (const std::exception &e) {
        mWorkspace->showError(QString::fromStdString(e.what()));
    }
}

void InputFeature::setText(const QString &text)
{
    const auto s = mWorkspace->model();
    if (!s) return;
    try {
        const auto tokenizer = tokenizerForModel(*s, true);   // the app cuts long texts (and says so); the CLI asks for --truncate
        const Tokenized t = tokenizer->encode(text.toStdString());
        QStringList tokens;
        for (const auto &tok : t.tokens) tokens << QString::fromStdString(tok);
        std::vector<float> ids(t.ids.begin(), t.ids.end());
        const int64_t n = int64_t(ids.size());   // before the vector is moved
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
        mPanel->showImage(QString(), card);
        mPanel->showMessage(
            tr("%1 tokens%2").arg(t.ids.size()).arg(t.truncated ? tr(" (truncated to the model's %1)").arg(t.ids.size()) : QString()));
        mWorkspace->clearError();
        mText = text;
        mWorkspace->setInput(TensorValue({1, n}, std::move(ids)), InputOrigin::Text, QString(), tokens);
    } catch (const std::exception &e) {
        mWorkspace->showError(QString::fromStdString(e.what()));
    }
}

void InputFeature::saveSession(Session &s) const
{
    const QString image = mWorkspace->imagePath();
    if (!image.isEmpty()) s.inputs << image;
    s.currentInput = image;
    if (mWorkspace->inputOrigin() == InputOrigin::Text) s.text = mText;
}

void InputFeature::restoreSession(const Session &s)
{
    if (!s.text.isEmpty())
        setText(s.text);
    else if (!s.currentInput.isEmpty() && QFileInfo::exists(s.currentInput))
        openImage(s.currentInput);
}

}   // namespace pellucid
