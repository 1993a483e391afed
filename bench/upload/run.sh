#!/usr/bin/env bash
# The upload benchmark (issue 5): hfsync against the official JS client (@huggingface/hub,
# uploadFiles with useXet false) and raw `curl -T` PUTs, all uploading to the local hub on
# loopback, in alternating repetitions; prints a Markdown table (median, min–max, ratios, peak
# RSS of hfsync uploading one huge file).
#
# usage: bench/upload/run.sh [--size full|small] [--reps N] [--jobs N] [--build-dir DIR]
#                            [--work DIR]
#   --size full   (default) 2 × 1.5 GiB + 10,000 small files (≈ 4 GiB); a 5 GiB file for RSS
#   --size small  2 × 150 MiB + 1,000 small files (≈ 400 MiB); a 512 MiB file for RSS
#   --reps N      repetitions of every timed run (default 3)
#   --jobs N      hfsync's parallel transfers (default 8)
#   --build-dir   the release build to use (default build-release, set up when missing)
#   --work DIR    data, hub roots and logs (default $TMPDIR/hfsync-bench-upload). The data is
#                 generated once from a seed (identical on every machine) and kept for the next
#                 run; the full size needs about 20 GB free there (data, plus one hub's store).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
SIZE=full
REPS=3
JOBS=8
BUILD=$SRC/build-release
WORK=${TMPDIR:-/tmp}/hfsync-bench-upload
while [ $# -gt 0 ]; do
    case $1 in
        --size) SIZE=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --build-dir) BUILD=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done
case $SIZE in
    full) THRESHOLD=500MiB ;;
    small) THRESHOLD=100MiB ;;
    *) echo "run.sh: --size is full or small, not $SIZE" >&2; exit 64 ;;
esac

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

# ---- build, tools, data ---------------------------------------------------------------------
if [ ! -f "$BUILD/build.ninja" ]; then
    say "setting up the release build in $BUILD"
    meson setup "$BUILD" "$SRC" --buildtype=release >/dev/null
fi
ninja -C "$BUILD" hfsync >/dev/null || die "the release build in $BUILD failed"
HFSYNC=$BUILD/hfsync
NODE_HUB=$SRC/tests/node/node_modules/@huggingface/hub/dist/index.mjs
command -v node >/dev/null || die "node is needed for the JS client's runs"
[ -f "$NODE_HUB" ] || die "the JS client is missing: run npm ci in $SRC/tests/node"
command -v python3 >/dev/null || die "python3 is needed (data generation, the table)"
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed for the peak RSS"

DATA=$WORK/data
mkdir -p "$WORK/logs"
say "generating the $SIZE data set in $DATA (once; seeded)"
python3 "$SRC/bench/upload/gen.py" "$DATA" "$SIZE"

