// The feedback database (app/feedback/store.h): every kind of row round-trips, bad rows and foreign, corrupt
// or newer files are refused by name and left untouched, two writer processes lose nothing, a writer killed
// mid-batch leaves a consistent database, merge is idempotent, exports read back.
#include "app/feedback/store.h"
#include "engine/core/errors.h"
#include "engine/core/json.h"
#include "tests/common/testkit.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QThread>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>

using namespace pellucid;
using namespace pellucid::feedback;

namespace {

const std::string kModelSha(64, 'a'), kInputSha(64, 'b');

QTemporaryDir &scratch()
{
    static QTemporaryDir dir;
    return dir;
}
std::string tmp(const char *name) { return scratch().filePath(name).toStdString(); }

Annotation maskRow(const std::string &annotator, int w = 4, int h = 3)
{
    Annotation a;
    a.kind = "mask";
    a.modelSha = kModelSha;
    a.modelPath = "/models/m.pt";
    a.inputSha = kInputSha;
    a.inputPath = "/inputs/x.png";
    a.annotator = annotator;
    a.maskWidth = w;
    a.maskHeight = h;
    a.mask.assign(size_t(w * h), 0);
    for (size_t i = 1; i < a.mask.size(); i += 3) a.mask[i] = 1;
    return a;
}

std::string fileBytes(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

QString self() { return QCoreApplication::applicationFilePath(); }

/// The writer mode of this test binary: N rows in batches of B (one transaction each).
int writer(const std::string &db, int n, int batch, const std::string &tag)
{
    try {
        Store store(db);
        for (int done = 0; done < n; done += batch) {
            std::vector<Annotation> rows;
            for (int k = 0; k < batch && done + k < n; ++k) {
                Annotation a = maskRow(tag);
                a.note = tag + " " + std::to_string(done + k);
                rows.push_back(a);
            }
            store.add(rows);
        }
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "writer %s: %s\n", tag.c_str(), e.what());
        return 1;
    }
}

}   // namespace

TEST(a_new_database_is_created_migrated_and_in_wal_mode)
{
    const std::string path = tmp("new/sub/feedback.sqlite");
    {
        Store s(path);
        CHECK_EQ(s.schemaVersion(), Store::kSchemaVersion);
        CHECK_EQ(s.count(), int64_t(0));
        CHECK_EQ(s.integrity(), std::string("ok"));
    }
    QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", "peek");
    db.setDatabaseName(QString::fromStdString(path));
    CHECK(db.open());
    {
        QSqlQuery q(db);
        CHECK(q.exec("PRAGMA journal_mode") && q.next());
        CHECK_EQ(q.value(0).toString().toStdString(), std::string("wal"));
        CHECK(q.exec("PRAGMA user_version") && q.next());
        CHECK_EQ(q.value(0).toInt(), Store::kSchemaVersion);
    }
    db.close();
    db = QSqlDatabase();
    QSqlDatabase::removeDatabase("peek");
    Store again(path, true);   // read-only reopen
    CHECK_EQ(again.schemaVersion(), Store::kSchemaVersion);
}

