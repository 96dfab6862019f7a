// Presentation mode for teaching: full screen, large fonts and thick lines, a reduced set of panels (the
// input beside its attribution overlay by default), keys to step through layers (Page Up/Down, ←/→) and
// channels (↑/↓), and a pointer highlight (H). Its layout and font scale are remembered separately from the
// working layout, which comes back when the mode ends.
#include "app/gui/mainwindow.h"

#include "widgets/activations/activationgrid.h"
#include "widgets/activations/activationpanel.h"
#include "widgets/common/linescale.h"

#include <QApplication>
#include <QDockWidget>
#include <QKeyEvent>
#include <QPainter>
#include <QSettings>

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

void MainWindow::setPresentationMode(bool on)
{
    if (on == mPresenting) return;
    QSettings settings;
    if (on) {
        mWorkingState = saveState();
        mWorkingFont = QApplication::font();
        mPresenting = true;
        const double scale = settings.value("presentation/fontScale", 1.6).toDouble();
        QFont f = mWorkingFont;
        f.setPointSizeF(mWorkingFont.pointSizeF() * scale);
        QApplication::setFont(f);
        setLineScale(settings.value("presentation/lineScale", 2.5).toDouble());   // thick lines for a projector
        applyLineScale(this);
        const QByteArray saved = settings.value("presentation/state").toByteArray();
        if (saved.isEmpty() || settings.value("presentation/docks").toInt() != kDockLayoutVersionForPresentation() || !restoreState(saved)) {
            // Default: the input beside the attribution overlay, with the prediction below.
            for (QDockWidget *d : findChildren<QDockWidget *>()) d->hide();
            for (const char *name : {"InputDock", "AttributionDock", "PredictionDock"})
                if (auto *d = findChild<QDockWidget *>(name)) d->show();
            if (auto *in = findChild<QDockWidget *>("InputDock"); in)
                if (auto *at = findChild<QDockWidget *>("AttributionDock")) {
                    addDockWidget(Qt::LeftDockWidgetArea, in);
                    addDockWidget(Qt::RightDockWidgetArea, at);
                    resizeDocks({in, at}, {width() / 3, 2 * width() / 3}, Qt::Horizontal);
                }
        }
        if (!mPointer) mPointer = new PointerHighlight(this);
        mPointer->setGeometry(rect());
        mPointer->setVisible(settings.value("presentation/pointer", false).toBool());
        mPointer->raise();
        qApp->installEventFilter(this);
        showFullScreen();
    } else {
        settings.setValue("presentation/state", saveState());
        settings.setValue("presentation/docks", kDockLayoutVersionForPresentation());
        settings.setValue("presentation/fontScale", QApplication::font().pointSizeF() / std::max(1.0, mWorkingFont.pointSizeF()));
        settings.setValue("presentation/pointer", mPointer && mPointer->isVisible());
        qApp->removeEventFilter(this);
        if (mPointer) mPointer->hide();
        QApplication::setFont(mWorkingFont);
        settings.setValue("presentation/lineScale", lineScale());
        setLineScale(1.0);
        applyLineScale(this);
        restoreState(mWorkingState);
        mPresenting = false;
        showNormal();
    }
    emit presentationChanged(on);
}

void MainWindow::scalePresentationFont(double factor)
{
    if (!mPresenting) return;
    QFont f = QApplication::font();
    f.setPointSizeF(std::clamp(f.pointSizeF() * factor, 6.0, 72.0));
    QApplication::setFont(f);
}

void MainWindow::stepLayer(int delta)
{
    if (!mSummary) return;
    std::vector<QString> layers;
    for (const auto &l : mSummary->layers)
        if (l.calls > 0 && !l.outputShapes.empty()) layers.push_back(QString::fromStdString(l.path));
    if (layers.empty()) return;
    const auto it = std::find(layers.begin(), layers.end(), mLayer);
    const int i = it == layers.end() ? 0 : int(it - layers.begin());
    selectLayer(layers[size_t(std::clamp(i + delta, 0, int(layers.size()) - 1))]);
}

void MainWindow::stepChannel(int delta)
{
    ActivationGrid *g = mActivations->grid();
    g->selectChannel(std::max(0, g->selectedChannel() + delta));
}

bool MainWindow::eventFilter(QObject *watched, QEvent *event)
{
    if (mPresenting) {
        if (event->type() == QEvent::MouseMove && mPointer && mPointer->isVisible()) {
            const auto *e = static_cast<QMouseEvent *>(event);
            mPointer->setGeometry(rect());
            static_cast<PointerHighlight *>(mPointer)->moveTo(mapFromGlobal(e->globalPosition().toPoint()));
            mPointer->raise();
        }
        if (event->type() == QEvent::KeyPress) {
            const auto *e = static_cast<QKeyEvent *>(event);
            switch (e->key()) {
            case Qt::Key_PageDown: case Qt::Key_Right: stepLayer(+1); return true;
            case Qt::Key_PageUp: case Qt::Key_Left: stepLayer(-1); return true;
            case Qt::Key_Down: stepChannel(+1); return true;
            case Qt::Key_Up: stepChannel(-1); return true;
            case Qt::Key_H: if (mPointer) mPointer->setVisible(!mPointer->isVisible()); return true;
            case Qt::Key_Plus: case Qt::Key_Equal: scalePresentationFont(1.1); return true;
            case Qt::Key_Minus: scalePresentationFont(1 / 1.1); return true;
            case Qt::Key_Escape: case Qt::Key_F5: setPresentationMode(false); return true;
            default: break;
            }
        }
    }
    return QMainWindow::eventFilter(watched, event);
}

} // namespace pellucid
