#include "app/gui/features/feedbackfeature.h"

#include "app/feedback/report.h"
#include "app/feedback/store.h"
#include "app/io/dataset.h"
#include "engine/attribution/methods.h"
#include "engine/core/errors.h"
#include "engine/core/npy.h"
#include "widgets/attribution/attributionview.h"
#include "widgets/feedback/feedbackpanel.h"

#include <QAction>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QSettings>
#include <QTemporaryDir>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>

namespace pellucid {

namespace {

struct AgreementOutput : JobOutput {
    std::vector<MethodAgreementRow> rows;
    int64_t area = 0;
};
struct ReportOutput : JobOutput {
    feedback::Report report;
};

std::vector<uint8_t> readBytes(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    const QByteArray b = f.readAll();
    return std::vector<uint8_t>(b.begin(), b.end());
}

/// The SHA-256 of a model file, computed once per path, size and time.
std::string modelSha(const QString &path)
{
    static std::map<QString, std::pair<QString, std::string>> cache;
    const QFileInfo info(path);
    const QString stamp = QString("%1/%2").arg(info.size()).arg(info.lastModified().toMSecsSinceEpoch());
    auto it = cache.find(path);
    if (it != cache.end() && it->second.first == stamp) return it->second.second;
    const std::string sha = feedback::sha256File(path.toStdString());
    cache[path] = {stamp, sha};
    return sha;
}

/// The input under the attribution map, as the overlay shows it (diverging colours, 99.5th percentile bound).
QImage overlayPicture(const TensorValue &input, const TensorValue &map)
{
    QImage base = inputPicture(input).convertToFormat(QImage::Format_RGB32);
    int h = 0, w = 0;
    const QVector<float> plane = reducePlane(map, SignMode::All, h, w);
    if (base.isNull() || h <= 0 || w <= 0) return base;
    const double bound = std::max(1e-12, percentileBound(plane, 99.5));
    QImage heat(w, h, QImage::Format_RGB32);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) heat.setPixel(x, y, divergingColor(std::clamp(double(plane[y * w + x]) / bound, -1.0, 1.0)));
    heat = heat.scaled(base.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
    for (int y = 0; y < base.height(); ++y) {
        auto *b = reinterpret_cast<QRgb *>(base.scanLine(y));
        const auto *c = reinterpret_cast<const QRgb *>(heat.constScanLine(y));
        for (int x = 0; x < base.width(); ++x)
            b[x] = qRgb(int(0.4 * qRed(b[x]) + 0.6 * qRed(c[x])), int(0.4 * qGreen(b[x]) + 0.6 * qGreen(c[x])),
                        int(0.4 * qBlue(b[x]) + 0.6 * qBlue(c[x])));
    }
    return base;
}

QString annotatorDefault()
{
    const QString saved = QSettings().value("feedback/annotator").toString();
    if (!saved.isEmpty()) return saved;
    for (const char *var : {"PELLUCID_ANNOTATOR", "USER", "LOGNAME"})
        if (!qEnvironmentVariable(var).isEmpty()) return qEnvironmentVariable(var);
    return QStringLiteral("anonymous");
}

std::vector<ReportMetric> metricsOf(const feedback::Report &r)
{
    std::vector<ReportMetric> out(4);
    const char *names[] = {"pointing game", "energy pointing", "IoU top 10 %", "ROC-AUC"};
    for (size_t k = 0; k < 4; ++k) out[k].name = QObject::tr(names[k]);
    if (r.topPercent != 10) out[2].name = QObject::tr("IoU top %1 %").arg(r.topPercent);
    for (const feedback::MethodReport &m : r.methods) {
        if (m.items == 0) continue;
        const MeanInterval *v[] = {&m.pointing, &m.energy, &m.iouTop, &m.auc};
        for (size_t k = 0; k < 4; ++k) {
            out[k].methods << QString::fromStdString(m.method);
            out[k].mean.push_back(v[k]->mean);
            out[k].lo.push_back(v[k]->lo);
            out[k].hi.push_back(v[k]->hi);
            out[k].items.push_back(m.items);
        }
    }
    return out;
}

}   // namespace

FeedbackFeature::FeedbackFeature(Workspace *workspace, QMainWindow *window) : Feature(workspace, window)
{
    mPanel = new FeedbackPanel;
    mDock = addDock(tr("Feedback"), "FeedbackDock", mPanel);
    mPanel->setAnnotator(annotatorDefault());
    const QString path = QSettings().value("feedback/database", QString::fromStdString(feedback::defaultDatabasePath())).toString();
    mPanel->setDatabase(path + tr(" (opened when first used)"), 0);
    mPanel->setProperty("databasePath", path);

    connect(mWorkspace, &Workspace::inputChanged, this, [this](InputOrigin origin) {
        if (origin == InputOrigin::Live || origin == InputOrigin::Text) return;
        mExplanation.reset();
        mPanel->setExplanation({});
        refreshBackground();
        mPanel->editor()->clear();
    });
    connect(mWorkspace, &Workspace::modelChanged, this, [this](std::shared_ptr<const ModelSummary>) {
        mExplanation.reset();
        mPanel->setExplanation({});
    });
    connect(mWorkspace, &Workspace::attributionArrived, this, [this](const std::string &view, std::shared_ptr<const AttributionResult> r) {
        if (view != "attribution" || r->partial || r->inputId != mWorkspace->inputId()) return;
        mExplanation = r;
        mExplanationParams = mWorkspace->attributionParams();
        mExplanationParams.method = r->method;
        const bool layered = needsLayer(r->method) && !r->layer.empty();
        if (layered) mExplanationParams.layer = r->layer;
        QString target = QString::number(r->targetClass);
        if (const auto s = mWorkspace->model(); s && size_t(r->targetClass) < s->metadata.labels.size())
            target += " (" + QString::fromStdString(s->metadata.labels[size_t(r->targetClass)]) + ")";
        mPanel->setExplanation(tr("%1 of class %2%3")
                                   .arg(QString::fromStdString(methodInfo(r->method).displayName), target,
                                        !layered ? QString() : tr(" at %1").arg(QString::fromStdString(r->layer))));
        if (mPanel->overlayBackground()) refreshBackground();
    });
    connect(mWorkspace, &Workspace::sampleRated, this, &FeedbackFeature::rate);
    connect(mPanel, &FeedbackPanel::saveMaskRequested, this, &FeedbackFeature::saveMask);
    connect(mPanel, &FeedbackPanel::verdictGiven, this, &FeedbackFeature::giveVerdict);
    connect(mPanel, &FeedbackPanel::agreementRequested, this, &FeedbackFeature::computeAgreement);
    connect(mPanel, &FeedbackPanel::reportRequested, this, &FeedbackFeature::computeReport);
    connect(mPanel, &FeedbackPanel::jumpRequested, this, &FeedbackFeature::jumpTo);
    connect(mPanel, &FeedbackPanel::backgroundChanged, this, &FeedbackFeature::refreshBackground);
    connect(mPanel, &FeedbackPanel::deleteRequested, this, [this](qint64 id) {
        if (!ensureStore()) return;
        try {
            mStore->remove(id);
            refreshTable();
        } catch (const std::exception &e) {
            fail(QString::fromStdString(e.what()));
        }
    });
    connect(mPanel, &FeedbackPanel::openDatabaseRequested, this, [this] {
        const QString path =
            QFileDialog::getSaveFileName(mWindow, tr("Open or create a feedback database"), databasePath(),
                                         tr("Feedback databases (*.sqlite *.db);;All files (*)"), nullptr, QFileDialog::DontConfirmOverwrite);
        if (!path.isEmpty()) openDatabase(path);
    });
    connect(mPanel, &FeedbackPanel::mergeRequested, this, [this] {
        const QString path = QFileDialog::getOpenFileName(mWindow, tr("Merge another feedback database"), QFileInfo(databasePath()).absolutePath(),
                                                          tr("Feedback databases (*.sqlite *.db);;All files (*)"));
        if (!path.isEmpty()) mergeFrom(path);
    });
    connect(mPanel, &FeedbackPanel::exportRequested, this, [this] {
        const QString path =
            QFileDialog::getSaveFileName(mWindow, tr("Export annotations"), QDir::homePath() + "/feedback.csv", tr("CSV (*.csv);;JSON (*.json)"));
        if (!path.isEmpty()) exportTo(path);
    });
    connect(mPanel->tabs(), &QTabWidget::currentChanged, this, [this](int tab) {
        if (tab == 1 && ensureStore()) refreshTable();
    });
}

FeedbackFeature::~FeedbackFeature() = default;

void FeedbackFeature::placeDocks(DockLayout &layout) { layout.tab(mDock); }

void FeedbackFeature::addActions(Menus &menus)
{
    QAction *open = menus.file->addAction(tr("Feedback database…"));
    connect(open, &QAction::triggered, mPanel, &FeedbackPanel::openDatabaseRequested);
}

QList<QPair<QString, const FigureSource *>> FeedbackFeature::figures() const { return {{"feedback report", mPanel->reportChart()}}; }

QString FeedbackFeature::databasePath() const
{
    return mStore ? QString::fromStdString(mStore->path()) : mPanel->property("databasePath").toString();
}

bool FeedbackFeature::fail(const QString &message)
{
    mPanel->showMessage(message);
    mWorkspace->showError(message);
    return false;
}

bool FeedbackFeature::openDatabase(const QString &path)
{
    try {
        auto store = std::make_unique<feedback::Store>(path.toStdString());
        mStore = std::move(store);   // the previous one stays open when the new one is refused
    } catch (const std::exception &e) {
        return fail(QString::fromStdString(e.what()));
    }
    mPanel->setProperty("databasePath", path);
    QSettings().setValue("feedback/database", path);
    mPanel->showMessage(tr("Feedback database %1").arg(path));
    refreshTable();
    return true;
}

bool FeedbackFeature::ensureStore()
{
    if (mStore) return true;
    return openDatabase(mPanel->property("databasePath").toString());
}

void FeedbackFeature::refreshBackground()
{
    const TensorValue &x = mWorkspace->input();
    if (x.shape().size() != 4 || x.dim(0) != 1) {
        mPanel->editor()->setBackground(QImage());
        return;
    }
    const bool overlay = mPanel->overlayBackground() && mExplanation && mExplanation->inputId == mWorkspace->inputId();
    mPanel->editor()->setBackground(overlay ? overlayPicture(x, mExplanation->map) : inputPicture(x));
}

void FeedbackFeature::refreshTable()
{
    if (!mStore) return;
    try {
        std::vector<AnnotationRow> rows;
        for (const feedback::Annotation &a : mStore->annotations()) {
            AnnotationRow r;
            r.id = a.id;
            r.kind = QString::fromStdString(a.kind);
            r.annotator = QString::fromStdString(a.annotator);
            r.created = QDateTime::fromString(QString::fromStdString(a.created), Qt::ISODateWithMs).toLocalTime().toString("yyyy-MM-dd hh:mm");
            r.model = QFileInfo(QString::fromStdString(a.modelPath)).fileName();
            r.input = QFileInfo(QString::fromStdString(a.inputPath)).fileName();
            r.method = QString::fromStdString(a.method);
            if (a.kind == "mask") {
                r.judgement = tr("%1 px").arg(std::count(a.mask.begin(), a.mask.end(), uint8_t(1)));
            } else if (a.kind == "verdict") {
                r.judgement = QString::fromStdString(a.verdict);
            } else {
                r.judgement = tr("%1/5 (%2)").arg(a.rating).arg(QString::fromStdString(a.source));
                r.input = QString::fromStdString(a.source);
                for (const std::string &f : a.flags) r.judgement += ", " + QString::fromStdString(f);
            }
            r.note = QString::fromStdString(a.note);
            rows.push_back(std::move(r));
        }
        mPanel->showAnnotations(rows);
        mPanel->setDatabase(QString::fromStdString(mStore->path()), qint64(rows.size()));
    } catch (const std::exception &e) {
        fail(QString::fromStdString(e.what()));
    }
}

feedback::Annotation FeedbackFeature::newAnnotation(const char *kind, std::vector<uint8_t> *inputBytes) const
{
    feedback::Annotation a;
    a.kind = kind;
    const QString modelPath = QString::fromStdString(mWorkspace->model()->path);
    a.modelSha = modelSha(modelPath);
    a.modelPath = modelPath.toStdString();
    a.annotator = mPanel->annotator().toStdString();
    if (a.annotator.empty()) throw Error(ErrorCode::BadInput, tr("Give the annotator's name first").toStdString());
    a.note = mPanel->note().toStdString();
    if (inputBytes) {
        QString inputPath = mWorkspace->imagePath();
        *inputBytes = QFileInfo(inputPath).isFile() ? readBytes(inputPath) : std::vector<uint8_t>{};
        if (inputBytes->empty()) {   // a drawing or a tensor: kept as the .npy of the model's input
            QTemporaryDir dir;
            const QString npy = dir.filePath("input.npy");
            writeNpy(npy.toStdString(), mWorkspace->input());
            *inputBytes = readBytes(npy);
            inputPath = mWorkspace->inputName().isEmpty() ? QStringLiteral("drawing.npy") : mWorkspace->inputName() + ".npy";
        }
        a.inputSha = feedback::sha256Bytes(inputBytes->data(), inputBytes->size());
        a.inputPath = inputPath.toStdString();
    }
    return a;
}

void FeedbackFeature::nameExplanation(feedback::Annotation &a) const
{
    a.method = methodName(mExplanation->method);
    a.params = attributionParamsToJson(mExplanationParams).dump();
    a.target = mExplanation->targetClass;
    a.mapSha = feedback::sha256Bytes(mExplanation->map.data(), size_t(mExplanation->map.numel()) * sizeof(float));
}

bool FeedbackFeature::saveMask()
{
    MaskEditor *ed = mPanel->editor();
    if (!mWorkspace->hasModel()) return fail(tr("Open a model first: a mask belongs to a model's input"));
    if (ed->maskWidth() == 0) return fail(tr("Open an image input first, then draw where the evidence should be"));
    if (ed->area() == 0) return fail(tr("The mask is empty: draw the region with the brush or the polygon"));
    if (mWorkspace->live()) return fail(tr("Stop live input first: a mask belongs to one still input"));
    if (!ensureStore()) return false;
    try {
        std::vector<uint8_t> bytes;
        feedback::Annotation a = newAnnotation("mask", &bytes);
        a.maskWidth = ed->maskWidth();
        a.maskHeight = ed->maskHeight();
        a.mask = ed->mask();
        if (mPanel->overlayBackground() && mExplanation) nameExplanation(a);   // drawn over this explanation: named with it
        mStore->add(a, {{a.inputSha, a.inputPath, bytes}});
        QSettings().setValue("feedback/annotator", mPanel->annotator());
        mPanel->clearNote();
        mPanel->showMessage(tr("Saved mask #%1 (%2 px) of %3 by %4")
                                .arg(a.id)
                                .arg(ed->area())
                                .arg(QFileInfo(QString::fromStdString(a.inputPath)).fileName(), mPanel->annotator()));
        refreshTable();
        emit feedbackShown("saved");
        return true;
    } catch (const std::exception &e) {
        return fail(QString::fromStdString(e.what()));
    }
}

bool FeedbackFeature::giveVerdict(const QString &verdict)
{
    if (!mExplanation || mExplanation->inputId != mWorkspace->inputId()) return fail(tr("No explanation of this input on show to judge"));
    if (!ensureStore()) return false;
    try {
        std::vector<uint8_t> bytes;
        feedback::Annotation a = newAnnotation("verdict", &bytes);
        a.verdict = verdict.toStdString();
        nameExplanation(a);
        mStore->add(a, {{a.inputSha, a.inputPath, bytes}});
        mPanel->clearNote();
        mPanel->showMessage(tr("Verdict #%1: %2 with %3").arg(a.id).arg(verdict, QString::fromStdString(a.method)));
        refreshTable();
        emit feedbackShown("verdict");
        return true;
    } catch (const std::exception &e) {
        return fail(QString::fromStdString(e.what()));
    }
}

bool FeedbackFeature::rate(const QString &source, int rating, const QString &sample)
{
    if (!mWorkspace->hasModel()) return fail(tr("No model: nothing generated to rate"));
    if (!ensureStore()) return false;
    try {
        feedback::Annotation a = newAnnotation("rating", nullptr);
        a.rating = rating;
        a.source = source.toStdString();
        a.sample = sample.toStdString();
        for (const QString &f : mPanel->ratingFlags()) a.flags.push_back(f.toStdString());
        mStore->add(a);
        mPanel->clearNote();
        mPanel->showMessage(tr("Rated the %1 sample %2/5 (#%3)").arg(source).arg(rating).arg(a.id));
        mWorkspace->showStatus(tr("Rated %1/5").arg(rating), 2000);
        refreshTable();
        emit feedbackShown("rating");
        return true;
    } catch (const std::exception &e) {
        return fail(QString::fromStdString(e.what()));
    }
}

void FeedbackFeature::computeAgreement()
{
    MaskEditor *ed = mPanel->editor();
    if (!mWorkspace->hasModel() || ed->maskWidth() == 0) {
        fail(tr("Open a model and an image input first"));
        return;
    }
    if (ed->area() == 0) {
        fail(tr("The mask is empty: draw the region first"));
        return;
    }
    const TensorValue x = mWorkspace->input();
    const PixelMask mask(ed->mask().begin(), ed->mask().end());
    const int64_t area = ed->area();
    mPanel->showMessage(tr("Every method against the mask…"));
    mBridge->run<AgreementOutput>(
        &mAgreementSlot, this,
        [x, mask, area](JobContext &ctx) {
            auto out = std::make_shared<AgreementOutput>();
            out->area = area;
            const ModelSummary &s = ctx.model().summary();
            const auto &methods = allMethods();
            for (size_t i = 0; i < methods.size(); ++i) {
                ctx.throwIfCancelled();
                ctx.progress(int64_t(i), int64_t(methods.size()), "methods against the mask");
                MethodAgreementRow row;
                row.method = QString::fromStdString(methodInfo(methods[i]).displayName);
                try {
                    const auto r = explainInput(ctx.model(), x, feedback::defaultReportParams(methods[i], s));
                    const MaskAgreement g = maskAgreement(pixelSaliency(r->map, x.dim(2), x.dim(3)), mask, 10);
                    row.pointing = g.pointing;
                    row.energy = g.energy;
                    row.iouTop = g.iouTop;
                    row.auc = g.auc;
                } catch (const Error &e) {
                    if (e.code() == ErrorCode::Cancelled) throw;
                    row.error = QString::fromStdString(e.what());
                } catch (const std::exception &e) {
                    row.error = QString::fromStdString(e.what());
                }
                out->rows.push_back(row);
            }
            std::stable_sort(out->rows.begin(), out->rows.end(), [](const MethodAgreementRow &a, const MethodAgreementRow &b) {
                if (a.error.isEmpty() != b.error.isEmpty()) return a.error.isEmpty();
                return a.pointing != b.pointing ? a.pointing > b.pointing : a.energy > b.energy;
            });
            return out;
        },
        [this](std::shared_ptr<const AgreementOutput> r) {
            mPanel->showAgreement(r->rows,
                                  tr("Every method's map of this input (the predicted class, default parameters) against the mask of %1 px, "
                                     "best pointing game first")
                                      .arg(r->area));
            mPanel->showMessage({});
            emit feedbackShown("agreement");
        });
}

void FeedbackFeature::computeReport()
{
    if (!ensureStore()) return;
    const std::string path = mStore->path();
    mPanel->showMessage(tr("Computing the report…"));
    TaskHooks<ReportOutput> hooks;
    hooks.failed = [this](const QString &message) { mPanel->showMessage(message); };
    mBridge->run<ReportOutput>(
        &mReportSlot, this,
        [path, real = mWorkspace->dataset()](JobContext &ctx) {
            auto out = std::make_shared<ReportOutput>();
            const feedback::Store store(path, true);   // this thread's own connection
            feedback::ReportOptions o;
            o.real = real.get();   // the open dataset, for the rated samples' Fréchet distance
            out->report = feedback::feedbackReport(store, o, sinkOf(ctx));
            return out;
        },
        [this](std::shared_ptr<const ReportOutput> r) {
            const feedback::Report &rep = r->report;
            QString summary =
                tr("%n mask(s), methods ranked by pointing game; bars: means over items, whiskers: 95 % intervals", nullptr, int(rep.maskItems));
            if (rep.maskPairs)
                summary += tr("; masks of two annotators on one input agree with IoU %1 (%2 pairs)").arg(rep.maskIoU, 0, 'f', 2).arg(rep.maskPairs);
            for (const auto &k : rep.kappas)
                summary += tr("; verdicts of %1 and %2: κ = %3 over %4")
                               .arg(QString::fromStdString(k.first), QString::fromStdString(k.second))
                               .arg(k.kappa, 0, 'f', 2)
                               .arg(k.items);
            for (const auto &g : rep.ratings)
                summary += tr("; %1 ratings of %2 samples: mean %3").arg(g.count).arg(QString::fromStdString(g.source)).arg(g.rating.mean, 0, 'f', 2);
            if (!rep.skipped.empty())
                summary += tr("; %n item(s) skipped: %1", nullptr, int(rep.skipped.size())).arg(QString::fromStdString(rep.skipped.front()));
            mPanel->showReport(metricsOf(rep), summary);
            mPanel->showMessage({});
            emit feedbackShown("report");
        },
        hooks);
}

bool FeedbackFeature::mergeFrom(const QString &path)
{
    if (!ensureStore()) return false;
    try {
        const feedback::MergeResult m = mStore->merge(path.toStdString());
        mPanel->showMessage(tr("Merged %1: %2 annotations added, %3 already here").arg(path).arg(m.added).arg(m.alreadyThere));
        refreshTable();
        emit feedbackShown("merged");
        return true;
    } catch (const std::exception &e) {
        return fail(QString::fromStdString(e.what()));
    }
}

bool FeedbackFeature::exportTo(const QString &path)
{
    if (!ensureStore()) return false;
    try {
        mStore->exportTo(path.toStdString());
        mPanel->showMessage(tr("Exported %1 annotations to %2").arg(mStore->count()).arg(path));
        return true;
    } catch (const std::exception &e) {
        return fail(QString::fromStdString(e.what()));
    }
}

void FeedbackFeature::jumpTo(qint64 id)
{
    if (!ensureStore()) return;
    feedback::Annotation a;
    try {
        for (const feedback::Annotation &x : mStore->annotations())
            if (x.id == id) a = x;
    } catch (const std::exception &e) {
        fail(QString::fromStdString(e.what()));
        return;
    }
    if (a.id == 0) return;
    if (a.kind == "rating") {
        fail(tr("A rating keeps its sample's description (%1), not an input to open").arg(QString::fromStdString(a.sample)));
        return;
    }
    // The input: the file when it is still there and unchanged, else the stored bytes in a temporary file.
    QString input = QString::fromStdString(a.inputPath);
    try {
        if (!QFileInfo(input).isFile() || feedback::sha256File(input.toStdString()) != a.inputSha) {
            static QTemporaryDir kept;
            const std::vector<uint8_t> bytes = mStore->inputBytes(a.inputSha);
            if (bytes.empty()) {
                fail(tr("The input of annotation #%1 is neither at %2 nor in the database").arg(id).arg(input));
                return;
            }
            input = kept.filePath(QString::fromStdString(a.inputSha.substr(0, 12)) + "-" + QFileInfo(input).fileName());
            std::ofstream(input.toStdString(), std::ios::binary).write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
        }
    } catch (const std::exception &e) {
        fail(QString::fromStdString(e.what()));
        return;
    }
    auto openRest = [this, a, input] {
        auto once = std::make_shared<QMetaObject::Connection>();
        *once = connect(mWorkspace, &Workspace::inputChanged, this, [this, a, once, input](InputOrigin) {
            disconnect(*once);
            if (mWorkspace->imagePath() != input) return;   // the image did not open (said already); something else came
            if (!a.mask.empty()) mPanel->editor()->setMask(a.maskWidth, a.maskHeight, a.mask);
            if (!a.params.empty()) {
                try {
                    mWorkspace->requestAttributionParams(attributionParamsFromJson(Json::parse(a.params)));
                } catch (const std::exception &e) {
                    fail(QString::fromStdString(e.what()));
                }
            }
            mPanel->tabs()->setCurrentIndex(0);
            mPanel->showMessage(tr("Annotation #%1 by %2 (%3)").arg(a.id).arg(QString::fromStdString(a.annotator), QString::fromStdString(a.kind)));
            emit feedbackShown("jump");
        });
        mWorkspace->requestImage(input);
    };
    const auto current = mWorkspace->model();
    if (current && current->path == a.modelPath) {
        openRest();
        return;
    }
    if (!QFileInfo(QString::fromStdString(a.modelPath)).isFile()) {
        fail(tr("The model of annotation #%1 is no longer at %2").arg(id).arg(QString::fromStdString(a.modelPath)));
        return;
    }
    auto once = std::make_shared<QMetaObject::Connection>();
    *once = connect(mWorkspace, &Workspace::modelChanged, this, [openRest, once, path = a.modelPath](std::shared_ptr<const ModelSummary> s) {
        QObject::disconnect(*once);
        if (s && s->path == path) openRest();   // else the model did not open (said already)
    });
    mWorkspace->openModel(QString::fromStdString(a.modelPath));
}

}   // namespace pellucid
