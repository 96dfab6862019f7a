#include "app/gui/features/figuresfeature.h"

#include "app/gui/composerdialog.h"
#include "app/gui/exportdialog.h"
#include "widgets/input/inputpanel.h"

#include <QTimer>

namespace pellucid {

namespace {

/// The composer's numbers for every panel, computed on the engine thread.
struct ComposerOutput : JobOutput {
    ComposerData data;
    ComposerSpec spec;
};

}   // namespace

FiguresFeature::FiguresFeature(Workspace *workspace, QMainWindow *window, InputPanel *input) : Feature(workspace, window), mInput(input) { }

void FiguresFeature::addActions(Menus &menus)
{
    menus.file->addAction(tr("Figure &composer…"), this, [this] {
        QStringList inputs;
        if (!mWorkspace->imagePath().isEmpty()) inputs << mWorkspace->imagePath();
        for (int i = 0; i < mInput->sampleCount(); ++i)
            if (!inputs.contains(mInput->samplePath(i))) inputs << mInput->samplePath(i);
        ComposerDialog dlg(mWindow, this, mWorkspace, inputs, mWorkspace->layer());
        if (!mSpec.rows.isEmpty() || mSpec.layout == ComposerSpec::Layout::Traversal) dlg.setSpec(mSpec);
        if (mSettings) dlg.setFigureSettings(*mSettings);
        if (mFromSession) {   // a session's figure is drawn as soon as the composer opens
            mFromSession = false;
            QTimer::singleShot(0, &dlg, [&dlg] { dlg.compose(); });
        }
        dlg.exec();
        mSpec = dlg.spec();
        mSettings = dlg.figureSettings();
    });
}

quint64 FiguresFeature::compose(const ComposerSpec &spec)
{
    mSpec = spec;
    return mBridge->run<ComposerOutput>(
        &mSlot, this,
        [spec](JobContext &ctx) {
            auto out = std::make_shared<ComposerOutput>();
            out->data = computeComposer(ctx.model(), spec, [&ctx] { return ctx.cancelled(); });
            out->spec = spec;
            return out;
        },
        [this](std::shared_ptr<const ComposerOutput> c) { emit composed(std::make_shared<const ComposedFigure>(c->data, c->spec)); });
}

void FiguresFeature::saveSession(Session &s) const
{
    for (const QString &r : mSpec.rows)
        if (!s.inputs.contains(r)) s.inputs << r;
    s.composer = mSpec;
    s.figure = mSettings ? *mSettings : ExportDialog::savedSettings();
}

void FiguresFeature::restoreSession(const Session &s)
{
    mSpec = s.composer;
    mSettings = s.figure;
    mFromSession = !mSpec.rows.isEmpty() || mSpec.layout == ComposerSpec::Layout::Traversal;
}

}   // namespace pellucid
