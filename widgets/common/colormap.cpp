#include "widgets/common/colormap.h"

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace pellucid {

const QRgb kNanColor = qRgb(255, 0, 255);
const QRgb kInfColor = qRgb(255, 255, 255);

QRgb viridis(double t)
{
    // Polynomial fit of matplotlib's viridis (max error well under one 8-bit step).
    t = std::clamp(t, 0.0, 1.0);
    static const double c[7][3] = {
        {0.2777273272234177, 0.005407344544966578, 0.3340998053353061}, {0.1050930431085774, 1.404613529898575, 1.384590162594685},
        {-0.3308618287255563, 0.214847559468213, 0.09509516302823659},  {-4.634230498983486, -5.799100973351585, -19.33244095627987},
        {6.228269936347081, 14.17993336680509, 56.69055260068105},      {4.776384997670288, -13.74514537774601, -65.35303263337234},
        {-5.435455855934631, 4.645852612178535, 26.3124352495832}};
    double rgb[3];
    for (int k = 0; k < 3; ++k) {
        double v = c[6][k];
        for (int i = 5; i >= 0; --i) v = c[i][k] + t * v;
        rgb[k] = std::clamp(v, 0.0, 1.0);
    }
    return qRgb(int(rgb[0] * 255 + 0.5), int(rgb[1] * 255 + 0.5), int(rgb[2] * 255 + 0.5));
}

QImage renderPlane(const float *values, int h, int w, float lo, float hi)
{
    static QRgb lut[256];
    static bool init = false;
    if (!init) {
        for (int i = 0; i < 256; ++i) lut[i] = viridis(i / 255.0);
        init = true;
    }
    QImage img(w, h, QImage::Format_RGB32);
    const float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    for (int y = 0; y < h; ++y) {
        auto *row = reinterpret_cast<QRgb *>(img.scanLine(y));
        for (int x = 0; x < w; ++x) {
            const float v = values[y * w + x];
            if (std::isnan(v))
                row[x] = kNanColor;
            else if (std::isinf(v))
                row[x] = v > 0 ? kInfColor : qRgb(0, 0, 0);
            else
                row[x] = lut[std::clamp(int((v - lo) * scale + 0.5f), 0, 255)];
        }
    }
    return img;
}

QCPColorGradient viridisGradient()
{
    QCPColorGradient g;
    g.clearColorStops();
    for (int i = 0; i <= 16; ++i) g.setColorStopAt(i / 16.0, QColor(viridis(i / 16.0)));
    g.setNanHandling(QCPColorGradient::nhNanColor);
    g.setNanColor(QColor(kNanColor));
    return g;
}

QImage generatedPicture(const TensorValue &t, int64_t index)
{
    const Shape &s = t.shape();
    const int c = int(s[1]), h = int(s[2]), w = int(s[3]);
    QImage img(w, h, QImage::Format_RGB32);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            auto px = [&](int ch) {
                const float v = t.at(((index * c + std::min(ch, c - 1)) * h + y) * w + x);
                return int(std::clamp(std::isfinite(v) ? v * 255.0f + 0.5f : 0.0f, 0.0f, 255.0f));
            };
            img.setPixel(x, y, qRgb(px(0), px(1), px(2)));
        }
    return img;
}

}   // namespace pellucid
