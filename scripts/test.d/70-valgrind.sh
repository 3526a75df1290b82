#!/usr/bin/env bash
# calibrate under valgrind (memcheck) against trtsim + hostcuda: no definitely-lost memory and no
# memory errors on the normal paths (and a few failure paths). About 70 s; see scripts/valgrind.sh.
set -euo pipefail
exec bash "$(cd "$(dirname "$0")/.." && pwd)/valgrind.sh"
