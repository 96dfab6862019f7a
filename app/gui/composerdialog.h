#pragma once
// Figure > Compose: pick rows (inputs) and columns (views: the input, attribution methods, a layer's
// activation, a vision transformer's attention), the colour-scale mode and panel letters; the engine
// computes every panel in the background, a preview shows the figure, and it exports as one PDF / SVG / PNG.
// The layout is kept in the main window and saved with the session; a session's text rows, its other
// columns and a latent traversal are kept as they are.
#include "app/figures/composer.h"

#include <QDialog>

#include <memory>
#include <optional>
#include <vector>

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
    /// Size, fonts, title and caption (a session's); by default the export dialog's last settings.
    void setFigureSettings(const FigureSettings &settings);
    FigureSettings figureSettings() const;   // with the title and caption typed
    void compose();                          // computes the chosen panels in the engine; the preview follows

private:
    void exportFigureFile();
    /// A column entry; `fromPanel`: an attribution method that takes the Attribution panel's parameters.
    void addColumn(const QString &label, const ComposerColumn &column, bool on, bool fromPanel);
    std::vector<ComposerColumn> mColumnSpecs;   // per column entry (its item's Qt::UserRole is the index)
    bool mTextRows = false;
    FigureSettings mSettings;
    std::optional<ComposerSpec> mTraversal;   // a session's traversal, composed as it is
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
