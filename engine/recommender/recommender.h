#pragma once
// Recommender explanations for matrix-factorisation models: score(u, i) = mu + b_u + b_i + p_u · q_i.
// The model is a TorchScript file whose metadata ("recommender") names its embedding tables and biases;
// interactions come from a CSV (user, item, rating or implicit 1, optional timestamp; MovieLens'
// ratings.csv layout works as is). Plain C++ apart from reading the tables out of the model.
#include "engine/core/json.h"
#include "engine/core/stats.h"   // spearman, used with the influences
#include "engine/runtime/model.h"

#include <map>
#include <string>
#include <vector>

namespace pellucid {

struct Interaction {
    int64_t user = 0, item = 0;
    float rating = 1.0f;
    int64_t timestamp = 0;
};

struct InteractionData {
    std::vector<Interaction> rows;
    bool explicitRatings = true;   // false when the CSV has no rating column (implicit 1)
    std::map<int64_t, std::string> itemNames;
    std::map<int64_t, std::string> itemGroups;   // genres, when items.csv has them
    std::vector<const Interaction *> ofUser(int64_t user) const;
};

/// Reads user,item[,rating[,timestamp]] (header names: user/userId/user_id, item/itemId/movieId/item_id,
/// rating/score, timestamp/time). Throws Error(BadInput) naming the file and line of a bad row.
InteractionData readInteractions(const std::string &path);
/// Reads id,title[,genres] into `data` (MovieLens movies.csv layout).
void readItemNames(const std::string &path, InteractionData &data);

struct MFModel {
    int64_t users = 0, items = 0, dim = 0;
    std::vector<float> P, Q;     // users × dim, items × dim
    std::vector<float> bu, bi;   // per user, per item (zeros when the model has none)
    float mu = 0;
    double lambda = 0.1;                            // ridge weight of the user refit
    std::string dataPath, heldoutPath, itemsPath;   // from the metadata, resolved beside the model
    float score(int64_t u, int64_t i) const;
    const float *p(int64_t u) const { return P.data() + u * dim; }
    const float *q(int64_t i) const { return Q.data() + i * dim; }
    void checkUser(int64_t u) const;
    void checkItem(int64_t i) const;
};

/// Reads the tables the metadata names; throws Error(BadMetadata / BadInput) when they are missing or their
/// sizes disagree.
MFModel loadMF(Model &model);

struct ScoreDecomposition {
    int64_t item = 0;
    std::string name;
    float score = 0, global = 0, userBias = 0, itemBias = 0;
    std::vector<float> factors;   // p_uk q_ik; global + biases + Σ factors = score
};

/// Top-N unseen items for `user`, each score decomposed. Throws for an unknown user.
std::vector<ScoreDecomposition> recommend(const MFModel &m, const InteractionData &data, int64_t user, int n);
ScoreDecomposition decompose(const MFModel &m, const InteractionData &data, int64_t user, int64_t item);

/// The user's factors refitted by ridge least squares on their interactions (item side fixed), leaving out
/// the items in `excluded`: p = (Q_Sᵀ Q_S + λ I)⁻¹ Q_Sᵀ (r_S − μ − b_u − b_S).
std::vector<double> refitUser(const MFModel &m, const InteractionData &data, int64_t user, const std::vector<int64_t> &excluded = {});

struct InfluenceRow {
    int64_t item = 0;   // a rated item
    std::string name;
    float rating = 0;
    double loo = 0;          // score(target) with all interactions − score(target) refitted without this one
    double similarity = 0;   // fast approximation: cos(q_target, q_item) · (r − μ − b_u − b_item)
};

struct Counterfactual {
    bool found = false;
    std::vector<int64_t> removed;   // the interactions whose removal drops the item out of the top-N
    int rankBefore = 0, rankAfter = 0;
};

struct InfluenceResult {
    int64_t user = 0, item = 0;
    double score = 0;                 // with the refitted full factors
    std::vector<InfluenceRow> rows;   // sorted by LOO influence, largest first
    double agreement = 0;             // Spearman rank correlation between LOO and the approximation
    Counterfactual counterfactual;
};

InfluenceResult influence(const MFModel &m, const InteractionData &data, int64_t user, int64_t item, int topN = 10);

/// The smallest set (greedy by influence, then pruned) of the user's interactions whose removal drops
/// `item` out of their top-N.
Counterfactual counterfactual(const MFModel &m, const InteractionData &data, int64_t user, int64_t item, int topN);

struct RecMetrics {
    int k = 10;
    double precisionAtK = 0, recallAtK = 0, coverage = 0, rmse = 0;
    int64_t usersEvaluated = 0;
};

/// Precision@K and recall@K on held-out interactions (relevant: rating ≥ threshold, or every held-out item
/// for implicit data), catalogue coverage of the top-K lists, RMSE for explicit ratings.
RecMetrics evaluateRecommender(const MFModel &m, const InteractionData &train, const InteractionData &heldout, int k, double relevantThreshold = 4.0);

/// Force-directed (Fruchterman–Reingold) layout of an undirected weighted graph in the unit square;
/// deterministic for a seed. Node 0 can be pinned at the centre.
std::vector<std::pair<double, double>> forceLayout(int nodes, const std::vector<std::tuple<int, int, double>> &edges, int iterations = 300,
                                                   unsigned seed = 1, bool pinFirst = true);

}   // namespace pellucid
