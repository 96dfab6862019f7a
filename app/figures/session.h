#pragma once
// Sessions: everything a figure depends on, as a JSON file — the model (path and SHA-256), inputs, methods
// and their parameters (seeds included), layer and target choices, the composer's layout, figure settings
// and the window layout. Reopening reproduces the same numbers. A model whose hash changed opens with a
// warning; a missing file is named and the rest still opens. Written to a temporary file, then renamed.
#include "app/figures/composer.h"
#include "engine/attribution/attribution.h"
#include "widgets/common/figure.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <stdexcept>
#include <vector>

namespace pellucid {

class SessionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Session {
    static constexpr int kVersion = 1;
    QString name;   // a title for menus (the example sessions have one)
    QString modelPath;
    QString modelSha256;
    QStringList inputs;   // inputs the session refers to (the composer's rows among them)
    QString currentInput;
    QString text;                    // the Input dock's text, when a text is the input
    QString layer;                   // the Activations panel's layer
    AttributionParams attribution;   // the Attribution panel's method and parameters
    std::vector<AttributionMethod> compare;
    ComposerSpec composer;
    // The Generation dock (language models): the prompt and how it was generated and explained.
    QString generationPrompt, generationMethod;
    int generationMaxNew = 20, generationSeed = 0;
    double generationTemperature = 0;
    // The Latent dock's Units tab: the dissection's settings, the class units are sorted by and the units
    // selected (a session that was dissected dissects again when it opens).
    struct Units {
        QString layer;
        int count = 100, seed = 0, sortClass = 0;
        std::vector<int64_t> selected;
        bool dissected = false;
    } units;
    // The Diffusion dock: the prompt and its sampling, the word shown and the maps' filter, the re-weighting
    // (a session that was generated generates again when it opens: sampling is deterministic per seed).
    struct Diffusion {
        QString prompt, sampler = "ddim";
        int seed = 0, steps = 50;
        double guidance = 1.0;
        int word = -1, stepFrom = 0, stepTo = -1, site = -1, head = -1, step = -1;
        int reweightWord = 0;
        double reweightFactor = 2.0;
        bool generated = false;
    } diffusion;
    FigureSettings figure;
    QByteArray windowState;
    QStringList warnings;   // filled by loadSession: changed hash, missing files
};

QString sha256OfFile(const QString &path);
/// The bundled resources (demo models, samples, example sessions): $PELLUCID_RESOURCES, else
/// share/pellucid/resources beside the installed executable, else the source tree's resources/.
QString resourcesDir();
/// The example sessions bundled with Pellucid (resources/sessions/*.json), sorted by file name.
QStringList exampleSessions();   // empty when the file cannot be read
/// Computes the model's hash (when the file exists) and writes atomically. Throws SessionError.
void saveSession(Session session, const QString &path);
/// Throws SessionError for a missing, corrupt or future-version file; other problems become warnings.
Session loadSession(const QString &path);

}   // namespace pellucid
