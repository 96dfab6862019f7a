#include "app/io/tokenizer.h"

#include "app/io/unicodeclasses.h"
#include "app/io/unicodetables.h"
#include "engine/core/errors.h"
#include "engine/core/json.h"

#include <algorithm>
#include <array>
#include <cstring>
#include "engine/core/files.h"

#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include <dlfcn.h>
#include <cstdlib>

namespace pellucid {
namespace {

/// Decodes UTF-8 into code points; invalid bytes become U+FFFD.
std::vector<char32_t> decodeUtf8(const std::string &s)
{
    std::vector<char32_t> out;
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + size_t(len) > s.size()) {
            out.push_back(0xFFFD);
            ++i;
            continue;
        }
        char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        bool ok = true;
        for (int k = 1; k < len; ++k) {
            const unsigned char d = static_cast<unsigned char>(s[i + size_t(k)]);
            if ((d >> 6) != 2) {
                ok = false;
                break;
            }
            cp = (cp << 6) | (d & 0x3F);
        }
        out.push_back(ok ? cp : 0xFFFD);
        i += ok ? size_t(len) : 1;
    }
    return out;
}

std::string encodeUtf8(const std::u32string &s)
{
    std::string out;
    for (char32_t c : s) {
        if (c < 0x80)
            out += char(c);
        else if (c < 0x800) {
            out += char(0xC0 | (c >> 6));
            out += char(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out += char(0xE0 | (c >> 12));
            out += char(0x80 | ((c >> 6) & 0x3F));
            out += char(0x80 | (c & 0x3F));
        } else {
            out += char(0xF0 | (c >> 18));
            out += char(0x80 | ((c >> 12) & 0x3F));
            out += char(0x80 | ((c >> 6) & 0x3F));
            out += char(0x80 | (c & 0x3F));
        }
    }
    return out;
}

bool isWhitespace(char32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F;
}
bool isControl(char32_t c)
{
    return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || (c >= 0x7F && c < 0xA0) || c == 0xFFFD || c == 0 || (c >= 0x200B && c <= 0x200F);
}
bool isPunctuation(char32_t c)
{
    // BERT: every non-letter/number ASCII symbol, plus Unicode punctuation.
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
    if (c == 0xA1 || c == 0xA7 || c == 0xAB || c == 0xB6 || c == 0xB7 || c == 0xBB || c == 0xBF) return true;
    return (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205E) || (c >= 0x3001 && c <= 0x3003) || (c >= 0x3008 && c <= 0x3011)
        || (c >= 0xFF01 && c <= 0xFF0F);
}
bool isCjk(char32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B81F)
        || (c >= 0x2B820 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}
bool isCombiningMark(char32_t c)
{
    return (c >= 0x0300 && c <= 0x036F) || (c >= 0x1AB0 && c <= 0x1AFF) || (c >= 0x1DC0 && c <= 0x1DFF) || (c >= 0x20D0 && c <= 0x20FF);
}

/// Lower case for Latin (U+0000..U+024F, from Unicode's tables), Greek and Cyrillic letters.
char32_t lower(char32_t c)
{
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c >= unicode::kLatinFirst && c <= unicode::kLatinLast) return unicode::kLatin[c - unicode::kLatinFirst].lower;
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

/// The base letter of a precomposed Latin letter (NFD with the combining marks removed); 0 if none.
char32_t stripAccent(char32_t c)
{
    if (c >= unicode::kLatinFirst && c <= unicode::kLatinLast) return unicode::kLatin[c - unicode::kLatinFirst].base;
    return 0;
}

std::string readAll(const std::string &path)
{
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw Error(ErrorCode::FileNotFound, "Tokenizer file not found: " + path);
    checkInputFile(path, kMaxTextFileBytes, "The tokenizer");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::FileNotFound, "Tokenizer file not found: " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void checkLength(Tokenized &t, const TokenizerOptions &o, bool keepLast)
{
    if (o.maxLength <= 0 || int(t.ids.size()) <= o.maxLength) return;
    if (!o.truncate)
        throw Error(ErrorCode::BadInput,
                    "The text has " + std::to_string(t.ids.size()) + " tokens; the model takes at most " + std::to_string(o.maxLength)
                        + " (shorten it, or choose truncation)");
    const size_t keep = size_t(o.maxLength);
    if (keepLast && keep >= 2) {
        // Keep the closing special token ([SEP] / EOS).
        const int64_t lastId = t.ids.back();
        const std::string lastTok = t.tokens.back();
        t.ids.resize(keep - 1);
        t.tokens.resize(keep - 1);
        t.ids.push_back(lastId);
        t.tokens.push_back(lastTok);
    } else {
        t.ids.resize(keep);
        t.tokens.resize(keep);
    }
    t.truncated = true;
}

/// The closing end token (EOS) where the options ask for it and the model has one (endId ≥ 0), then the
/// length rule (truncation keeps that token).
void closeEncoding(Tokenized &t, const TokenizerOptions &o, int64_t endId, const std::function<std::string()> &endPiece)
{
    const bool end = o.addSpecial && o.addEnd && endId >= 0;
    if (end) {
        t.ids.push_back(endId);
        t.tokens.push_back(endPiece());
    }
    checkLength(t, o, end);
}

}   // namespace

WordPieceTokenizer::WordPieceTokenizer(const std::string &path, const TokenizerOptions &options) : mOptions(options)
{
    const std::string text = readAll(path);
    if (text.empty()) throw Error(ErrorCode::BadInput, "The vocabulary " + path + " is empty");
    std::istringstream in(text);
    std::string line;
    int64_t id = 0;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        for (char32_t c : decodeUtf8(line))
            if (c == 0xFFFD) throw Error(ErrorCode::BadInput, "The vocabulary " + path + " is not valid UTF-8 (line " + std::to_string(id + 1) + ")");
        if (line.empty())
            throw Error(ErrorCode::BadInput,
                        "The vocabulary " + path + " has an empty entry at line " + std::to_string(id + 1) + " (one token per line)");
        if (line.find_first_of(" \t") != std::string::npos)
            throw Error(ErrorCode::BadInput,
                        "The vocabulary " + path + " has whitespace inside the token at line " + std::to_string(id + 1) + " ('" + line.substr(0, 40)
                            + "'): not a vocab.txt");
        if (!mVocab.emplace(line, id).second)
            throw Error(ErrorCode::BadInput, "The vocabulary " + path + " lists '" + line + "' twice (line " + std::to_string(id + 1) + ")");
        mPieces.push_back(line);
        ++id;
    }
    init(path);
}

