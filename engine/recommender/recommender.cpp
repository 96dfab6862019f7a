#include "engine/recommender/recommender.h"

#include "engine/core/files.h"

#include "engine/core/linalg.h"

#include "engine/core/errors.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

namespace pellucid {
namespace {

std::vector<std::string> splitCsv(const std::string &line)
{
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                cur += '"';
                ++i;
            } else if (c == '"')
                quoted = false;
            else
                cur += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',' || c == '\t') {
            out.push_back(cur);
            cur.clear();
        } else if (c != '\r') {
            cur += c;
        }
    }
    out.push_back(cur);
    return out;
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    return s;
}

bool parseNumber(const std::string &s, double &v)
{
    if (s.empty()) return false;
    char *end = nullptr;
    v = std::strtod(s.c_str(), &end);
    return end && *end == '\0' && std::isfinite(v);
}

/// A user or item id: a whole number from 0 to 2^53 (every one exact in a double).
bool isId(double v) { return v >= 0 && v <= 9007199254740992.0 && v == std::floor(v); }

std::string itemName(const InteractionData &d, int64_t item)
{
    const auto it = d.itemNames.find(item);
    return it == d.itemNames.end() ? "item " + std::to_string(item) : it->second;
}

double scoreWith(const MFModel &m, int64_t u, int64_t i, const std::vector<double> &p)
{
    double s = double(m.mu) + m.bu[size_t(u)] + m.bi[size_t(i)];
    for (int64_t k = 0; k < m.dim; ++k) s += p[size_t(k)] * m.q(i)[k];
    return s;
}

/// Rank (1-based) of `item` among the user's unseen items scored with factors p.
int rankOf(const MFModel &m, const std::set<int64_t> &seen, int64_t u, int64_t item, const std::vector<double> &p)
{
    const double target = scoreWith(m, u, item, p);
    int rank = 1;
    for (int64_t i = 0; i < m.items; ++i)
        if (i != item && !seen.count(i) && scoreWith(m, u, i, p) > target) ++rank;
    return rank;
}

}   // namespace

std::vector<const Interaction *> InteractionData::ofUser(int64_t user) const
{
    std::vector<const Interaction *> out;
    for (const auto &r : rows)
        if (r.user == user) out.push_back(&r);
    return out;
}

InteractionData readInteractions(const std::string &path)
{
    if (!std::filesystem::exists(path)) throw Error(ErrorCode::FileNotFound, "Interaction file not found: " + path);
    checkInputFile(path, kMaxTextFileBytes, "The interaction file");
    std::ifstream in(path);
    if (!in) throw Error(ErrorCode::FileNotFound, "Interaction file not found: " + path);
    InteractionData d;
    std::string line;
    int userCol = 0, itemCol = 1, ratingCol = 2, timeCol = 3;
    size_t lineNo = 0;
    bool first = true;
    while (std::getline(in, line)) {
        ++lineNo;
        if (line.empty() || line == "\r") continue;
        const auto f = splitCsv(line);
        if (first) {
            first = false;
            double v;
            if (!parseNumber(f[0], v)) {   // a header: map columns by name
                userCol = itemCol = ratingCol = timeCol = -1;
                for (int c = 0; c < int(f.size()); ++c) {
                    const std::string h = lower(f[size_t(c)]);
                    if (h == "user" || h == "userid" || h == "user_id")
                        userCol = c;
                    else if (h == "item" || h == "itemid" || h == "item_id" || h == "movieid" || h == "movie_id")
                        itemCol = c;
                    else if (h == "rating" || h == "score")
                        ratingCol = c;
                    else if (h == "timestamp" || h == "time")
                        timeCol = c;
                }
                if (userCol < 0 || itemCol < 0)
                    throw Error(ErrorCode::BadInput,
                                path
                                    + ": line 1: the header needs a user column (user/userId) and an item column "
                                      "(item/itemId/movieId); found: "
                                    + line);
                d.explicitRatings = ratingCol >= 0;
                continue;
            }
            d.explicitRatings = f.size() > 2;
            if (f.size() <= 2) ratingCol = -1;
            if (f.size() <= 3) timeCol = -1;
        }
        auto field = [&](int c, const char *what) -> double {
            if (c >= int(f.size())) throw Error(ErrorCode::BadInput, path + ": line " + std::to_string(lineNo) + ": missing the " + what + " column");
            double v;
            if (!parseNumber(f[size_t(c)], v))
                throw Error(ErrorCode::BadInput, path + ": line " + std::to_string(lineNo) + ": " + what + " '" + f[size_t(c)] + "' is not a number");
            return v;
        };
        Interaction r;
        const double u = field(userCol, "user"), i = field(itemCol, "item");
        if (!isId(u) || !isId(i))
            throw Error(ErrorCode::BadInput, path + ": line " + std::to_string(lineNo) + ": user and item ids must be integers from 0 to 2^53");
        r.user = int64_t(u);
        r.item = int64_t(i);
        r.rating = ratingCol >= 0 ? float(field(ratingCol, "rating")) : 1.0f;
        if (!std::isfinite(r.rating))
            throw Error(ErrorCode::BadInput, path + ": line " + std::to_string(lineNo) + ": the rating is beyond a float's range");
        if (timeCol >= 0 && timeCol < int(f.size()) && !f[size_t(timeCol)].empty()) {
            const double t = field(timeCol, "timestamp");
            if (std::fabs(t) >= 9.2e18)
                throw Error(ErrorCode::BadInput, path + ": line " + std::to_string(lineNo) + ": the timestamp is out of range");
            r.timestamp = int64_t(t);
        }
        d.rows.push_back(r);
    }
    if (d.rows.empty()) throw Error(ErrorCode::BadInput, path + " holds no interactions");
    return d;
}

