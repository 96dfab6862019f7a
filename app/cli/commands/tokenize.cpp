// pellucid-cli tokenize: ids and tokens as JSON (WordPiece vocab.txt or SentencePiece .model)
#include "app/cli/cli.h"

#include "app/io/tokenizer.h"

#include <iostream>

namespace pellucid::cli {

namespace {

int cmdTokenize(const Args &a)
{
    const auto tok = tokenizerFor(a, nullptr);
    Json j = tokenizedJson(tok->encode(a.need("text")));
    j["tokenizer"] = tok->kind();
    std::cout << j.dump(-1) << "\n";
    return 0;
}

}   // namespace

Command tokenizeCommand()
{
    return {"tokenize",
            "--tokenizer F --text \"...\" [--lowercase 0|1] [--max-length N [--truncate]]",
            "ids and tokens as JSON (WordPiece vocab.txt or SentencePiece .model)",
            "",
            {{{"text", "\"...\"", "the text"}}, tokenizerOptions()},
            cmdTokenize};
}

}   // namespace pellucid::cli
