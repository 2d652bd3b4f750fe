#!/usr/bin/env bash
# Installs what this project needs on a fresh machine, and skips what is already there:
# the npm packages (better-sqlite3 compiles once, about two minutes on 2 cores) and the
# Temporal CLI (built with `go install`, a few minutes once, cached in $HOME/go/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
npm run build --silent  # the CLI into dist/, run by bin/synapse.mjs while no source is newer (0.5 s)

# shellcheck source=go-tool.sh
. scripts/go-tool.sh

cli=$(go_tool temporal TEMPORAL_CLI_PATH github.com/temporalio/cli/cmd/temporal@v1.5.1)
echo "setup: Temporal CLI at $cli"

# The real Temporal server and its SQL schema tool, for `synapse server start-cluster` and the
# production tests (test/production/); the PostgreSQL schemas come with the module (docs/production.md).
srv=$(go_tool server TEMPORAL_SERVER_PATH go.temporal.io/server/cmd/server@v1.29.1 nopath)
sqltool=$(go_tool sql TEMPORAL_SQL_TOOL_PATH go.temporal.io/server/cmd/tools/sql@v1.29.1 nopath)
echo "setup: Temporal server at $srv, SQL tool at $sqltool"

# PostgreSQL (Debian's package) for the platform tests and `scripts/postgres-server.sh`.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  bash scripts/postgres-server.sh install
fi

# The S3-compatible server for the storage tests and `scripts/s3-server.sh` (versitygw, Apache-2.0).
gw=$(go_tool versitygw VERSITYGW_PATH github.com/versity/versitygw/cmd/versitygw@v1.7.0)
echo "setup: versitygw at $gw"

# tools/deploy-check (compose-go and BuildKit's Dockerfile linter) for test/unit/deploy-files.test.ts,
# which builds it again from the module cache filled here (the first build takes a few minutes).
go -C tools/deploy-check build -o /dev/null . && echo "setup: tools/deploy-check builds"

# Temporal's time-skipping test server (Java, from Maven Central) for the fast workflow tests
# (test/unit/workflow-*.test.ts); without Java and Maven they run on the dev server instead.
if ts=$(bash scripts/test-server.sh); then
  echo "setup: Temporal test server at $ts"
else
  echo "setup: no time-skipping test server (needs Java 17+ and Maven); workflow tests use the dev server" >&2
fi

# pycocotools (PyPI) for the COCO export test (test/integration/export-formats.test.ts).
if ! python3 -c 'import pycocotools' >/dev/null 2>&1; then
  echo "setup: pip install pycocotools"
  python3 -m pip install --quiet pycocotools
fi

# Debian's packages for the Python training runtime and the upload tests and bench, when missing:
# python3-torch, python3-numpy, python3-pil (the PyTorch training plugin: no downloads at run
# time), python3-openpyxl (an Excel file written by another program), python3-psycopg2 and
# python3-venv (the tune shape's Optuna environment below, its studies in PostgreSQL), awscli
# (the upload bench's `aws s3 cp` baseline). They are checked with Debian's own interpreter,
# which plugins run with (activities/python-runtime.ts), whatever python3 comes first on PATH.
sys_py=/usr/bin/python3
apt_missing=()
has_module() { [ -x "$sys_py" ] && "$sys_py" -c "import $1" >/dev/null 2>&1; }
has_module torch || apt_missing+=(python3-torch)
has_module numpy || apt_missing+=(python3-numpy)
has_module PIL || apt_missing+=(python3-pil)
has_module openpyxl || apt_missing+=(python3-openpyxl)
has_module psycopg2 || apt_missing+=(python3-psycopg2)
has_module ensurepip || apt_missing+=(python3-venv)
command -v aws >/dev/null 2>&1 || apt_missing+=(awscli)
# chromium: the deployment demo page's browser test (test/integration/demo-page.test.ts, puppeteer-core over CDP).
command -v chromium >/dev/null 2>&1 || apt_missing+=(chromium)
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "setup: apt-get install ${apt_missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: not root; run: sudo apt-get install -y ${apt_missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

# The tools environment: Debian's Python (with its packages) plus optuna from PyPI, for the tune
# run shape's study service (activities/tune-optuna.ts; SYNAPSE_TOOLS_PYTHON overrides it).
tools=.cache/python-tools
if ! "$tools/bin/python" -c 'import optuna' >/dev/null 2>&1; then
  echo "setup: optuna into $tools"
  "$sys_py" -m venv --system-site-packages "$tools"
  "$tools/bin/python" -m pip install --quiet --disable-pip-version-check 'optuna==5.0.0'
fi
# datumaro (PyPI; pulls pycocotools, lxml, opencv-python-headless, pandas) for the export-fidelity
# tests: each built-in export imported with its format's importer (test/fidelity/read_export.py).
if ! "$tools/bin/python" -c 'import datumaro, pycocotools' >/dev/null 2>&1; then
  echo "setup: datumaro into $tools"
  "$sys_py" -m venv --system-site-packages "$tools"
  "$tools/bin/python" -m pip install --quiet --disable-pip-version-check 'datumaro==1.13.12'
fi
# schemathesis (PyPI) for the gateway's bounded property-based run against /openapi.json
# (test/integration/gateway-openapi.test.ts, settings in test/schemathesis.toml).
if [ ! -x "$tools/bin/schemathesis" ]; then
  echo "setup: schemathesis into $tools"
  "$sys_py" -m venv --system-site-packages "$tools"
  "$tools/bin/python" -m pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
fi
