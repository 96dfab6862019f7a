// Tokenizers: BERT WordPiece against hand-worked cases (punctuation, accents, case, CJK, unknown and long
// words, continuations, [CLS]/[SEP], truncation), malformed vocabularies named; SentencePiece against the
// ids python3-sentencepiece gives for the bundled demo tokenizer.
#include "app/io/tokenizer.h"
#include "engine/core/errors.h"
#include "engine/core/json.h"
#include "tests/common/testkit.h"

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace pellucid;

namespace {

std::string writeVocab(const std::string &name, const std::vector<std::string> &tokens)
{
    const std::string path = std::string(PELLUCID_TMP) + "/" + name;
    std::ofstream out(path, std::ios::binary);
    for (const auto &t : tokens) out << t << "\n";
    return path;
}

const std::vector<std::string> kVocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cafe",  "un",    "##aff", "##able", "play", "##ing", "!",
                                         ",",     ".",     "?",     "'",     "s",   "naive", "hello", "world", "中",     "文",   "a",     "##b"};

std::vector<std::string> tokensOf(const Tokenizer &t, const std::string &text) { return t.encode(text).tokens; }

}   // namespace

TEST(wordpiece_hand_worked_cases)
{
    const std::string v = writeVocab("vocab.txt", kVocab);
    TokenizerOptions o;
    WordPieceTokenizer t(v, o);
    CHECK_EQ(t.vocabularySize(), kVocab.size());
    // Lower-casing, punctuation split off, "##" continuations, [CLS] … [SEP].
    CHECK(tokensOf(t, "Hello, World!") == (std::vector<std::string>{"[CLS]", "hello", ",", "world", "!", "[SEP]"}));
    CHECK(t.encode("Hello, World!").ids == (std::vector<int64_t>{2, 18, 12, 19, 11, 3}));
    CHECK(tokensOf(t, "unaffable playing") == (std::vector<std::string>{"[CLS]", "un", "##aff", "##able", "play", "##ing", "[SEP]"}));
    // Accents stripped (precomposed and combining), apostrophes split.
    CHECK(tokensOf(t, "Café naïve") == (std::vector<std::string>{"[CLS]", "cafe", "naive", "[SEP]"}));
    CHECK(tokensOf(t, "cafe\xCC\x81") == (std::vector<std::string>{"[CLS]", "cafe", "[SEP]"}));   // e + U+0301
    CHECK(tokensOf(t, "the cafe's") == (std::vector<std::string>{"[CLS]", "the", "cafe", "'", "s", "[SEP]"}));
    // A word that cannot be split completely is [UNK] as a whole (not partly); so is a 101-character word.
    CHECK(tokensOf(t, "playz") == (std::vector<std::string>{"[CLS]", "[UNK]", "[SEP]"}));
    CHECK(tokensOf(t, "a" + std::string(100, 'b')) == (std::vector<std::string>{"[CLS]", "[UNK]", "[SEP]"}));
    CHECK(tokensOf(t, "abbb") == (std::vector<std::string>{"[CLS]", "a", "##b", "##b", "##b", "[SEP]"}));
    // CJK ideographs stand alone; control characters vanish; odd whitespace splits.
    CHECK(tokensOf(t, "中文") == (std::vector<std::string>{"[CLS]", "中", "文", "[SEP]"}));
    CHECK(tokensOf(t, "hello\x01\tworld\xC2\xA0the") == (std::vector<std::string>{"[CLS]", "hello", "world", "the", "[SEP]"}));
    CHECK(t.basicTokens("Is it?!") == (std::vector<std::string>{"is", "it", "?", "!"}));
    // Cased vocabularies keep case and accents.
    TokenizerOptions cased;
    cased.lowercase = false;
    WordPieceTokenizer c(v, cased);
    CHECK(tokensOf(c, "Hello café") == (std::vector<std::string>{"[CLS]", "[UNK]", "[UNK]", "[SEP]"}));
}

TEST(wordpiece_length_limits)
{
    const std::string v = writeVocab("vocab.txt", kVocab);
    TokenizerOptions o;
    o.maxLength = 5;
    WordPieceTokenizer t(v, o);
    CHECK_THROWS_WITH(t.encode("the cafe the cafe"), Error, "6 tokens; the model takes at most 5");
    o.truncate = true;
    WordPieceTokenizer tr(v, o);
    const Tokenized r = tr.encode("the cafe the cafe");
    CHECK(r.truncated);
    CHECK(r.tokens == (std::vector<std::string>{"[CLS]", "the", "cafe", "the", "[SEP]"}));
}

