#pragma once
// The Feedback dock: people's judgements of explanations and generated samples, in the feedback database
// (app/feedback): draw where the evidence should be and save it as a mask, give the Attribution dock's
// explanation a verdict, see every method against the mask at once, rate generated samples (keys 1–5 in the
// Latent and Generation docks), browse, delete, merge and export annotations, and compute the report.
#include "app/gui/feature.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace pellucid {

class FeedbackPanel;
namespace feedback {
class Store;
struct Annotation;
}   // namespace feedback

class FeedbackFeature : public Feature {
    Q_OBJECT
public:
    FeedbackFeature(Workspace *workspace, QMainWindow *window);
    ~FeedbackFeature() override;
    FeedbackPanel *panel() const { return mPanel; }
    QDockWidget *dock() const { return mDock; }
    void placeDocks(DockLayout &layout) override;
    void addActions(Menus &menus) override;
    QList<QPair<QString, const FigureSource *>> figures() const override;

    /// Opens (creating when absent) the database at `path`; false with the reason shown when refused.
    bool openDatabase(const QString &path);
    QString databasePath() const;
    /// Stores the mask drawn for the current input; false with the reason shown.
    bool saveMask();
    bool giveVerdict(const QString &verdict);
    bool rate(const QString &source, int rating, const QString &sample);
    void computeAgreement();
    void computeReport();
    bool mergeFrom(const QString &path);
    bool exportTo(const QString &path);
    void jumpTo(qint64 id);

signals:
    void feedbackShown(const QString &what);   // "saved", "verdict", "rating", "agreement", "report", "merged", "jump"

private:
    /// A row of `kind` naming the current model, annotator and note, and with `inputBytes` the current input
    /// (its file, or the tensor as a .npy for drawings). Throws Error naming what is missing.
    feedback::Annotation newAnnotation(const char *kind, std::vector<uint8_t> *inputBytes) const;
    /// The explanation on show (method, parameters, class, map hash) into the row.
    void nameExplanation(feedback::Annotation &a) const;
    void refreshTable();
    void refreshBackground();
    bool ensureStore();
    bool fail(const QString &message);
    std::unique_ptr<feedback::Store> mStore;
    FeedbackPanel *mPanel;
    QDockWidget *mDock;
    std::shared_ptr<const AttributionResult> mExplanation;   // the Attribution dock's main view, when current
    AttributionParams mExplanationParams;
    TaskSlot mAgreementSlot{"feedback-agreement"}, mReportSlot{"feedback-report"};
};

}   // namespace pellucid
