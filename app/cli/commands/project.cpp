// pellucid-cli project: the layer's activations (pooled) projected per item
#include "app/cli/cli.h"

#include "app/workflows/workflows.h"
#include "engine/core/files.h"

#include "app/io/dataset.h"
#include "engine/core/files.h"
#include "engine/core/npy.h"
#include "engine/projection/projection.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace pellucid::cli {

namespace {

int cmdProject(const Args &a)
{
    ProjectionOptions o;
    o.method = a.need("method");
    if (o.method != "pca" && o.method != "tsne" && o.method != "umap") throw UsageError("--method must be pca, tsne or umap");
    const std::string out = a.need("out");
    const bool csv = endsWith(out, ".csv");
    if (!csv && !endsWith(out, ".npy")) throw UsageError("--out must end in .npy or .csv");
    auto model = loadModel(a);
    const ModelSummary &s = model->summary();
    const Dataset data = openDataset(a, s.metadata.labels);
    const std::string layer = a.need("layer");
    const TensorValue X = datasetFeatures(*model, data, layer, a.has("limit") ? size_t(toInt(a.need("limit"), "--limit")) : 0);
    const size_t n = size_t(X.dim(0));
    o.dims = toInt(a.get("dims", "2"), "--dims");
    o.neighbours = toInt(a.get("neighbours", "15"), "--neighbours");
    o.minDist = toDouble(a.get("min-dist", "0.1"), "--min-dist");
    o.epochs = toInt(a.get("epochs", "0"), "--epochs");
    o.perplexity = toDouble(a.get("perplexity", "30"), "--perplexity");
    o.iterations = toInt(a.get("iterations", "1000"), "--iterations");
    if (a.has("theta")) o.theta = toDouble(a.need("theta"), "--theta");
    o.repulsion = a.get("repulsion", "auto");
    if (o.repulsion != "auto" && o.repulsion != "bh" && o.repulsion != "fft") throw UsageError("--repulsion must be auto, bh or fft");
    o.seed = unsigned(toInt(a.get("seed", "0"), "--seed"));
    WorkflowSink sink;
    if (isatty(2))
        sink.progress = [](int64_t done, int64_t, const std::string &stage) { std::fprintf(stderr, "\r%s %lld", stage.c_str(), (long long)done); };
    const Projection p = projectFeatures(X, layer, o, sink);
    if (isatty(2)) std::fprintf(stderr, "\n");
    const TensorValue &Y = p.points;
    const int dims = o.dims;
    Json j = Json::object();
    if (o.method == "pca") {
        Json ratio = Json::array();
        for (double v : p.explainedRatio) ratio.push(Json(v));
        j["explained_variance_ratio"] = ratio;
    }
    if (csv) {
        std::ostringstream text;
        text << "item,label";
        for (int k = 0; k < dims; ++k) text << ",c" << k;
        text << "\n";
        for (size_t i = 0; i < n; ++i) {
            text << '"' << data.itemName(i) << "\"," << data.label(i);
            for (int k = 0; k < dims; ++k) text << ',' << Y.at(int64_t(i) * dims + k);
            text << "\n";
        }
        writeTextAtomically(out, text.str());
    } else {
        writeNpy(out, Y);
    }
    j["items"] = int64_t(n);
    j["features"] = X.dim(1);
    j["out"] = out;
    std::cout << j.dump() << "\n";
    return 0;
}

}   // namespace

Command projectCommand()
{
    return {"project",
            "--model M --data D --layer L --method pca|tsne|umap --out OUT.npy|OUT.csv [--dims 2] [--limit N]",
            "the layer's activations (pooled) projected per item",
            "t-SNE: [--perplexity 30] [--iterations 1000] [--theta 0.5 (sparse; 0 exact)] [--repulsion auto|bh|fft] [--seed S]\n"
            "  (sparse repulsion: Barnes–Hut below 10,000 items, FFT-accelerated interpolation from there on, unless told)\n"
            "UMAP: [--neighbours 15] [--min-dist 0.1] [--epochs auto] [--seed S]",
            {{{"data", "D", "the dataset"},
              {"split", "test|train", "a folder of IDX files: which split (default test)"},
              {"layer", "L", "the layer whose pooled activations are projected"},
              {"method", "pca|tsne|umap", "the projection"},
              {"out", "OUT.npy|OUT.csv", "the points"},
              {"dims", "N", "output dimensions (default 2)", ints(1, 100)},
              {"limit", "N", "the first N items", ints(1, 10000000)},
              {"perplexity", "P", "t-SNE perplexity (default 30)", positive(100000)},
              {"iterations", "N", "t-SNE iterations (default 1000)", ints(1, 100000)},
              {"theta", "T", "Barnes–Hut angle (0: exact)", reals(0, 2)},
              {"repulsion", "auto|bh|fft", "sparse t-SNE's repulsion (default auto: fft from 10,000 items)"},
              {"seed", "S", "random seed", registryRange("seed")},
              {"neighbours", "K", "UMAP neighbours (default 15)", ints(1, 1000)},
              {"min-dist", "D", "UMAP minimum distance (default 0.1)", reals(0, 100)},
              {"epochs", "N", "UMAP epochs (default automatic)", ints(1, 100000)}},
             modelOptions(),
             preprocessingOptions()},
            cmdProject};
}

}   // namespace pellucid::cli
