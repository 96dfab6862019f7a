#pragma once
// File > Export figure: which panel, where, the physical size (journal presets), DPI, title, caption and
// raw data. Font family and size are chosen once for all panels (kept in the settings).
#include "widgets/common/figure.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFontComboBox;
class QLineEdit;
class QSpinBox;

namespace pellucid {

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    ExportDialog(const QStringList &panels, QWidget *parent = nullptr);
    QString panel() const;
    QString path() const;
    FigureSettings settings() const;
    bool rawData() const;

    /// The figure font and size shared by every panel's export (QSettings "figure/font", "figure/fontPt").
    static FigureSettings savedSettings();

    void accept() override;

private:
    QComboBox *mPanel, *mPreset;
    QLineEdit *mPath, *mTitle, *mCaption;
    QDoubleSpinBox *mWidth, *mHeight, *mFontPt;
    QSpinBox *mDpi;
    QFontComboBox *mFont;
    QCheckBox *mRaw;
};

}   // namespace pellucid
