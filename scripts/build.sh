#!/usr/bin/env bash
# Builds hfsync: build/ (normal) and, with --sanitize, build-asan/ (ASan + UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build
if [ "${1:-}" = "--sanitize" ]; then
    [ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
    ninja -C build-asan
fi
