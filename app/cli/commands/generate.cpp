// pellucid-cli generate: a language model's continuation of a prompt, streamed, with each step's
// probability, entropy and alternatives
#include "app/cli/cli.h"

#include "app/io/tokenizer.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdGenerate(const Args &a)
{
    auto model = loadModel(a);
    std::unique_ptr<Tokenizer> tok;
    const std::vector<int64_t> prompt = promptIds(a, *model, tok);
    const GenerationOptions o = generationOptions(a);
    const bool json = a.flag("json");
    if (!json && tok) std::cout << tok->decode(prompt) << std::flush;
    std::vector<int64_t> sofar = prompt;
    std::string printed = tok ? tok->decode(sofar) : std::string();
    const Generation g = generate(*model, prompt, o, [&](const GenerationStep &s) {
        if (json) return;
        sofar.push_back(s.id);
        if (!tok) {
            std::cout << s.id << " " << std::flush;
            return;
        }
        // Stream the text as it grows (decoding the whole sequence keeps SentencePiece's spaces right).
        const std::string now = tok->decode(sofar);
        if (now.size() >= printed.size() && now.compare(0, printed.size(), printed) == 0) std::cout << now.substr(printed.size()) << std::flush;
        printed = now;
    });
    if (!json) {
        std::cout << "\n";
        return 0;
    }
    Json j = Json::object(), ids = Json::array(), steps = Json::array();
    for (int64_t id : g.ids) ids.push(Json(id));
    j["ids"] = ids;
    j["prompt_length"] = g.promptLength;
    j["tokens"] = tokensJson(tok.get(), g.ids);
    if (tok) j["text"] = tok->decode(g.ids);
    for (const GenerationStep &s : g.steps) {
        Json step = Json::object(), top = Json::array();
        step["id"] = s.id;
        if (tok) step["token"] = tok->piece(s.id);
        step["probability"] = s.probability;
        step["entropy"] = s.entropy;
        for (size_t k = 0; k < s.topIds.size(); ++k) {
            Json alt = Json::object();
            alt["id"] = s.topIds[k];
            if (tok) alt["token"] = tok->piece(s.topIds[k]);
            alt["probability"] = s.topProbabilities[k];
            top.push(alt);
        }
        step["top"] = top;
        steps.push(step);
    }
    j["steps"] = steps;
    j["stop"] = g.stopReason;
    std::cout << j.dump(-1) << "\n";
    return 0;
}

}   // namespace

Command generateCommand()
{
    return {"generate",
            "--model M (--text \"...\" | --ids IDS.npy) [--max-new N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--json]",
            "a language model's continuation of a prompt (greedy by default), streamed",
            "--json: \"ids\" = prompt + generated ids, \"tokens\", \"text\", \"steps\" (probability, entropy, top alternatives)\n"
            "the model: forward(ids int64 [B, L]) -> logits [B, L, V] (GPT-2 / Llama module names, or metadata \"lm\")",
            {{{"json", "", "one JSON object instead of the streamed text"}}, promptOptions(), samplingOptions(), modelOptions(), tokenizerOptions()},
            cmdGenerate};
}

}   // namespace pellucid::cli
