#pragma once
// Runs a shell command line for tests: its exit status, stdout, and stderr (through a file, so a command
// that writes much to both cannot block).
#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace testkit {

struct Run {
    int status = -1;
    std::string out, err;
};

inline Run runShell(const std::string &command, const std::string &errFile)
{
    const std::string cmd = command + " 2>" + errFile;
    Run r;
    FILE *p = popen(cmd.c_str(), "r");
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    FILE *e = fopen(errFile.c_str(), "r");
    while (e && (n = fread(buf.data(), 1, buf.size(), e)) > 0) r.err.append(buf.data(), n);
    if (e) fclose(e);
    return r;
}

}   // namespace testkit
