#pragma once
// What the tokenizer harnesses do with a tokenizer that opened: encode texts (fixed ones and a piece of the
// input), check ids are inside the vocabulary and tokens match ids, and decode.
#include "app/io/tokenizer.h"
#include "tests/fuzz/harness.h"

namespace fuzz {

inline void exercise(const pellucid::Tokenizer &t, const uint8_t *data, size_t size)
{
    const size_t tail = std::min<size_t>(size / 4, 96);
    const std::string texts[] = {"", "Hello, world!", "naïve café — 東京 tokyo\t\x01 end", std::string(300, 'a'),
                                 std::string(reinterpret_cast<const char *>(data) + size - tail, tail)};
    for (const std::string &text : texts)
        guarded([&] {
            const pellucid::Tokenized r = t.encode(text);
            require(r.ids.size() == r.tokens.size(), "a tokenizer gave ids and tokens of different lengths");
            for (int64_t id : r.ids) require(id >= 0 && size_t(id) < t.vocabularySize(), "a tokenizer gave an id outside its vocabulary");
            t.decode(r.ids);
        });
    guarded([&] { t.decode({0, 1, -1, int64_t(t.vocabularySize()), int64_t(1) << 40}); });
}

inline void openAndExercise(const std::string &path, const uint8_t *data, size_t size)
{
    for (bool special : {true, false})
        guarded([&] {
            pellucid::TokenizerOptions o;
            o.addSpecial = special;
            o.maxLength = special ? 0 : 16;
            o.truncate = true;
            exercise(*pellucid::Tokenizer::open(path, o), data, size);
        });
}

}   // namespace fuzz