TEST(malformed_vocabularies_are_named)
{
    CHECK_THROWS_WITH(Tokenizer::open("/nonexistent/vocab.txt"), Error, "Tokenizer file not found");
    CHECK_THROWS_WITH(WordPieceTokenizer(writeVocab("empty.txt", {}), {}), Error, "is empty");
    CHECK_THROWS_WITH(WordPieceTokenizer(writeVocab("dup.txt", {"[UNK]", "[CLS]", "[SEP]", "a", "a"}), {}), Error, "lists 'a' twice (line 5)");
    CHECK_THROWS_WITH(WordPieceTokenizer(writeVocab("blank.txt", {"[UNK]", "", "b"}), {}), Error, "empty entry at line 2");
    CHECK_THROWS_WITH(WordPieceTokenizer(writeVocab("spaces.txt", {"[UNK]", "a b"}), {}), Error, "whitespace inside the token at line 2");
    CHECK_THROWS_WITH(WordPieceTokenizer(writeVocab("nounk.txt", {"[CLS]", "[SEP]", "a"}), {}), Error, "no [UNK] token");
    CHECK_THROWS_WITH(WordPieceTokenizer(writeVocab("bad8.txt", {"[UNK]", "\xff\xfe"}), {}), Error, "not valid UTF-8 (line 2)");
    // Binary garbage named .model is handed to SentencePiece, which refuses it by name.
    const std::string junk = std::string(PELLUCID_TMP) + "/junk.model";
    std::ofstream(junk, std::ios::binary) << std::string("\x01\x02\x03garbage", 10);
    CHECK_THROWS_WITH(Tokenizer::open(junk), Error, "junk.model");
}

TEST(sentencepiece_matches_python)
{
    const std::string expected = std::string(PELLUCID_FIXTURES_DIR) + "/sp_expected.json";
    const std::string model = std::string(PELLUCID_RESOURCES_DIR) + "/models/fortunes_sp.model";
    if (!std::filesystem::exists(model)) {
        std::printf("SKIP: no bundled SentencePiece model\n");
        return;
    }
    CHECK(sentencePieceAvailable());
    std::ifstream in(expected);
    std::stringstream ss;
    ss << in.rdbuf();
    const Json cases = Json::parse(ss.str());
    TokenizerOptions o;
    const auto t = Tokenizer::open(model, o);
    CHECK_EQ(t->kind(), std::string("sentencepiece"));
    for (const Json &c : cases.asArray()) {
        const Tokenized r = t->encode(c.find("text")->asString());
        std::vector<int64_t> want;
        for (const Json &id : c.find("ids")->asArray()) want.push_back(id.asInt());
        CHECK_MSG(r.ids == want, c.find("text")->asString());
        std::vector<std::string> pieces;
        for (const Json &p : c.find("pieces")->asArray()) pieces.push_back(p.asString());
        CHECK_MSG(r.tokens == pieces, c.find("text")->asString());
    }
}

