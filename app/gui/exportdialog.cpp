#include "app/gui/exportdialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFontComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>

namespace pellucid {

FigureSettings ExportDialog::savedSettings()
{
    QSettings st;
    FigureSettings s;
    s.fontFamily = st.value("figure/font", s.fontFamily).toString();
    s.fontPt = st.value("figure/fontPt", s.fontPt).toDouble();
    s.widthMm = st.value("figure/widthMm", s.widthMm).toDouble();
    s.dpi = st.value("figure/dpi", s.dpi).toInt();
    return s;
}

ExportDialog::ExportDialog(const QStringList &panels, QWidget *parent) : QDialog(parent)
{
    setWindowTitle(tr("Export figure"));
    const FigureSettings saved = savedSettings();
    auto *form = new QFormLayout(this);
    mPanel = new QComboBox(this);
    mPanel->addItems(panels);
    form->addRow(tr("Panel"), mPanel);
    auto *pathRow = new QHBoxLayout;
    mPath = new QLineEdit(this);
    mPath->setPlaceholderText(tr("figure.pdf, figure.svg or figure.png"));
    auto *browse = new QPushButton(tr("Browse…"), this);
    pathRow->addWidget(mPath);
    pathRow->addWidget(browse);
    form->addRow(tr("File"), pathRow);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString p = QFileDialog::getSaveFileName(this, tr("Export figure"), mPath->text(), tr("PDF (*.pdf);;SVG (*.svg);;PNG (*.png)"));
        if (!p.isEmpty()) mPath->setText(p);
    });
    mPreset = new QComboBox(this);
    mPreset->addItem(tr("Single column (89 mm)"), FigureSettings::kSingleColumnMm);
    mPreset->addItem(tr("Double column (183 mm)"), FigureSettings::kDoubleColumnMm);
    mPreset->addItem(tr("Custom"), 0.0);
    form->addRow(tr("Size"), mPreset);
    mWidth = new QDoubleSpinBox(this);
    mWidth->setRange(10, 1000);
    mWidth->setSuffix(" mm");
    mWidth->setValue(saved.widthMm);
    form->addRow(tr("Width"), mWidth);
    mHeight = new QDoubleSpinBox(this);
    mHeight->setRange(0, 1000);
    mHeight->setSuffix(" mm");
    mHeight->setSpecialValueText(tr("from the content"));
    form->addRow(tr("Height"), mHeight);
    connect(mPreset, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        const double w = mPreset->currentData().toDouble();
        if (w > 0) mWidth->setValue(w);
        mWidth->setEnabled(w == 0);
    });
    mDpi = new QSpinBox(this);
    mDpi->setRange(50, 2400);
    mDpi->setValue(saved.dpi);
    form->addRow(tr("PNG resolution (DPI)"), mDpi);
    mFont = new QFontComboBox(this);
    mFont->setCurrentFont(QFont(saved.fontFamily));
    form->addRow(tr("Font (all panels)"), mFont);
    mFontPt = new QDoubleSpinBox(this);
    mFontPt->setRange(4, 24);
    mFontPt->setSuffix(" pt");
    mFontPt->setValue(saved.fontPt);
    form->addRow(tr("Font size"), mFontPt);
    mTitle = new QLineEdit(this);
    form->addRow(tr("Title"), mTitle);
    mCaption = new QLineEdit(this);
    form->addRow(tr("Caption"), mCaption);
    mRaw = new QCheckBox(tr("Write the data beside the picture (.npy / .csv)"), this);
    mRaw->setChecked(true);
    form->addRow(mRaw);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    form->addRow(buttons);
    mPreset->setCurrentIndex(saved.widthMm == FigureSettings::kDoubleColumnMm ? 1 : saved.widthMm == FigureSettings::kSingleColumnMm ? 0 : 2);
}

QString ExportDialog::panel() const { return mPanel->currentText(); }
QString ExportDialog::path() const { return mPath->text(); }
bool ExportDialog::rawData() const { return mRaw->isChecked(); }

FigureSettings ExportDialog::settings() const
{
    FigureSettings s;
    s.widthMm = mWidth->value();
    s.heightMm = mHeight->value();
    s.dpi = mDpi->value();
    s.fontFamily = mFont->currentFont().family();
    s.fontPt = mFontPt->value();
    s.title = mTitle->text();
    s.caption = mCaption->text();
    return s;
}

void ExportDialog::accept()
{
    QSettings st;
    const FigureSettings s = settings();
    st.setValue("figure/font", s.fontFamily);
    st.setValue("figure/fontPt", s.fontPt);
    st.setValue("figure/widthMm", s.widthMm);
    st.setValue("figure/dpi", s.dpi);
    QDialog::accept();
}

}   // namespace pellucid
