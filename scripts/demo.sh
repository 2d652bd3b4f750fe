#!/usr/bin/env bash
# The README's first command: install what is missing, then run the demo plugin end to end
# on the embedded defaults (Temporal dev server + SQLite + local files under .synapse/).
# Arguments go to `synapse demo`: `scripts/demo.sh --port 7300 --ui-port 8300` when 7233/8233
# are taken (a port another server holds is an error, never adopted).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/synapse.mjs demo "$@"
