#!/usr/bin/env bash
# The large-upload benchmark (issue 6): many small files (1–10 KB) uploaded to the local hub by
# `hfsync upload-large-folder` (strategy large: adaptive commits, pipelined) and by the official
# JS client committing the same files in batches of 1,000 (uploadFiles, useXet false), in
# alternating repetitions, each on a fresh hub; prints a Markdown table of wall times and
# commit counts.
#
# usage: bench/large/run.sh [--files N] [--reps N] [--batch N] [--build-dir DIR] [--work DIR]
#   --files N     files to upload (default 100000, ≈ 550 MB)
#   --reps N      repetitions of every timed run (default 1)
#   --batch N     files per commit of the JS client (default 1000)
#   --build-dir   the release build to use (default build-release, set up when missing)
#   --work DIR    data, hub roots and logs (default $TMPDIR/hfsync-bench-large); the data is
#                 generated once from a seed and kept for the next run
# Runs: hfsync-cold (hash cache empty: scan, hash, plan and upload), hfsync-warm (hash cache
# full, a fresh hub: planning from the cache, then the upload), js-batches.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
FILES=100000
REPS=1
BATCH=1000
BUILD=$SRC/build-release
WORK=${TMPDIR:-/tmp}/hfsync-bench-large
while [ $# -gt 0 ]; do
    case $1 in
        --files) FILES=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --batch) BATCH=$2; shift 2 ;;
        --build-dir) BUILD=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

if [ ! -f "$BUILD/build.ninja" ]; then
    say "setting up the release build in $BUILD"
    meson setup "$BUILD" "$SRC" --buildtype=release >/dev/null
fi
ninja -C "$BUILD" hfsync >/dev/null || die "the release build in $BUILD failed"
HFSYNC=$BUILD/hfsync
NODE_HUB=$SRC/tests/node/node_modules/@huggingface/hub/dist/index.mjs
command -v node >/dev/null || die "node is needed for the JS client's runs"
[ -f "$NODE_HUB" ] || die "the JS client is missing: run npm ci in $SRC/tests/node"

DATA=$WORK/data-$FILES
mkdir -p "$WORK/logs"
say "generating $FILES files in $DATA (once; seeded)"
python3 "$SRC/bench/large/gen.py" "$DATA" "$FILES"

