#include "widgets/input/inputpanel.h"
#include <QSlider>
#include "widgets/input/drawingcanvas.h"

#include <QDir>

#include <algorithm>
#include <cmath>

#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QImageReader>
#include <QLabel>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QListWidget>
#include <QMimeData>
#include <QPushButton>
#include <QVBoxLayout>

namespace pellucid {

void InputPanel::setDrawing(bool on)
{
    if (mDraw->isChecked() != on) mDraw->setChecked(on);   // re-enters through toggled
    mPreview->setVisible(!on);
    mCanvas->setVisible(on);
    mCanvasRow->setVisible(on);
    if (on) emit drawingChanged(mCanvas->image());
}

void InputPanel::setLiveControls(bool visible, bool seekable)
{
    mLiveRow->setVisible(visible);
    mScrub->setEnabled(seekable);
    if (!visible) {
        const QSignalBlocker b(mPause);
        mPause->setChecked(false);
        mPause->setText(tr("Pause"));
    }
}

void InputPanel::setLivePosition(double fraction)
{
    if (mScrub->isSliderDown()) return;
    const QSignalBlocker b(mScrub);
    mScrub->setValue(int(std::lround(std::clamp(fraction, 0.0, 1.0) * 1000)));
}

void InputPanel::setTextInput(bool enabled, const QString &hint)
{
    mTextRow->setVisible(enabled);
    if (!hint.isEmpty()) mText->setPlaceholderText(hint);
}

InputPanel::InputPanel(QWidget *parent) : QWidget(parent)
{
    setAcceptDrops(true);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    mPreview = new QLabel(tr("Drop an image here"), this);
    mPreview->setAlignment(Qt::AlignCenter);
    mPreview->setMinimumSize(160, 160);
    mPreview->setStyleSheet("QLabel { background: #202020; color: #bbbbbb; border: 1px solid #555; }");
    layout->addWidget(mPreview);
    mCaption = new QLabel(this);
    mCaption->setWordWrap(true);
    layout->addWidget(mCaption);
    mCanvas = new DrawingCanvas(this);
    mCanvas->setObjectName("drawingCanvas");
    mCanvas->hide();
    layout->addWidget(mCanvas);
    mCanvasRow = new QWidget(this);
    auto *cl = new QHBoxLayout(mCanvasRow);
    cl->setContentsMargins(0, 0, 0, 0);
    auto *clear = new QPushButton(tr("Clear"), mCanvasRow);
    auto *width = new QSlider(Qt::Horizontal, mCanvasRow);
    width->setRange(4, 60);
    width->setValue(22);
    width->setToolTip(tr("Pen width"));
    cl->addWidget(clear);
    cl->addWidget(width, 1);
    layout->addWidget(mCanvasRow);
    mCanvasRow->hide();
    connect(clear, &QPushButton::clicked, mCanvas, &DrawingCanvas::clear);
    connect(width, &QSlider::valueChanged, this, [this](int v) { mCanvas->setPenWidth(v); });
    connect(mCanvas, &DrawingCanvas::changed, this, &InputPanel::drawingChanged);
    mLiveRow = new QWidget(this);
    auto *ll = new QHBoxLayout(mLiveRow);
    ll->setContentsMargins(0, 0, 0, 0);
    mPause = new QPushButton(tr("Pause"), mLiveRow);
    mPause->setCheckable(true);
    mScrub = new QSlider(Qt::Horizontal, mLiveRow);
    mScrub->setRange(0, 1000);
    mScrub->setToolTip(tr("Scrub through the video"));
    auto *stop = new QPushButton(tr("Stop"), mLiveRow);
    ll->addWidget(mPause);
    ll->addWidget(mScrub, 1);
    ll->addWidget(stop);
    layout->addWidget(mLiveRow);
    mLiveRow->hide();
    connect(mPause, &QPushButton::toggled, this, [this](bool p) {
        mPause->setText(p ? tr("Play") : tr("Pause"));
        emit livePauseToggled(p);
    });
    connect(mScrub, &QSlider::sliderMoved, this, [this](int v) { emit liveSeekRequested(v / 1000.0); });
    connect(stop, &QPushButton::clicked, this, &InputPanel::liveStopRequested);
    mTextRow = new QWidget(this);
    auto *tl = new QHBoxLayout(mTextRow);
    tl->setContentsMargins(0, 0, 0, 0);
    mText = new QLineEdit(mTextRow);
    mText->setObjectName("textInput");
    mText->setPlaceholderText(tr("Type a text and press Enter"));
    auto *run = new QPushButton(tr("Run"), mTextRow);
    tl->addWidget(mText, 1);
    tl->addWidget(run);
    layout->addWidget(mTextRow);
    mTextRow->hide();
    connect(mText, &QLineEdit::returnPressed, this, [this] { emit textSubmitted(mText->text()); });
    connect(run, &QPushButton::clicked, this, [this] { emit textSubmitted(mText->text()); });
    auto *open = new QPushButton(tr("Open image…"), this);
    mDraw = new QPushButton(tr("Draw"), this);
    mDraw->setCheckable(true);
    mDraw->setToolTip(tr("Draw the input with the mouse or a tablet; the panels follow stroke by stroke (right click clears)"));
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(open, 1);
    buttons->addWidget(mDraw);
    layout->addLayout(buttons);
    connect(mDraw, &QPushButton::toggled, this, &InputPanel::setDrawing);
    connect(open, &QPushButton::clicked, this, [this] {
        const QString path =
            QFileDialog::getOpenFileName(this, tr("Open image"), QString(), tr("Images (*.png *.jpg *.jpeg *.bmp *.pgm *.ppm *.tif *.tiff *.webp)"));
        if (!path.isEmpty()) emit imageChosen(path);
    });
    layout->addWidget(new QLabel(tr("Samples"), this));
    mGallery = new QListWidget(this);
    mGallery->setObjectName("sampleGallery");
    mGallery->setViewMode(QListView::IconMode);
    mGallery->setIconSize(QSize(48, 48));
    mGallery->setResizeMode(QListView::Adjust);
    mGallery->setMovement(QListView::Static);
    mGallery->setSpacing(4);
    layout->addWidget(mGallery, 1);
    connect(mGallery, &QListWidget::itemClicked, this, [this](QListWidgetItem *item) { emit imageChosen(item->data(Qt::UserRole).toString()); });
}

void InputPanel::setSampleFolder(const QString &folder)
{
    mGallery->clear();
    const QStringList files = QDir(folder).entryList({"*.png", "*.jpg", "*.jpeg", "*.bmp"}, QDir::Files, QDir::Name);
    for (const QString &f : files) {
        const QString path = QDir(folder).filePath(f);
        QImage img(path);
        auto *item = new QListWidgetItem(QIcon(QPixmap::fromImage(img.scaled(48, 48, Qt::KeepAspectRatio, Qt::FastTransformation))),
                                         QFileInfo(f).completeBaseName(), mGallery);
        item->setData(Qt::UserRole, path);
        item->setToolTip(path);
    }
}

int InputPanel::sampleCount() const { return mGallery->count(); }
QString InputPanel::samplePath(int row) const { return mGallery->item(row)->data(Qt::UserRole).toString(); }

void InputPanel::showImage(const QString &path, const QImage &image)
{
    const QSize target = mPreview->size().boundedTo(QSize(512, 512));
    mPreview->setPixmap(
        QPixmap::fromImage(image.scaled(target, Qt::KeepAspectRatio, image.width() < 64 ? Qt::FastTransformation : Qt::SmoothTransformation)));
    mCaption->setText(QString("%1  (%2×%3)").arg(QFileInfo(path).fileName()).arg(image.width()).arg(image.height()));
}

void InputPanel::showMessage(const QString &text) { mCaption->setText(text); }

void InputPanel::dragEnterEvent(QDragEnterEvent *e)
{
    if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void InputPanel::dropEvent(QDropEvent *e)
{
    const auto urls = e->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile()) emit imageChosen(urls.first().toLocalFile());
}

}   // namespace pellucid
