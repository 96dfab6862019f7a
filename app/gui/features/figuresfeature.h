#pragma once
// The figure composer (File → Figure composer): rows of inputs × columns of views, computed in the engine;
// its layout and the figure settings are part of the session.
#include "app/figures/composer.h"
#include "app/gui/feature.h"

#include <optional>

namespace pellucid {

class InputPanel;

class FiguresFeature : public Feature {
    Q_OBJECT
public:
    FiguresFeature(Workspace *workspace, QMainWindow *window, InputPanel *input);
    void addActions(Menus &menus) override;
    void saveSession(Session &session) const override;
    void restoreSession(const Session &session) override;
    quint64 compose(const ComposerSpec &spec);
    ComposerSpec spec() const { return mSpec; }
    std::optional<FigureSettings> figureSettings() const { return mSettings; }

signals:
    void composed(std::shared_ptr<const pellucid::ComposedFigure> figure);

private:
    InputPanel *mInput;
    ComposerSpec mSpec;
    bool mFromSession = false;
    std::optional<FigureSettings>
        mSettings;   // the composed figure's size, title and caption (a session's)   // the spec came from a session and is not drawn yet
    TaskSlot mSlot{"compose"};
};

}   // namespace pellucid
