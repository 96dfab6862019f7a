#include "app/gui/composerdialog.h"

#include "app/gui/exportdialog.h"
#include "app/gui/features/figuresfeature.h"
#include "app/gui/mainwindow.h"
#include "app/gui/workspace.h"

#include "engine/core/json.h"

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
    addColumn(tr("Input"), ComposerColumn{}, true, false);
    for (AttributionMethod m : allMethods()) {
        ComposerColumn c;
        c.kind = ComposerColumn::Kind::Attribution;
        c.params.method = m;
        addColumn(QString::fromLatin1(methodName(m)), c,
                  m == AttributionMethod::Saliency || m == AttributionMethod::IntegratedGradients || m == AttributionMethod::GradCam, true);
    }
    if (!currentLayer.isEmpty()) {
        ComposerColumn c;
        c.kind = ComposerColumn::Kind::Activation;
        c.layer = currentLayer.toStdString();
        addColumn(tr("Activation of %1").arg(currentLayer), c, false, false);
    }
    // A vision transformer (metadata attention.patch_grid): its attention on the patches.
    const auto model = mWorkspace->model();
    const Json *att = model ? model->metadata.raw.find("attention") : nullptr;
    if (att && att->find("patch_grid")) {
        for (auto view :
             {ComposerColumn::AttentionView::Cls, ComposerColumn::AttentionView::Rollout, ComposerColumn::AttentionView::GradientRollout}) {
            ComposerColumn c;
            c.kind = ComposerColumn::Kind::Attention;
            c.attention = view;
            addColumn(view == ComposerColumn::AttentionView::Cls           ? tr("CLS attention, last layer")
                          : view == ComposerColumn::AttentionView::Rollout ? tr("Attention rollout")
                                                                           : tr("Gradient rollout"),
                      c, false, false);
        }
    }
    left->addRow(tr("Columns (views)"), mColumns);
    mScale = new QComboBox(this);
    mScale->addItem(tr("One scale per column"), int(ComposerSpec::Scale::PerColumn));
    mScale->addItem(tr("One scale per panel"), int(ComposerSpec::Scale::PerPanel));
    mScale->addItem(tr("One shared scale"), int(ComposerSpec::Scale::Shared));
    left->addRow(tr("Colour scale"), mScale);
    mLetters = new QCheckBox(tr("Panel letters (a), (b), …"), this);
    mLetters->setChecked(true);
    left->addRow(mLetters);
    mSettings = ExportDialog::savedSettings();
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
        FigureSettings s = mSettings;
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

void ComposerDialog::setFigureSettings(const FigureSettings &settings)
{
    mSettings = settings;
    mTitle->setText(settings.title);
    mCaption->setText(settings.caption);
}

FigureSettings ComposerDialog::figureSettings() const
{
    FigureSettings s = mSettings;
    s.title = mTitle->text();
    s.caption = mCaption->text();
    return s;
}

void ComposerDialog::addColumn(const QString &label, const ComposerColumn &column, bool on, bool fromPanel)
{
    auto *item = new QListWidgetItem(label, mColumns);
    item->setData(Qt::UserRole, int(mColumnSpecs.size()));
    item->setData(Qt::UserRole + 1, fromPanel);
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    item->setCheckState(on ? Qt::Checked : Qt::Unchecked);
    mColumnSpecs.push_back(column);
}

ComposerSpec ComposerDialog::spec() const
{
    ComposerSpec s;
    if (mTraversal) s = *mTraversal;
    s.scale = ComposerSpec::Scale(mScale->currentData().toInt());
    s.letters = mLetters->isChecked();
    if (mTraversal) return s;
    s.textRows = mTextRows;
    for (int i = 0; i < mRows->count(); ++i)
        if (mRows->item(i)->checkState() == Qt::Checked) s.rows << mRows->item(i)->data(Qt::UserRole).toString();
    const AttributionParams base = mWorkspace->attributionParams();
    for (int i = 0; i < mColumns->count(); ++i) {
        const QListWidgetItem *item = mColumns->item(i);
        if (item->checkState() != Qt::Checked) continue;
        ComposerColumn c = mColumnSpecs[size_t(item->data(Qt::UserRole).toInt())];
        if (item->data(Qt::UserRole + 1).toBool()) {
            const AttributionMethod m = c.params.method;
            c.params = base;   // the panel's target, layer and parameters
            c.params.method = m;
            c.params.window.clear();
            c.params.stride.clear();
        }
        s.columns.push_back(c);
    }
    return s;
}

