// pellucid-cli counterfactual: the nearest code the classifier assigns to K
#include "app/cli/cli.h"

#include "app/io/imageinput.h"
#include "engine/core/npy.h"
#include "engine/generative/generative.h"

#include <algorithm>
#include <cmath>
#include <iostream>

namespace pellucid::cli {

namespace {

int cmdCounterfactual(const Args &a)
{
    auto dec = loadGenerator(a);
    auto cls = loadClassifierFor(a, *dec);
    TensorValue z0;
    if (a.has("z")) {
        z0 = checkCode(*dec, readNpy(a.need("z")), "code --z");
    } else {
        auto enc = loadCompanion(a, "encoder");
        const TensorValue x = loadInput(a, *enc);
        z0 = checkCode(*dec, enc->forward(x, {}).outputs.at(0), "encoded input");
    }
    CounterfactualOptions o;
    o.target = toInt(a.need("target"), "--target");
    o.steps = toInt(a.get("steps", "300"), "--steps");
    o.learningRate = toDouble(a.get("lr", "0.05"), "--lr");
    o.distanceWeight = toDouble(a.get("lambda", "0.05"), "--lambda");
    o.stopProbability = toDouble(a.get("stop", "0.9"), "--stop");
    o.extraSteps = toInt(a.get("extra-steps", "0"), "--extra-steps");
    const CounterfactualResult r = latentCounterfactual(*dec, *cls, z0, o);
    const std::string out = a.need("out");
    const int64_t S = r.path.dim(0);
    if (endsWith(out, ".npy")) {
        writeNpy(out, decodeCodes(*dec, r.path));
    } else {
        // Up to 8 frames evenly spaced along the path's length, then (for a still) the difference.
        const bool still = endsWith(out, ".png");
        writeImages(out, counterfactualStrip(*dec, r, 8, still), 0);
    }
    if (a.has("path-out")) writeNpy(a.need("path-out"), r.path);
    const auto &labels = cls->summary().metadata.labels;
    auto name = [&](int c) { return c >= 0 && size_t(c) < labels.size() ? labels[size_t(c)] : std::to_string(c); };
    Json j = Json::object();
    j["reached"] = r.reached;
    j["steps"] = S - 1;
    j["target"] = o.target;
    j["target_label"] = name(o.target);
    j["start_class"] = r.predicted.front();
    j["start_label"] = name(r.predicted.front());
    j["final_class"] = r.predicted.back();
    j["final_label"] = name(r.predicted.back());
    j["start_probability"] = r.targetProbability.front();
    j["final_probability"] = r.targetProbability.back();
    j["latent_distance"] = r.distance.back();
    double l1 = 0;
    for (int64_t i = 0; i < r.difference.numel(); ++i) l1 += std::abs(r.difference.at(i));
    j["mean_abs_pixel_change"] = l1 / double(std::max<int64_t>(1, r.difference.numel()));
    std::cout << j.dump(a.flag("json") ? 1 : -1) << "\n";
    return r.reached ? 0 : 4;
}

}   // namespace

Command counterfactualCommand()
{
    return {"counterfactual",
            "--model DEC [--classifier C] (--encoder E --input IMG | --z Z.npy) --target K --out OUT.png|OUT.npy",
            "the nearest code the classifier assigns to K",
            "[--steps 300] [--lr 0.05] [--lambda 0.05] [--stop 0.9] [--extra-steps 0] [--path-out PATH.npy]\n"
            "gradient steps on −log p(K) + λ‖z − z0‖²; the PNG shows the path and the difference image; exit 4 when K was\n"
            "not reached",
            {{{"classifier", "C", "the classifier (default: the generator's companion)"},
              {"encoder", "E", "the VAE encoder of --input"},
              {"input", "IMG", "the image to start from"},
              {"z", "Z.npy", "the code to start from"},
              {"target", "K", "the class to reach", ints(0, 16777215)},
              {"out", "OUT.png|OUT.npy|OUT.gif|OUT.mp4", "the path decoded"},
              {"steps", "N", "gradient steps (default 300)", ints(1, 100000)},
              {"lr", "R", "learning rate (default 0.05)", positive(10)},
              {"lambda", "L", "distance weight (default 0.05)", reals(0, 1e6)},
              {"stop", "P", "stop at p(K) ≥ P (default 0.9)", positive(1)},
              {"extra-steps", "N", "steps after reaching it", ints(0, 100000)},
              {"path-out", "PATH.npy", "the codes along the path"},
              {"json", "", "indented JSON"}},
             modelOptions()},
            cmdCounterfactual};
}

}   // namespace pellucid::cli
