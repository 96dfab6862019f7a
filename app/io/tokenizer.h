#pragma once
// Text tokenizers for transformer inputs: BERT WordPiece from a vocab.txt (BERT's basic tokenisation —
// control characters removed, whitespace and punctuation split, CJK ideographs isolated, optional lower-casing
// with accent stripping — then greedy longest-match-first word pieces with "##" continuations, [UNK] for
// words that cannot be split or exceed 100 characters, [CLS] … [SEP] around the sequence) and SentencePiece
// models through libsentencepiece. No Qt, no torch.
#include "engine/runtime/model.h"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace pellucid {

struct Tokenized {
    std::vector<int64_t> ids;
    std::vector<std::string> tokens;
    bool truncated = false;
};

struct TokenizerOptions {
    bool lowercase = true;    // WordPiece: lower-case and strip accents (uncased BERT vocabularies)
    bool addSpecial = true;   // [CLS] … [SEP] (WordPiece); BOS/EOS when the SentencePiece model has them
    bool addEnd = true;       // with addSpecial, the closing [SEP] / EOS too (false: a language model's prompt)
    int maxLength = 0;        // 0: no limit; otherwise longer inputs are an error unless `truncate`
    bool truncate = false;
};

class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    /// Throws Error(BadInput) when the text is longer than maxLength tokens and truncation is off.
    virtual Tokenized encode(const std::string &text) const = 0;
    virtual std::string kind() const = 0;
    virtual size_t vocabularySize() const = 0;
    /// The token string of an id ("" outside the vocabulary).
    virtual std::string piece(int64_t id) const = 0;
    /// The text of ids: SentencePiece's ▁ become spaces, WordPiece's ## pieces join their word; special
    /// tokens ([CLS], [SEP], [PAD], <s>, </s>, <pad>) are left out.
    virtual std::string decode(const std::vector<int64_t> &ids) const = 0;
    /// A WordPiece vocabulary (vocab.txt) or a SentencePiece model (.model), by content. Throws Error
    /// (FileNotFound / BadInput) naming the file and the problem.
    static std::unique_ptr<Tokenizer> open(const std::string &path, const TokenizerOptions &options = {});
};

class WordPieceTokenizer : public Tokenizer {
public:
    WordPieceTokenizer(const std::string &vocabPath, const TokenizerOptions &options);
    /// From the pieces in id order (a tokenizer.json's WordPiece model); `source` names it in errors.
    WordPieceTokenizer(const std::vector<std::string> &pieces, const TokenizerOptions &options, const std::string &source);
    Tokenized encode(const std::string &text) const override;
    std::string kind() const override { return "wordpiece"; }
    size_t vocabularySize() const override { return mVocab.size(); }
    std::string piece(int64_t id) const override { return id >= 0 && size_t(id) < mPieces.size() ? mPieces[size_t(id)] : std::string(); }
    std::string decode(const std::vector<int64_t> &ids) const override;
    /// BERT's basic tokenisation alone (words and punctuation), for tests.
    std::vector<std::string> basicTokens(const std::string &text) const;
    /// Word pieces of one basic token.
    std::vector<std::string> wordPieces(const std::string &word) const;

private:
    void init(const std::string &source);
    std::unordered_map<std::string, int64_t> mVocab;
    std::vector<std::string> mPieces;   // by id
    TokenizerOptions mOptions;
    int64_t mUnk = -1, mCls = -1, mSep = -1;
};