void ComposerDialog::setSpec(const ComposerSpec &spec)
{
    mScale->setCurrentIndex(mScale->findData(int(spec.scale)));
    mLetters->setChecked(spec.letters);
    if (spec.layout == ComposerSpec::Layout::Traversal) {
        // A traversal has no rows or columns to pick: it is composed as the session gives it.
        mTraversal = spec;
        mRows->setEnabled(false);
        mColumns->setEnabled(false);
        QStringList dims;
        for (int d : spec.traversal.dims) dims << QString::number(d);
        mStatus->setText(tr("This figure is a latent traversal: dimensions %1, %2 steps from %3 to %4")
                             .arg(dims.join(", "))
                             .arg(spec.traversal.steps)
                             .arg(spec.traversal.lo)
                             .arg(spec.traversal.hi));
        return;
    }
    mTextRows = spec.textRows;
    if (spec.textRows) {   // texts replace the image rows; image views go
        mRows->clear();
        for (int i = mColumns->count() - 1; i >= 0; --i) {
            const auto kind = mColumnSpecs[size_t(mColumns->item(i)->data(Qt::UserRole).toInt())].kind;
            if (kind == ComposerColumn::Kind::Attribution || kind == ComposerColumn::Kind::Activation) delete mColumns->takeItem(i);
        }
    }
    for (const QString &r : spec.rows) {
        bool found = false;
        for (int i = 0; i < mRows->count(); ++i) found = found || mRows->item(i)->data(Qt::UserRole).toString() == r;
        if (found) continue;
        auto *item = new QListWidgetItem(spec.textRows ? r : QFileInfo(r).fileName(), mRows);
        item->setData(Qt::UserRole, r);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    }
    for (int i = 0; i < mRows->count(); ++i)
        mRows->item(i)->setCheckState(spec.rows.contains(mRows->item(i)->data(Qt::UserRole).toString()) ? Qt::Checked : Qt::Unchecked);
    // The session's columns in its order, checked; the other entries unchecked after them.
    for (int i = 0; i < mColumns->count(); ++i) mColumns->item(i)->setCheckState(Qt::Unchecked);
    const QStringList titles = composerColumnTitles(spec);
    for (size_t k = 0; k < spec.columns.size(); ++k) {
        addColumn(titles.value(int(k)), spec.columns[k], true, false);
        mColumns->insertItem(int(k), mColumns->takeItem(mColumns->count() - 1));
    }
    // Entries the session's columns repeat go (the session's own parameters win).
    for (int i = mColumns->count() - 1; i >= int(spec.columns.size()); --i)
        if (titles.contains(mColumns->item(i)->text(), Qt::CaseInsensitive) || (mColumns->item(i)->text() == tr("Input") && titles.contains("input")))
            delete mColumns->takeItem(i);
}

void ComposerDialog::compose()
{
    const ComposerSpec s = spec();
    if (s.layout == ComposerSpec::Layout::Grid && (s.rows.isEmpty() || s.columns.empty())) {
        mStatus->setText(tr("Choose at least one row and one column"));
        return;
    }
    mStatus->setText(s.layout == ComposerSpec::Layout::Traversal ? tr("Decoding %1 images…").arg(int(s.traversal.dims.size()) * s.traversal.steps)
                                                                 : tr("Computing %1 panels…").arg(s.rows.size() * int(s.columns.size())));
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
    FigureSettings s = mSettings;
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
