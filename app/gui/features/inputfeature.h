#pragma once
// The Input dock and the inputs it makes current: an image or .npy file (File → Open image, the samples,
// drag and drop), a drawing, a typed text through the model's tokenizer, a dataset item's tensor.
#include "app/gui/feature.h"

namespace pellucid {

class InputPanel;

class InputFeature : public Feature {
    Q_OBJECT
public:
    InputFeature(Workspace *workspace, QMainWindow *window);
    InputPanel *panel() const { return mPanel; }
    void placeDocks(DockLayout &layout) override;
    void addActions(Menus &menus) override;
    void saveSession(Session &session) const override;
    void restoreSession(const Session &session) override;

    void openImage(const QString &path);
    void setDrawing(const QImage &image);
    void setText(const QString &text);

signals:
    void drawingApplied();

private:
    void onModel(std::shared_ptr<const ModelSummary> summary);
    InputPanel *mPanel;
    QString mText;   // the text made current last (saved in sessions while it is the input)
};

}   // namespace pellucid
