// SentencePiece behind a C interface, built as a plugin that the tokenizer loads with dlopen(RTLD_DEEPBIND):
// Debian's libtorch_cpu exports its own copy of protobuf, and linking libsentencepiece (which needs the
// system libprotobuf) into the same symbol scope crashes during static initialisation.
#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

char *copy(const std::string &s)
{
    char *out = static_cast<char *>(std::malloc(s.size() + 1));
    std::memcpy(out, s.c_str(), s.size() + 1);
    return out;
}

}   // namespace

extern "C" {

/// Loads a model; on failure returns null and sets *error (free with pellucid_sp_free).
/// No exception crosses this C interface: libsentencepiece throws from inside (its trie builder's
/// Darts::Exception on a model with an empty piece, found by tests/fuzz/fuzz_sentencepiece).
void *pellucid_sp_load(const char *path, char **error)
{
    auto *sp = new sentencepiece::SentencePieceProcessor();
    try {
        const auto status = sp->Load(path);
        if (status.ok()) return sp;
        *error = copy(status.ToString());
    } catch (const std::exception &e) {
        *error = copy(std::string("the model cannot be read (") + e.what() + ")");
    } catch (...) {
        *error = copy("the model cannot be read");
    }
    delete sp;
    return nullptr;
}

/// "bos eos size" of the model.
void pellucid_sp_info(void *handle, int *bos, int *eos, int *size)
{
    auto *sp = static_cast<sentencepiece::SentencePieceProcessor *>(handle);
    *bos = *eos = -1;
    *size = 0;
    try {
        *bos = sp->bos_id();
        *eos = sp->eos_id();
        *size = sp->GetPieceSize();
    } catch (...) { }
}

/// Encodes text as records "ID LENGTH PIECE" (the piece's bytes, whatever they are), one after another.
char *pellucid_sp_encode(void *handle, const char *text)
{
    auto *sp = static_cast<sentencepiece::SentencePieceProcessor *>(handle);
    std::string out;
    try {
        std::vector<int> ids;
        sp->Encode(text, &ids).IgnoreError();
        for (int id : ids) {
            const std::string piece = sp->IdToPiece(id);
            out += std::to_string(id) + " " + std::to_string(piece.size()) + " " + piece;
        }
    } catch (...) {
        out.clear();
    }
    return copy(out);
}

char *pellucid_sp_piece(void *handle, int id)
{
    try {
        return copy(static_cast<sentencepiece::SentencePieceProcessor *>(handle)->IdToPiece(id));
    } catch (...) {
        return copy("");
    }
}

void pellucid_sp_free(char *p) { std::free(p); }
void pellucid_sp_close(void *handle) { delete static_cast<sentencepiece::SentencePieceProcessor *>(handle); }
}
