// pellucid-cli: the engine without a window. The commands are data (app/cli/commands/); `pellucid-cli help`
// lists them and `pellucid-cli help COMMAND` shows one command's options.
#include "app/cli/cli.h"

#include <iostream>

using namespace pellucid::cli;

int main(int argc, char **argv)
{
    const Command *cmd = argc >= 2 ? findCommand(argv[1]) : nullptr;
    try {
        const Args a = parse(argc, argv);
        if (!cmd) {   // help
            if (a.has("command")) {
                const Command *c = findCommand(a.need("command"));
                if (!c) throw UsageError("unknown command '" + a.need("command") + "'");
                std::cout << c->usage();
            } else {
                std::cout << usage();
            }
            return 0;
        }
        if (a.flag("help")) {
            std::cout << cmd->usage();
            return 0;
        }
        return cmd->run(a);
    } catch (const UsageError &e) {
        std::cerr << "pellucid-cli: " << e.what() << "\n" << (cmd ? cmd->usage() : usage());
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "pellucid-cli: " << e.what() << "\n";
        return 2;
    }
}
