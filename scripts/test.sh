#!/usr/bin/env bash
# The README's second command: install what is missing, then typecheck, lint and run every
# test (unit and integration, against a real Temporal dev server that the tests start), then the
# production suite (test/production/, on a real Temporal cluster on PostgreSQL that it starts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run typecheck
npm run lint
npm test
npx vitest run --config vitest.production.config.ts
