#pragma once
// Figure > Compose: pick rows (inputs) and columns (views), the colour-scale mode and panel letters; the
// engine computes every panel in the background, a preview shows the figure, and it exports as one
// PDF / SVG / PNG. The layout is kept in the main window and saved with the session.
#include "app/figures/composer.h"

#include <QDialog>

#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;

namespace pellucid {

class FiguresFeature;
class MainWindow;
class Workspace;

class ComposerDialog : public QDialog {
    Q_OBJECT
public:
    ComposerDialog(QWidget *parent, FiguresFeature *figures, Workspace *workspace, const QStringList &inputs, const QString &currentLayer);
    /// The main window's composer.
    ComposerDialog(MainWindow *window, const QStringList &inputs, const QString &currentLayer);
    ComposerSpec spec() const;
    void setSpec(const ComposerSpec &spec);

private:
    void compose();
    void exportFigureFile();
    FiguresFeature *mFigures;
    Workspace *mWorkspace;
    QString mLayer;
    QListWidget *mRows, *mColumns;
    QComboBox *mScale;
    QCheckBox *mLetters;
    QLineEdit *mTitle, *mCaption;
    QLabel *mPreview, *mStatus;
    std::shared_ptr<const ComposedFigure> mFigure;
};

}   // namespace pellucid
