#pragma once
// The Generation dock (language models): prompt → streamed generation on the engine thread → per-step
// attributions of every generated token (the chosen method, all steps in one batched pass) and the logit
// lens of the whole sequence. Available when the model is a causal LM (engine/language/lm.h).
#include "app/gui/feature.h"

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
    std::vector<int64_t> lensTopIds;   // per cell
    std::vector<std::string> blocks;
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
    std::shared_ptr<const GenerationProgress> lastGeneration() const { return mLast; }
    std::shared_ptr<const GenerationExplanation> lastExplanation() const { return mExplained; }

signals:
    void generationFinished();
    void explanationShown();

private:
    QStringList tokensOf(const std::vector<int64_t> &ids) const;
    GenerationPanel *mPanel;
    QDockWidget *mDock;
    std::unique_ptr<Tokenizer> mTokenizer;
    std::shared_ptr<const GenerationProgress> mLast, mPartial;
    std::shared_ptr<const GenerationExplanation> mExplained;
    quint64 mRunning = 0;
    TaskSlot mCheckSlot{"lm-check"}, mGenerateSlot{"generate"}, mExplainSlot{"gen-explain"};
};

}   // namespace pellucid
