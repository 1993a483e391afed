#!/usr/bin/env bash
# The README's test command: installs what is needed, builds the normal and the
# sanitizer (ASan + UBSan) builds, and runs the whole suite in both.
# The last line is the summary "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ -f tests/node/package.json ]; then
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
bash scripts/build.sh --sanitize
exec python3 tests/run_suite.py build build-asan