TOKEN=hf_benchtoken0123456789
HUB_ROOT=$WORK/hub
HUB_PID=
HUB_URL=
cleanup() { [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null; rm -rf "$HUB_ROOT"; }
trap cleanup EXIT

# A fresh hub with an empty store for every run.
hub_start() {
    rm -rf "$HUB_ROOT" "$WORK/port"
    "$HFSYNC" hub serve --root "$HUB_ROOT" --listen 127.0.0.1:0 --port-file "$WORK/port" \
        --token "$TOKEN" --access-log /dev/null >/dev/null 2>>"$WORK/logs/hub.err" &
    HUB_PID=$!
    for _ in $(seq 1 200); do
        [ -s "$WORK/port" ] && break
        sleep 0.05
    done
    [ -s "$WORK/port" ] || die "the local hub did not start: $(tail -5 "$WORK/logs/hub.err")"
    HUB_URL=http://127.0.0.1:$(cat "$WORK/port")
}
hub_stop() {
    kill "$HUB_PID" 2>/dev/null || true
    wait "$HUB_PID" 2>/dev/null || true
    HUB_PID=
    rm -rf "$HUB_ROOT"
}
# Commits on main after the hub's first, and the files there: read from the hub's store.
commits_of() { echo $(($(git --git-dir "$HUB_ROOT/repos/models/user/bench.git" rev-list --count main) - 1)); }
files_of() { git --git-dir "$HUB_ROOT/repos/models/user/bench.git" ls-tree -r --name-only main | grep -vc '^\.gitattributes$'; }

now() { date +%s.%N; }
# timed NAME REP CMD...: runs CMD on a fresh hub; records wall time, commits and files.
timed() {
    local name=$1 rep=$2 log="$WORK/logs/$1-$2.log" start end
    shift 2
    hub_start
    start=$(now)
    if ! "$@" >"$log" 2>&1; then
        say "run.sh: $name (rep $rep) failed:"
        tail -20 "$log" >&2
        exit 1
    fi
    end=$(now)
    local commits files
    commits=$(commits_of)
    files=$(files_of)
    [ "$files" -eq "$FILES" ] || die "$name (rep $rep): the repo has $files files, not $FILES"
    printf '%s\t%s\t%s\t%s\n' "$name" "$rep" "$(python3 -c "print(f'{$end - $start:.3f}')")" \
        "$commits" >>"$WORK/results.tsv"
    say "  $name: $(tail -1 "$WORK/results.tsv" | cut -f3) s, $commits commits"
    hub_stop
}

hfsync_cold() {
    rm -rf "$DATA/.hfsync"
    HF_ENDPOINT=$HUB_URL HF_TOKEN=$TOKEN "$HFSYNC" upload-large-folder user/bench "$DATA" \
        --repo-type model
}
hfsync_warm() {
    # The hash cache stays; the journal and lock of the last run go (a new hub, a new plan).
    rm -rf "$DATA/.hfsync/state"
    HF_ENDPOINT=$HUB_URL HF_TOKEN=$TOKEN "$HFSYNC" upload-large-folder user/bench "$DATA" \
        --repo-type model
}
js_batches() {
    curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d '{"name":"bench","organization":"user"}' "$HUB_URL/api/repos/create" >/dev/null ||
        die "cannot create the repo user/bench"
    HUB_URL=$HUB_URL HF_TOKEN=$TOKEN REPO=user/bench DIR=$DATA BATCH=$BATCH \
        node "$SRC/bench/large/js-batches.mjs"
}

: >"$WORK/results.tsv"
say "warming up the page cache"
find "$DATA" -type f -exec cat {} + >/dev/null
RUNS=(hfsync_cold hfsync_warm js_batches)
for rep in $(seq 1 "$REPS"); do
    say "repetition $rep of $REPS"
    if [ $((rep % 2)) -eq 1 ]; then order=("${RUNS[@]}"); else
        order=()
        for ((i = ${#RUNS[@]} - 1; i >= 0; i--)); do order+=("${RUNS[$i]}"); done
    fi
    for run in "${order[@]}"; do
        case $run in
            # hfsync_warm needs the cache hfsync_cold leaves: run cold first when missing.
            hfsync_warm) [ -f "$DATA/.hfsync/hashcache" ] || timed hfsync-cold-extra "$rep" hfsync_cold
                timed hfsync-warm "$rep" hfsync_warm ;;
            hfsync_cold) timed hfsync-cold "$rep" hfsync_cold ;;
            js_batches) timed js-batches "$rep" js_batches ;;
        esac
    done
done

python3 - "$WORK/results.tsv" "$FILES" "$BATCH" <<'PY'
import collections, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
files, batch = int(sys.argv[2]), int(sys.argv[3])
runs = collections.OrderedDict()
for name, rep, secs, commits in rows:
    if name.endswith("-extra"):
        continue
    runs.setdefault(name, []).append((float(secs), int(commits)))
js = statistics.median(s for s, _ in runs.get("js-batches", [(0, 0)])) or None
labels = {
    "hfsync-cold": "hfsync upload-large-folder (hash cache empty)",
    "hfsync-warm": "hfsync upload-large-folder (hash cache full)",
    "js-batches": "JS client, uploadFiles in commits of %d" % batch,
}
print("%d small files (1–10 KB), local hub on loopback, %d repetition(s)\n" % (files, len(next(iter(runs.values())))))
print("| run | wall time (median) | min–max | commits | files/s | vs JS |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for name, vals in runs.items():
    secs = [s for s, _ in vals]
    med = statistics.median(secs)
    ratio = "%.2f×" % (js / med) if js and name != "js-batches" else "—"
    print("| %s | %.1f s | %.1f–%.1f s | %d | %.0f | %s |" % (labels.get(name, name), med, min(secs),
          max(secs), vals[-1][1], files / med, ratio))
PY
