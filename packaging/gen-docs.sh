#!/bin/sh
# Build step: pellucid-cli(1) and the bash completion from the CLI's own command tables.
#   gen-docs.sh PELLUCID_CLI MAN_OUT COMPLETION_OUT
set -e
"$1" help --man > "$2.tmp" && mv "$2.tmp" "$2"
"$1" help --bash-completion > "$3.tmp" && mv "$3.tmp" "$3"
