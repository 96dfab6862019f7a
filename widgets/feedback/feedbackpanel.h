#pragma once
// The Feedback dock's panel: draw the region where the evidence should be, judge the current explanation,
// see every method against the mask at once; the table of annotations (filtered, jump back to an item,
// delete, merge, export); the report (each method's agreement with people, bars with 95 % intervals,
// exportable as a figure). Plain Qt: the feature (app/gui/features/feedbackfeature) does the storing.
#include "widgets/common/figure.h"
#include "widgets/common/maskeditor.h"

#include <QWidget>

#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTabWidget;
class QCheckBox;

namespace pellucid {

/// One method's figures against the mask on show.
struct MethodAgreementRow {
    QString method;
    double pointing = 0, energy = 0, iouTop = 0, auc = 0;
    QString error;
};

/// One row of the annotations table.
struct AnnotationRow {
    qint64 id = 0;
    QString kind, annotator, created, model, input, method, judgement, note;
};

/// One metric of the report: each method's mean with its 95 % interval.
struct ReportMetric {
    QString name;
    QStringList methods;
    std::vector<double> mean, lo, hi;
    std::vector<qint64> items;
};

/// The report's bars: one small panel per metric, methods in rows (best first), whiskers for the interval.
class ReportChart : public QWidget, public FigureSource {
    Q_OBJECT
public:
    explicit ReportChart(QWidget *parent = nullptr);
    void setMetrics(const std::vector<ReportMetric> &metrics, const QString &title);
    const std::vector<ReportMetric> &metrics() const { return mMetrics; }
    double figureAspect() const override;
    void paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const override;
    QStringList writeRawData(const QString &base) const override;
    QSize sizeHint() const override { return {520, 260}; }

protected:
    void paintEvent(QPaintEvent *) override;

private:
    void paintInto(QPainter &p, const QRectF &rect, const QFont &font) const;
    std::vector<ReportMetric> mMetrics;
    QString mTitle;
};

class FeedbackPanel : public QWidget {
    Q_OBJECT
public:
    explicit FeedbackPanel(QWidget *parent = nullptr);

    MaskEditor *editor() const { return mEditor; }
    ReportChart *reportChart() const { return mChart; }
    QTabWidget *tabs() const { return mTabs; }
    QTableWidget *agreementTable() const { return mAgreement; }
    QTableWidget *annotationTable() const { return mTable; }

    QString annotator() const;
    void setAnnotator(const QString &name);
    QString note() const;
    void clearNote();
    QStringList ratingFlags() const;
    bool overlayBackground() const;   // the mask is drawn over the attribution overlay (else the input)

    void setDatabase(const QString &path, qint64 annotations);
    /// What the verdict buttons judge ("Grad-CAM of class 7 (Sneaker)"); empty: no explanation on show.
    void setExplanation(const QString &description);
    void showAgreement(const std::vector<MethodAgreementRow> &rows, const QString &summary);
    void showAnnotations(const std::vector<AnnotationRow> &rows);
    void showReport(const std::vector<ReportMetric> &metrics, const QString &summary);
    void showMessage(const QString &message);
    QString message() const;
    qint64 selectedAnnotation() const;   // 0: none

signals:
    void saveMaskRequested();
    void verdictGiven(const QString &verdict);
    void agreementRequested();
    void reportRequested();
    void jumpRequested(qint64 id);
    void deleteRequested(qint64 id);
    void mergeRequested();
    void exportRequested();
    void openDatabaseRequested();
    void backgroundChanged();

private:
    QWidget *buildAnnotateTab();
    QWidget *buildTableTab();
    QWidget *buildReportTab();
    void applyFilters();

    QTabWidget *mTabs;
    MaskEditor *mEditor;
    QLabel *mDatabase, *mExplanation, *mMessage, *mAgreementSummary, *mReportSummary;
    QLineEdit *mAnnotator, *mNote;
    QComboBox *mBackground, *mFilterAnnotator, *mFilterKind, *mFilterModel, *mFilterMethod;
    QSpinBox *mBrush;
    QPushButton *mAgree, *mDisagree, *mUnsure;
    QList<QCheckBox *> mFlags;
    QTableWidget *mAgreement, *mTable;
    ReportChart *mChart;
    std::vector<AnnotationRow> mRows;
};

}   // namespace pellucid
