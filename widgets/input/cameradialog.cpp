#include "widgets/input/cameradialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>

namespace pellucid {

CameraDialog::CameraDialog(const QList<Device> &devices, int device, const QSize &size, QWidget *parent) : QDialog(parent)
{
    setWindowTitle(tr("Camera"));
    auto *form = new QFormLayout(this);
    mDevice = new QComboBox(this);
    for (const Device &d : devices) mDevice->addItem(QString("%1 — /dev/video%2").arg(d.name).arg(d.index), d.index);
    if (devices.isEmpty()) {
        mDevice->addItem(tr("No camera found"), -1);
        mDevice->setEnabled(false);
    }
    if (const int i = mDevice->findData(device); i >= 0) mDevice->setCurrentIndex(i);
    form->addRow(tr("Device"), mDevice);
    mSize = new QComboBox(this);
    mSize->addItem(tr("Camera default"), QSize());
    for (const QSize s : {QSize(320, 240), QSize(640, 480), QSize(1280, 720), QSize(1920, 1080)})
        mSize->addItem(QString("%1 × %2").arg(s.width()).arg(s.height()), s);
    if (const int i = mSize->findData(size); i >= 0) mSize->setCurrentIndex(i);
    mSize->setToolTip(tr("Asked of the camera; it may pick its nearest supported size. Frames are scaled to the "
                         "model's input either way: a smaller capture costs less time per frame."));
    form->addRow(tr("Resolution"), mSize);
    if (devices.isEmpty()) form->addRow(new QLabel(tr("No video capture device is connected (none under /sys/class/video4linux)."), this));
    mButtons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    mButtons->button(QDialogButtonBox::Ok)->setText(tr("Start"));
    mButtons->button(QDialogButtonBox::Ok)->setEnabled(acceptable());
    connect(mButtons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(mButtons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    form->addRow(mButtons);
}

int CameraDialog::device() const { return mDevice->currentData().toInt(); }
QSize CameraDialog::size() const { return mSize->currentData().toSize(); }
bool CameraDialog::acceptable() const { return device() >= 0; }

}   // namespace pellucid
