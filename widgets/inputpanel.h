#pragma once
// The current input: a preview, an Open button, drag and drop of image files and a gallery of samples.
#include <QWidget>

class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;

namespace pellucid {

class DrawingCanvas;

class InputPanel : public QWidget {
    Q_OBJECT
public:
    explicit InputPanel(QWidget *parent = nullptr);
    /// Fills the gallery with the images in `folder`.
    void setSampleFolder(const QString &folder);
    void showImage(const QString &path, const QImage &image);
    void showMessage(const QString &text);
    int sampleCount() const;
    QString samplePath(int row) const;
    QListWidget *gallery() const { return mGallery; }
    /// Shows the text entry (for models with a tokenizer) or hides it.
    void setTextInput(bool enabled, const QString &hint = {});
    QLineEdit *textEntry() const { return mText; }
    /// The drawing canvas (shown in place of the preview while "Draw" is on).
    DrawingCanvas *canvas() const { return mCanvas; }
    void setDrawing(bool on);

signals:
    void imageChosen(const QString &path);
    void textSubmitted(const QString &text);
    void drawingChanged(const QImage &image);

protected:
    void dragEnterEvent(QDragEnterEvent *) override;
    void dropEvent(QDropEvent *) override;

private:
    QLabel *mPreview;
    QLabel *mCaption;
    QListWidget *mGallery;
    QLineEdit *mText;
    QWidget *mTextRow;
    DrawingCanvas *mCanvas;
    QWidget *mCanvasRow;
    QPushButton *mDraw;
};

} // namespace pellucid
