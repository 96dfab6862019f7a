#include "widgets/feedback/feedbackpanel.h"

#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QTextStream>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <set>

namespace pellucid {

namespace {

QTableWidgetItem *cell(const QString &text, Qt::Alignment align = Qt::AlignLeft | Qt::AlignVCenter)
{
    auto *item = new QTableWidgetItem(text);
    item->setFlags(item->flags() & ~Qt::ItemIsEditable);
    item->setTextAlignment(align);
    return item;
}

QString number(double v) { return std::isfinite(v) ? QString::number(v, 'f', 3) : QStringLiteral("–"); }

}   // namespace

// --- ReportChart ------------------------------------------------------------------------------------------

ReportChart::ReportChart(QWidget *parent) : QWidget(parent) { setMinimumHeight(160); }

void ReportChart::setMetrics(const std::vector<ReportMetric> &metrics, const QString &title)
{
    mMetrics = metrics;
    mTitle = title;
    updateGeometry();
    update();
}

double ReportChart::figureAspect() const
{
    const size_t rows = mMetrics.empty() ? 4 : size_t(mMetrics.front().methods.size());
    return std::clamp(2.6 * 8.0 / double(std::max<size_t>(rows, 4)), 1.0, 3.0);
}

void ReportChart::paintInto(QPainter &p, const QRectF &rect, const QFont &font) const
{
    p.save();
    p.setFont(font);
    const QFontMetricsF fm(font);
    if (mMetrics.empty() || mMetrics.front().methods.isEmpty()) {
        p.setPen(Qt::gray);
        p.drawText(rect, Qt::AlignCenter | Qt::TextWordWrap, tr("No report yet: annotate masks, then compute the report"));
        p.restore();
        return;
    }
    const QStringList &methods = mMetrics.front().methods;
    double labelW = 0;
    for (const QString &m : methods) labelW = std::max(labelW, fm.horizontalAdvance(m));
    labelW += fm.height() * 0.5;
    const double head = fm.height() * 1.4, foot = fm.height() * 1.3;
    const double rowH = (rect.height() - head - foot) / double(methods.size());
    const double gap = fm.height() * 0.8;
    const double panelW = (rect.width() - labelW - gap * double(mMetrics.size() - 1)) / double(mMetrics.size());
    p.setPen(palette().color(QPalette::WindowText));
    for (int i = 0; i < methods.size(); ++i)
        p.drawText(QRectF(rect.left(), rect.top() + head + rowH * i, labelW - fm.height() * 0.3, rowH), Qt::AlignRight | Qt::AlignVCenter,
                   methods[i]);
    for (size_t k = 0; k < mMetrics.size(); ++k) {
        const ReportMetric &m = mMetrics[k];
        const QRectF panel(rect.left() + labelW + double(k) * (panelW + gap), rect.top() + head, panelW, rowH * double(methods.size()));
        p.setPen(palette().color(QPalette::WindowText));
        p.drawText(QRectF(panel.left(), rect.top(), panel.width(), head), Qt::AlignCenter, m.name);
        // Axis 0 … 1 with a grid at 0.5.
        p.setPen(QPen(QColor(200, 200, 200), 0));
        for (double t : {0.0, 0.5, 1.0})
            p.drawLine(QPointF(panel.left() + t * panel.width(), panel.top()), QPointF(panel.left() + t * panel.width(), panel.bottom()));
        p.setPen(palette().color(QPalette::WindowText));
        for (double t : {0.0, 0.5, 1.0})
            p.drawText(QRectF(panel.left() + t * panel.width() - 20, panel.bottom() + 1, 40, foot), Qt::AlignHCenter | Qt::AlignTop,
                       QString::number(t, 'g', 2));
        for (int i = 0; i < m.methods.size() && size_t(i) < m.mean.size(); ++i) {
            const double v = m.mean[size_t(i)];
            if (!std::isfinite(v)) continue;
            const double y = panel.top() + rowH * i, h = rowH * 0.64, top = y + (rowH - h) / 2;
            const QRectF bar(panel.left(), top, std::clamp(v, 0.0, 1.0) * panel.width(), h);
            p.fillRect(bar, QColor(52, 120, 190));
            if (!std::isfinite(m.lo[size_t(i)]) || !std::isfinite(m.hi[size_t(i)])) continue;   // one item: no interval
            const double lo = std::clamp(m.lo[size_t(i)], 0.0, 1.0), hi = std::clamp(m.hi[size_t(i)], 0.0, 1.0);
            const double cy = top + h / 2;
            p.setPen(QPen(QColor(20, 20, 20), 0));
            p.drawLine(QPointF(panel.left() + lo * panel.width(), cy), QPointF(panel.left() + hi * panel.width(), cy));
            for (double e : {lo, hi})
                p.drawLine(QPointF(panel.left() + e * panel.width(), cy - h / 4), QPointF(panel.left() + e * panel.width(), cy + h / 4));
        }
        p.setPen(QPen(QColor(120, 120, 120), 0));
        p.drawRect(panel);
    }
    p.restore();
}

void ReportChart::paintFigure(QPainter &p, const QRectF &rect, const FigureSettings &settings) const { paintInto(p, rect, settings.font()); }

QStringList ReportChart::writeRawData(const QString &base) const
{
    QFile f(base + ".csv");
    if (!f.open(QIODevice::WriteOnly | QIODevice::Text)) return {};
    QTextStream out(&f);
    out << "metric,method,items,mean,ci95_lo,ci95_hi\n";
    for (const ReportMetric &m : mMetrics)
        for (int i = 0; i < m.methods.size(); ++i)
            out << m.name << ',' << m.methods[i] << ',' << (size_t(i) < m.items.size() ? m.items[size_t(i)] : 0) << ',' << m.mean[size_t(i)] << ','
                << m.lo[size_t(i)] << ',' << m.hi[size_t(i)] << '\n';
    return {base + ".csv"};
}

void ReportChart::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    p.setRenderHint(QPainter::Antialiasing, true);
    paintInto(p, QRectF(rect()).adjusted(6, 4, -10, -4), font());
}

