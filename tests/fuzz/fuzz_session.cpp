// Sessions (app/figures/session.cpp, with the figure composer's JSON): loaded or refused with a message;
// what loads saves and loads again to the same session.
#include "app/figures/session.h"
#include "tests/fuzz/harness.h"

#include <QFileInfo>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz::guarded([&] {
        const QString path = QString::fromStdString(fuzz::writeFile("session.json", data, size));
        const pellucid::Session s = pellucid::loadSession(path);
        const QString copy = QString::fromStdString(fuzz::scratch() + "/copy.json");
        pellucid::saveSession(s, copy);
        const pellucid::Session back = pellucid::loadSession(copy);
        // Paths are saved absolute and clean ("a/../b" as "b").
        auto clean = [](const QStringList &l) {
            QStringList out;
            for (const QString &p : l) out << QFileInfo(p).absoluteFilePath();
            return out;
        };
        fuzz::require(back.layer == s.layer && clean(back.inputs) == clean(s.inputs) && back.text == s.text
                          && back.composer.columns.size() == s.composer.columns.size() && back.compare == s.compare,
                      "a saved session loads back to another session");
    });
    return 0;
}
