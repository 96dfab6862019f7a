// pellucid-cli feedback: a feedback database's report (every method against people's masks), export, merge
#include "app/cli/cli.h"

#include "app/feedback/report.h"
#include "app/feedback/store.h"
#include "engine/core/errors.h"
#include "engine/core/files.h"

#include <memory>

#include <QCoreApplication>

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdFeedback(const Args &a)
{
    const int modes = int(a.flag("report")) + int(a.has("export")) + int(a.has("merge"));
    if (modes != 1) throw UsageError("feedback needs one of --report, --export OUT or --merge OTHER.db");
    int argc = 1;
    char name[] = "pellucid-cli";
    char *argv[] = {name, nullptr};
    QCoreApplication app(argc, argv);   // Qt SQL loads its SQLite driver as a plugin
    const std::string db = a.need("db");
    if (a.flag("report")) {
        const feedback::Store store(db, true);
        feedback::ReportOptions o;
        o.modelPath = a.get("model", "");
        if (a.has("methods")) o.methods = splitList(a.need("methods"));
        if (a.has("top-percent")) o.topPercent = toDouble(a.need("top-percent"), "--top-percent");
        std::unique_ptr<Dataset> real;
        if (a.has("data")) {
            real = std::make_unique<Dataset>(openDataset(a, {}));
            o.real = real.get();
            if (a.has("real-items")) o.realItems = size_t(toInt(a.need("real-items"), "--real-items"));
        }
        const feedback::Report r = feedback::feedbackReport(store, o);
        for (const std::string &s : r.skipped) std::cerr << "skipped: " << s << "\n";
        if (a.flag("json"))
            std::cout << feedback::reportJson(r).dump(1) << "\n";
        else
            std::cout << feedback::reportText(r);
        return 0;
    }
    if (a.has("export")) {
        const feedback::Store store(db, true);
        store.exportTo(a.need("export"));
        Json out = Json::object();
        out["database"] = Json(db);
        out["annotations"] = Json(store.count());
        out["export"] = Json(a.need("export"));
        std::cout << out.dump() << "\n";
        return 0;
    }
    feedback::Store store(db);
    const feedback::MergeResult m = store.merge(a.need("merge"));
    Json out = Json::object();
    out["database"] = Json(db);
    out["merged"] = Json(a.need("merge"));
    out["added"] = Json(m.added);
    out["already_there"] = Json(m.alreadyThere);
    out["annotations"] = Json(store.count());
    std::cout << out.dump() << "\n";
    return 0;
}

}   // namespace

Command feedbackCommand()
{
    return {"feedback",
            "--db DB --report [--model M] [--methods M1,M2,…] [--json] | --export OUT.csv|OUT.json | --merge OTHER.db",
            "a feedback database: every method against people's masks, export, merge",
            "--report: per method, over every masked item: items, pointing_game, energy_pointing_game, iou_top10, auc (means\n"
            "  and 95 % intervals), verdicts; annotator agreement (mask IoU, Cohen's kappa); ratings of generated samples.\n"
            "  Each map is the method's default for the model's predicted class (or the parameters an annotation stored),\n"
            "  summed over channels at the input's resolution (CAMs upsampled bilinearly); top-k %: values at or above the\n"
            "  (100 - k)th percentile.\n"
            "  Ratings of latent samples: inception score, diversity and (with --data) Frechet distance of the rated samples\n"
            "  under the generator's companion classifier, and Spearman's rho of rating and classifier confidence.\n"
            "--merge copies the rows this database lacks (by uid): merging twice adds nothing.",
            {{{"db", "DB", "the feedback database (SQLite)"},
              {"report", "", "the methods ranked by agreement with the masks"},
              {"model", "M", "report: only this model's annotations, loaded from M"},
              {"methods", "M1,M2,…", "report: these methods (default: every method)"},
              {"top-percent", "K", "report: the top-k % of pixels for the IoU (default 10)", positive(100)},
              {"json", "", "report: JSON instead of a table"},
              {"data", "D", "report: real images for the rated samples' Fréchet distance (a dataset)"},
              {"split", "train|test", "report: --data's split (a folder of IDX files)"},
              {"real-items", "N", "report: how many of --data's items (default 1000)", ints(2, 100000)},
              {"export", "OUT.csv|OUT.json", "every annotation as CSV or JSON"},
              {"merge", "OTHER.db", "copy another annotator's database into this one"}}},
            cmdFeedback};
}

}   // namespace pellucid::cli