// --- FeedbackPanel ----------------------------------------------------------------------------------------

FeedbackPanel::FeedbackPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    auto *top = new QHBoxLayout;
    mDatabase = new QLabel;
    mDatabase->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto *open = new QPushButton(tr("Database…"));
    open->setToolTip(tr("Open or create another feedback database"));
    connect(open, &QPushButton::clicked, this, &FeedbackPanel::openDatabaseRequested);
    top->addWidget(mDatabase, 1);
    top->addWidget(new QLabel(tr("Annotator:")));
    mAnnotator = new QLineEdit;
    mAnnotator->setMaximumWidth(140);
    top->addWidget(mAnnotator);
    top->addWidget(open);
    layout->addLayout(top);
    mTabs = new QTabWidget;
    mTabs->addTab(buildAnnotateTab(), tr("Annotate"));
    mTabs->addTab(buildTableTab(), tr("Annotations"));
    mTabs->addTab(buildReportTab(), tr("Report"));
    layout->addWidget(mTabs, 1);
    mMessage = new QLabel;
    mMessage->setWordWrap(true);
    mMessage->setObjectName("feedbackMessage");
    layout->addWidget(mMessage);
}

QWidget *FeedbackPanel::buildAnnotateTab()
{
    auto *w = new QWidget;
    auto *h = new QHBoxLayout(w);
    mEditor = new MaskEditor;
    h->addWidget(mEditor, 3);
    auto *side = new QVBoxLayout;
    auto *tools = new QHBoxLayout;
    auto *group = new QButtonGroup(w);
    const std::pair<QString, MaskEditor::Tool> kinds[] = {
        {tr("Brush"), MaskEditor::Tool::Brush}, {tr("Eraser"), MaskEditor::Tool::Eraser}, {tr("Polygon"), MaskEditor::Tool::Polygon}};
    for (const auto &[name, tool] : kinds) {
        auto *b = new QToolButton;
        b->setText(name);
        b->setCheckable(true);
        b->setChecked(tool == MaskEditor::Tool::Brush);
        b->setObjectName("tool" + name);
        group->addButton(b);
        connect(b, &QToolButton::toggled, this, [this, tool = tool](bool on) {
            if (on) mEditor->setTool(tool);
        });
        tools->addWidget(b);
    }
    side->addLayout(tools);
    auto *form = new QFormLayout;
    mBrush = new QSpinBox;
    mBrush->setRange(0, 64);
    mBrush->setValue(mEditor->brushRadius());
    mBrush->setSuffix(tr(" px"));
    connect(mBrush, &QSpinBox::valueChanged, mEditor, &MaskEditor::setBrushRadius);
    form->addRow(tr("Brush radius"), mBrush);
    mBackground = new QComboBox;
    mBackground->addItems({tr("Input"), tr("Attribution overlay")});
    connect(mBackground, &QComboBox::currentIndexChanged, this, &FeedbackPanel::backgroundChanged);
    form->addRow(tr("Draw over"), mBackground);
    side->addLayout(form);
    auto *maskButtons = new QHBoxLayout;
    auto *clear = new QPushButton(tr("Clear"));
    connect(clear, &QPushButton::clicked, mEditor, &MaskEditor::clear);
    auto *save = new QPushButton(tr("Save mask"));
    save->setObjectName("saveMask");
    connect(save, &QPushButton::clicked, this, &FeedbackPanel::saveMaskRequested);
    auto *compare = new QPushButton(tr("All methods"));
    compare->setToolTip(tr("Every method's map of this input against the mask"));
    compare->setObjectName("compareMethods");
    connect(compare, &QPushButton::clicked, this, &FeedbackPanel::agreementRequested);
    maskButtons->addWidget(clear);
    maskButtons->addWidget(save);
    maskButtons->addWidget(compare);
    side->addLayout(maskButtons);

    auto *verdict = new QGroupBox(tr("Verdict on the explanation"));
    auto *vl = new QVBoxLayout(verdict);
    mExplanation = new QLabel(tr("no explanation on show"));
    mExplanation->setWordWrap(true);
    vl->addWidget(mExplanation);
    auto *vb = new QHBoxLayout;
    mAgree = new QPushButton(tr("Agree"));
    mDisagree = new QPushButton(tr("Disagree"));
    mUnsure = new QPushButton(tr("Unsure"));
    for (auto [b, v] : {std::pair{mAgree, "agree"}, std::pair{mDisagree, "disagree"}, std::pair{mUnsure, "unsure"}}) {
        b->setObjectName(QString("verdict_") + v);
        connect(b, &QPushButton::clicked, this, [this, v = QString(v)] { emit verdictGiven(v); });
        vb->addWidget(b);
    }
    vl->addLayout(vb);
    mNote = new QLineEdit;
    mNote->setPlaceholderText(tr("note (kept with the next mask, verdict or rating)"));
    vl->addWidget(mNote);
    side->addWidget(verdict);

    auto *rating = new QGroupBox(tr("Ratings of generated samples"));
    auto *rl = new QVBoxLayout(rating);
    auto *hint = new QLabel(tr("In the Latent and Generation docks, keys 1–5 rate the sample on show (the gallery: the image under the mouse)."));
    hint->setWordWrap(true);
    rl->addWidget(hint);
    auto *flags = new QHBoxLayout;
    for (const QString &f : {tr("artefact"), tr("wrong class"), tr("blurry"), tr("off-topic")}) {
        auto *c = new QCheckBox(f);
        mFlags << c;
        flags->addWidget(c);
    }
    rl->addLayout(flags);
    side->addWidget(rating);

    mAgreementSummary = new QLabel;
    mAgreementSummary->setWordWrap(true);
    side->addWidget(mAgreementSummary);
    mAgreement = new QTableWidget(0, 5);
    mAgreement->setHorizontalHeaderLabels({tr("Method"), tr("Pointing"), tr("Energy"), tr("IoU top 10 %"), tr("ROC-AUC")});
    mAgreement->verticalHeader()->hide();
    mAgreement->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    mAgreement->setSelectionMode(QAbstractItemView::NoSelection);
    side->addWidget(mAgreement, 1);
    h->addLayout(side, 4);
    setExplanation({});
    return w;
}

