#pragma once
// A minimal test harness for the engine tests (the headless engine build has no Qt Test or GoogleTest).
// TEST(name) { ... } registers a case; CHECK* record failures; main() runs all (or those whose name
// contains argv[1]) and ends with the line "N passed, N failed". TESTKIT_SHARD=K/N in the environment runs
// only every N-th case from the K-th (1-based), so ctest can run one executable's cases in parallel shards.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace testkit {

struct Case {
    const char *name;
    std::function<void()> fn;
};

inline std::vector<Case> &registry()
{
    static std::vector<Case> r;
    return r;
}

inline int &failures()
{
    static int f = 0;
    return f;
}

struct Register {
    Register(const char *name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

inline void fail(const char *file, int line, const std::string &what)
{
    ++failures();
    std::fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what.c_str());
}

/// TESTKIT_SHARD=K/N: {K, N}; {1, 1} when unset. A malformed value is a failure of the run, not ignored.
inline std::pair<int, int> shard()
{
    const char *v = std::getenv("TESTKIT_SHARD");
    if (!v || !*v) return {1, 1};
    int k = 0, n = 0;
    char tail = 0;
    if (std::sscanf(v, "%d/%d%c", &k, &n, &tail) != 2 || n < 1 || k < 1 || k > n) {
        std::fprintf(stderr, "TESTKIT_SHARD=%s: expected K/N with 1 <= K <= N\n", v);
        std::exit(1);
    }
    return {k, n};
}

inline int runAll(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const auto [shardK, shardN] = shard();
    int index = -1;
    for (const Case &c : registry()) {
        if (++index % shardN != shardK - 1) continue;
        if (argc > 1 && std::string(c.name).find(argv[1]) == std::string::npos) continue;
        const int before = failures();
        try {
            c.fn();
        } catch (const std::exception &e) {
            fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
        }
        const bool ok = failures() == before;
        std::printf("%s %s\n", ok ? "PASS" : "FAIL", c.name);
        std::fflush(stdout);
        (ok ? passed : failed) += 1;
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

}   // namespace testkit

#define TK_CAT2(a, b) a##b
#define TK_CAT(a, b) TK_CAT2(a, b)
#define TEST(name)                                                                                                                                   \
    static void TK_CAT(test_, name)();                                                                                                               \
    static testkit::Register TK_CAT(reg_, name)(#name, TK_CAT(test_, name));                                                                         \
    static void TK_CAT(test_, name)()

#define CHECK(cond)                                                                                                                                  \
    do {                                                                                                                                             \
        if (!(cond)) testkit::fail(__FILE__, __LINE__, "CHECK(" #cond ")");                                                                          \
    } while (0)

#define CHECK_MSG(cond, msg)                                                                                                                         \
    do {                                                                                                                                             \
        if (!(cond)) {                                                                                                                               \
            std::ostringstream tk_os;                                                                                                                \
            tk_os << "CHECK(" #cond "): " << msg;                                                                                                    \
            testkit::fail(__FILE__, __LINE__, tk_os.str());                                                                                          \
        }                                                                                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                                                                               \
    do {                                                                                                                                             \
        const auto tk_a = (a);                                                                                                                       \
        const auto tk_b = (b);                                                                                                                       \
        if (!(tk_a == tk_b)) {                                                                                                                       \
            std::ostringstream tk_os;                                                                                                                \
            tk_os << #a " == " #b ": " << tk_a << " vs " << tk_b;                                                                                    \
            testkit::fail(__FILE__, __LINE__, tk_os.str());                                                                                          \
        }                                                                                                                                            \
    } while (0)

/// Runs `expr`, expects it to throw ExType whose what() contains `substr`; `onCatch(e)` may check more.
#define CHECK_THROWS_WITH(expr, ExType, substr)                                                                                                      \
    do {                                                                                                                                             \
        bool tk_thrown = false;                                                                                                                      \
        try {                                                                                                                                        \
            (void)(expr);                                                                                                                            \
        } catch (const ExType &tk_e) {                                                                                                               \
            tk_thrown = true;                                                                                                                        \
            if (std::string(tk_e.what()).find(substr) == std::string::npos)                                                                          \
                testkit::fail(__FILE__, __LINE__, std::string("message '") + tk_e.what() + "' lacks '" + (substr) + "'");                            \
        } catch (const std::exception &tk_e) {                                                                                                       \
            tk_thrown = true;                                                                                                                        \
            testkit::fail(__FILE__, __LINE__, std::string("wrong exception type: ") + tk_e.what());                                                  \
        }                                                                                                                                            \
        if (!tk_thrown) testkit::fail(__FILE__, __LINE__, "expected " #expr " to throw");                                                            \
    } while (0)

#define TESTKIT_MAIN                                                                                                                                 \
    int main(int argc, char **argv) { return testkit::runAll(argc, argv); }
