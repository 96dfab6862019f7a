#pragma once
// The current input: a preview, an Open button, drag and drop of image files and a gallery of samples.
#include <QWidget>

class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;
class QSlider;

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
    /// The live controls (pause, scrub, stop), shown while a live source plays.
    void setLiveControls(bool visible, bool seekable);
    void setLivePosition(double fraction);   // moves the scrub slider without seeking
    QWidget *liveControls() const { return mLiveRow; }

signals:
    void imageChosen(const QString &path);
    void textSubmitted(const QString &text);
    void drawingChanged(const QImage &image);
    void livePauseToggled(bool paused);
    void liveSeekRequested(double fraction);
    void liveStopRequested();

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
    QWidget *mLiveRow;
    QPushButton *mPause;
    QSlider *mScrub;
};

}   // namespace pellucid