WordPieceTokenizer::WordPieceTokenizer(const std::vector<std::string> &pieces, const TokenizerOptions &options, const std::string &source)
    : mPieces(pieces), mOptions(options)
{
    for (size_t i = 0; i < pieces.size(); ++i)
        if (pieces[i].empty() || !mVocab.emplace(pieces[i], int64_t(i)).second)
            throw Error(ErrorCode::BadInput, "The WordPiece vocabulary of " + source + " has an empty or repeated entry at id " + std::to_string(i));
    init(source);
}

void WordPieceTokenizer::init(const std::string &path)
{
    auto find = [&](const char *t) {
        const auto it = mVocab.find(t);
        return it == mVocab.end() ? int64_t(-1) : it->second;
    };
    mUnk = find("[UNK]");
    mCls = find("[CLS]");
    mSep = find("[SEP]");
    if (mUnk < 0) throw Error(ErrorCode::BadInput, "The vocabulary " + path + " has no [UNK] token");
    if (mOptions.addSpecial && (mCls < 0 || mSep < 0)) throw Error(ErrorCode::BadInput, "The vocabulary " + path + " has no [CLS] / [SEP] tokens");
}

std::vector<std::string> WordPieceTokenizer::basicTokens(const std::string &text) const
{
    std::vector<std::string> out;
    std::u32string word;
    auto flush = [&] {
        if (!word.empty()) out.push_back(encodeUtf8(word));
        word.clear();
    };
    for (char32_t c : decodeUtf8(text)) {
        if (isControl(c)) continue;
        if (isWhitespace(c)) {
            flush();
            continue;
        }
        if (mOptions.lowercase) {
            if (isCombiningMark(c)) continue;   // accents written as combining marks
            c = lower(c);
            if (const char32_t base = stripAccent(c)) c = base;
        }
        if (isPunctuation(c) || isCjk(c)) {
            flush();
            out.push_back(encodeUtf8(std::u32string(1, c)));
            continue;
        }
        word += c;
    }
    flush();
    return out;
}

std::vector<std::string> WordPieceTokenizer::wordPieces(const std::string &word) const
{
    const std::vector<char32_t> cps = decodeUtf8(word);
    if (cps.size() > 100) return {"[UNK]"};
    std::vector<std::string> pieces;
    size_t start = 0;
    while (start < cps.size()) {
        size_t end = cps.size();
        std::string found;
        while (end > start) {
            std::string sub = encodeUtf8(std::u32string(cps.begin() + long(start), cps.begin() + long(end)));
            if (start > 0) sub = "##" + sub;
            if (mVocab.count(sub)) {
                found = sub;
                break;
            }
            --end;
        }
        if (found.empty()) return {"[UNK]"};   // BERT: a word that cannot be fully split is unknown
        pieces.push_back(found);
        start = end;
    }
    return pieces;
}

Tokenized WordPieceTokenizer::encode(const std::string &text) const
{
    Tokenized t;
    auto push = [&](const std::string &tok) {
        const auto it = mVocab.find(tok);
        t.ids.push_back(it == mVocab.end() ? mUnk : it->second);
        t.tokens.push_back(it == mVocab.end() ? "[UNK]" : tok);
    };
    if (mOptions.addSpecial) push("[CLS]");
    for (const std::string &w : basicTokens(text))
        for (const std::string &p : wordPieces(w)) push(p);
    if (mOptions.addSpecial && mOptions.addEnd) push("[SEP]");
    checkLength(t, mOptions, mOptions.addSpecial && mOptions.addEnd);
    return t;
}

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