/// GPT-2's byte-level BPE: text split by GPT-2's pattern ('s 't 're 've 'm 'll 'd, ␣?letters, ␣?numbers,
/// ␣?other symbols, whitespace), each piece's UTF-8 bytes mapped to printable characters (bytes_to_unicode),
/// then merged pair by pair in the merges' rank order; added tokens (<|endoftext|>, …) are matched whole
/// first. From a vocab.json + merges.txt pair, or a Hugging Face tokenizer.json with a BPE model and a
/// ByteLevel pre-tokenizer. No BOS is added (GPT-2's convention); with addSpecial and addEnd, the
/// end-of-text token closes the sequence when the vocabulary has one.
class BpeTokenizer : public Tokenizer {
public:
    BpeTokenizer(const std::vector<std::pair<std::string, int64_t>> &vocab, const std::vector<std::pair<std::string, std::string>> &merges,
                 const std::vector<std::pair<std::string, int64_t>> &added, const TokenizerOptions &options, const std::string &source);
    Tokenized encode(const std::string &text) const override;
    std::string kind() const override { return "bpe"; }
    size_t vocabularySize() const override { return mPieces.size(); }
    std::string piece(int64_t id) const override { return id >= 0 && size_t(id) < mPieces.size() ? mPieces[size_t(id)] : std::string(); }
    std::string decode(const std::vector<int64_t> &ids) const override;
    /// GPT-2's pre-tokenization alone (UTF-8 pieces, before the byte mapping), for tests.
    static std::vector<std::string> preTokenize(const std::string &text);

private:
    std::vector<std::string> bpe(const std::string &mapped) const;
    std::unordered_map<std::string, int64_t> mVocab;
    std::vector<std::string> mPieces;
    std::unordered_map<std::string, int> mRanks;           // "a b" → rank
    std::vector<std::pair<std::string, int64_t>> mAdded;   // longest first
    TokenizerOptions mOptions;
    int64_t mEnd = -1;
    std::string mSource;
};

/// A Unigram model from a Hugging Face tokenizer.json (SentencePiece's unigram, as T5/ALBERT/XLNet export it):
/// spaces become ▁ with one in front (Metaspace), each word is split into the pieces of highest total score
/// (Viterbi), a character no piece covers becomes <unk>; with a Lowercase normalizer the text is lower-cased
/// first. With addSpecial, <s> / </s> (when the vocabulary has them) open and close the sequence.
class UnigramTokenizer : public Tokenizer {
public:
    UnigramTokenizer(const std::vector<std::pair<std::string, double>> &vocab, int64_t unkId, const std::vector<int64_t> &special, bool lowercase,
                     const TokenizerOptions &options, const std::string &source);
    Tokenized encode(const std::string &text) const override;
    std::string kind() const override { return "unigram"; }
    size_t vocabularySize() const override { return mPieces.size(); }
    std::string piece(int64_t id) const override { return id >= 0 && size_t(id) < mPieces.size() ? mPieces[size_t(id)] : std::string(); }
    std::string decode(const std::vector<int64_t> &ids) const override;

private:
    std::vector<std::string> mPieces;
    std::vector<double> mScores;
    std::unordered_map<std::string, int64_t> mIndex;   // matchable pieces (not special tokens)
    size_t mMaxChars = 1;
    int64_t mUnk = -1, mBos = -1, mEos = -1;
    bool mLowercase = false;
    double mUnkScore = -10;
    TokenizerOptions mOptions;
    std::vector<int64_t> mSpecial;
};

/// A corpus for training on a language model: one sequence per non-blank line of `text` (its first
/// `maxLineBytes` bytes, through `tokenizer`), cut at `context` tokens, sequences shorter than 2 left out,
/// until `maxTokens` tokens are gathered; `tokens` receives their count.
std::vector<std::vector<int64_t>> corpusSequences(const Tokenizer &tokenizer, const std::string &text, size_t context, int64_t maxTokens,
                                                  size_t maxLineBytes, int64_t *tokens = nullptr);

/// The tuned lens's training corpus from a text, as `pellucid-cli tuned-lens --corpus` and the Generation
/// dock build it: corpusSequences cut at the model's context (128 tokens when unknown), each line's first
/// 4000 bytes, at most maxTokens tokens (kTunedLensCorpusTokens by default in both).
constexpr int64_t kTunedLensCorpusTokens = 20000;
std::vector<std::vector<int64_t>> tunedLensCorpus(const Tokenizer &tokenizer, const std::string &text, int64_t context, int64_t maxTokens,
                                                  int64_t *tokens = nullptr);

/// The tokenizer a model's metadata names ("tokenizer": {"file", "lowercase", "max_length"}): fills the file
/// (relative to the model) and the options it gives — without max_length, a sequence length the metadata's
/// input shape [1, L] fixes; returns false when the metadata names none.
bool tokenizerFromMetadata(const ModelSummary &model, std::string &file, TokenizerOptions &options);
/// The tokenizer the model's metadata names, opened. Throws Error(BadMetadata) naming the model when none.
/// `addEnd` false: no closing EOS / [SEP] (a language model's prompt).
std::unique_ptr<Tokenizer> tokenizerForModel(const ModelSummary &model, bool truncate, bool addEnd = true);

/// Whether this build has SentencePiece support (libsentencepiece-dev found at configure time).
bool sentencePieceAvailable();

}   // namespace pellucid
