#include "widgets/common/figure.h"

#include <QFile>
#include <QFileInfo>
#include <QPainter>
#include <QPdfWriter>
#include <QSvgGenerator>

#include <cmath>

namespace pellucid {
namespace {

constexpr double kPtPerMm = 72.0 / 25.4;

QString tempName(const QString &path)
{
    const QFileInfo fi(path);
    return fi.absolutePath() + "/." + fi.completeBaseName() + ".tmp-export." + fi.suffix();
}

void commit(const QString &tmp, const QString &path)
{
    if (QFile::exists(path) && !QFile::remove(path)) {
        QFile::remove(tmp);
        throw FigureError("Cannot replace " + path.toStdString());
    }
    if (!QFile::rename(tmp, path)) {
        QFile::remove(tmp);
        throw FigureError("Cannot write " + path.toStdString());
    }
}

}   // namespace

QFont FigureSettings::font(double scale) const
{
    QFont f(fontFamily);
    f.setPointSizeF(fontPt * scale);
    return f;
}

QSizeF figurePageMm(const FigureSource &source, const FigureSettings &s)
{
    const double w = s.widthMm > 0 ? s.widthMm : FigureSettings::kSingleColumnMm;
    if (s.heightMm > 0) return {w, s.heightMm};
    const double lineMm = s.fontPt * 1.5 / kPtPerMm;
    double h = w / std::max(0.1, source.figureAspect());
    if (!s.title.isEmpty()) h += lineMm * 1.4;
    if (!s.caption.isEmpty()) h += lineMm * (1.2 + std::ceil(double(s.caption.size()) * s.fontPt * 0.5 / kPtPerMm / w));
    return {w, h};
}

void paintFigurePage(QPainter &p, const FigureSource &source, const QSizeF &pageMm, const FigureSettings &s)
{
    const QRectF page(0, 0, pageMm.width() * kPtPerMm, pageMm.height() * kPtPerMm);
    p.fillRect(page, Qt::white);
    p.setPen(Qt::black);
    QRectF content = page;
    const double line = s.fontPt * 1.5;
    if (!s.title.isEmpty()) {
        p.setFont(s.font(1.2));
        const QRectF t(page.left(), page.top(), page.width(), line * 1.4);
        p.drawText(t, Qt::AlignHCenter | Qt::AlignVCenter, s.title);
        content.setTop(t.bottom());
    }
    if (!s.caption.isEmpty()) {
        p.setFont(s.font());
        const QRectF bound = p.boundingRect(QRectF(page.left(), 0, page.width(), 1e6), Qt::TextWordWrap | Qt::AlignLeft, s.caption);
        const QRectF c(page.left(), page.bottom() - bound.height() - 2, page.width(), bound.height() + 2);
        p.drawText(c, Qt::TextWordWrap | Qt::AlignLeft | Qt::AlignTop, s.caption);
        content.setBottom(c.top());
    }
    p.setFont(s.font());
    source.paintFigure(p, content, s);
}

QSizeF exportFigure(const FigureSource &source, const QString &path, const FigureSettings &s)
{
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix != "png" && suffix != "svg" && suffix != "pdf")
        throw FigureError("Unknown figure format '." + suffix.toStdString() + "' (use .png, .svg or .pdf)");
    const QFileInfo dir(QFileInfo(path).absolutePath());
    if (!dir.isDir() || !dir.isWritable()) throw FigureError("Cannot write " + path.toStdString() + ": the folder does not exist or is not writable");
    const QSizeF mm = figurePageMm(source, s);
    const QString tmp = tempName(path);
    if (suffix == "png") {
        const QSize px(int(std::lround(mm.width() / 25.4 * s.dpi)), int(std::lround(mm.height() / 25.4 * s.dpi)));
        QImage img(px, QImage::Format_ARGB32);
        // Paint in points: a 72-dpi device scaled by dpi/72, so fonts given in points come out right.
        img.setDotsPerMeterX(int(std::lround(72 / 0.0254)));
        img.setDotsPerMeterY(int(std::lround(72 / 0.0254)));
        img.fill(Qt::white);
        {
            QPainter p(&img);
            p.setRenderHint(QPainter::Antialiasing);
            p.setRenderHint(QPainter::TextAntialiasing);
            p.scale(s.dpi / 72.0, s.dpi / 72.0);   // paint in points
            paintFigurePage(p, source, mm, s);
        }
        img.setDotsPerMeterX(int(std::lround(s.dpi / 0.0254)));
        img.setDotsPerMeterY(int(std::lround(s.dpi / 0.0254)));
        if (!img.save(tmp, "PNG")) {
            QFile::remove(tmp);
            throw FigureError("Cannot write " + path.toStdString());
        }
    } else if (suffix == "svg") {
        QSvgGenerator gen;
        gen.setFileName(tmp);
        gen.setResolution(72);   // user units are points
        gen.setSize(QSize(int(std::ceil(mm.width() * kPtPerMm)), int(std::ceil(mm.height() * kPtPerMm))));
        gen.setViewBox(QRectF(0, 0, mm.width() * kPtPerMm, mm.height() * kPtPerMm));
        gen.setTitle(s.title);
        gen.setDescription(s.caption);
        QPainter p;
        if (!p.begin(&gen)) {
            QFile::remove(tmp);
            throw FigureError("Cannot write " + path.toStdString());
        }
        paintFigurePage(p, source, mm, s);
        p.end();
    } else {
        QPdfWriter pdf(tmp);
        pdf.setPageSize(QPageSize(mm, QPageSize::Millimeter, QString(), QPageSize::ExactMatch));
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
        pdf.setResolution(72);   // user units are points; embedded heat maps keep their own pixels
        pdf.setTitle(s.title);
        pdf.setCreator("Pellucid");
        QPainter p;
        if (!p.begin(&pdf)) {
            QFile::remove(tmp);
            throw FigureError("Cannot write " + path.toStdString());
        }
        paintFigurePage(p, source, mm, s);
        p.end();
    }
    if (!QFileInfo(tmp).exists() || QFileInfo(tmp).size() == 0) {
        QFile::remove(tmp);
        throw FigureError("Cannot write " + path.toStdString());
    }
    commit(tmp, path);
    return mm;
}