/// Opens the plugin in its own symbol scope, so its protobuf comes before the one LibTorch's libprotobuf puts
/// in the global scope: RTLD_DEEPBIND. AddressSanitizer refuses RTLD_DEEPBIND; its builds bind normally when
/// no protobuf is loaded yet (a program without LibTorch, as the fuzz harnesses), else open the plugin in a
/// link-map namespace of its own (dlmopen: its own libc too, which the plugin's C interface allows: what it
/// allocates, it frees). PELLUCID_PLUGIN_DLMOPEN=1 takes the dlmopen route in any build, for tools that preload
/// their own malloc (heaptrack), which RTLD_DEEPBIND does not mix with either.
void *openPlugin(const std::string &path)
{
    if (!kAddressSanitizer && !std::getenv("PELLUCID_PLUGIN_DLMOPEN")) return dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (kAddressSanitizer && !dlsym(RTLD_DEFAULT, "_ZN6google8protobuf11MessageLite14ParseFromArrayEPKvi"))
        return dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    return dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
}

/// The SentencePiece plugin (app/spplugin.cpp), loaded on first use with its own symbol scope.
struct SpPlugin {
    void *lib = nullptr;
    void *(*load)(const char *, char **) = nullptr;
    void (*info)(void *, int *, int *, int *) = nullptr;
    char *(*encode)(void *, const char *) = nullptr;
    char *(*piece)(void *, int) = nullptr;
    void (*release)(char *) = nullptr;
    void (*close)(void *) = nullptr;
    std::string error;

    static SpPlugin &get()
    {
        static SpPlugin p = [] {
            SpPlugin s;
            std::vector<std::string> dirs;
            if (const char *env = std::getenv("PELLUCID_PLUGIN_DIR")) dirs.push_back(env);
            std::error_code ec;
            const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
            if (!ec) {
                dirs.push_back(exe.string());
                dirs.push_back((exe / ".." / "lib" / "pellucid").string());
            }
            dirs.push_back(PELLUCID_PLUGIN_BUILD_DIR);
            for (const auto &d : dirs) {
                const std::string path = d + "/libpellucid_sentencepiece.so";
                if (!std::filesystem::exists(path)) continue;
                s.lib = openPlugin(path);
                if (!s.lib) {
                    s.error = dlerror();
                    continue;
                }
                break;
            }
            if (!s.lib) {
                if (s.error.empty())
                    s.error = "the SentencePiece plugin (libpellucid_sentencepiece.so) is not installed; build with libsentencepiece-dev";
                return s;
            }
            s.load = reinterpret_cast<void *(*)(const char *, char **)>(dlsym(s.lib, "pellucid_sp_load"));
            s.info = reinterpret_cast<void (*)(void *, int *, int *, int *)>(dlsym(s.lib, "pellucid_sp_info"));
            s.encode = reinterpret_cast<char *(*)(void *, const char *)>(dlsym(s.lib, "pellucid_sp_encode"));
            s.piece = reinterpret_cast<char *(*)(void *, int)>(dlsym(s.lib, "pellucid_sp_piece"));
            s.release = reinterpret_cast<void (*)(char *)>(dlsym(s.lib, "pellucid_sp_free"));
            s.close = reinterpret_cast<void (*)(void *)>(dlsym(s.lib, "pellucid_sp_close"));
            if (!s.load || !s.info || !s.encode || !s.piece || !s.release || !s.close) {
                s.error = "the SentencePiece plugin lacks its functions";
                s.lib = nullptr;
            }
            return s;
        }();
        return p;
    }
    std::string take(char *p) const
    {
        std::string s = p ? p : "";
        release(p);
        return s;
    }
};

