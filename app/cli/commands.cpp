// The command list: one line per command (each defined in app/cli/commands/<name>.cpp), in usage order.
#include "app/cli/cli.h"

namespace pellucid::cli {

#define PELLUCID_COMMANDS(X)                                                                                                                         \
    X(info)                                                                                                                                          \
    X(layers)                                                                                                                                        \
    X(predict) X(activations) X(attribute) X(compare) X(merge) X(figure) X(recommend) X(influence) X(recEval) X(evaluate) X(faithfulness) X(project) \
        X(sanity) X(traverse) X(interpolate) X(sample) X(genMetrics) X(direction) X(counterfactual) X(dissect) X(ablate) X(attention) X(tokenize)    \
            X(generate) X(genAttribute) X(logitLens) X(tunedLens) X(patch) X(diffuse) X(crossAttention) X(reweight) X(annotate) X(feedback)

#define PELLUCID_DECLARE(name) Command name##Command();
PELLUCID_COMMANDS(PELLUCID_DECLARE)

const std::vector<Command> &commands()
{
#define PELLUCID_ENTRY(name) name##Command(),
    static const std::vector<Command> all = {PELLUCID_COMMANDS(PELLUCID_ENTRY)};
    return all;
}

}   // namespace pellucid::cli
