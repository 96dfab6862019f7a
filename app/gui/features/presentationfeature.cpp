#include "app/gui/features/presentationfeature.h"

#include "widgets/common/linescale.h"

#include <QApplication>
#include <QKeyEvent>
#include <QPainter>
#include <QSettings>

#include <algorithm>

namespace pellucid {

/// A translucent ring that follows the mouse over the whole window (the presenter's pointer).
class PointerHighlight : public QWidget {
public:
    explicit PointerHighlight(QWidget *parent) : QWidget(parent)
    {
        setAttribute(Qt::WA_TransparentForMouseEvents);
        setAttribute(Qt::WA_NoSystemBackground);
        setObjectName("pointerHighlight");
    }
    void moveTo(const QPoint &p)
    {
        mPos = p;
        update();
    }

protected:
    void paintEvent(QPaintEvent *) override
    {
        QPainter p(this);
        p.setRenderHint(QPainter::Antialiasing);
        p.setPen(QPen(QColor(255, 200, 0, 220), 5));
        p.setBrush(QColor(255, 220, 0, 60));
        p.drawEllipse(mPos, 28, 28);
    }

private:
    QPoint mPos;
};

PresentationFeature::PresentationFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window) { }

void PresentationFeature::addActions(Menus &menus)
{
    QAction *present = menus.view->addAction(tr("&Presentation mode"), QKeySequence(Qt::Key_F5), this, [this] { setPresenting(!mPresenting); });
    present->setToolTip(tr("Full screen for a class: PgUp/PgDn layers, ↑/↓ channels, H pointer, +/− font, Esc leaves"));
}

void PresentationFeature::setPresenting(bool on)
{
    if (on == mPresenting) return;
    QSettings settings;
    if (on) {
        mWorkingState = mWindow->saveState();
        mWorkingFont = QApplication::font();
        mPresenting = true;
        const double scale = settings.value("presentation/fontScale", 1.6).toDouble();
        QFont f = mWorkingFont;
        f.setPointSizeF(mWorkingFont.pointSizeF() * scale);
        QApplication::setFont(f);
        setLineScale(settings.value("presentation/lineScale", 2.5).toDouble());   // thick lines for a projector
        applyLineScale(mWindow);
        const QByteArray saved = settings.value("presentation/state").toByteArray();
        if (saved.isEmpty() || settings.value("presentation/docks").toInt() != kDockLayoutVersion || !mWindow->restoreState(saved)) {
            // Default: the input beside the attribution overlay, with the prediction below.
            for (QDockWidget *d : mWindow->findChildren<QDockWidget *>()) d->hide();
            for (const char *name : {"InputDock", "AttributionDock", "PredictionDock"})
                if (auto *d = mWindow->findChild<QDockWidget *>(name)) d->show();
            if (auto *in = mWindow->findChild<QDockWidget *>("InputDock"); in)
                if (auto *at = mWindow->findChild<QDockWidget *>("AttributionDock")) {
                    mWindow->addDockWidget(Qt::LeftDockWidgetArea, in);
                    mWindow->addDockWidget(Qt::RightDockWidgetArea, at);
                    mWindow->resizeDocks({in, at}, {mWindow->width() / 3, 2 * mWindow->width() / 3}, Qt::Horizontal);
                }
        }
        if (!mPointer) mPointer = new PointerHighlight(mWindow);
        mPointer->setGeometry(mWindow->rect());
        mPointer->setVisible(settings.value("presentation/pointer", false).toBool());
        mPointer->raise();
        qApp->installEventFilter(this);
        mWindow->showFullScreen();
    } else {
        settings.setValue("presentation/state", mWindow->saveState());
        settings.setValue("presentation/docks", kDockLayoutVersion);
        settings.setValue("presentation/fontScale", QApplication::font().pointSizeF() / std::max(1.0, mWorkingFont.pointSizeF()));
        settings.setValue("presentation/pointer", mPointer && mPointer->isVisible());
        qApp->removeEventFilter(this);
        if (mPointer) mPointer->hide();
        QApplication::setFont(mWorkingFont);
        settings.setValue("presentation/lineScale", lineScale());
        setLineScale(1.0);
        applyLineScale(mWindow);
        mWindow->restoreState(mWorkingState);
        mPresenting = false;
        mWindow->showNormal();
    }
    emit presentationChanged(on);
}

void PresentationFeature::scaleFont(double factor)
{
    if (!mPresenting) return;
    QFont f = QApplication::font();
    f.setPointSizeF(std::clamp(f.pointSizeF() * factor, 6.0, 72.0));
    QApplication::setFont(f);
}

void PresentationFeature::stepLayer(int delta)
{
    const auto summary = mWorkspace->model();
    if (!summary) return;
    std::vector<QString> layers;
    for (const auto &l : summary->layers)
        if (l.calls > 0 && !l.outputShapes.empty()) layers.push_back(QString::fromStdString(l.path));
    if (layers.empty()) return;
    const auto it = std::find(layers.begin(), layers.end(), mWorkspace->layer());
    const int i = it == layers.end() ? 0 : int(it - layers.begin());
    mWorkspace->setLayer(layers[size_t(std::clamp(i + delta, 0, int(layers.size()) - 1))]);
}

bool PresentationFeature::eventFilter(QObject *watched, QEvent *event)
{
    if (mPresenting) {
        if (event->type() == QEvent::MouseMove && mPointer && mPointer->isVisible()) {
            const auto *e = static_cast<QMouseEvent *>(event);
            mPointer->setGeometry(mWindow->rect());
            static_cast<PointerHighlight *>(mPointer)->moveTo(mWindow->mapFromGlobal(e->globalPosition().toPoint()));
            mPointer->raise();
        }
        if (event->type() == QEvent::KeyPress) {
            const auto *e = static_cast<QKeyEvent *>(event);
            switch (e->key()) {
            case Qt::Key_PageDown:
            case Qt::Key_Right: stepLayer(+1); return true;
            case Qt::Key_PageUp:
            case Qt::Key_Left: stepLayer(-1); return true;
            case Qt::Key_Down: mWorkspace->stepChannel(+1); return true;
            case Qt::Key_Up: mWorkspace->stepChannel(-1); return true;
            case Qt::Key_H:
                if (mPointer) mPointer->setVisible(!mPointer->isVisible());
                return true;
            case Qt::Key_Plus:
            case Qt::Key_Equal: scaleFont(1.1); return true;
            case Qt::Key_Minus: scaleFont(1 / 1.1); return true;
            case Qt::Key_Escape:
            case Qt::Key_F5: setPresenting(false); return true;
            default: break;
            }
        }
    }
    return Feature::eventFilter(watched, event);
}

}   // namespace pellucid