class SentencePieceTokenizer : public Tokenizer {
public:
    SentencePieceTokenizer(const std::string &path, const TokenizerOptions &o) : mOptions(o), mPlugin(SpPlugin::get())
    {
        if (!mPlugin.lib) throw Error(ErrorCode::BadInput, path + " is a SentencePiece model, but " + mPlugin.error);
        char *err = nullptr;
        mHandle = mPlugin.load(path.c_str(), &err);
        if (!mHandle) throw Error(ErrorCode::BadInput, "Cannot read the SentencePiece model " + path + ": " + mPlugin.take(err));
        mPlugin.info(mHandle, &mBos, &mEos, &mSize);
    }
    ~SentencePieceTokenizer() override
    {
        if (mHandle) mPlugin.close(mHandle);
    }
    Tokenized encode(const std::string &text) const override
    {
        Tokenized t;
        if (mOptions.addSpecial && mBos >= 0) {
            t.ids.push_back(mBos);
            t.tokens.push_back(mPlugin.take(mPlugin.piece(mHandle, mBos)));
        }
        // "ID LENGTH PIECE" records (a piece may hold any byte, a newline too: found by fuzz_sentencepiece).
        const std::string out = mPlugin.take(mPlugin.encode(mHandle, text.c_str()));
        for (size_t at = 0; at < out.size();) {
            const size_t sp1 = out.find(' ', at), sp2 = sp1 == std::string::npos ? sp1 : out.find(' ', sp1 + 1);
            int64_t id = 0, length = 0;
            if (sp2 == std::string::npos || !parseInteger(out.substr(at, sp1 - at), id) || !parseInteger(out.substr(sp1 + 1, sp2 - sp1 - 1), length)
                || length < 0 || uint64_t(length) > out.size() - sp2 - 1)
                throw Error(ErrorCode::Internal, "The SentencePiece plugin returned a malformed encoding");
            t.ids.push_back(id);
            t.tokens.push_back(out.substr(sp2 + 1, size_t(length)));
            at = sp2 + 1 + size_t(length);
        }
        closeEncoding(t, mOptions, mEos, [&] { return mPlugin.take(mPlugin.piece(mHandle, mEos)); });
        return t;
    }
    std::string kind() const override { return "sentencepiece"; }
    size_t vocabularySize() const override { return size_t(mSize); }
    std::string piece(int64_t id) const override { return id >= 0 && id < mSize ? mPlugin.take(mPlugin.piece(mHandle, int(id))) : std::string(); }
    std::string decode(const std::vector<int64_t> &ids) const override
    {
        std::string out;
        for (int64_t id : ids) {
            if (id == mBos || id == mEos || id < 0 || id >= mSize) continue;
            std::string p = piece(id);
            if (p == "<pad>" || p == "<unk>") p = p == "<unk>" ? "\u2047" : "";
            for (size_t at; (at = p.find("\u2581")) != std::string::npos;) p.replace(at, 3, " ");
            out += p;
        }
        if (!out.empty() && out.front() == ' ') out.erase(0, 1);
        return out;
    }

private:
    TokenizerOptions mOptions;
    SpPlugin &mPlugin;
    void *mHandle = nullptr;
    int mBos = -1, mEos = -1, mSize = 0;
};

}   // namespace

bool sentencePieceAvailable() { return SpPlugin::get().lib != nullptr; }

std::string WordPieceTokenizer::decode(const std::vector<int64_t> &ids) const
{
    std::string out;
    for (int64_t id : ids) {
        const std::string p = piece(id);
        if (p.empty() || p == "[CLS]" || p == "[SEP]" || p == "[PAD]") continue;
        if (p.size() > 2 && p.compare(0, 2, "##") == 0)
            out += p.substr(2);
        else
            out += (out.empty() ? "" : " ") + p;
    }
    return out;
}

std::vector<std::vector<int64_t>> corpusSequences(const Tokenizer &tokenizer, const std::string &text, size_t context, int64_t maxTokens,
                                                  size_t maxLineBytes, int64_t *tokens)
{
    std::vector<std::vector<int64_t>> out;
    int64_t total = 0;
    std::istringstream lines(text);
    for (std::string line; total < maxTokens && std::getline(lines, line);) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::vector<int64_t> ids = tokenizer.encode(line.substr(0, maxLineBytes)).ids;
        if (ids.size() > context) ids.resize(context);
        if (ids.size() < 2) continue;
        total += int64_t(ids.size());
        out.push_back(std::move(ids));
    }
    if (tokens) *tokens = total;
    return out;
}

bool tokenizerFromMetadata(const ModelSummary &model, std::string &file, TokenizerOptions &options)
{
    const Json *t = model.metadata.raw.find("tokenizer");
    if (!t || !t->isObject()) return false;
    if (const Json *f = t->find("file"); f && f->isString()) file = (std::filesystem::path(model.path).parent_path() / f->asString()).string();
    if (const Json *l = t->find("lowercase")) options.lowercase = l->asBool();
    if (const Json *m = t->find("max_length"))
        options.maxLength = int(m->asInt());
    else if (options.maxLength == 0 && model.inputShape.size() == 2 && model.inputShapeSource == "metadata")
        options.maxLength = int(model.inputShape[1]);
    return true;
}

std::unique_ptr<Tokenizer> tokenizerForModel(const ModelSummary &model, bool truncate, bool addEnd)
{
    TokenizerOptions o;
    o.truncate = truncate;
    o.addEnd = addEnd;
    std::string file;
    tokenizerFromMetadata(model, file, o);
    if (file.empty()) throw Error(ErrorCode::BadMetadata, model.fileName + " names no tokenizer in its metadata (\"tokenizer\": {\"file\": …})");
    return Tokenizer::open(file, o);
}

// ---- Byte-level BPE (GPT-2)