TEST(byte_level_bpe_matches_openais_encoder)
{
    const std::string dir = std::string(PELLUCID_FIXTURES_DIR) + "/bpe";
    std::ifstream in(dir + "/encodings.json");
    std::stringstream ss;
    ss << in.rdbuf();
    const Json cases = Json::parse(ss.str());
    TokenizerOptions o;
    o.addSpecial = false;
    for (const char *file : {"/vocab.json", "/tokenizer.json"}) {
        const auto t = Tokenizer::open(dir + file, o);
        CHECK_EQ(t->kind(), std::string("bpe"));
        for (const Json &c : cases.asArray()) {
            const std::string text = c.find("text")->asString();
            std::vector<int64_t> want;
            for (const Json &id : c.find("ids")->asArray()) want.push_back(id.asInt());
            const Tokenized r = t->encode(text);
            CHECK_MSG(r.ids == want, std::string(file) + ": '" + text + "'");
            CHECK_MSG(t->decode(r.ids) == text || text.find("<|endoftext|>") != std::string::npos, text);   // lossless (bytes)
            std::vector<std::string> pieces;
            for (const Json &p : c.find("pieces")->asArray()) pieces.push_back(p.asString());
            if (text.find("<|endoftext|>") == std::string::npos)
                CHECK_MSG(BpeTokenizer::preTokenize(text) == pieces, "pre-tokenization of '" + text + "'");
        }
    }
    // The end-of-text token closes a sequence when asked, and is matched whole inside text.
    TokenizerOptions withEnd;
    const auto t = Tokenizer::open(dir + "/vocab.json", withEnd);
    const Tokenized r = t->encode("hello");
    CHECK_EQ(r.tokens.back(), std::string("<|endoftext|>"));
    withEnd.addEnd = false;
    CHECK(Tokenizer::open(dir + "/vocab.json", withEnd)->encode("hello").tokens.back() != "<|endoftext|>");
    // Errors name the file and the problem.
    const std::string tmp = std::filesystem::temp_directory_path().string() + "/pellucid_bpe";
    std::filesystem::create_directories(tmp);
    std::ofstream(tmp + "/vocab.json") << "{\"a\": 0}";
    std::filesystem::remove(tmp + "/merges.txt");
    CHECK_THROWS_WITH(Tokenizer::open(tmp + "/vocab.json"), Error, "needs merges.txt beside it");
    std::ofstream(tmp + "/uni.json") << R"({"model": {"type": "WordLevel", "vocab": {}}})";
    CHECK_THROWS_WITH(Tokenizer::open(tmp + "/uni.json"), Error, "its model type is 'WordLevel'");
    std::ofstream(tmp + "/uni2.json") << R"({"model": {"type": "Unigram", "unk_id": 0, "vocab": []}})";
    CHECK_THROWS_WITH(Tokenizer::open(tmp + "/uni2.json"), Error, "Unigram vocabulary");
    std::ofstream(tmp + "/bad.json") << "{\"model\": ";
    CHECK_THROWS_WITH(Tokenizer::open(tmp + "/bad.json"), Error, "not valid JSON");
}

TEST(unigram_from_tokenizer_json_matches_sentencepiece)
{
    const std::string dir = std::string(PELLUCID_FIXTURES_DIR) + "/bpe";
    std::ifstream in(dir + "/unigram_encodings.json");
    std::stringstream ss;
    ss << in.rdbuf();
    TokenizerOptions o;
    o.addSpecial = false;
    const auto t = Tokenizer::open(dir + "/unigram_tokenizer.json", o);
    CHECK_EQ(t->kind(), std::string("unigram"));
    const Json cases = Json::parse(ss.str());
    for (const Json &c : cases.asArray()) {
        std::vector<int64_t> want;
        for (const Json &id : c.find("ids")->asArray()) want.push_back(id.asInt());
        const Tokenized r = t->encode(c.find("text")->asString());
        CHECK_MSG(r.ids == want, c.find("text")->asString());
    }
    // With special tokens: <s> … </s>, as the SentencePiece path adds them.
    const auto withSpecial = Tokenizer::open(dir + "/unigram_tokenizer.json");
    const Tokenized r = withSpecial->encode("the sea");
    CHECK_EQ(r.tokens.front(), std::string("<s>"));
    CHECK_EQ(r.tokens.back(), std::string("</s>"));
    CHECK_EQ(withSpecial->decode(r.ids), std::string("the sea"));
}

TEST(wordpiece_from_tokenizer_json_equals_vocab_txt)
{
    const std::string dir = std::string(PELLUCID_FIXTURES_DIR) + "/bpe";
    const auto a = Tokenizer::open(dir + "/wp_vocab.txt"), b = Tokenizer::open(dir + "/wp_tokenizer.json");
    CHECK_EQ(b->kind(), a->kind());
    for (const char *text : {"The quick brown fox jumps over the lazy dog!", "unaffable hello, WORLD.", "zebra"}) {
        CHECK_MSG(a->encode(text).ids == b->encode(text).ids, text);
        CHECK_EQ(b->decode(b->encode(text).ids), a->decode(a->encode(text).ids));
    }
    CHECK(b->encode("unaffable").tokens == (std::vector<std::string>{"[CLS]", "un", "##aff", "##able", "[SEP]"}));
}

TESTKIT_MAIN
