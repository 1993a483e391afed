#!/usr/bin/env bash
# Benchmark of the local hub's LFS receive path: a 1 GiB basic PUT to `hfsync hub serve` against
# curl -T of the same file to a plain file sink (bench/hub/sink.c), and the hub's peak RSS while
# it receives a 5 GiB object (multipart: 5 GB is the single-PUT limit).
#
# Usage: bench/hub/run.sh [BUILD_DIR]     (default: build; use a build without sanitizers)
# Env:   BENCH_TMP  where the data goes (default /var/tmp; needs about 12 GiB free)
#        REPEAT     runs of each 1 GiB upload, the best one counts (default 2)
# Prints a Markdown table. Not part of the test suite: it writes ~15 GiB and takes minutes.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
HFSYNC="$BUILD/hfsync"
REPEAT=${REPEAT:-2}
TOKEN=hf_benchtoken0123456789
GiB=$((1 << 30))
ONE=$GiB
BIG=$((5 * GiB))

[ -x "$HFSYNC" ] || { echo "run.sh: no hfsync binary at $HFSYNC (build it first: ninja -C $BUILD)" >&2; exit 1; }
for tool in cc pkg-config curl openssl python3 sha256sum dd; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is needed" >&2; exit 1; }
done

WORK=$(mktemp -d "${BENCH_TMP:-/var/tmp}/hfsync-bench.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" >&2; }

# stream SEED: an endless deterministic pseudo-random byte stream (AES-CTR of zeros), so the
# 5 GiB object never has to sit on disk as a source file: it is generated twice instead.
stream() {
    # killed by SIGPIPE once the reader has enough, which is how it is meant to end
    openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$1")" -iv 0 -in /dev/zero 2>/dev/null || true
}

# wait_port FILE PID: waits for a server to write its port file.
wait_port() {
    for _ in $(seq 1 200); do
        [ -s "$1" ] && { cat "$1"; return 0; }
        kill -0 "$2" 2>/dev/null || break
        sleep 0.05
    done
    log "run.sh: the server (pid $2) did not write $1"
    return 1
}

# hub_up NAME: starts a fresh hub under WORK/NAME; sets HUB_PID and HUB.
hub_up() {
    local dir="$WORK/$1"
    mkdir -p "$dir"
    "$HFSYNC" hub serve --root "$dir/root" --listen 127.0.0.1:0 --port-file "$dir/port" \
        --token "$TOKEN" --access-log "$dir/access.log" >"$dir/out" 2>"$dir/err" &
    HUB_PID=$!
    PIDS+=("$HUB_PID")
    HUB="http://127.0.0.1:$(wait_port "$dir/port" "$HUB_PID")"
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d '{"name":"lfs","organization":"bench"}' "$HUB/api/repos/create" ||
        { log "run.sh: creating bench/lfs on the hub failed"; exit 1; }
}
hub_down() {
    kill -TERM "$HUB_PID"
    wait "$HUB_PID" || true
}
# hwm_kib PID: peak resident set size so far (VmHWM), in KiB.
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# batch OID SIZE TRANSFERS: the hub's LFS batch answer for one upload.
batch() {
    curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/vnd.git-lfs+json' \
        -d "{\"operation\":\"upload\",\"transfers\":$3,\"hash_algo\":\"sha256\",\"objects\":[{\"oid\":\"$1\",\"size\":$2}]}" \
        "$HUB/bench/lfs.git/info/lfs/objects/batch"
}

