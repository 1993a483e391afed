#!/usr/bin/env bash
# Planning benchmark: prints a table.
#  - the planning core alone (diff + limits + grouping, in memory, no I/O) for N files;
#  - `hfsync plan` end to end on a folder of N small files against the local hub (a new repo,
#    so every file is an add: the largest plan), cold (empty hash cache) and warm, with peak
#    RSS; with BENCH_GIT=1 also `git status` on the same tree for comparison.
# Usage: bench/plan/run.sh [BUILD_DIR (default build)] [N (default 100000)]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
N=${2:-100000}
HFSYNC="$PWD/$BUILD/hfsync"
[ -x "$HFSYNC" ] && [ -f "$BUILD/libhfsync.a" ] || { echo "build $BUILD first (scripts/build.sh)" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hfsync-bench-plan.XXXXXX")
HUB_PID=
cleanup() {
    [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

# --- the core, in memory --------------------------------------------------------------------
# shellcheck disable=SC2046
cc -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/plan/core.c "$BUILD/libhfsync.a" \
    $(pkg-config --cflags --libs libcurl openssl yaml-0.1 libpcre2-8 libgit2 jansson libmicrohttpd) \
    -lpthread -o "$TMP/bench-core"
"$TMP/bench-core" "$N" >"$TMP/core.tsv"
core() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$TMP/core.tsv"; }

# --- end to end ------------------------------------------------------------------------------
TOKEN=hf_benchtoken0123456789
"$HFSYNC" hub serve --root "$TMP/hub" --listen 127.0.0.1:0 --port-file "$TMP/port" \
    --token "$TOKEN" --access-log "$TMP/access.log" >/dev/null 2>&1 &
HUB_PID=$!
for _ in $(seq 1 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
export HF_ENDPOINT="http://127.0.0.1:$(cat "$TMP/port")" HF_TOKEN=$TOKEN

mkdir -p "$TMP/work/data"
python3 - "$TMP/work/data" "$N" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "shard-%03d" % (i % 100))
    if i < 100:
        os.makedirs(d)
    with open(os.path.join(d, "file-%07d.%s" % (i, "bin" if i % 4 == 0 else "json")), "w") as f:
        f.write("content of file %d\n" % i)
EOF
cat >"$TMP/work/hfsync.yaml" <<'EOF'
version: 1
syncs:
  bench:
    repo_id: bench/plan
    folder_path: ./data
    create: { private: false }
    commit: { strategy: large }
EOF
# run NAME CMD...: wall seconds and peak RSS (MiB) of CMD.
run() {
    local name=$1
    shift
    /usr/bin/time -f "%e %M" -o "$TMP/$name.time" "$@" >/dev/null 2>"$TMP/$name.err" ||
        { cat "$TMP/$name.err" >&2; exit 1; }
    read -r secs kib <"$TMP/$name.time"
    printf '%s\t%s\t%s\n' "$name" "$secs" "$((kib / 1024))" >>"$TMP/e2e.tsv"
}
sync
(cd "$TMP/work" && run cold "$HFSYNC" plan -q -o plan.json)
(cd "$TMP/work" && run warm "$HFSYNC" plan -q -o plan.json)
e2e() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k { print $c }' "$TMP/e2e.tsv"; }
if [ "${BENCH_GIT:-0}" = 1 ]; then
    (cd "$TMP/work/data" && git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm x &&
        git status >/dev/null && run git-status git status --porcelain)
fi

# --- the table ---------------------------------------------------------------------------------
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 < t + 0) ? "yes" : "NO" }'; }
printf '\nhfsync plan benchmark: %s files (%s)\n\n' "$N" "$(core ops)"
printf '| %-52s | %10s | %10s | %-4s |\n' "measure" "value" "target" "met"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..12})" "------"
row() { printf '| %-52s | %10s | %10s | %-4s |\n' "$1" "$2" "$3" "$4"; }
row "core: diff + limits + grouping, in memory (s)" "$(core core_s)" "< 0.5" "$(verdict "$(core core_s)" 0.5)"
row "core: plan built, sealed and serialized (s)" "$(core plan_json_s)" "" ""
row "core: peak RSS, inputs + plan + JSON (MiB)" "$(core rss_peak_mib)" "< 200" "$(verdict "$(core rss_peak_mib)" 200)"
row "hfsync plan, cold hash cache (s)" "$(e2e cold 2)" "" ""
row "hfsync plan, cold: peak RSS (MiB)" "$(e2e cold 3)" "< 200" "$(verdict "$(e2e cold 3)" 200)"
row "hfsync plan, warm hash cache (s)" "$(e2e warm 2)" "" ""
row "hfsync plan, warm: peak RSS (MiB)" "$(e2e warm 3)" "< 200" "$(verdict "$(e2e warm 3)" 200)"
if [ "${BENCH_GIT:-0}" = 1 ]; then
    row "git status --porcelain on the same tree (s)" "$(e2e git-status 2)" "" ""
    ratio=$(awk -v a="$(e2e warm 2)" -v b="$(e2e git-status 2)" 'BEGIN { printf "%.2f", b > 0 ? a / b : 0 }')
    row "warm hfsync plan / git status" "$ratio" "<= 1.5" "$(verdict "$ratio" 1.5001)"
fi
printf '\nplan file: %s MiB for %s operations\n' \
    "$(awk -v b="$(stat -c %s "$TMP/work/plan.json")" 'BEGIN { printf "%.1f", b / 1048576 }')" \
    "$(python3 -c "import json,sys; print(sum(len(c['operations']) for s in json.load(open(sys.argv[1]))['syncs'] for c in s['commits']))" "$TMP/work/plan.json")"
