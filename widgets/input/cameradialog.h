#pragma once
// File → Live input → Camera…: which capture device, at which resolution.
#include <QDialog>
#include <QList>
#include <QSize>
#include <QString>

class QComboBox;
class QDialogButtonBox;

namespace pellucid {

class CameraDialog : public QDialog {
    Q_OBJECT
public:
    struct Device {
        int index;      // N of /dev/videoN
        QString name;   // as the driver names it
    };
    /// `size` empty: the camera's own default resolution.
    CameraDialog(const QList<Device> &devices, int device, const QSize &size, QWidget *parent = nullptr);
    int device() const;   // -1 when there is none to choose
    QSize size() const;
    QComboBox *deviceBox() const { return mDevice; }
    QComboBox *sizeBox() const { return mSize; }
    bool acceptable() const;   // a device is there to open

private:
    QComboBox *mDevice, *mSize;
    QDialogButtonBox *mButtons;
};

}   // namespace pellucid
