#pragma once
// Publication figures: every panel can paint itself into a figure of a physical size, and a figure is
// exported as PNG (at a DPI), or as vector SVG / PDF where text, axes and colour scales stay vector and heat
// maps stay raster at full resolution. Files are written to a temporary name and renamed, so a failed
// export never leaves a half-written file behind. Raw data goes beside the picture (.npy maps, .csv curves).
#include <QFont>
#include <QImage>
#include <QRectF>
#include <QString>

#include <functional>
#include <stdexcept>

class QPainter;

namespace pellucid {

struct FigureSettings {
    double widthMm = 89.0;   // journal presets: 89 mm single column, 183 mm double column
    double heightMm = 0.0;   // 0: from the content's aspect ratio
    int dpi = 300;           // PNG resolution (and the raster resolution of PDF pages)
    QString fontFamily = QStringLiteral("DejaVu Sans");
    double fontPt = 7.0;
    QString title;
    QString caption;

    static constexpr double kSingleColumnMm = 89.0;
    static constexpr double kDoubleColumnMm = 183.0;
    QFont font(double scale = 1.0) const;
};

class FigureError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Anything that can paint itself as a figure.
class FigureSource {
public:
    virtual ~FigureSource() = default;
    /// Width / height of the content (without title and caption).
    virtual double figureAspect() const { return 4.0 / 3.0; }
    /// Paints the content into `rect` (in points: 1/72 inch), fonts from `settings`.
    virtual void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const = 0;
    /// Writes the numbers behind the picture next to it: `base` + ".npy" / ".csv". Returns the files written.
    virtual QStringList writeRawData(const QString &base) const
    {
        Q_UNUSED(base);
        return {};
    }
};

/// Exports `source` to `path` (.png, .svg or .pdf by extension). Throws FigureError naming the problem
/// (unknown format, unwritable path). Returns the figure's size in millimetres.
QSizeF exportFigure(const FigureSource &source, const QString &path, const FigureSettings &settings);

/// Paints title, content and caption into a page of `pageMm` millimetres with the painter in points.
void paintFigurePage(QPainter &p, const FigureSource &source, const QSizeF &pageMm, const FigureSettings &settings);

/// The figure's page size in millimetres for these settings.
QSizeF figurePageMm(const FigureSource &source, const FigureSettings &settings);

/// A colour scale's gradient in `bar` (top: colour(1), bottom: colour(0)) as a raster strip with a vector
/// frame; the labels are the caller's.
void paintColourStrip(QPainter &p, const QRectF &bar, const std::function<QRgb(double)> &colour);

/// A heat map inside a figure: `base` (may be null) under `overlay`, with a vertical colour scale labelled
/// at its ends (and 0 when diverging), and a small title above. `colour(t)` maps t in [0, 1] to a colour.
void paintHeatmapPanel(QPainter &p, const QRectF &rect, const QImage &base, const QImage &overlay, double lo, double hi,
                       const std::function<QRgb(double)> &colour, const QString &title, const FigureSettings &settings, bool showScale = true);

}   // namespace pellucid
