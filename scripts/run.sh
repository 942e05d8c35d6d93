#!/usr/bin/env bash
# run.sh — set up and build (scripts/setup.sh), then run slotd in the
# foreground on 127.0.0.1:6379 with the socket transport (the default).
# Extra arguments are passed through, redis-server style, and override the
# defaults: scripts/run.sh --port 7000 --threads 2
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LIB_ROOT"

bash scripts/setup.sh
[ -x "$SLOTD_BIN" ] || lib_die "$SLOTD_BIN was not built"
exec "$SLOTD_BIN" --port 6379 --bind 127.0.0.1 "$@"