void paintColourStrip(QPainter &p, const QRectF &bar, const std::function<QRgb(double)> &colour)
{
    QImage strip(1, 256, QImage::Format_RGB32);
    for (int i = 0; i < 256; ++i) strip.setPixel(0, i, colour(1.0 - i / 255.0));
    p.setRenderHint(QPainter::SmoothPixmapTransform, true);
    p.drawImage(bar, strip);
    p.setPen(QPen(Qt::black, 0.4));
    p.setBrush(Qt::NoBrush);
    p.drawRect(bar);
}

void paintHeatmapPanel(QPainter &p, const QRectF &rect, const QImage &base, const QImage &overlay, double lo, double hi,
                       const std::function<QRgb(double)> &colour, const QString &title, const FigureSettings &s, bool showScale)
{
    const double line = s.fontPt * 1.4;
    QRectF area = rect;
    if (!title.isEmpty()) {
        p.setFont(s.font());
        p.setPen(Qt::black);
        p.drawText(QRectF(rect.left(), rect.top(), rect.width(), line), Qt::AlignLeft | Qt::AlignVCenter,
                   QFontMetricsF(s.font(), p.device()).elidedText(title, Qt::ElideRight, rect.width()));
        area.setTop(rect.top() + line);
    }
    // Room on the right for the colour bar and its labels (kept inside `rect`).
    const QFontMetricsF labelMetrics(s.font(0.85), p.device());
    const double labelsW =
        std::max(labelMetrics.horizontalAdvance(QString::number(hi, 'g', 3)), labelMetrics.horizontalAdvance(QString::number(lo, 'g', 3))) + 2;
    const double scaleW = showScale ? std::min(area.width() * 0.4, labelsW) : 0;
    const double barW = std::max(3.0, s.fontPt * 0.9), barGap = s.fontPt * 0.5;
    QRectF imgArea = area.adjusted(0, 0, showScale ? -(scaleW + barW + barGap + 1.5) : 0, 0);
    const QImage &ref = !base.isNull() ? base : overlay;
    if (ref.isNull()) return;
    QSizeF fit = QSizeF(ref.size()).scaled(imgArea.size(), Qt::KeepAspectRatio);
    const QRectF target(imgArea.left(), imgArea.top(), fit.width(), fit.height());
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    if (!base.isNull()) p.drawImage(target, base);
    if (!overlay.isNull()) {
        p.setRenderHint(QPainter::SmoothPixmapTransform, !base.isNull() && overlay.width() < base.width());
        p.drawImage(target, overlay);
    }
    if (!showScale) return;
    // Colour scale: a raster strip (the gradient) with vector frame and labels.
    const QRectF bar(target.right() + barGap, target.top(), barW, target.height());
    paintColourStrip(p, bar, colour);
    p.setFont(s.font(0.85));
    const double lh = s.fontPt;
    const QRectF labels(bar.right() + 1.5, bar.top() - lh / 2, scaleW, bar.height() + lh);
    p.drawText(QRectF(labels.left(), bar.top() - lh / 2, scaleW, lh), Qt::AlignLeft | Qt::AlignVCenter, QString::number(hi, 'g', 3));
    p.drawText(QRectF(labels.left(), bar.bottom() - lh / 2, scaleW, lh), Qt::AlignLeft | Qt::AlignVCenter, QString::number(lo, 'g', 3));
    if (lo < 0 && hi > 0) {
        const double y = bar.top() + bar.height() * hi / (hi - lo);
        p.drawText(QRectF(labels.left(), y - lh / 2, scaleW, lh), Qt::AlignLeft | Qt::AlignVCenter, "0");
    }
}

}   // namespace pellucid
