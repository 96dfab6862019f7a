#pragma once
// Line thickness for presentation mode ("thick lines" on a projector): one scale that self-painting widgets
// read through scaledWidth() and that applyLineScale() pushes into every plot's axes, grids and curves.
#include <QtGlobal>

class QWidget;

namespace pellucid {

double lineScale();
void setLineScale(double scale);   // 1: the working look
qreal scaledWidth(qreal width);    // width × lineScale() (a cosmetic 0 counts as 1 pixel)
/// Every QCustomPlot under `root`: axis, tick and grid pens and plottable outlines at their own width ×
/// lineScale() (their own widths are remembered the first time), then replotted; other widgets repainted.
void applyLineScale(QWidget *root);

}   // namespace pellucid
