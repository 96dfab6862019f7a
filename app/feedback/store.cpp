#include "app/feedback/store.h"

#include "engine/core/errors.h"
#include "engine/core/files.h"
#include "engine/core/json.h"

#include <QByteArray>
#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QStandardPaths>
#include <QUuid>
#include <QVariant>

#include <atomic>
#include <functional>
#include <fstream>
#include <set>

namespace pellucid::feedback {

namespace {

constexpr int kApplicationId = 0x50454c46;   // "PELF": this file is a Pellucid feedback database
const char *const kSqliteMagic = "SQLite format 3";

/// The schema, one step per version: step k takes a database from version k to k + 1.
const std::vector<std::vector<const char *>> &migrations()
{
    static const std::vector<std::vector<const char *>> steps = {
        {
            "CREATE TABLE inputs (sha TEXT PRIMARY KEY, path TEXT NOT NULL, bytes BLOB NOT NULL)",
            "CREATE TABLE annotations ("
            " id INTEGER PRIMARY KEY,"
            " uid TEXT NOT NULL UNIQUE,"
            " kind TEXT NOT NULL CHECK (kind IN ('mask', 'verdict', 'rating')),"
            " model_sha TEXT NOT NULL, model_path TEXT NOT NULL,"
            " input_sha TEXT, input_path TEXT,"
            " annotator TEXT NOT NULL, created TEXT NOT NULL,"
            " method TEXT, params TEXT, target INTEGER, map_sha TEXT,"
            " mask_width INTEGER, mask_height INTEGER, mask BLOB,"
            " verdict TEXT CHECK (verdict IS NULL OR verdict IN ('agree', 'disagree', 'unsure')),"
            " rating INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),"
            " flags TEXT, source TEXT, sample TEXT, note TEXT)",
            "CREATE INDEX annotations_item ON annotations (model_sha, input_sha)",
            "CREATE INDEX annotations_annotator ON annotations (annotator)",
        },
    };
    return steps;
}

std::string q(const QString &s) { return s.toStdString(); }
QString qs(const std::string &s) { return QString::fromStdString(s); }
QVariant nullable(const std::string &s) { return s.empty() ? QVariant() : QVariant(qs(s)); }

/// The file at `path` before SQLite sees it: a regular file that starts as an SQLite database (or is empty).
void checkFileLooksLikeSqlite(const std::string &path)
{
    const QFileInfo info(qs(path));
    if (!info.exists()) return;
    if (!info.isFile()) throw Error(ErrorCode::BadInput, "Feedback database " + path + " is not a regular file");
    if (info.size() == 0) return;
    QFile f(qs(path));
    if (!f.open(QIODevice::ReadOnly)) throw Error(ErrorCode::IoError, "Cannot read the feedback database " + path);
    const QByteArray head = f.read(16);
    if (head.size() < 16 || !head.startsWith(kSqliteMagic))
        throw Error(ErrorCode::BadInput, "Feedback database " + path + " is not an SQLite database; it was left as it is");
}

void validate(const Annotation &a)
{
    static const std::set<std::string> kinds = {"mask", "verdict", "rating"}, verdicts = {"agree", "disagree", "unsure"};
    if (!kinds.count(a.kind)) throw Error(ErrorCode::BadInput, "An annotation's kind must be mask, verdict or rating, not '" + a.kind + "'");
    if (a.modelSha.size() != 64) throw Error(ErrorCode::BadInput, "An annotation needs the model's SHA-256");
    if (a.annotator.empty()) throw Error(ErrorCode::BadInput, "An annotation needs an annotator's name");
    if (a.kind == "mask") {
        if (a.inputSha.size() != 64) throw Error(ErrorCode::BadInput, "A mask needs the input's SHA-256");
        if (a.maskWidth < 1 || a.maskHeight < 1 || a.maskWidth > 16384 || a.maskHeight > 16384
            || a.mask.size() != size_t(a.maskWidth) * size_t(a.maskHeight))
            throw Error(ErrorCode::BadInput,
                        "A mask of " + std::to_string(a.mask.size()) + " bytes is not " + std::to_string(a.maskWidth) + "×"
                            + std::to_string(a.maskHeight));
    }
    if (a.kind == "verdict") {
        if (!verdicts.count(a.verdict)) throw Error(ErrorCode::BadInput, "A verdict must be agree, disagree or unsure, not '" + a.verdict + "'");
        if (a.method.empty()) throw Error(ErrorCode::BadInput, "A verdict needs the method it judges");
        if (a.inputSha.size() != 64) throw Error(ErrorCode::BadInput, "A verdict needs the input's SHA-256");
    }
    if (a.kind == "rating" && (a.rating < 1 || a.rating > 5))
        throw Error(ErrorCode::BadInput, "A rating must be 1–5, not " + std::to_string(a.rating));
}

std::string flagsJson(const std::vector<std::string> &flags)
{
    Json arr = Json::array();
    for (const std::string &f : flags) arr.push(Json(f));
    return arr.dump();
}

std::vector<std::string> flagsFrom(const QString &text)
{
    std::vector<std::string> out;
    if (text.isEmpty()) return out;
    try {
        const Json j = Json::parse(q(text));
        if (j.isArray())
            for (const Json &f : j.asArray())
                if (f.isString()) out.push_back(f.asString());
    } catch (const std::exception &) { }
    return out;
}

}   // namespace

struct Store::Impl {
    std::string path;
    QString connection;
    bool readOnly = false;
    int version = 0;

