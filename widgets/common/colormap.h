#pragma once
// Colour maps for heat maps: perceptually uniform viridis for magnitudes; NaN and Inf get marker colours
// so they are never mistaken for low values.
#include "engine/core/tensorvalue.h"

#include <QColor>
#include <QImage>

class QCPColorGradient;

namespace pellucid {

QRgb viridis(double t);        // t in [0, 1]
extern const QRgb kNanColor;   // magenta
extern const QRgb kInfColor;   // white

/// Renders an h×w plane of floats (row-major) to an image, mapping [lo, hi] through viridis.
QImage renderPlane(const float *values, int h, int w, float lo, float hi);
QCPColorGradient viridisGradient();
/// Image `index` of a batch [N, C, H, W] with values in [0, 1] (clamped; NaN black), grey or RGB.
QImage generatedPicture(const TensorValue &images, int64_t index);

}   // namespace pellucid
