#include "app/figures/session.h"

#include "engine/core/errors.h"
#include "engine/core/files.h"

#include <cmath>
#include <cstdio>

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>

namespace pellucid {
namespace {

constexpr uint64_t kMaxSessionBytes = uint64_t(64) << 20;   // sessions are small JSON; 64 MiB is generous

Json strings(const QStringList &l)
{
    Json a = Json::array();
    for (const QString &s : l) a.push(Json(s.toStdString()));
    return a;
}

QString resolve(const QString &path, const QString &sessionDir)
{
    if (path.isEmpty() || QFileInfo(path).isAbsolute()) return path;
    return QDir(sessionDir).filePath(path);
}

}   // namespace

QString resourcesDir() { return QString::fromStdString(pellucid::resourcesPath()); }

QStringList exampleSessions()
{
    const QDir dir(resourcesDir() + "/sessions");
    QStringList out;
    for (const QString &f : dir.entryList({"*.json"}, QDir::Files, QDir::Name)) out << dir.filePath(f);
    return out;
}

QString sha256OfFile(const QString &path)
{
    QFile f(path);
    if (!QFileInfo(path).isFile() || !f.open(QIODevice::ReadOnly)) return {};
    QCryptographicHash h(QCryptographicHash::Sha256);
    if (!h.addData(&f)) return {};
    return QString::fromLatin1(h.result().toHex());
}

void saveSession(Session s, const QString &path)
{
    if (QFileInfo::exists(s.modelPath)) s.modelSha256 = sha256OfFile(s.modelPath);
    Json j = Json::object();
    j["pellucid_session"] = Session::kVersion;
    if (!s.name.isEmpty()) j["name"] = s.name.toStdString();
    Json model = Json::object();
    model["path"] = QFileInfo(s.modelPath).absoluteFilePath().toStdString();
    model["sha256"] = s.modelSha256.toStdString();
    j["model"] = model;
    QStringList inputs;
    for (const QString &i : s.inputs) inputs << QFileInfo(i).absoluteFilePath();
    j["inputs"] = strings(inputs);
    j["current_input"] = s.currentInput.isEmpty() ? std::string() : QFileInfo(s.currentInput).absoluteFilePath().toStdString();
    if (!s.text.isEmpty()) j["text"] = s.text.toStdString();
    j["layer"] = s.layer.toStdString();
    j["attribution"] = attributionParamsToJson(s.attribution);
    Json compare = Json::array();
    for (auto m : s.compare) compare.push(Json(methodName(m)));
    j["compare"] = compare;
    if (!s.generationPrompt.isEmpty()) {
        Json g = Json::object();
        g["prompt"] = s.generationPrompt.toStdString();
        g["method"] = s.generationMethod.toStdString();
        g["max_new"] = s.generationMaxNew;
        g["temperature"] = s.generationTemperature;
        g["seed"] = s.generationSeed;
        j["generation"] = g;
    }
    if (!s.units.layer.isEmpty()) {
        Json u = Json::object();
        u["layer"] = s.units.layer.toStdString();
        u["count"] = s.units.count;
        u["seed"] = s.units.seed;
        u["class"] = s.units.sortClass;
        Json sel = Json::array();
        for (int64_t v : s.units.selected) sel.push(Json(v));
        u["selected"] = sel;
        u["dissected"] = s.units.dissected;
        j["units"] = u;
    }
    if (!s.diffusion.prompt.isEmpty()) {
        const Session::Diffusion &d = s.diffusion;
        Json g = Json::object();
        g["prompt"] = d.prompt.toStdString();
        g["sampler"] = d.sampler.toStdString();
        g["seed"] = d.seed;
        g["steps"] = d.steps;
        g["guidance"] = d.guidance;
        g["word"] = d.word;
        g["step_from"] = d.stepFrom;
        g["step_to"] = d.stepTo;
        g["site"] = d.site;
        g["head"] = d.head;
        g["step"] = d.step;
        g["reweight_word"] = d.reweightWord;
        g["reweight_factor"] = d.reweightFactor;
        g["generated"] = d.generated;
        j["diffusion"] = g;
    }
    ComposerSpec composer = s.composer;
    if (!composer.textRows)
        for (QString &r : composer.rows) r = QFileInfo(r).absoluteFilePath();
    j["composer"] = composerToJson(composer);
    Json fig = Json::object();
    fig["width_mm"] = s.figure.widthMm;
    fig["height_mm"] = s.figure.heightMm;
    fig["dpi"] = s.figure.dpi;
    fig["font"] = s.figure.fontFamily.toStdString();
    fig["font_pt"] = s.figure.fontPt;
    fig["title"] = s.figure.title.toStdString();
    fig["caption"] = s.figure.caption.toStdString();
    j["figure"] = fig;
    j["window_state"] = QString::fromLatin1(s.windowState.toBase64()).toStdString();

    QSaveFile out(path);   // written to a temporary file, renamed on commit
    if (!out.open(QIODevice::WriteOnly)) throw SessionError("Cannot write " + path.toStdString() + ": " + out.errorString().toStdString());
    out.write(QByteArray::fromStdString(j.dump(1) + "\n"));
    if (!out.commit()) throw SessionError("Cannot write " + path.toStdString() + ": " + out.errorString().toStdString());
}

Session loadSession(const QString &path)
{
    QFile f(path);
    if (!f.exists()) throw SessionError("Session file not found: " + path.toStdString());
    try {
        checkInputFile(path.toStdString(), kMaxSessionBytes, "The session");   // not a FIFO, /dev/zero or 2 GB
    } catch (const std::exception &e) {
        throw SessionError(e.what());
    }
    if (!f.open(QIODevice::ReadOnly)) throw SessionError("Cannot read " + path.toStdString());
    // A session is a JSON object: anything else is refused from its first bytes, not after reading it whole.
    QByteArray head = f.peek(4096);
    if (head.startsWith("\xEF\xBB\xBF")) head = head.mid(3);   // a UTF-8 byte-order mark
    head = head.trimmed();
    if (head.isEmpty() || head[0] != '{') throw SessionError(path.toStdString() + " is not a Pellucid session (not a JSON object)");
    Json j;
    try {
        j = Json::parse(f.readAll().toStdString());
    } catch (const std::exception &e) {
        throw SessionError("Session " + path.toStdString() + " is corrupt: " + e.what());
    }
    const Json *version = j.find("pellucid_session");
    if (!version || !version->isNumber()) throw SessionError(path.toStdString() + " is not a Pellucid session (no \"pellucid_session\" version)");
    if (version->asInt() > Session::kVersion)
        throw SessionError("Session " + path.toStdString() + " was written by a newer Pellucid (format " + std::to_string(version->asInt())
                           + "; this version reads up to " + std::to_string(Session::kVersion) + ")");
    const QString dir = QFileInfo(path).absolutePath();
    Session s;
    try {
        if (const Json *v = j.find("name")) s.name = QString::fromStdString(v->asString());
        if (const Json *v = j.find("text")) s.text = QString::fromStdString(v->asString());
        if (const Json *m = j.find("model")) {
            s.modelPath = resolve(QString::fromStdString(m->find("path") ? m->find("path")->asString() : ""), dir);
            s.modelSha256 = QString::fromStdString(m->find("sha256") ? m->find("sha256")->asString() : "");
        }
        if (const Json *v = j.find("inputs"))
            for (const Json &i : v->asArray()) s.inputs << resolve(QString::fromStdString(i.asString()), dir);
        if (const Json *v = j.find("current_input")) s.currentInput = resolve(QString::fromStdString(v->asString()), dir);
        if (const Json *v = j.find("layer")) s.layer = QString::fromStdString(v->asString());
        if (const Json *v = j.find("attribution")) s.attribution = attributionParamsFromJson(*v);
        if (const Json *v = j.find("compare"))
            for (const Json &m : v->asArray()) {
                AttributionMethod method;
                if (parseMethod(m.asString(), method))
                    s.compare.push_back(method);
                else
                    s.warnings << QString("Unknown method '%1' in the compare list was skipped").arg(QString::fromStdString(m.asString()));
            }
        if (const Json *g = j.find("generation")) {
            if (const Json *v = g->find("prompt")) s.generationPrompt = QString::fromStdString(v->asString());
            if (const Json *v = g->find("method")) s.generationMethod = QString::fromStdString(v->asString());
            if (const Json *v = g->find("max_new")) s.generationMaxNew = fieldInt(*v, "max_new", 1, 4096);
            if (const Json *v = g->find("temperature")) s.generationTemperature = fieldReal(*v, "temperature", 0, 100);
            if (const Json *v = g->find("seed")) s.generationSeed = fieldInt(*v, "seed", 0, 1 << 30);
        }
        if (const Json *u = j.find("units")) {
            if (const Json *v = u->find("layer")) s.units.layer = QString::fromStdString(v->asString());
            if (const Json *v = u->find("count")) s.units.count = fieldInt(*v, "units.count", 10, 2000);
            if (const Json *v = u->find("seed")) s.units.seed = fieldInt(*v, "units.seed", 0, 1000000);
            if (const Json *v = u->find("class")) s.units.sortClass = fieldInt(*v, "units.class", 0, 1 << 24);
            if (const Json *v = u->find("selected"))
                for (const Json &x : v->asArray()) s.units.selected.push_back(fieldInt(x, "units.selected", 0, 1 << 24));
            if (const Json *v = u->find("dissected")) s.units.dissected = v->asBool();
        }
        if (const Json *g = j.find("diffusion")) {
            Session::Diffusion &d = s.diffusion;
            if (const Json *v = g->find("prompt")) d.prompt = QString::fromStdString(v->asString());
            if (const Json *v = g->find("sampler")) d.sampler = QString::fromStdString(v->asString());
            if (const Json *v = g->find("seed")) d.seed = fieldInt(*v, "diffusion.seed", 0, 1000000);
            if (const Json *v = g->find("steps")) d.steps = fieldInt(*v, "diffusion.steps", 1, 1000);
            if (const Json *v = g->find("guidance")) d.guidance = fieldReal(*v, "diffusion.guidance", 0, 30);
            if (const Json *v = g->find("word")) d.word = fieldInt(*v, "diffusion.word", -1, 1 << 16);
            if (const Json *v = g->find("step_from")) d.stepFrom = fieldInt(*v, "diffusion.step_from", 0, 1000);
            if (const Json *v = g->find("step_to")) d.stepTo = fieldInt(*v, "diffusion.step_to", -1, 1000);
            if (const Json *v = g->find("site")) d.site = fieldInt(*v, "diffusion.site", -1, 1000);
            if (const Json *v = g->find("head")) d.head = fieldInt(*v, "diffusion.head", -1, 1000);
            if (const Json *v = g->find("step")) d.step = fieldInt(*v, "diffusion.step", -1, 1000);
            if (const Json *v = g->find("reweight_word")) d.reweightWord = fieldInt(*v, "diffusion.reweight_word", 0, 1 << 16);
            if (const Json *v = g->find("reweight_factor")) d.reweightFactor = fieldReal(*v, "diffusion.reweight_factor", 0, 5);
            if (const Json *v = g->find("generated")) d.generated = v->asBool();
        }
        if (const Json *v = j.find("composer")) {
            s.composer = composerFromJson(*v);
            if (!s.composer.textRows)
                for (QString &r : s.composer.rows) r = resolve(r, dir);
        }
        if (const Json *v = j.find("figure")) {
            if (const Json *x = v->find("width_mm")) s.figure.widthMm = fieldReal(*x, "width_mm", 10, 2000);
            if (const Json *x = v->find("height_mm")) s.figure.heightMm = fieldReal(*x, "height_mm", 0, 2000);
            if (const Json *x = v->find("dpi")) s.figure.dpi = fieldInt(*x, "dpi", 36, 2400);
            if (const Json *x = v->find("font")) s.figure.fontFamily = QString::fromStdString(x->asString());
            if (const Json *x = v->find("font_pt")) s.figure.fontPt = fieldReal(*x, "font_pt", 2, 72);
            if (const Json *x = v->find("title")) s.figure.title = QString::fromStdString(x->asString());
            if (const Json *x = v->find("caption")) s.figure.caption = QString::fromStdString(x->asString());
        }
        if (const Json *v = j.find("window_state")) s.windowState = QByteArray::fromBase64(QByteArray::fromStdString(v->asString()));
    } catch (const std::exception &e) {
        throw SessionError("Session " + path.toStdString() + " is corrupt: " + e.what());
    }
    // Problems that leave the rest usable become warnings.
    if (!QFileInfo::exists(s.modelPath)) {
        s.warnings << QString("The session's model is missing: %1").arg(s.modelPath);
    } else if (!s.modelSha256.isEmpty() && sha256OfFile(s.modelPath) != s.modelSha256) {
        s.warnings << QString("The model %1 changed since the session was saved (SHA-256 differs): numbers may differ").arg(s.modelPath);
    }
    QStringList missing;
    for (const QString &i : s.inputs + (s.composer.textRows ? QStringList() : s.composer.rows))
        if (!QFileInfo::exists(i) && !missing.contains(i)) missing << i;
    for (const QString &m : missing) s.warnings << QString("Input file missing: %1").arg(m);
    return s;
}

}   // namespace pellucid
