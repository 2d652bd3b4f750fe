#!/usr/bin/env bash
# The README's first command: install what is missing, then run the demo plugin end to end
# on the embedded defaults (Temporal dev server + SQLite + local files under .synapse/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/synapse.mjs demo "$@"