    QSqlDatabase db() const { return QSqlDatabase::database(connection, false); }

    [[noreturn]] void fail(const std::string &what, const QSqlError &e) const
    {
        throw Error(ErrorCode::IoError, "Feedback database " + path + ": " + what + ": " + q(e.text()));
    }
    QSqlQuery run(const QString &sql) const
    {
        QSqlQuery query(db());
        if (!query.exec(sql)) fail(q(sql.section(' ', 0, 1).toLower()), query.lastError());
        return query;
    }
    QVariant scalar(const QString &sql) const
    {
        QSqlQuery query = run(sql);
        return query.next() ? query.value(0) : QVariant();
    }
    /// BEGIN IMMEDIATE (the write lock up front, so two writers wait for each other instead of failing
    /// on a lock upgrade), `body`, COMMIT; ROLLBACK when anything throws.
    template <class F>
    void transaction(F &&body)
    {
        if (readOnly) throw Error(ErrorCode::IoError, "Feedback database " + path + " was opened read-only");
        run("BEGIN IMMEDIATE");
        try {
            body();
            run("COMMIT");
        } catch (...) {
            QSqlQuery(db()).exec("ROLLBACK");
            throw;
        }
    }
};

Store::Store(const std::string &path, bool readOnly) : d(std::make_unique<Impl>())
{
    static std::atomic<int> counter{0};
    d->path = path;
    d->readOnly = readOnly;
    d->connection = QString("pellucid-feedback-%1").arg(counter.fetch_add(1));
    if (path.empty()) throw Error(ErrorCode::BadInput, "No feedback database named");
    checkFileLooksLikeSqlite(path);
    const QFileInfo info(qs(path));
    if (readOnly && !info.exists()) throw Error(ErrorCode::FileNotFound, "Feedback database not found: " + path);
    if (!info.exists() && !QDir().mkpath(info.absolutePath()))
        throw Error(ErrorCode::IoError, "Cannot create the folder of the feedback database " + path);
    if (!QSqlDatabase::isDriverAvailable("QSQLITE"))
        throw Error(ErrorCode::IoError, "Qt's SQLite driver is missing (Debian: libqt6sql6-sqlite); feedback needs it");
    {
        QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", d->connection);
        db.setDatabaseName(qs(path));
        db.setConnectOptions(readOnly ? "QSQLITE_BUSY_TIMEOUT=15000;QSQLITE_OPEN_READONLY" : "QSQLITE_BUSY_TIMEOUT=15000");
        if (!db.open()) {
            const std::string why = q(db.lastError().text());
            db = QSqlDatabase();
            QSqlDatabase::removeDatabase(d->connection);
            throw Error(ErrorCode::IoError, "Cannot open the feedback database " + path + ": " + why);
        }
    }
    try {
        // What the file is, before anything is written to it.
        QString check;
        {
            QSqlQuery query(d->db());
            if (!query.exec("PRAGMA quick_check"))
                throw Error(ErrorCode::BadInput,
                            "Feedback database " + path + " is corrupt (" + q(query.lastError().text().simplified()) + "); it was left as it is");
            QStringList rows;
            while (query.next()) rows << query.value(0).toString();
            check = rows.join('\n');
        }
        if (check != "ok") {
            // SQLite's report runs over many lines: its first finding, in one.
            QStringList findings = check.split('\n', Qt::SkipEmptyParts);
            findings.removeIf([](const QString &l) { return l.startsWith("***"); });
            const QString first = findings.isEmpty() ? check.simplified() : findings.first().simplified();
            throw Error(ErrorCode::BadInput,
                        "Feedback database " + path + " is corrupt (" + q(first) + (findings.size() > 1 ? ", …" : "") + "); it was left as it is");
        }
        const int appId = d->scalar("PRAGMA application_id").toInt();
        const int tables = d->scalar("SELECT count(*) FROM sqlite_master").toInt();
        if (appId != kApplicationId && (appId != 0 || tables > 0))
            throw Error(ErrorCode::BadInput, "Feedback database " + path + " is an SQLite file of another program; it was left as it is");
        d->version = d->scalar("PRAGMA user_version").toInt();
        if (d->version > kSchemaVersion)
            throw Error(ErrorCode::BadInput,
                        "Feedback database " + path + " has schema version " + std::to_string(d->version) + ", newer than this Pellucid's ("
                            + std::to_string(kSchemaVersion) + "); it was left as it is");
        if (!readOnly) {
            d->run("PRAGMA journal_mode=WAL");
            d->run("PRAGMA synchronous=FULL");
            d->run("PRAGMA foreign_keys=ON");
            if (d->version < kSchemaVersion)
                d->transaction([&] {
                    // Another process may have migrated it between our read and our lock.
                    int v = d->scalar("PRAGMA user_version").toInt();
                    for (; v < kSchemaVersion; ++v)
                        for (const char *sql : migrations()[size_t(v)]) d->run(sql);
                    d->run(QString("PRAGMA user_version=%1").arg(kSchemaVersion));
                    d->run(QString("PRAGMA application_id=%1").arg(kApplicationId));
                    d->version = kSchemaVersion;
                });
        } else if (d->version < kSchemaVersion) {
            throw Error(ErrorCode::BadInput,
                        "Feedback database " + path + " has schema version " + std::to_string(d->version)
                            + "; open it for writing once to migrate it");
        }
    } catch (...) {
        QSqlDatabase::database(d->connection, false).close();
        QSqlDatabase::removeDatabase(d->connection);
        throw;
    }
}

Store::~Store()
{
    {
        QSqlDatabase db = QSqlDatabase::database(d->connection, false);
        db.close();
    }
    QSqlDatabase::removeDatabase(d->connection);
}

const std::string &Store::path() const { return d->path; }
int Store::schemaVersion() const { return d->version; }

namespace {

/// One row into the annotations table (inside the caller's transaction). `ignoreExisting`: a row whose uid
/// is there already is skipped (merge); returns whether it was inserted.
bool insertRow(QSqlDatabase db, Annotation &a, bool ignoreExisting, const std::function<void(const QSqlError &)> &fail)
{
    if (a.uid.empty()) a.uid = q(QUuid::createUuid().toString(QUuid::WithoutBraces));
    if (a.created.empty()) a.created = q(QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
    QSqlQuery query(db);
    query.prepare(QString("INSERT %1 INTO annotations (uid, kind, model_sha, model_path, input_sha, input_path, annotator, created, method, params,"
                          " target, map_sha, mask_width, mask_height, mask, verdict, rating, flags, source, sample, note)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                      .arg(ignoreExisting ? "OR IGNORE" : ""));
    query.addBindValue(qs(a.uid));
    query.addBindValue(qs(a.kind));
    query.addBindValue(qs(a.modelSha));
    query.addBindValue(qs(a.modelPath));
    query.addBindValue(nullable(a.inputSha));
    query.addBindValue(nullable(a.inputPath));
    query.addBindValue(qs(a.annotator));
    query.addBindValue(qs(a.created));
    query.addBindValue(nullable(a.method));
    query.addBindValue(nullable(a.params));
    query.addBindValue(a.target >= 0 ? QVariant(a.target) : QVariant());
    query.addBindValue(nullable(a.mapSha));
    const bool mask = !a.mask.empty();
    query.addBindValue(mask ? QVariant(a.maskWidth) : QVariant());
    query.addBindValue(mask ? QVariant(a.maskHeight) : QVariant());
    query.addBindValue(mask ? QVariant(qCompress(QByteArray(reinterpret_cast<const char *>(a.mask.data()), qsizetype(a.mask.size())))) : QVariant());
    query.addBindValue(nullable(a.verdict));
    query.addBindValue(a.rating > 0 ? QVariant(a.rating) : QVariant());
    query.addBindValue(a.flags.empty() ? QVariant() : QVariant(qs(flagsJson(a.flags))));
    query.addBindValue(nullable(a.source));
    query.addBindValue(nullable(a.sample));
    query.addBindValue(nullable(a.note));
    if (!query.exec()) fail(query.lastError());
    if (query.numRowsAffected() <= 0) return false;
    a.id = query.lastInsertId().toLongLong();
    return true;
}

/// An input's bytes (inside the caller's transaction); `keepPath`: an input already there keeps its path.
void insertInput(QSqlDatabase db, const InputBlob &in, bool keepPath, const std::function<void(const QSqlError &)> &fail)
{
    if (in.sha.size() != 64) throw Error(ErrorCode::BadInput, "An input needs its SHA-256");
    QSqlQuery query(db);
    query.prepare(keepPath ? "INSERT INTO inputs (sha, path, bytes) VALUES (?, ?, ?) ON CONFLICT (sha) DO NOTHING"
                           : "INSERT INTO inputs (sha, path, bytes) VALUES (?, ?, ?) ON CONFLICT (sha) DO UPDATE SET path = excluded.path");
    query.addBindValue(qs(in.sha));
    query.addBindValue(qs(in.path));
    query.addBindValue(QByteArray(reinterpret_cast<const char *>(in.bytes.data()), qsizetype(in.bytes.size())));
    if (!query.exec()) fail(query.lastError());
}

}   // namespace

void Store::add(std::vector<Annotation> &rows, const std::vector<InputBlob> &inputs)
{
    for (const Annotation &a : rows) validate(a);
    std::vector<Annotation> made = rows;
    const auto fail = [this](const QSqlError &e) { d->fail("storing an annotation", e); };
    d->transaction([&] {
        for (const InputBlob &in : inputs) insertInput(d->db(), in, false, fail);
        for (Annotation &a : made) insertRow(d->db(), a, false, fail);
    });
    rows = std::move(made);
}

int64_t Store::add(Annotation &row, const std::vector<InputBlob> &inputs)
{
    std::vector<Annotation> rows{row};
    add(rows, inputs);
    row = rows[0];
    return row.id;
}

void Store::putInput(const std::string &sha, const std::string &path, const std::vector<uint8_t> &bytes)
{
    const auto fail = [this](const QSqlError &e) { d->fail("storing an input", e); };
    d->transaction([&] { insertInput(d->db(), {sha, path, bytes}, false, fail); });
}

std::vector<uint8_t> Store::inputBytes(const std::string &sha) const
{
    QSqlQuery query(d->db());
    query.prepare("SELECT bytes FROM inputs WHERE sha = ?");
    query.addBindValue(qs(sha));
    if (!query.exec()) d->fail("reading an input", query.lastError());
    if (!query.next()) return {};
    const QByteArray b = query.value(0).toByteArray();
    return std::vector<uint8_t>(b.begin(), b.end());
}

std::string Store::inputPath(const std::string &sha) const
{
    QSqlQuery query(d->db());
    query.prepare("SELECT path FROM inputs WHERE sha = ?");
    query.addBindValue(qs(sha));
    if (!query.exec()) d->fail("reading an input", query.lastError());
    return query.next() ? q(query.value(0).toString()) : std::string();
}

std::vector<Annotation> Store::annotations(const Filter &f) const
{
    QString sql = "SELECT id, uid, kind, model_sha, model_path, input_sha, input_path, annotator, created, method, params, target, map_sha,"
                  " mask_width, mask_height, mask, verdict, rating, flags, source, sample, note FROM annotations WHERE 1";
    std::vector<std::pair<const char *, std::string>> where = {
        {"kind", f.kind}, {"annotator", f.annotator}, {"model_sha", f.modelSha}, {"method", f.method}, {"input_sha", f.inputSha}};
    for (const auto &[column, value] : where)
        if (!value.empty()) sql += QString(" AND %1 = ?").arg(column);
    sql += " ORDER BY id";
    QSqlQuery query(d->db());
    query.setForwardOnly(true);
    query.prepare(sql);
    for (const auto &[column, value] : where)
        if (!value.empty()) query.addBindValue(qs(value));
    if (!query.exec()) d->fail("reading annotations", query.lastError());
    std::vector<Annotation> out;
    while (query.next()) {
        Annotation a;
        a.id = query.value(0).toLongLong();
        a.uid = q(query.value(1).toString());
        a.kind = q(query.value(2).toString());
        a.modelSha = q(query.value(3).toString());
        a.modelPath = q(query.value(4).toString());
        a.inputSha = q(query.value(5).toString());
        a.inputPath = q(query.value(6).toString());
        a.annotator = q(query.value(7).toString());
        a.created = q(query.value(8).toString());
        a.method = q(query.value(9).toString());
        a.params = q(query.value(10).toString());
        a.target = query.value(11).isNull() ? -1 : query.value(11).toInt();
        a.mapSha = q(query.value(12).toString());
        if (!query.value(15).isNull()) {
            a.maskWidth = query.value(13).toInt();
            a.maskHeight = query.value(14).toInt();
            const QByteArray raw = qUncompress(query.value(15).toByteArray());
            if (raw.size() != qsizetype(a.maskWidth) * a.maskHeight)
                throw Error(ErrorCode::BadInput, "Feedback database " + d->path + ": the mask of annotation " + std::to_string(a.id) + " is damaged");
            a.mask.assign(raw.begin(), raw.end());
        }
        a.verdict = q(query.value(16).toString());
        a.rating = query.value(17).isNull() ? 0 : query.value(17).toInt();
        a.flags = flagsFrom(query.value(18).toString());
        a.source = q(query.value(19).toString());
        a.sample = q(query.value(20).toString());
        a.note = q(query.value(21).toString());
        out.push_back(std::move(a));
    }
    return out;
}

int64_t Store::count() const { return d->scalar("SELECT count(*) FROM annotations").toLongLong(); }

bool Store::remove(int64_t id)
{
    bool removed = false;
    d->transaction([&] {
        QSqlQuery query(d->db());
        query.prepare("DELETE FROM annotations WHERE id = ?");
        query.addBindValue(qlonglong(id));
        if (!query.exec()) d->fail("removing an annotation", query.lastError());
        removed = query.numRowsAffected() > 0;
    });
    return removed;
}

MergeResult Store::merge(const std::string &otherPath)
{
    if (QFileInfo(qs(otherPath)).canonicalFilePath() == QFileInfo(qs(d->path)).canonicalFilePath())
        throw Error(ErrorCode::BadInput, "Cannot merge feedback database " + otherPath + " into itself");
    Store other(otherPath, true);
    std::vector<Annotation> theirs = other.annotations();
    for (const Annotation &a : theirs) validate(a);
    std::set<std::string> shas;
    for (const Annotation &a : theirs)
        if (!a.inputSha.empty()) shas.insert(a.inputSha);
    std::vector<InputBlob> inputs;
    for (const std::string &sha : shas) {
        std::vector<uint8_t> bytes = other.inputBytes(sha);
        if (!bytes.empty()) inputs.push_back({sha, other.inputPath(sha), std::move(bytes)});
    }
    // One transaction: rows already here (by uid, even when another process adds them meanwhile) are skipped.
    MergeResult r;
    const auto fail = [this](const QSqlError &e) { d->fail("merging", e); };
    d->transaction([&] {
        for (const InputBlob &in : inputs) insertInput(d->db(), in, true, fail);
        for (Annotation &a : theirs) (insertRow(d->db(), a, true, fail) ? r.added : r.alreadyThere) += 1;
    });
    return r;
}

std::string Store::integrity() const { return q(d->scalar("PRAGMA integrity_check").toString()); }

namespace {

std::string csvField(const std::string &s)
{
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

}   // namespace

void Store::exportTo(const std::string &out) const
{
    const std::vector<Annotation> rows = annotations();
    const QString ext = QFileInfo(qs(out)).suffix().toLower();
    if (ext == "csv") {
        writeFileAtomically(
            out,
            [&](std::ostream &o) {
                o << "id,uid,kind,annotator,created,model_sha,model_path,input_sha,input_path,method,params,target,map_sha,mask_width,mask_height,"
                     "mask_area,verdict,rating,flags,source,sample,note\n";
                for (const Annotation &a : rows) {
                    int64_t area = 0;
                    for (uint8_t m : a.mask) area += m != 0;
                    o << a.id << ',' << a.uid << ',' << a.kind << ',' << csvField(a.annotator) << ',' << a.created << ',' << a.modelSha << ','
                      << csvField(a.modelPath) << ',' << a.inputSha << ',' << csvField(a.inputPath) << ',' << a.method << ',' << csvField(a.params)
                      << ',' << (a.target >= 0 ? std::to_string(a.target) : "") << ',' << a.mapSha << ','
                      << (a.mask.empty() ? "" : std::to_string(a.maskWidth)) << ',' << (a.mask.empty() ? "" : std::to_string(a.maskHeight)) << ','
                      << (a.mask.empty() ? "" : std::to_string(area)) << ',' << a.verdict << ',' << (a.rating ? std::to_string(a.rating) : "") << ','
                      << csvField(a.flags.empty() ? "" : flagsJson(a.flags)) << ',' << a.source << ',' << csvField(a.sample) << ','
                      << csvField(a.note) << '\n';
                }
            },
            false);
    } else if (ext == "json") {
        Json all = Json::array();
        for (const Annotation &a : rows) {
            Json j = Json::object();
            j["id"] = Json(double(a.id));
            j["uid"] = Json(a.uid);
            j["kind"] = Json(a.kind);
            j["annotator"] = Json(a.annotator);
            j["created"] = Json(a.created);
            j["model_sha256"] = Json(a.modelSha);
            j["model_path"] = Json(a.modelPath);
            if (!a.inputSha.empty()) {
                j["input_sha256"] = Json(a.inputSha);
                j["input_path"] = Json(a.inputPath);
            }
            if (!a.method.empty()) j["method"] = Json(a.method);
            if (!a.params.empty()) {
                try {
                    j["params"] = Json::parse(a.params);
                } catch (const std::exception &) {
                    j["params"] = Json(a.params);
                }
            }
            if (a.target >= 0) j["target"] = Json(double(a.target));
            if (!a.mapSha.empty()) j["map_sha256"] = Json(a.mapSha);
            if (!a.mask.empty()) {
                // Run-length pairs (start, length) of the inside pixels, row-major.
                Json m = Json::object(), runs = Json::array();
                m["width"] = Json(double(a.maskWidth));
                m["height"] = Json(double(a.maskHeight));
                for (size_t i = 0; i < a.mask.size();) {
                    if (!a.mask[i]) {
                        ++i;
                        continue;
                    }
                    size_t k = i;
                    while (k < a.mask.size() && a.mask[k]) ++k;
                    runs.push(Json(double(i)));
                    runs.push(Json(double(k - i)));
                    i = k;
                }
                m["runs"] = std::move(runs);
                j["mask"] = std::move(m);
            }
            if (!a.verdict.empty()) j["verdict"] = Json(a.verdict);
            if (a.rating) j["rating"] = Json(double(a.rating));
            if (!a.flags.empty()) j["flags"] = Json::parse(flagsJson(a.flags));
            if (!a.source.empty()) j["source"] = Json(a.source);
            if (!a.sample.empty()) j["sample"] = Json(a.sample);
            if (!a.note.empty()) j["note"] = Json(a.note);
            all.push(std::move(j));
        }
        Json doc = Json::object();
        doc["schema_version"] = Json(double(d->version));
        doc["annotations"] = std::move(all);
        writeTextAtomically(out, doc.dump(1) + "\n");
    } else {
        throw Error(ErrorCode::BadInput, "Export to .csv or .json, not " + out);
    }
}

std::string sha256Bytes(const void *data, size_t size)
{
    return QCryptographicHash::hash(QByteArrayView(static_cast<const char *>(data), qsizetype(size)), QCryptographicHash::Sha256)
        .toHex()
        .toStdString();
}

std::string sha256File(const std::string &path)
{
    QFile f(qs(path));
    if (!QFileInfo(qs(path)).isFile() || !f.open(QIODevice::ReadOnly)) throw Error(ErrorCode::FileNotFound, "File not found: " + path);
    QCryptographicHash h(QCryptographicHash::Sha256);
    if (!h.addData(&f)) throw Error(ErrorCode::IoError, "Cannot read " + path);
    return h.result().toHex().toStdString();
}

std::string defaultDatabasePath()
{
    QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    if (dir.isEmpty()) dir = QDir::homePath() + "/.local/share/pellucid";
    return q(dir + "/feedback.sqlite");
}

}   // namespace pellucid::feedback