# put URL FILE: curl -T, prints "STATUS SECONDS".
put() { curl -sS -o "$WORK/put.body" -w '%{http_code} %{time_total}\n' -T "$2" "$1"; }
mbps() { python3 -c "print(f'{$1 / 1e6 / $2:.0f}')"; }
best() { printf '%s\n' "$@" | sort -g | head -1; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the plain sink
log "building the sink"
cc -O2 -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE "$SRC/bench/hub/sink.c" \
    $(pkg-config --cflags --libs libmicrohttpd) -lpthread -o "$WORK/sink"

log "writing 1 GiB of test data"
stream 1 | head -c "$ONE" >"$WORK/one.bin"
t0=$(date +%s.%N)
openssl dgst -sha256 "$WORK/one.bin" >/dev/null
t1=$(date +%s.%N)
HASH_S=$(python3 -c "print($t1 - $t0)")

"$WORK/sink" "$WORK/sink.out" "$WORK/sink.port" 2>"$WORK/sink.err" &
SINK_PID=$!
PIDS+=("$SINK_PID")
SINK="http://127.0.0.1:$(wait_port "$WORK/sink.port" "$SINK_PID")"
sink_times=()
for i in $(seq 1 "$REPEAT"); do
    log "1 GiB to the sink, run $i"
    read -r status secs < <(put "$SINK/one.bin" "$WORK/one.bin")
    [ "$status" = 200 ] || { log "run.sh: the sink answered $status"; exit 1; }
    sink_times+=("$secs")
done
kill -TERM "$SINK_PID"
wait "$SINK_PID" || true
rm -f "$WORK/sink.out"

# ---- the hub: the same file through the batch API's basic PUT href
hub_up one
hub_times=()
for i in $(seq 1 "$REPEAT"); do
    # each run needs an object the hub does not have yet: change the first bytes
    printf 'run %08d' "$i" | dd of="$WORK/one.bin" conv=notrunc status=none
    oid=$(sha256sum "$WORK/one.bin" | cut -c1-64)
    href=$(batch "$oid" "$ONE" '["basic"]' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["objects"][0]["actions"]["upload"]["href"])')
    log "1 GiB to the hub, run $i"
    read -r status secs < <(put "$href" "$WORK/one.bin")
    [ "$status" = 200 ] || { log "run.sh: the hub answered $status: $(cat "$WORK/put.body")"; exit 1; }
    hub_times+=("$secs")
done
ONE_HWM=$(hwm_kib "$HUB_PID")
hub_down
rm -rf "$WORK/one" "$WORK/one.bin"

# ---- the hub receiving 5 GiB: multipart parts, then the completion that assembles them
log "hashing the 5 GiB object"
BIG_OID=$(stream 2 | head -c "$BIG" | sha256sum | cut -c1-64)
hub_up big
IDLE_HWM=$(hwm_kib "$HUB_PID")
batch "$BIG_OID" "$BIG" '["basic","multipart"]' | python3 -c '
import json, sys
up = json.load(sys.stdin)["objects"][0]["actions"]["upload"]
h = up["header"]
print(h["chunk_size"]); print(up["href"])
for k in sorted((k for k in h if k.isdigit()), key=int): print(h[k])' >"$WORK/parts.txt"
CHUNK=$(sed -n 1p "$WORK/parts.txt")
COMPLETE=$(sed -n 2p "$WORK/parts.txt")
NPARTS=$(($(wc -l <"$WORK/parts.txt") - 2))
log "5 GiB to the hub in $NPARTS parts of $CHUNK bytes"
t0=$(date +%s.%N)
stream 2 | head -c "$BIG" | {
    n=0
    tail -n +3 "$WORK/parts.txt" | while read -r url; do
        n=$((n + 1))
        len=$(( BIG - (n - 1) * CHUNK < CHUNK ? BIG - (n - 1) * CHUNK : CHUNK ))
        # exactly one part from the stream (fullblock: never a short read), with its length
        # declared so curl does not fall back to chunked encoding
        etag=$(dd bs="$CHUNK" count=1 iflag=fullblock status=none <&3 |
            curl -sS -f -o /dev/null -D - -T - -H "Content-Length: $len" -H 'Transfer-Encoding:' "$url" |
            tr -d '\r' | awk 'tolower($1) == "etag:" { print $2 }')
        [ -n "$etag" ] || { log "run.sh: part $n was refused"; exit 1; }
        printf '%s\t%s\n' "$n" "$etag"
    done >"$WORK/etags.txt"
} 3<&0
python3 -c '
import json, sys
parts = [{"partNumber": int(n), "etag": e} for n, e in (l.rstrip("\n").split("\t") for l in open(sys.argv[2]))]
print(json.dumps({"oid": sys.argv[1], "parts": parts}))' "$BIG_OID" "$WORK/etags.txt" >"$WORK/complete.json"
status=$(curl -sS -o "$WORK/complete.body" -w '%{http_code}' -H 'Content-Type: application/vnd.git-lfs+json' \
    --data-binary @"$WORK/complete.json" "$COMPLETE")
t1=$(date +%s.%N)
[ "$status" = 200 ] || { log "run.sh: the completion answered $status: $(cat "$WORK/complete.body")"; exit 1; }
BIG_S=$(python3 -c "print($t1 - $t0)")
BIG_HWM=$(hwm_kib "$HUB_PID")
hub_down

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
HUB_S=$(best "${hub_times[@]}")
SINK_S=$(best "${sink_times[@]}")
kib2mib() { python3 -c "print(f'{$1 / 1024:.1f}')"; }

cat <<EOF
| measurement (MB = 10^6 bytes; best of $REPEAT for the 1 GiB runs) | result |
|---|---|
| 1 GiB LFS basic PUT to the local hub (curl -T to the batch href; hash + write + fsync + rename) | $(mbps "$ONE" "$HUB_S") MB/s ($(printf '%.2f' "$HUB_S") s) |
| 1 GiB curl -T to a plain file sink on loopback (libmicrohttpd, write + fsync) | $(mbps "$ONE" "$SINK_S") MB/s ($(printf '%.2f' "$SINK_S") s) |
| hub / sink throughput | $(python3 -c "print(f'{$SINK_S / $HUB_S:.2f}')") |
| sha256 of the same 1 GiB (openssl dgst, the hub's hash code; one core, page cache) | $(mbps "$ONE" "$HASH_S") MB/s |
| hub peak RSS (VmHWM) after the 1 GiB PUTs | $(kib2mib "$ONE_HWM") MiB |
| 5 GiB object: $NPARTS multipart parts of $((CHUNK / 1048576)) MiB, one curl per part in sequence, + completion (assemble, verify) | $(mbps "$BIG" "$BIG_S") MB/s ($(printf '%.1f' "$BIG_S") s) |
| hub peak RSS (VmHWM) while receiving the 5 GiB object (idle hub: $(kib2mib "$IDLE_HWM") MiB) | $(kib2mib "$BIG_HWM") MiB (limit 64 MiB) |
| load average at start / at end ($(nproc) cores, shared) | $LOAD_START / $LOAD_END |
EOF
