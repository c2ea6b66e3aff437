#!/usr/bin/env bash
# The whole suite on a fresh Debian machine: install what the tests need, build, test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
npm run build
# The tests and benchmarks are type-checked too: tsx runs them without checking.
npm run typecheck
npm test
