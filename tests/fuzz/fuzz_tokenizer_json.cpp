// Hugging Face tokenizer.json (BPE, Unigram, WordPiece models) and GPT-2's vocab.json + merges.txt pair
// (app/io/tokenizer.cpp): opened or refused with a message; what opens tokenizes within its vocabulary.
#include "tests/fuzz/tokenizers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz::openAndExercise(fuzz::writeFile("tokenizer.json", data, size), data, size);
    const auto [vocab, merges] = fuzz::splitTwo(data, size);
    fuzz::writeFile("merges.txt", merges);
    fuzz::openAndExercise(fuzz::writeFile("vocab.json", vocab), data, size);
    return 0;
}