TEST(every_kind_round_trips_with_what_was_judged)
{
    Store s(tmp("kinds.sqlite"));
    Annotation mask = maskRow("alice", 5, 2);
    mask.note = "collar, \"mostly\"\nand sleeves";
    Annotation verdict = maskRow("bob");
    verdict.kind = "verdict";
    verdict.mask.clear();
    verdict.verdict = "disagree";
    verdict.method = "gradcam";
    verdict.params = R"({"method": "gradcam", "layer": "features.9"})";
    verdict.target = 7;
    verdict.mapSha = std::string(64, 'c');
    Annotation rating;
    rating.kind = "rating";
    rating.modelSha = kModelSha;
    rating.modelPath = "/models/g.pt";
    rating.annotator = "carol";
    rating.rating = 2;
    rating.flags = {"artefact", "wrong class"};
    rating.source = "latent";
    rating.sample = R"({"seed": 3})";
    std::vector<Annotation> rows = {mask, verdict, rating};
    s.add(rows);
    CHECK(rows[0].id > 0 && rows[1].id > rows[0].id && !rows[2].uid.empty() && !rows[2].created.empty());
    const auto all = s.annotations();
    CHECK_EQ(all.size(), size_t(3));
    CHECK(all[0].mask == mask.mask && all[0].maskWidth == 5 && all[0].maskHeight == 2 && all[0].note == mask.note);
    CHECK(all[1].verdict == "disagree" && all[1].method == "gradcam" && all[1].target == 7 && all[1].params == verdict.params
          && all[1].mapSha == verdict.mapSha && all[1].mask.empty());
    CHECK(all[2].rating == 2 && all[2].flags == rating.flags && all[2].source == "latent" && all[2].sample == rating.sample && all[2].target == -1);
    Filter f;
    f.annotator = "bob";
    CHECK_EQ(s.annotations(f).size(), size_t(1));
    f = {};
    f.kind = "mask";
    CHECK_EQ(s.annotations(f).size(), size_t(1));
    CHECK(s.remove(rows[2].id) && !s.remove(rows[2].id));
    CHECK_EQ(s.count(), int64_t(2));
    const std::vector<uint8_t> bytes = {1, 2, 3, 0, 255};
    s.putInput(kInputSha, "/inputs/x.png", bytes);
    s.putInput(kInputSha, "/moved/x.png", bytes);   // once per hash; the newest path kept
    CHECK(s.inputBytes(kInputSha) == bytes);
    CHECK_EQ(s.inputPath(kInputSha), std::string("/moved/x.png"));
    CHECK(s.inputBytes(std::string(64, 'f')).empty());
}

TEST(bad_rows_are_refused_by_name_and_nothing_is_stored)
{
    Store s(tmp("bad.sqlite"));
    Annotation good = maskRow("alice");
    auto refused = [&](Annotation bad, const char *what) {
        std::vector<Annotation> rows = {good, bad};   // one transaction: the good row is not stored either
        CHECK_THROWS_WITH(s.add(rows), Error, what);
        CHECK_EQ(s.count(), int64_t(0));
    };
    Annotation a = good;
    a.kind = "opinion";
    refused(a, "kind must be mask, verdict or rating");
    a = good;
    a.mask.pop_back();
    refused(a, "is not 4×3");
    a = good;
    a.kind = "verdict";
    a.verdict = "maybe";
    a.method = "saliency";
    refused(a, "agree, disagree or unsure");
    a = good;
    a.kind = "rating";
    a.rating = 6;
    refused(a, "1–5");
    a = good;
    a.annotator.clear();
    refused(a, "annotator");
    a = good;
    a.modelSha = "abc";
    refused(a, "SHA-256");
}

