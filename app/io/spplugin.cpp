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
void *pellucid_sp_load(const char *path, char **error)
{
    auto *sp = new sentencepiece::SentencePieceProcessor();
    const auto status = sp->Load(path);
    if (!status.ok()) {
        *error = copy(status.ToString());
        delete sp;
        return nullptr;
    }
    return sp;
}

/// "bos eos size" of the model.
void pellucid_sp_info(void *handle, int *bos, int *eos, int *size)
{
    auto *sp = static_cast<sentencepiece::SentencePieceProcessor *>(handle);
    *bos = sp->bos_id();
    *eos = sp->eos_id();
    *size = sp->GetPieceSize();
}

/// Encodes text as lines "id<TAB>piece"; the special ids' pieces with id = −1 when asked for one that is absent.
char *pellucid_sp_encode(void *handle, const char *text)
{
    auto *sp = static_cast<sentencepiece::SentencePieceProcessor *>(handle);
    std::vector<int> ids;
    sp->Encode(text, &ids).IgnoreError();
    std::string out;
    for (int id : ids) out += std::to_string(id) + "\t" + sp->IdToPiece(id) + "\n";
    return copy(out);
}

char *pellucid_sp_piece(void *handle, int id) { return copy(static_cast<sentencepiece::SentencePieceProcessor *>(handle)->IdToPiece(id)); }

void pellucid_sp_free(char *p) { std::free(p); }
void pellucid_sp_close(void *handle) { delete static_cast<sentencepiece::SentencePieceProcessor *>(handle); }
}