namespace {

bool inRanges(const unicode::CodeRange *r, size_t n, char32_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (c < r[mid].first)
            hi = mid;
        else if (c > r[mid].last)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

bool isLetter(char32_t c) { return inRanges(unicode::kLetters, std::size(unicode::kLetters), c); }
bool isNumber(char32_t c) { return inRanges(unicode::kNumbers, std::size(unicode::kNumbers), c); }
/// Python's str.isspace() (what \s matches in the `regex` module for str patterns).
bool isSpace(char32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A)
        || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 onwards.
const std::array<std::string, 256> &byteToUnicode()
{
    static const std::array<std::string, 256> table = [] {
        std::array<std::string, 256> t;
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const char32_t cp = printable ? char32_t(b) : char32_t(256 + n++);
            t[size_t(b)] = encodeUtf8(std::u32string(1, cp));
        }
        return t;
    }();
    return table;
}

const std::unordered_map<std::string, unsigned char> &unicodeToByte()
{
    static const std::unordered_map<std::string, unsigned char> table = [] {
        std::unordered_map<std::string, unsigned char> t;
        for (int b = 0; b < 256; ++b) t[byteToUnicode()[size_t(b)]] = (unsigned char)b;
        return t;
    }();
    return table;
}

}   // namespace

std::vector<std::string> BpeTokenizer::preTokenize(const std::string &text)
{
    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    const std::vector<char32_t> c = decodeUtf8(text);
    const size_t n = c.size();
    std::vector<std::string> out;
    size_t i = 0;
    auto emit = [&](size_t from, size_t to) { out.push_back(encodeUtf8(std::u32string(c.begin() + long(from), c.begin() + long(to)))); };
    auto other = [&](char32_t x) { return !isSpace(x) && !isLetter(x) && !isNumber(x); };
    while (i < n) {
        if (c[i] == '\'' && i + 1 < n) {
            static const char *const suffixes[] = {"s", "t", "re", "ve", "m", "ll", "d"};
            bool matched = false;
            for (const char *suf : suffixes) {
                const size_t len = std::strlen(suf);
                bool ok = i + len < n + 1 && i + 1 + len <= n;
                for (size_t k = 0; ok && k < len; ++k) ok = c[i + 1 + k] == char32_t(suf[k]);
                if (ok) {
                    emit(i, i + 1 + len);
                    i += 1 + len;
                    matched = true;
                    break;
                }
            }
            if (matched) continue;
        }
        const size_t start = i;
        const size_t j = c[i] == ' ' && i + 1 < n ? i + 1 : i;   // an optional leading space
        if (isLetter(c[j]) || isNumber(c[j]) || other(c[j])) {
            auto cls = isLetter(c[j]) ? 0 : isNumber(c[j]) ? 1 : 2;
            size_t k = j;
            while (k < n && (cls == 0 ? isLetter(c[k]) : cls == 1 ? isNumber(c[k]) : other(c[k]))) ++k;
            if (k > j) {
                emit(start, k);
                i = k;
                continue;
            }
        }
        // Whitespace: a run not followed by a non-space keeps its last character for the next piece.
        size_t k = i;
        while (k < n && isSpace(c[k])) ++k;
        if (k > i) {
            if (k < n && k - i > 1) {
                emit(i, k - 1);
                i = k - 1;
            } else {
                emit(i, k);
                i = k;
            }
            continue;
        }
        emit(i, i + 1);   // not reached for valid text; keeps the loop total
        ++i;
    }
    return out;
}

BpeTokenizer::BpeTokenizer(const std::vector<std::pair<std::string, int64_t>> &vocab, const std::vector<std::pair<std::string, std::string>> &merges,
                           const std::vector<std::pair<std::string, int64_t>> &added, const TokenizerOptions &options, const std::string &source)
    : mAdded(added), mOptions(options), mSource(source)
{
    if (vocab.empty()) throw Error(ErrorCode::BadInput, "The BPE vocabulary of " + source + " is empty");
    int64_t maxId = -1;
    for (const auto &[tok, id] : vocab) maxId = std::max(maxId, id);
    for (const auto &[tok, id] : added) maxId = std::max(maxId, id);
    if (maxId > 10000000) throw Error(ErrorCode::BadInput, "The BPE vocabulary of " + source + " has an id beyond 10,000,000");
    mPieces.assign(size_t(maxId + 1), std::string());
    for (const auto &[tok, id] : vocab) {
        if (id < 0) throw Error(ErrorCode::BadInput, "The BPE vocabulary of " + source + " has a negative id for '" + tok.substr(0, 40) + "'");
        mVocab[tok] = id;
        mPieces[size_t(id)] = tok;
    }
    for (const auto &[tok, id] : added) {
        mVocab[tok] = id;
        mPieces[size_t(id)] = tok;
    }
    for (size_t r = 0; r < merges.size(); ++r) mRanks.emplace(merges[r].first + " " + merges[r].second, int(r));
    std::sort(mAdded.begin(), mAdded.end(), [](const auto &a, const auto &b) { return a.first.size() > b.first.size(); });
    for (const char *end : {"<|endoftext|>", "</s>", "<eos>"})
        if (const auto it = mVocab.find(end); it != mVocab.end()) {
            mEnd = it->second;
            break;
        }
}