QWidget *FeedbackPanel::buildTableTab()
{
    auto *w = new QWidget;
    auto *v = new QVBoxLayout(w);
    auto *filters = new QHBoxLayout;
    mFilterKind = new QComboBox;
    mFilterAnnotator = new QComboBox;
    mFilterModel = new QComboBox;
    mFilterMethod = new QComboBox;
    for (auto [label, box] : {std::pair{tr("Kind"), mFilterKind}, std::pair{tr("Annotator"), mFilterAnnotator}, std::pair{tr("Model"), mFilterModel},
                              std::pair{tr("Method"), mFilterMethod}}) {
        filters->addWidget(new QLabel(label));
        box->setObjectName("filter" + label);
        box->setMinimumWidth(90);
        connect(box, &QComboBox::currentIndexChanged, this, &FeedbackPanel::applyFilters);
        filters->addWidget(box);
    }
    filters->addStretch(1);
    v->addLayout(filters);
    mTable = new QTableWidget(0, 9);
    mTable->setHorizontalHeaderLabels(
        {tr("#"), tr("Kind"), tr("Annotator"), tr("When"), tr("Model"), tr("Input"), tr("Method"), tr("Judgement"), tr("Note")});
    mTable->verticalHeader()->hide();
    mTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    mTable->setSelectionMode(QAbstractItemView::SingleSelection);
    mTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    mTable->horizontalHeader()->setStretchLastSection(true);
    connect(mTable, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
        if (auto *item = mTable->item(row, 0)) emit jumpRequested(item->text().toLongLong());
    });
    v->addWidget(mTable, 1);
    auto *buttons = new QHBoxLayout;
    auto *jump = new QPushButton(tr("Open item"));
    jump->setToolTip(tr("Open the annotated model and input with the explanation's parameters"));
    connect(jump, &QPushButton::clicked, this, [this] {
        if (const qint64 id = selectedAnnotation()) emit jumpRequested(id);
    });
    auto *remove = new QPushButton(tr("Delete"));
    connect(remove, &QPushButton::clicked, this, [this] {
        if (const qint64 id = selectedAnnotation()) emit deleteRequested(id);
    });
    auto *merge = new QPushButton(tr("Merge…"));
    merge->setToolTip(tr("Copy another annotator's database into this one (rows already here are skipped)"));
    connect(merge, &QPushButton::clicked, this, &FeedbackPanel::mergeRequested);
    auto *exp = new QPushButton(tr("Export…"));
    connect(exp, &QPushButton::clicked, this, &FeedbackPanel::exportRequested);
    for (QPushButton *b : {jump, remove, merge, exp}) buttons->addWidget(b);
    buttons->addStretch(1);
    v->addLayout(buttons);
    return w;
}

