// SentencePiece models (.model protobufs, through libsentencepiece in its plugin): opened or refused with a
// message; what opens tokenizes and decodes text within its vocabulary.
#include "tests/fuzz/tokenizers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz::openAndExercise(fuzz::writeFile("tok.model", data, size), data, size);
    return 0;
}