std::vector<std::string> BpeTokenizer::bpe(const std::string &mapped) const
{
    std::vector<std::string> word;
    for (char32_t cp : decodeUtf8(mapped)) word.push_back(encodeUtf8(std::u32string(1, cp)));
    while (word.size() > 1) {
        int best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < word.size(); ++i) {
            const auto it = mRanks.find(word[i] + " " + word[i + 1]);
            if (it != mRanks.end() && (best < 0 || it->second < best)) {
                best = it->second;
                at = i;
            }
        }
        if (best < 0) break;
        // Merge every occurrence of the best pair, left to right (as GPT-2's encoder does).
        const std::string first = word[at], second = word[at + 1];
        std::vector<std::string> merged;
        for (size_t i = 0; i < word.size();) {
            if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
                merged.push_back(first + second);
                i += 2;
            } else {
                merged.push_back(word[i++]);
            }
        }
        word.swap(merged);
    }
    return word;
}

Tokenized BpeTokenizer::encode(const std::string &text) const
{
    Tokenized t;
    auto encodeSpan = [&](const std::string &span) {
        for (const std::string &piece : preTokenize(span)) {
            std::string mapped;
            for (unsigned char b : piece) mapped += byteToUnicode()[b];
            for (const std::string &sym : bpe(mapped)) {
                const auto it = mVocab.find(sym);
                if (it == mVocab.end())
                    throw Error(ErrorCode::BadInput,
                                "The BPE vocabulary of " + mSource + " has no entry for the piece '" + sym
                                    + "' (vocabulary and merges do not match)");
                t.ids.push_back(it->second);
                t.tokens.push_back(sym);
            }
        }
    };
    // Added tokens are matched whole before the text is split.
    size_t pos = 0, from = 0;
    while (pos < text.size()) {
        bool hit = false;
        for (const auto &[tok, id] : mAdded)
            if (!tok.empty() && text.compare(pos, tok.size(), tok) == 0) {
                encodeSpan(text.substr(from, pos - from));
                t.ids.push_back(id);
                t.tokens.push_back(tok);
                pos += tok.size();
                from = pos;
                hit = true;
                break;
            }
        if (!hit) ++pos;
    }
    encodeSpan(text.substr(from));
    closeEncoding(t, mOptions, mEnd, [&] { return mPieces[size_t(mEnd)]; });
    return t;
}

std::string BpeTokenizer::decode(const std::vector<int64_t> &ids) const
{
    std::string out;
    for (int64_t id : ids) {
        const std::string p = piece(id);
        if (id == mEnd) continue;
        if (std::any_of(mAdded.begin(), mAdded.end(), [&](const auto &a) { return a.second == id; })) {
            out += p;
            continue;
        }
        for (char32_t cp : decodeUtf8(p)) {
            const auto it = unicodeToByte().find(encodeUtf8(std::u32string(1, cp)));
            if (it != unicodeToByte().end()) out += char(it->second);
        }
    }
    return out;
}

// ---- Unigram (tokenizer.json)

UnigramTokenizer::UnigramTokenizer(const std::vector<std::pair<std::string, double>> &vocab, int64_t unkId, const std::vector<int64_t> &special,
                                   bool lowercase, const TokenizerOptions &options, const std::string &source)
    : mUnk(unkId), mLowercase(lowercase), mOptions(options), mSpecial(special)
{
    if (vocab.empty()) throw Error(ErrorCode::BadInput, "The Unigram vocabulary of " + source + " is empty");
    if (unkId < 0 || unkId >= int64_t(vocab.size())) throw Error(ErrorCode::BadInput, "The Unigram model of " + source + " has no valid unk_id");
    double minScore = 0;
    for (size_t i = 0; i < vocab.size(); ++i) {
        mPieces.push_back(vocab[i].first);
        mScores.push_back(vocab[i].second);
        if (int64_t(i) == unkId || std::find(special.begin(), special.end(), int64_t(i)) != special.end()) continue;
        if (vocab[i].first.empty()) continue;
        mIndex.emplace(vocab[i].first, int64_t(i));
        mMaxChars = std::max(mMaxChars, decodeUtf8(vocab[i].first).size());
        minScore = std::min(minScore, vocab[i].second);
    }
    mUnkScore = minScore - 10;   // SentencePiece's penalty for an unknown character
    for (size_t i = 0; i < mPieces.size(); ++i) {
        if (mPieces[i] == "<s>") mBos = int64_t(i);
        if (mPieces[i] == "</s>") mEos = int64_t(i);
    }
}