QWidget *FeedbackPanel::buildReportTab()
{
    auto *w = new QWidget;
    auto *v = new QVBoxLayout(w);
    auto *row = new QHBoxLayout;
    auto *compute = new QPushButton(tr("Compute report"));
    compute->setObjectName("computeReport");
    compute->setToolTip(tr("Every method's map on every masked input (the model's predicted class, default parameters)"));
    connect(compute, &QPushButton::clicked, this, &FeedbackPanel::reportRequested);
    row->addWidget(compute);
    mReportSummary = new QLabel;
    mReportSummary->setWordWrap(true);
    row->addWidget(mReportSummary, 1);
    v->addLayout(row);
    mChart = new ReportChart;
    v->addWidget(mChart, 1);
    return w;
}

QString FeedbackPanel::annotator() const { return mAnnotator->text().trimmed(); }
void FeedbackPanel::setAnnotator(const QString &name) { mAnnotator->setText(name); }
QString FeedbackPanel::note() const { return mNote->text().trimmed(); }
void FeedbackPanel::clearNote() { mNote->clear(); }
bool FeedbackPanel::overlayBackground() const { return mBackground->currentIndex() == 1; }

QStringList FeedbackPanel::ratingFlags() const
{
    QStringList out;
    for (QCheckBox *c : mFlags)
        if (c->isChecked()) out << c->text();
    return out;
}