TEST(foreign_corrupt_and_newer_files_are_refused_and_left_as_they_are)
{
    // Not SQLite at all.
    const std::string text = tmp("notes.db");
    {
        std::ofstream f(text);
        f << "my lecture notes, not a database\n";
    }
    CHECK_THROWS_WITH(Store(text), Error, "not an SQLite database");
    CHECK_EQ(fileBytes(text), std::string("my lecture notes, not a database\n"));
    // Another program's SQLite file.
    const std::string other = tmp("other.sqlite");
    {
        QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", "other");
        db.setDatabaseName(QString::fromStdString(other));
        CHECK(db.open());
        QSqlQuery(db).exec("CREATE TABLE contacts (name TEXT)");
        QSqlQuery(db).exec("INSERT INTO contacts VALUES ('x')");
        db.close();
    }
    QSqlDatabase::removeDatabase("other");
    const std::string otherBefore = fileBytes(other);
    CHECK_THROWS_WITH(Store(other), Error, "another program");
    CHECK(fileBytes(other) == otherBefore);
    // A newer schema.
    const std::string newer = tmp("newer.sqlite");
    {
        Store s(newer);
        Annotation a = maskRow("alice");
        s.add(a);
    }
    {
        QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", "newer");
        db.setDatabaseName(QString::fromStdString(newer));
        CHECK(db.open());
        QSqlQuery(db).exec("PRAGMA user_version=99");
        QSqlQuery(db).exec("PRAGMA wal_checkpoint(TRUNCATE)");
        db.close();
    }
    QSqlDatabase::removeDatabase("newer");
    const std::string newerBefore = fileBytes(newer);
    CHECK_THROWS_WITH(Store(newer), Error, "schema version 99, newer than this Pellucid's (1)");
    CHECK(fileBytes(newer) == newerBefore);
    // Corrupt: an SQLite header over pages of garbage.
    const std::string corrupt = tmp("corrupt.sqlite");
    {
        Store s(corrupt);
        std::vector<Annotation> rows(200, maskRow("alice", 64, 64));
        s.add(rows);
    }
    {
        std::string b = fileBytes(corrupt);
        CHECK(b.size() > 8192);
        for (size_t i = 4096; i < b.size(); ++i) b[i] = char((i * 2654435761u) >> 13);
        std::ofstream f(corrupt, std::ios::binary | std::ios::trunc);
        f << b;
    }
    QFile::remove(QString::fromStdString(corrupt + "-wal"));
    QFile::remove(QString::fromStdString(corrupt + "-shm"));
    const std::string corruptBefore = fileBytes(corrupt);
    bool refused = false;
    try {
        Store s(corrupt);
    } catch (const Error &e) {
        refused = true;
        const std::string w = e.what();
        CHECK_MSG(w.find(corrupt) != std::string::npos && w.find('\n') == std::string::npos, w);
    }
    CHECK(refused);
    CHECK(fileBytes(corrupt) == corruptBefore);
    CHECK_THROWS_WITH(Store(tmp("absent.sqlite"), true), Error, "not found");
}

TEST(merge_adds_what_is_missing_once)
{
    Store a(tmp("merge_a.sqlite"));
    Store b(tmp("merge_b.sqlite"));
    std::vector<Annotation> ra = {maskRow("alice"), maskRow("alice")}, rb = {maskRow("bob"), maskRow("bob"), maskRow("bob")};
    a.add(ra);
    b.add(rb);
    b.putInput(kInputSha, "/inputs/x.png", {9, 8, 7});
    MergeResult m = a.merge(b.path());
    CHECK_EQ(m.added, int64_t(3));
    CHECK_EQ(m.alreadyThere, int64_t(0));
    CHECK_EQ(a.count(), int64_t(5));
    CHECK(a.inputBytes(kInputSha) == std::vector<uint8_t>({9, 8, 7}));
    m = a.merge(b.path());   // again: nothing new
    CHECK_EQ(m.added, int64_t(0));
    CHECK_EQ(m.alreadyThere, int64_t(3));
    CHECK_EQ(a.count(), int64_t(5));
    std::set<std::string> uids;
    for (const Annotation &x : a.annotations()) uids.insert(x.uid);
    for (const Annotation &x : rb) CHECK(uids.count(x.uid));
    // And back: b gets a's two, not its own three again.
    CHECK_EQ(b.merge(a.path()).added, int64_t(2));
    CHECK_EQ(b.count(), int64_t(5));
    CHECK_THROWS_WITH(a.merge(a.path()), Error, "into itself");
}