void readItemNames(const std::string &path, InteractionData &data)
{
    if (!std::filesystem::exists(path)) throw Error(ErrorCode::FileNotFound, "Item file not found: " + path);
    checkInputFile(path, kMaxTextFileBytes, "The item file");
    std::ifstream in(path);
    if (!in) throw Error(ErrorCode::FileNotFound, "Item file not found: " + path);
    std::string line;
    size_t lineNo = 0;
    while (std::getline(in, line)) {
        ++lineNo;
        const auto f = splitCsv(line);
        double id;
        if (f.size() < 2 || !parseNumber(f[0], id)) {
            if (lineNo == 1) continue;   // header
            throw Error(ErrorCode::BadInput, path + ": line " + std::to_string(lineNo) + ": expected id,title[,genres]");
        }
        if (!isId(id)) throw Error(ErrorCode::BadInput, path + ": line " + std::to_string(lineNo) + ": item ids must be integers from 0 to 2^53");
        data.itemNames[int64_t(id)] = f[1];
        if (f.size() > 2) data.itemGroups[int64_t(id)] = f[2];
    }
}

float MFModel::score(int64_t u, int64_t i) const
{
    float s = mu + bu[size_t(u)] + bi[size_t(i)];
    for (int64_t k = 0; k < dim; ++k) s += p(u)[k] * q(i)[k];
    return s;
}

void MFModel::checkUser(int64_t u) const
{
    if (u < 0 || u >= users)
        throw Error(ErrorCode::BadInput, "Unknown user id " + std::to_string(u) + " (the model has users 0–" + std::to_string(users - 1) + ")");
}

void MFModel::checkItem(int64_t i) const
{
    if (i < 0 || i >= items)
        throw Error(ErrorCode::BadInput, "Unknown item id " + std::to_string(i) + " (the model has items 0–" + std::to_string(items - 1) + ")");
}

ScoreDecomposition decompose(const MFModel &m, const InteractionData &data, int64_t user, int64_t item)
{
    m.checkUser(user);
    m.checkItem(item);
    ScoreDecomposition s;
    s.item = item;
    s.name = itemName(data, item);
    s.global = m.mu;
    s.userBias = m.bu[size_t(user)];
    s.itemBias = m.bi[size_t(item)];
    s.score = s.global + s.userBias + s.itemBias;
    for (int64_t k = 0; k < m.dim; ++k) {
        s.factors.push_back(m.p(user)[k] * m.q(item)[k]);
        s.score += s.factors.back();
    }
    return s;
}