Tokenized UnigramTokenizer::encode(const std::string &text) const
{
    Tokenized t;
    if (mOptions.addSpecial && mBos >= 0) {
        t.ids.push_back(mBos);
        t.tokens.push_back(mPieces[size_t(mBos)]);
    }
    // Metaspace: words split on whitespace, each starting with ▁.
    std::vector<char32_t> cps = decodeUtf8(text);
    if (mLowercase)
        for (char32_t &c : cps) c = lower(c);
    std::vector<std::u32string> words;
    std::u32string word;
    for (char32_t c : cps) {
        if (isWhitespace(c)) {
            if (!word.empty()) words.push_back(word);
            word.clear();
        } else {
            if (word.empty()) word.push_back(0x2581);
            word.push_back(c);
        }
    }
    if (!word.empty()) words.push_back(word);
    for (const std::u32string &w : words) {
        // Viterbi over character positions: the segmentation of highest total score.
        const size_t n = w.size();
        std::vector<double> best(n + 1, -1e300);
        std::vector<size_t> from(n + 1, 0);
        std::vector<int64_t> id(n + 1, -1);
        best[0] = 0;
        for (size_t i = 0; i < n; ++i) {
            if (best[i] <= -1e299) continue;
            bool any = false;
            for (size_t len = 1; len <= mMaxChars && i + len <= n; ++len) {
                const auto it = mIndex.find(encodeUtf8(w.substr(i, len)));
                if (it == mIndex.end()) continue;
                any = any || len == 1;
                const double sc = best[i] + mScores[size_t(it->second)];
                if (sc > best[i + len]) {
                    best[i + len] = sc;
                    from[i + len] = i;
                    id[i + len] = it->second;
                }
            }
            if (!any && best[i] + mUnkScore > best[i + 1]) {   // an uncovered character
                best[i + 1] = best[i] + mUnkScore;
                from[i + 1] = i;
                id[i + 1] = mUnk;
            }
        }
        std::vector<std::pair<int64_t, std::string>> pieces;
        for (size_t end = n; end > 0; end = from[end]) pieces.emplace_back(id[end], encodeUtf8(w.substr(from[end], end - from[end])));
        for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
            // Consecutive unknown characters make one <unk>, as SentencePiece does.
            if (it->first == mUnk && !t.ids.empty() && t.ids.back() == mUnk) continue;
            t.ids.push_back(it->first);
            t.tokens.push_back(it->first == mUnk ? mPieces[size_t(mUnk)] : it->second);
        }
    }
    closeEncoding(t, mOptions, mEos, [&] { return mPieces[size_t(mEos)]; });
    return t;
}

std::string UnigramTokenizer::decode(const std::vector<int64_t> &ids) const
{
    std::string out;
    for (int64_t id : ids) {
        if (id < 0 || size_t(id) >= mPieces.size() || id == mBos || id == mEos) continue;
        if (std::find(mSpecial.begin(), mSpecial.end(), id) != mSpecial.end() && id != mUnk) continue;
        std::string p = id == mUnk ? std::string("\u2047") : mPieces[size_t(id)];
        for (size_t at; (at = p.find("\u2581")) != std::string::npos;) p.replace(at, 3, " ");
        out += p;
    }
    if (!out.empty() && out.front() == ' ') out.erase(0, 1);
    return out;
}