TEST(two_writer_processes_lose_nothing)
{
    const std::string db = tmp("two.sqlite");
    {
        Store s(db);
    }
    QProcess p1, p2;
    p1.start(self(), {"--writer", QString::fromStdString(db), "150", "5", "one"});
    p2.start(self(), {"--writer", QString::fromStdString(db), "150", "5", "two"});
    CHECK(p1.waitForFinished(120000) && p2.waitForFinished(120000));
    CHECK_MSG(p1.exitCode() == 0 && p2.exitCode() == 0, p1.readAllStandardError().toStdString() << p2.readAllStandardError().toStdString());
    Store s(db);
    CHECK_EQ(s.count(), int64_t(300));
    std::set<std::string> notes, uids;
    for (const Annotation &a : s.annotations()) {
        notes.insert(a.note);
        uids.insert(a.uid);
    }
    CHECK_EQ(notes.size(), size_t(300));
    CHECK_EQ(uids.size(), size_t(300));
    CHECK_EQ(s.integrity(), std::string("ok"));
}

TEST(a_writer_killed_mid_batch_leaves_whole_batches)
{
    const std::string db = tmp("killed.sqlite");
    {
        Store s(db);
    }
    QProcess p;
    p.start(self(), {"--writer", QString::fromStdString(db), "1000000", "50", "killed"});
    CHECK(p.waitForStarted());
    // Kill it once it has written something (and is surely inside a later batch).
    for (int i = 0; i < 400; ++i) {
        QThread::msleep(25);
        Store peek(db, true);
        if (peek.count() >= 500) break;
    }
    ::kill(pid_t(p.processId()), SIGKILL);
    CHECK(p.waitForFinished(10000));
    Store s(db);
    CHECK_EQ(s.integrity(), std::string("ok"));
    const int64_t n = s.count();
    CHECK_MSG(n >= 500 && n % 50 == 0, n << " rows");
    Annotation more = maskRow("after");
    s.add(more);   // still writable
    CHECK_EQ(s.count(), n + 1);
}

TEST(exports_read_back)
{
    Store s(tmp("export.sqlite"));
    Annotation m = maskRow("alice", 4, 3);
    m.note = "left, \"sleeve\"";
    Annotation r;
    r.kind = "rating";
    r.modelSha = kModelSha;
    r.modelPath = "/g.pt";
    r.annotator = "bob";
    r.rating = 4;
    r.flags = {"artefact"};
    std::vector<Annotation> rows = {m, r};
    s.add(rows);
    s.exportTo(tmp("out.json"));
    const Json j = Json::parse(fileBytes(tmp("out.json")));
    const auto &list = j.at("annotations").asArray();
    CHECK_EQ(list.size(), size_t(2));
    // The mask's runs give back its pixels.
    const Json &mask = list[0].at("mask");
    std::vector<uint8_t> back(size_t(mask.at("width").asInt() * mask.at("height").asInt()), 0);
    const auto &runs = mask.at("runs").asArray();
    for (size_t i = 0; i + 1 < runs.size(); i += 2)
        for (int64_t k = 0; k < runs[i + 1].asInt(); ++k) back[size_t(runs[i].asInt() + k)] = 1;
    CHECK(back == m.mask);
    CHECK_EQ(list[1].at("rating").asInt(), int64_t(4));
    CHECK_EQ(list[1].at("flags").asArray()[0].asString(), std::string("artefact"));
    s.exportTo(tmp("out.csv"));
    const std::string csv = fileBytes(tmp("out.csv"));
    CHECK(csv.find("\"left, \"\"sleeve\"\"\"") != std::string::npos);
    CHECK(csv.find(",mask,alice,") != std::string::npos && csv.find(",4,") != std::string::npos);
    int lines = 0;
    for (char c : csv) lines += c == '\n';
    CHECK_EQ(lines, 3);
    CHECK_THROWS_WITH(s.exportTo(tmp("out.xlsx")), Error, ".csv or .json");
}

TEST(sha256_of_a_known_text)
{
    CHECK_EQ(sha256Bytes("abc", 3), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK_THROWS_WITH(sha256File(tmp("missing.bin")), Error, "not found");
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc == 6 && std::string(argv[1]) == "--writer") return writer(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argv[5]);
    return testkit::runAll(argc, argv);
}