void FeedbackPanel::setDatabase(const QString &path, qint64 annotations)
{
    mDatabase->setText(tr("%1 — %n annotation(s)", nullptr, int(annotations)).arg(path));
    mDatabase->setToolTip(path);
}

void FeedbackPanel::setExplanation(const QString &description)
{
    mExplanation->setText(description.isEmpty() ? tr("No explanation on show: the Attribution dock's main view is judged") : description);
    for (QPushButton *b : {mAgree, mDisagree, mUnsure}) b->setEnabled(!description.isEmpty());
}

void FeedbackPanel::showAgreement(const std::vector<MethodAgreementRow> &rows, const QString &summary)
{
    mAgreementSummary->setText(summary);
    mAgreement->clearSpans();
    mAgreement->setRowCount(0);
    mAgreement->setRowCount(int(rows.size()));
    for (int i = 0; i < int(rows.size()); ++i) {
        const MethodAgreementRow &r = rows[size_t(i)];
        mAgreement->setItem(i, 0, cell(r.method));
        if (!r.error.isEmpty()) {
            mAgreement->setItem(i, 1, cell(r.error));
            mAgreement->setSpan(i, 1, 1, 4);
            continue;
        }
        const double values[] = {r.pointing, r.energy, r.iouTop, r.auc};
        for (int k = 0; k < 4; ++k) mAgreement->setItem(i, 1 + k, cell(number(values[k]), Qt::AlignRight | Qt::AlignVCenter));
    }
}

void FeedbackPanel::showAnnotations(const std::vector<AnnotationRow> &rows)
{
    mRows = rows;
    auto refill = [](QComboBox *box, const std::set<QString> &values) {
        const QString keep = box->currentText();
        const QSignalBlocker block(box);
        box->clear();
        box->addItem(tr("all"));
        for (const QString &v : values)
            if (!v.isEmpty()) box->addItem(v);
        const int at = box->findText(keep);
        box->setCurrentIndex(at >= 0 ? at : 0);
    };
    std::set<QString> kinds, annotators, models, methods;
    for (const AnnotationRow &r : rows) {
        kinds.insert(r.kind);
        annotators.insert(r.annotator);
        models.insert(r.model);
        methods.insert(r.method);
    }
    refill(mFilterKind, kinds);
    refill(mFilterAnnotator, annotators);
    refill(mFilterModel, models);
    refill(mFilterMethod, methods);
    applyFilters();
}

void FeedbackPanel::applyFilters()
{
    auto keeps = [](QComboBox *box, const QString &v) { return box->currentIndex() <= 0 || box->currentText() == v; };
    mTable->setRowCount(0);
    for (const AnnotationRow &r : mRows) {
        if (!keeps(mFilterKind, r.kind) || !keeps(mFilterAnnotator, r.annotator) || !keeps(mFilterModel, r.model) || !keeps(mFilterMethod, r.method))
            continue;
        const int i = mTable->rowCount();
        mTable->insertRow(i);
        const QString values[] = {QString::number(r.id), r.kind, r.annotator, r.created, r.model, r.input, r.method, r.judgement, r.note};
        for (int k = 0; k < 9; ++k) mTable->setItem(i, k, cell(values[k]));
    }
}

qint64 FeedbackPanel::selectedAnnotation() const
{
    const auto rows = mTable->selectionModel()->selectedRows();
    if (rows.isEmpty()) return 0;
    const QTableWidgetItem *item = mTable->item(rows.first().row(), 0);
    return item ? item->text().toLongLong() : 0;
}

void FeedbackPanel::showReport(const std::vector<ReportMetric> &metrics, const QString &summary)
{
    mReportSummary->setText(summary);
    mChart->setMetrics(metrics, summary);
}

void FeedbackPanel::showMessage(const QString &message) { mMessage->setText(message); }
QString FeedbackPanel::message() const { return mMessage->text(); }

}   // namespace pellucid