std::vector<ScoreDecomposition> recommend(const MFModel &m, const InteractionData &data, int64_t user, int n)
{
    m.checkUser(user);
    std::set<int64_t> seen;
    for (const auto *r : data.ofUser(user)) seen.insert(r->item);
    std::vector<std::pair<float, int64_t>> scored;
    for (int64_t i = 0; i < m.items; ++i)
        if (!seen.count(i)) scored.emplace_back(m.score(user, i), i);
    n = std::min<int>(n, int(scored.size()));
    std::partial_sort(scored.begin(), scored.begin() + n, scored.end(),
                      [](const auto &a, const auto &b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    std::vector<ScoreDecomposition> out;
    for (int k = 0; k < n; ++k) out.push_back(decompose(m, data, user, scored[size_t(k)].second));
    return out;
}

namespace {

/// A user's ridge system (λI + Σ q qᵀ, Σ q·target) over their interactions, with each item's share kept
/// (rows, Σ target) so that a refit without some items is a downdate of the whole: O(D²) per excluded item
/// instead of a pass over every interaction (influence and the counterfactual refit once per candidate).
struct UserFit {
    const MFModel &m;
    int64_t user, D;
    std::vector<double> A, b;
    std::map<int64_t, std::pair<double, double>> byItem;   // item → (rows, Σ target)

    UserFit(const MFModel &model, const InteractionData &data, int64_t u) : m(model), user(u), D(model.dim)
    {
        m.checkUser(user);
        A.assign(size_t(D * D), 0.0);
        b.assign(size_t(D), 0.0);
        for (int64_t k = 0; k < D; ++k) A[size_t(k * D + k)] = m.lambda;
        for (const auto &r : data.rows) {
            if (r.user != user) continue;
            m.checkItem(r.item);
            auto &share = byItem[r.item];
            share.first += 1;
            share.second += double(r.rating) - m.mu - m.bu[size_t(user)] - m.bi[size_t(r.item)];
        }
        for (const auto &[item, share] : byItem) add(A, b, item, share, 1.0);
    }

    void add(std::vector<double> &a, std::vector<double> &v, int64_t item, const std::pair<double, double> &share, double sign) const
    {
        const float *q = m.q(item);
        for (int64_t i = 0; i < D; ++i) {
            v[size_t(i)] += sign * q[i] * share.second;
            for (int64_t c = 0; c < D; ++c) a[size_t(i * D + c)] += sign * share.first * double(q[i]) * q[c];
        }
    }

    std::vector<double> solve(const std::vector<int64_t> &excluded = {}) const
    {
        std::vector<double> a = A, v = b;
        const std::set<int64_t> out(excluded.begin(), excluded.end());
        for (int64_t item : out)
            if (const auto it = byItem.find(item); it != byItem.end()) add(a, v, item, it->second, -1.0);
        std::vector<double> x;
        if (!solveSpd(std::move(a), std::move(v), D, x))
            throw Error(ErrorCode::BadInput, "The user's least-squares problem is singular (is lambda zero?)");
        return x;
    }
};

}   // namespace

std::vector<double> refitUser(const MFModel &m, const InteractionData &data, int64_t user, const std::vector<int64_t> &excluded)
{
    return UserFit(m, data, user).solve(excluded);
}

Counterfactual counterfactual(const MFModel &m, const InteractionData &data, int64_t user, int64_t item, int topN)
{
    m.checkUser(user);
    m.checkItem(item);
    std::set<int64_t> seen;
    for (const auto *r : data.ofUser(user)) seen.insert(r->item);
    const UserFit fit(m, data, user);
    Counterfactual cf;
    std::vector<int64_t> removed;
    cf.rankBefore = rankOf(m, seen, user, item, fit.solve());
    if (cf.rankBefore > topN) return cf;   // not in the top-N to begin with
    std::vector<int64_t> candidates(seen.begin(), seen.end());
    // Greedy: remove the interaction whose removal lowers the item's score the most, refit, repeat.
    while (!candidates.empty()) {
        int64_t best = -1;
        double bestScore = INFINITY;
        for (int64_t c : candidates) {
            std::vector<int64_t> trial = removed;
            trial.push_back(c);
            const double s = scoreWith(m, user, item, fit.solve(trial));
            if (s < bestScore) {
                bestScore = s;
                best = c;
            }
        }
        removed.push_back(best);
        candidates.erase(std::find(candidates.begin(), candidates.end(), best));
        if (rankOf(m, seen, user, item, fit.solve(removed)) > topN) {
            cf.found = true;
            break;
        }
    }
    if (!cf.found) return cf;
    // Prune: drop any removal the result does not need.
    for (size_t i = 0; i < removed.size();) {
        std::vector<int64_t> trial = removed;
        trial.erase(trial.begin() + long(i));
        if (rankOf(m, seen, user, item, fit.solve(trial)) > topN)
            removed = trial;
        else
            ++i;
    }
    cf.removed = removed;
    cf.rankAfter = rankOf(m, seen, user, item, fit.solve(removed));
    return cf;
}

InfluenceResult influence(const MFModel &m, const InteractionData &data, int64_t user, int64_t item, int topN)
{
    m.checkUser(user);
    m.checkItem(item);
    InfluenceResult res;
    res.user = user;
    res.item = item;
    const UserFit fit(m, data, user);
    const std::vector<double> full = fit.solve();
    std::map<int64_t, double> looOf;   // by item: a user's duplicate rows of one item share their refit
    res.score = scoreWith(m, user, item, full);
    const float *qi = m.q(item);
    double qiNorm = 0;
    for (int64_t k = 0; k < m.dim; ++k) qiNorm += double(qi[k]) * qi[k];
    std::vector<double> loo, approx;
    for (const auto *r : data.ofUser(user)) {
        InfluenceRow row;
        row.item = r->item;
        row.name = itemName(data, r->item);
        row.rating = r->rating;
        auto known = looOf.find(r->item);
        if (known == looOf.end()) known = looOf.emplace(r->item, res.score - scoreWith(m, user, item, fit.solve({r->item}))).first;
        row.loo = known->second;
        const float *qj = m.q(r->item);
        double dot = 0, qjNorm = 0;
        for (int64_t k = 0; k < m.dim; ++k) {
            dot += double(qi[k]) * qj[k];
            qjNorm += double(qj[k]) * qj[k];
        }
        const double cosine = qiNorm > 0 && qjNorm > 0 ? dot / std::sqrt(qiNorm * qjNorm) : 0;
        row.similarity = cosine * (double(r->rating) - m.mu - m.bu[size_t(user)] - m.bi[size_t(r->item)]);
        loo.push_back(row.loo);
        approx.push_back(row.similarity);
        res.rows.push_back(row);
    }
    res.agreement = spearman(loo, approx);
    std::sort(res.rows.begin(), res.rows.end(), [](const InfluenceRow &a, const InfluenceRow &b) { return a.loo > b.loo; });
    res.counterfactual = counterfactual(m, data, user, item, topN);
    return res;
}

RecMetrics evaluateRecommender(const MFModel &m, const InteractionData &train, const InteractionData &heldout, int k, double threshold)
{
    RecMetrics out;
    out.k = k;
    std::map<int64_t, std::set<int64_t>> relevant;
    double se = 0;
    for (const auto &r : heldout.rows) {
        m.checkUser(r.user);
        m.checkItem(r.item);
        if (!heldout.explicitRatings || r.rating >= threshold) relevant[r.user].insert(r.item);
        const double e = double(m.score(r.user, r.item)) - r.rating;
        se += e * e;
    }
    out.rmse = heldout.explicitRatings ? std::sqrt(se / double(heldout.rows.size())) : std::nan("");
    std::set<int64_t> recommended;
    double p = 0, rc = 0;
    for (int64_t u = 0; u < m.users; ++u) {
        const auto top = recommend(m, train, u, k);
        for (const auto &t : top) recommended.insert(t.item);
        const auto it = relevant.find(u);
        if (it == relevant.end() || it->second.empty()) continue;
        int hits = 0;
        for (const auto &t : top) hits += int(it->second.count(t.item));
        p += double(hits) / k;
        rc += double(hits) / double(it->second.size());
        ++out.usersEvaluated;
    }
    if (out.usersEvaluated) {
        out.precisionAtK = p / double(out.usersEvaluated);
        out.recallAtK = rc / double(out.usersEvaluated);
    }
    out.coverage = double(recommended.size()) / double(m.items);
    return out;
}

std::vector<std::pair<double, double>> forceLayout(int n, const std::vector<std::tuple<int, int, double>> &edges, int iterations, unsigned seed,
                                                   bool pinFirst)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> uni(0.1, 0.9);
    std::vector<std::pair<double, double>> pos(static_cast<size_t>(n));
    for (auto &p : pos) p = {uni(rng), uni(rng)};
    if (n == 0) return pos;
    if (pinFirst) pos[0] = {0.5, 0.5};
    const double k = std::sqrt(1.0 / n);
    double temp = 0.1;
    for (int it = 0; it < iterations; ++it) {
        std::vector<std::pair<double, double>> disp(size_t(n), {0, 0});
        for (int a = 0; a < n; ++a)
            for (int b = a + 1; b < n; ++b) {
                double dx = pos[size_t(a)].first - pos[size_t(b)].first, dy = pos[size_t(a)].second - pos[size_t(b)].second;
                const double d = std::max(1e-4, std::sqrt(dx * dx + dy * dy));
                const double f = k * k / d;
                dx /= d;
                dy /= d;
                disp[size_t(a)].first += dx * f;
                disp[size_t(a)].second += dy * f;
                disp[size_t(b)].first -= dx * f;
                disp[size_t(b)].second -= dy * f;
            }
        for (const auto &[a, b, w] : edges) {
            double dx = pos[size_t(a)].first - pos[size_t(b)].first, dy = pos[size_t(a)].second - pos[size_t(b)].second;
            const double d = std::max(1e-4, std::sqrt(dx * dx + dy * dy));
            const double f = d * d / k * std::max(0.05, w);
            dx /= d;
            dy /= d;
            disp[size_t(a)].first -= dx * f;
            disp[size_t(a)].second -= dy * f;
            disp[size_t(b)].first += dx * f;
            disp[size_t(b)].second += dy * f;
        }
        for (int a = pinFirst ? 1 : 0; a < n; ++a) {
            const double dl = std::max(1e-9, std::hypot(disp[size_t(a)].first, disp[size_t(a)].second));
            pos[size_t(a)].first = std::clamp(pos[size_t(a)].first + disp[size_t(a)].first / dl * std::min(dl, temp), 0.02, 0.98);
            pos[size_t(a)].second = std::clamp(pos[size_t(a)].second + disp[size_t(a)].second / dl * std::min(dl, temp), 0.02, 0.98);
        }
        temp = std::max(0.002, temp * 0.98);
    }
    return pos;
}

}   // namespace pellucid