TOKEN=hf_benchtoken0123456789
HUB_ROOT=$WORK/hub
HUB_PID=
HUB_URL=
AUTH="Authorization: Bearer $TOKEN"
cleanup() { [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null; rm -rf "$HUB_ROOT"; }
trap cleanup EXIT

# A fresh hub with an empty store for every run: nothing uploaded before is ever "present".
hub_start() {
    rm -rf "$HUB_ROOT" "$WORK/port"
    "$HFSYNC" hub serve --root "$HUB_ROOT" --listen 127.0.0.1:0 --port-file "$WORK/port" \
        --token "$TOKEN" --multipart-threshold "$THRESHOLD" --access-log "$WORK/logs/access.log" \
        >/dev/null 2>>"$WORK/logs/hub.err" &
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

# create_repo NAME [THRESHOLD]: a model repo user/NAME (the threshold moves its multipart limit)
create_repo() {
    local extra=${2:+,\"lfsmultipartthresh\":$2}
    curl -sf -H "$AUTH" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$1\",\"organization\":\"user\"$extra}" "$HUB_URL/api/repos/create" \
        >/dev/null || die "cannot create the repo user/$1"
}

now() { date +%s.%N; }
# timed NAME REP CMD...: runs CMD, appends its wall time to results.tsv, fails loudly
timed() {
    local name=$1 rep=$2 log="$WORK/logs/$1-$2.log" start end
    shift 2
    start=$(now)
    if ! "$@" >"$log" 2>&1; then
        say "run.sh: $name (rep $rep) failed:"
        tail -20 "$log" >&2
        exit 1
    fi
    end=$(now)
    printf '%s\t%s\t%s\n' "$name" "$rep" "$(python3 -c "print(f'{$end - $start:.3f}')")" \
        >>"$WORK/results.tsv"
    say "  $name: $(tail -1 "$WORK/results.tsv" | cut -f3) s"
}

# hfsync_upload DIR REPO STATE: `hfsync upload` run from STATE (its hash cache lives there)
hfsync_upload() {
    (cd "$3" && HF_ENDPOINT=$HUB_URL HF_TOKEN=$TOKEN "$HFSYNC" upload "$2" "$1" --jobs "$JOBS" -q)
}

js_upload() {
    HUB_URL=$HUB_URL HF_TOKEN=$TOKEN REPO=$1 DIR=$2 node "$SRC/bench/upload/js-upload.mjs"
}

# The limit: curl itself sends the large files to the hrefs the LFS batch hands out (the
# parts of a multipart object from files of their own, JOBS at a time, then the completion).
# The batch request and the split into parts are set up first; only the transfers are timed.
curl_large() {
    local name=$1 rep=$2 out="$WORK/curl-$1" start end
    rm -rf "$out"
    python3 "$SRC/bench/upload/lfs_curl.py" prepare "$HUB_URL" "$TOKEN" user/raw \
        "$DATA/large.sha256" "$DATA/parts" "$out" >"$WORK/logs/$name-$rep.log" 2>&1 ||
        die "cannot set up the curl run: $(tail -5 "$WORK/logs/$name-$rep.log")"
    start=$(now)
    curl -sf --parallel --parallel-max "$JOBS" -K "$out/transfers.curl" \
        -w '%{url}\t%header{etag}\n' >"$out/etags" 2>>"$WORK/logs/$name-$rep.log" &&
        python3 "$SRC/bench/upload/lfs_curl.py" complete "$out" "$out/etags" \
            >>"$WORK/logs/$name-$rep.log" 2>&1 ||
        die "$name (rep $rep) failed: $(tail -5 "$WORK/logs/$name-$rep.log")"
    end=$(now)
    printf '%s\t%s\t%s\n' "$name" "$rep" "$(python3 -c "print(f'{$end - $start:.3f}')")" \
        >>"$WORK/results.tsv"
    say "  $name: $(tail -1 "$WORK/results.tsv" | cut -f3) s"
}

run_hfsync_folder() {
    hub_start
    rm -rf "$WORK/state-folder" && mkdir -p "$WORK/state-folder" # a cold hash cache: it hashes all
    timed hfsync-folder "$1" hfsync_upload "$DATA/folder" user/folder "$WORK/state-folder"
    hub_stop
}
run_js_folder() {
    hub_start
    create_repo folder
    timed js-folder "$1" js_upload user/folder "$DATA/folder"
    hub_stop
}
run_hfsync_large() {
    hub_start
    timed hfsync-large "$1" hfsync_upload "$DATA/large-only" user/large "$WORK/state-large"
    hub_stop
}
run_hfsync_large_basic() {
    hub_start
    create_repo large $((1 << 40))
    timed hfsync-large-basic "$1" hfsync_upload "$DATA/large-only" user/large "$WORK/state-large"
    hub_stop
}
run_curl_large() {
    hub_start
    create_repo raw
    curl_large curl-large "$1"
    hub_stop
}
run_curl_large_basic() {
    hub_start
    create_repo raw $((1 << 40))
    curl_large curl-large-basic "$1"
    hub_stop
}

# ---- the runs --------------------------------------------------------------------------------
: >"$WORK/results.tsv"
say "warming up: the page cache, and hfsync's hash cache for the large files"
find "$DATA/folder" "$DATA/huge" -type f -exec cat {} + >/dev/null
rm -rf "$WORK/state-large" && mkdir -p "$WORK/state-large"
hub_start
hfsync_upload "$DATA/large-only" user/large "$WORK/state-large" >"$WORK/logs/warmup.log" 2>&1 ||
    die "the warm-up upload failed: $(tail -5 "$WORK/logs/warmup.log")"
hub_stop

RUNS=(run_hfsync_folder run_js_folder run_hfsync_large run_curl_large run_hfsync_large_basic
    run_curl_large_basic)
for rep in $(seq 1 "$REPS"); do
    say "repetition $rep of $REPS"
    if [ $((rep % 2)) -eq 1 ]; then order=("${RUNS[@]}"); else
        order=()
        for ((i = ${#RUNS[@]} - 1; i >= 0; i--)); do order+=("${RUNS[$i]}"); done
    fi
    for r in "${order[@]}"; do "$r" "$rep"; done
done

say "peak RSS: hfsync uploading $(du -h "$DATA/huge/huge.bin" | cut -f1) in one file"
hub_start
rm -rf "$WORK/state-huge" && mkdir -p "$WORK/state-huge"
(cd "$WORK/state-huge" && HF_ENDPOINT=$HUB_URL HF_TOKEN=$TOKEN /usr/bin/time -f '%M' -o "$WORK/rss" \
    "$HFSYNC" upload user/huge "$DATA/huge" --jobs "$JOBS" -q) >"$WORK/logs/rss.log" 2>&1 ||
    die "the peak RSS run failed: $(tail -5 "$WORK/logs/rss.log")"
hub_stop

bytes() { find "$@" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }'; }
{
    printf 'mode\t%s\nreps\t%s\njobs\t%s\nthreshold\t%s\ncores\t%s\n' "$SIZE" "$REPS" "$JOBS" \
        "$THRESHOLD" "$(nproc)"
    printf 'folder_bytes\t%s\n' "$(bytes "$DATA/folder")"
    printf 'folder_files\t%s\n' "$(find "$DATA/folder" -type f | wc -l)"
    printf 'large_bytes\t%s\n' "$(bytes "$DATA/large-only")"
    printf 'huge_bytes\t%s\n' "$(bytes "$DATA/huge")"
    printf 'rss_kb\t%s\n' "$(tail -1 "$WORK/rss")"
} >"$WORK/info.tsv"
python3 "$SRC/bench/upload/table.py" "$WORK/results.tsv" "$WORK/info.tsv"