namespace {

std::unique_ptr<Tokenizer> openJsonTokenizer(const std::string &path, const TokenizerOptions &options)
{
    Json j;
    try {
        j = Json::parse(readAll(path));
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::BadInput, "The tokenizer " + path + " is not valid JSON: " + e.what());
    }
    try {
        std::vector<std::pair<std::string, int64_t>> vocab, added;
        std::vector<std::pair<std::string, std::string>> merges;
        auto readMerges = [&](const Json &list) {
            for (const Json &m : list.asArray()) {
                if (m.isArray() && m.size() == 2) {
                    merges.emplace_back(m.asArray()[0].asString(), m.asArray()[1].asString());
                } else {
                    const std::string s = m.asString();
                    const auto sp = s.find(' ');
                    if (sp == std::string::npos) throw std::runtime_error("a merge without two parts: '" + s.substr(0, 40) + "'");
                    merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
                }
            }
        };
        if (const Json *model = j.find("model")) {
            // Hugging Face tokenizer.json.
            const std::string type = model->find("type") ? model->find("type")->asString() : "";
            if (const Json *a = j.find("added_tokens"))
                for (const Json &t : a->asArray()) added.emplace_back(t.at("content").asString(), t.at("id").asInt());
            if (type == "BPE") {
                const Json *pre = j.find("pre_tokenizer");
                const std::string preType = pre && pre->isObject() && pre->find("type") ? pre->find("type")->asString() : "";
                if (preType != "ByteLevel")
                    throw std::runtime_error("its BPE model's pre-tokenizer is '" + preType + "'; Pellucid reads byte-level BPE (GPT-2's ByteLevel)");
                for (const auto &[tok, id] : model->at("vocab").asObject()) vocab.emplace_back(tok, id.asInt());
                readMerges(model->at("merges"));
                return std::make_unique<BpeTokenizer>(vocab, merges, added, options, path);
            }
            if (type == "WordPiece") {
                std::vector<std::string> pieces;
                for (const auto &[tok, id] : model->at("vocab").asObject()) {
                    const int64_t i = id.asInt();
                    if (i < 0 || i > 10000000) throw std::runtime_error("a vocabulary id out of range");
                    if (size_t(i) >= pieces.size()) pieces.resize(size_t(i) + 1);
                    pieces[size_t(i)] = tok;
                }
                TokenizerOptions o = options;
                if (const Json *norm = j.find("normalizer"); norm && norm->isObject())
                    if (const Json *lc = norm->find("lowercase")) o.lowercase = lc->asBool();
                return std::make_unique<WordPieceTokenizer>(pieces, o, path);
            }
            if (type == "Unigram") {
                std::vector<std::pair<std::string, double>> pieces;
                for (const Json &e : model->at("vocab").asArray()) {
                    if (!e.isArray() || e.size() != 2) throw std::runtime_error("a Unigram vocabulary entry is not [piece, score]");
                    pieces.emplace_back(e.asArray()[0].asString(), e.asArray()[1].asNumber());
                }
                std::vector<int64_t> special;
                for (const auto &a : added) special.push_back(a.second);
                bool lowercase = false;
                if (const Json *norm = j.find("normalizer"); norm && norm->isObject()) {
                    const std::string nt = norm->find("type") ? norm->find("type")->asString() : "";
                    if (nt == "Lowercase") lowercase = true;
                    if (nt == "Sequence")
                        for (const Json &n : norm->at("normalizers").asArray())
                            if (n.find("type") && n.find("type")->asString() == "Lowercase") lowercase = true;
                }
                const int64_t unk = model->find("unk_id") && !model->find("unk_id")->isNull() ? model->find("unk_id")->asInt() : -1;
                return std::make_unique<UnigramTokenizer>(pieces, unk, special, lowercase, options, path);
            }
            throw std::runtime_error("its model type is '" + type
                                     + "'; Pellucid reads BPE (byte-level), WordPiece and Unigram models from tokenizer.json");
        }
        // GPT-2's vocab.json, with merges.txt beside it.
        for (const auto &[tok, id] : j.asObject()) vocab.emplace_back(tok, id.asInt());
        const std::string mergesPath = (std::filesystem::path(path).parent_path() / "merges.txt").string();
        if (!std::filesystem::exists(mergesPath))
            throw std::runtime_error("a GPT-2 vocab.json needs merges.txt beside it (" + mergesPath + " is missing)");
        std::istringstream in(readAll(mergesPath));
        std::string line;
        while (std::getline(in, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty() || line.rfind("#version", 0) == 0) continue;
            const auto sp = line.find(' ');
            if (sp == std::string::npos) throw std::runtime_error("merges.txt has a line without two parts: '" + line.substr(0, 40) + "'");
            merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
        }
        for (const auto &[tok, id] : vocab)
            if (tok == "<|endoftext|>") added.emplace_back(tok, id);
        return std::make_unique<BpeTokenizer>(vocab, merges, added, options, path);
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::BadInput, "The tokenizer " + path + " cannot be read: " + e.what());
    }
}

}   // namespace

std::unique_ptr<Tokenizer> Tokenizer::open(const std::string &path, const TokenizerOptions &options)
{
    if (!std::filesystem::exists(path)) throw Error(ErrorCode::FileNotFound, "Tokenizer file not found: " + path);
    // Regular files under the text ceiling only: a FIFO would block, a huge file would make the protobuf
    // parser abort.
    checkInputFile(path, kMaxTextFileBytes, "The tokenizer");
    if (path.size() > 5 && path.substr(path.size() - 5) == ".json") return openJsonTokenizer(path, options);
    // SentencePiece models are protobufs (binary); vocab.txt files are UTF-8 text.
    std::ifstream in(path, std::ios::binary);
    char head[64] = {};
    in.read(head, sizeof head);
    const std::streamsize n = in.gcount();
    bool binary = false;
    for (std::streamsize i = 0; i < n; ++i)
        if (head[i] == 0 || (static_cast<unsigned char>(head[i]) < 9)) binary = true;
    if (binary || (path.size() > 6 && path.substr(path.size() - 6) == ".model")) return std::make_unique<SentencePieceTokenizer>(path, options);
    return std::make_unique<WordPieceTokenizer>(path, options);
}

std::vector<std::vector<int64_t>> tunedLensCorpus(const Tokenizer &tokenizer, const std::string &text, int64_t context, int64_t maxTokens,
                                                  int64_t *tokens)
{
    return corpusSequences(tokenizer, text, size_t(context > 0 ? context : 128), maxTokens, 4000, tokens);
}

}   // namespace pellucid
