#pragma once
// The current input: a preview, an Open button, drag and drop of image files and a gallery of samples.
#include <QWidget>

class QLabel;
class QListWidget;

namespace pellucid {

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

signals:
    void imageChosen(const QString &path);

protected:
    void dragEnterEvent(QDragEnterEvent *) override;
    void dropEvent(QDropEvent *) override;

private:
    QLabel *mPreview;
    QLabel *mCaption;
    QListWidget *mGallery;
};

} // namespace pellucid
