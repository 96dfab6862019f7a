#include "app/gui/composerdialog.h"

#include "app/gui/exportdialog.h"
#include "app/gui/features/figuresfeature.h"
#include "app/gui/mainwindow.h"
#include "app/gui/workspace.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPainter>
#include <QPushButton>
#include <QVBoxLayout>

namespace pellucid {

ComposerDialog::ComposerDialog(QWidget *parent, FiguresFeature *figures, Workspace *workspace, const QStringList &inputs, const QString &currentLayer)
    : QDialog(parent), mFigures(figures), mWorkspace(workspace), mLayer(currentLayer)
{
    setWindowTitle(tr("Figure composer"));
    resize(900, 640);
    auto *layout = new QHBoxLayout(this);
    auto *left = new QFormLayout;
    mRows = new QListWidget(this);
    for (const QString &in : inputs) {
        auto *item = new QListWidgetItem(QFileInfo(in).fileName(), mRows);
        item->setData(Qt::UserRole, in);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(mRows->count() <= 2 ? Qt::Checked : Qt::Unchecked);
    }
    left->addRow(tr("Rows (inputs)"), mRows);
    mColumns = new QListWidget(this);
    auto addColumn = [this](const QString &label, int kind, int method, bool on) {
        auto *item = new QListWidgetItem(label, mColumns);
        item->setData(Qt::UserRole, kind);
        item->setData(Qt::UserRole + 1, method);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(on ? Qt::Checked : Qt::Unchecked);
    };
    addColumn(tr("Input"), int(ComposerColumn::Kind::Input), 0, true);
    for (AttributionMethod m : allMethods())
        addColumn(QString::fromLatin1(methodName(m)), int(ComposerColumn::Kind::Attribution), int(m),
                  m == AttributionMethod::Saliency || m == AttributionMethod::IntegratedGradients || m == AttributionMethod::GradCam);
    if (!currentLayer.isEmpty()) addColumn(tr("Activation of %1").arg(currentLayer), int(ComposerColumn::Kind::Activation), 0, false);
    left->addRow(tr("Columns (views)"), mColumns);
    mScale = new QComboBox(this);
    mScale->addItem(tr("One scale per column"), int(ComposerSpec::Scale::PerColumn));
    mScale->addItem(tr("One scale per panel"), int(ComposerSpec::Scale::PerPanel));
    mScale->addItem(tr("One shared scale"), int(ComposerSpec::Scale::Shared));
    left->addRow(tr("Colour scale"), mScale);
    mLetters = new QCheckBox(tr("Panel letters (a), (b), …"), this);
    mLetters->setChecked(true);
    left->addRow(mLetters);
    mTitle = new QLineEdit(this);
    left->addRow(tr("Title"), mTitle);
    mCaption = new QLineEdit(this);
    left->addRow(tr("Caption"), mCaption);
    auto *composeButton = new QPushButton(tr("Compose"), this);
    auto *exportButton = new QPushButton(tr("Export…"), this);
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(composeButton);
    buttons->addWidget(exportButton);
    left->addRow(buttons);
    mStatus = new QLabel(this);
    mStatus->setWordWrap(true);
    left->addRow(mStatus);
    auto *close = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(close, &QDialogButtonBox::rejected, this, &QDialog::reject);
    left->addRow(close);
    layout->addLayout(left, 1);
    mPreview = new QLabel(tr("Compose to see the figure"), this);
    mPreview->setAlignment(Qt::AlignCenter);
    mPreview->setMinimumSize(480, 360);
    layout->addWidget(mPreview, 2);

    connect(composeButton, &QPushButton::clicked, this, &ComposerDialog::compose);
    connect(exportButton, &QPushButton::clicked, this, &ComposerDialog::exportFigureFile);
    connect(mFigures, &FiguresFeature::composed, this, [this](std::shared_ptr<const ComposedFigure> fig) {
        mFigure = fig;
        FigureSettings s = ExportDialog::savedSettings();
        s.title = mTitle->text();
        s.caption = mCaption->text();
        const QSizeF mm = figurePageMm(*fig, s);
        QImage img(QSize(int(mm.width() * 4), int(mm.height() * 4)), QImage::Format_RGB32);
        img.fill(Qt::white);
        {
            QPainter p(&img);
            p.setRenderHint(QPainter::Antialiasing);
            p.scale(4 / (72.0 / 25.4), 4 / (72.0 / 25.4));
            paintFigurePage(p, *fig, mm, s);
        }
        mPreview->setPixmap(QPixmap::fromImage(img.scaled(mPreview->size(), Qt::KeepAspectRatio, Qt::SmoothTransformation)));
        mStatus->setText(tr("%1 panels").arg(fig->panelCount()));
    });
}

ComposerDialog::ComposerDialog(MainWindow *window, const QStringList &inputs, const QString &currentLayer)
    : ComposerDialog(window, window->figures(), window->workspace(), inputs, currentLayer)
{ }

ComposerSpec ComposerDialog::spec() const
{
    ComposerSpec s;
    for (int i = 0; i < mRows->count(); ++i)
        if (mRows->item(i)->checkState() == Qt::Checked) s.rows << mRows->item(i)->data(Qt::UserRole).toString();
    const AttributionParams base = mWorkspace->attributionParams();
    for (int i = 0; i < mColumns->count(); ++i) {
        const QListWidgetItem *item = mColumns->item(i);
        if (item->checkState() != Qt::Checked) continue;
        ComposerColumn c;
        c.kind = ComposerColumn::Kind(item->data(Qt::UserRole).toInt());
        if (c.kind == ComposerColumn::Kind::Attribution) {
            c.params = base;   // the panel's target, layer and parameters
            c.params.method = AttributionMethod(item->data(Qt::UserRole + 1).toInt());
            c.params.window.clear();
            c.params.stride.clear();
        }
        if (c.kind == ComposerColumn::Kind::Activation) c.layer = mLayer.toStdString();
        s.columns.push_back(c);
    }
    s.scale = ComposerSpec::Scale(mScale->currentData().toInt());
    s.letters = mLetters->isChecked();
    return s;
}

void ComposerDialog::setSpec(const ComposerSpec &spec)
{
    for (int i = 0; i < mRows->count(); ++i)
        mRows->item(i)->setCheckState(spec.rows.contains(mRows->item(i)->data(Qt::UserRole).toString()) ? Qt::Checked : Qt::Unchecked);
    mScale->setCurrentIndex(mScale->findData(int(spec.scale)));
    mLetters->setChecked(spec.letters);
}

void ComposerDialog::compose()
{
    const ComposerSpec s = spec();
    if (s.rows.isEmpty() || s.columns.empty()) {
        mStatus->setText(tr("Choose at least one row and one column"));
        return;
    }
    mStatus->setText(tr("Computing %1 panels…").arg(s.rows.size() * int(s.columns.size())));
    mFigures->compose(s);
}

void ComposerDialog::exportFigureFile()
{
    if (!mFigure) {
        mStatus->setText(tr("Compose the figure first"));
        return;
    }
    const QString path = QFileDialog::getSaveFileName(this, tr("Export figure"), QString(), tr("PDF (*.pdf);;SVG (*.svg);;PNG (*.png)"));
    if (path.isEmpty()) return;
    FigureSettings s = ExportDialog::savedSettings();
    s.title = mTitle->text();
    s.caption = mCaption->text();
    try {
        exportFigure(*mFigure, path, s);
        mStatus->setText(tr("Wrote %1").arg(path));
    } catch (const std::exception &e) {
        mStatus->setText(QString::fromStdString(e.what()));
    }
}

}   // namespace pellucid
