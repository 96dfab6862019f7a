#pragma once
// The Generation dock (language models): prompt → streamed generation on the engine thread → per-step
// attributions of every generated token (the chosen method, all steps in one batched pass) and the logit
// lens of the whole sequence. Available when the model is a causal LM (engine/language/lm.h).
#include "app/gui/feature.h"
#include "engine/language/lm.h"

#include <memory>
#include <vector>

namespace pellucid {

class GenerationPanel;
class Tokenizer;

struct GenerationProgress : JobOutput {
    std::vector<int64_t> ids;
    int64_t promptLength = 0;
    std::vector<double> probabilities;
    std::string stop;
};

struct GenerationExplanation : JobOutput {
    std::vector<int64_t> ids;
    TensorValue scores;   // [G, L]
    std::string method;
    TensorValue lensTop;               // [blocks, L]: the top token's probability
    TensorValue lensKl;                // [blocks, L]: KL(final ‖ block)
    std::vector<int64_t> lensTopIds;   // per cell
    std::vector<std::string> blocks;
    TensorValue tunedTop;   // the same through the tuned lens (empty without one)
    std::vector<int64_t> tunedTopIds;
    double klLogit = 0, klTuned = 0;   // mean KL to the final layer over blocks but the last and positions
};

struct PatchingOutput : JobOutput {
    PatchingResult result;
    std::vector<int64_t> clean;
};

class GenerationFeature : public Feature {
    Q_OBJECT
public:
    GenerationFeature(Workspace *workspace, QMainWindow *window);
    ~GenerationFeature() override;
    void placeDocks(DockLayout &layout) override;
    QList<QPair<QString, const FigureSource *>> figures() const override;
    void saveSession(Session &session) const override;
    void restoreSession(const Session &session) override;
    GenerationPanel *panel() const { return mPanel; }
    QDockWidget *dock() const { return mDock; }
    quint64 generate();
    quint64 explain();
    quint64 patch();
    /// Trains a tuned lens on a text file (one sequence per line) and saves it beside the model as
    /// MODEL.pt.tuned-lens.npy (loaded again with the model).
    quint64 trainTunedLens(const QString &corpus);
    std::shared_ptr<const PatchingOutput> lastPatching() const { return mPatching; }
    bool hasTunedLens() const { return mTuned != nullptr; }
    std::shared_ptr<const GenerationProgress> lastGeneration() const { return mLast; }
    std::shared_ptr<const GenerationExplanation> lastExplanation() const { return mExplained; }

signals:
    void generationFinished();
    void explanationShown();
    void patchingShown();
    void tunedLensReady();

private:
    QStringList tokensOf(const std::vector<int64_t> &ids) const;
    GenerationPanel *mPanel;
    QDockWidget *mDock;
    std::unique_ptr<Tokenizer> mTokenizer;
    std::shared_ptr<const GenerationProgress> mLast, mPartial;
    std::shared_ptr<const GenerationExplanation> mExplained;
    std::shared_ptr<const PatchingOutput> mPatching;
    std::shared_ptr<const TunedLens> mTuned;
    int64_t mContext = 0;   // the model's longest sequence (0: unknown)
    QString mModelPath;
    quint64 mRunning = 0;
    TaskSlot mCheckSlot{"lm-check"}, mGenerateSlot{"generate"}, mExplainSlot{"gen-explain"}, mPatchSlot{"patch"}, mLensSlot{"tuned-lens"};
};

}   // namespace pellucid
