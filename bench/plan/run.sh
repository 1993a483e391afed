#!/usr/bin/env bash
# The planner's benchmarks (issue 4), one table, every ratio measured in the same run:
#  1. hashing a 4 GiB tree of mixed file sizes with both cores busy, per core, against two
#     concurrent `openssl dgst -sha256` over the two halves of the same files: the hashing
#     pool alone (bench/plan/local.c) and `hfsync plan` end to end (empty remote, fresh hash
#     cache). Both read from the page cache (CPU-bound, which is what "per core" compares);
#     --cold adds one run of each after dropping the page cache (needs root);
#  2. a warm re-plan of 100,000 unchanged files: the local part (scan + hash cache) against
#     `git status` on the same files committed in a git repo, and the full `hfsync plan`
#     against the local hub (which holds every file) beside it;
#  3. the planning core (diff + limits + grouping, in memory) for 100,000 files;
#  4. peak RSS planning 100,000 files.
# Timed runs alternate the tools; each figure is the median of RUNS runs, with min–max.
#
# Usage: bench/plan/run.sh [--quick] [--cold] [BUILD_DIR]
#   BUILD_DIR  a release build (default build-release:
#              meson setup build-release --buildtype=release && ninja -C build-release)
#   --quick    512 MiB and 10,000 files instead of 4 GiB and 100,000: a fast check
#   --cold     also hash once with an empty page cache (sync; drop_caches): root only
# Env: BENCH_TMP where the trees go (default /work if it exists, else /var/tmp; the full run
#      needs about 5 GiB), RUNS (default 5), SEED (default 42), PLAN_RUNS runs of the full
#      plan against the hub (default RUNS with --quick, else 1), PLAN_LIMIT seconds after
#      which such a run is stopped and reported as longer (default 300).
# Prints the table and writes it, with the machine description, to bench/plan/RESULTS.md
# (bench/plan/RESULTS-quick.md with --quick). The full run takes up to ten minutes, most of
# it in the local hub listing 100,000 files; --quick takes about one.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
QUICK=0
COLD=0
BUILD=build-release
for arg in "$@"; do
    case "$arg" in
    --quick) QUICK=1 ;;
    --cold) COLD=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $arg (see --help)" >&2; exit 64 ;;
    *) BUILD=$arg ;;
    esac
done
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
HFSYNC="$BUILD/hfsync"
RUNS=${RUNS:-5}
SEED=${SEED:-42}
TOKEN=hf_benchtoken0123456789
if [ "$QUICK" = 1 ]; then
    HASH_BYTES=$((512 << 20)) N=10000 RESULTS="$SRC/bench/plan/RESULTS-quick.md"
else
    HASH_BYTES=$((4 << 30)) N=100000 RESULTS="$SRC/bench/plan/RESULTS.md"
fi

log() { printf 'run.sh: [%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { log "$*"; exit 1; }

if [ ! -x "$HFSYNC" ] || [ ! -f "$BUILD/libhfsync.a" ]; then
    die "no hfsync build at $BUILD: meson setup $BUILD --buildtype=release && ninja -C $BUILD"
fi
python3 -c "import json,sys; sys.exit(0 if any(o['name']=='buildtype' and o['value']=='release' for o in json.load(open(sys.argv[1]))) else 1)" \
        "$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null ||
    log "warning: $BUILD is not a release build: the figures will be pessimistic"
for tool in cc pkg-config git openssl python3 curl /usr/bin/time; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done
if [ "$COLD" = 1 ] && [ ! -w /proc/sys/vm/drop_caches ]; then
    die "--cold drops the page cache, which needs root"
fi

BASE=${BENCH_TMP:-$([ -d /work ] && echo /work || echo /var/tmp)}
need_kib=$(((HASH_BYTES + N * 12 * 1024) / 1024 + 512 * 1024))
free_kib=$(df -Pk "$BASE" | awk 'NR == 2 { print $4 }')
[ "$free_kib" -gt "$need_kib" ] ||
    die "$BASE has $((free_kib >> 20)) GiB free, the run needs $((need_kib >> 20)) GiB: set BENCH_TMP"
TMP=$(mktemp -d "$BASE/hfsync-bench-plan.XXXXXX")
HUB_PID=
cleanup() {
    if [ -n "$HUB_PID" ]; then kill "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
TSV="$TMP/results.tsv"
: >"$TSV"
record() { printf '%s\t%s\n' "$1" "$2" >>"$TSV"; }

# timed KEY CMD...: runs the program CMD (output discarded); records its wall seconds under
# KEY, its CPU seconds (user + system, children included) under KEY.cpu and its peak RSS in
# MiB under KEY.rss. With LIMIT set, a run longer than LIMIT seconds is stopped, recorded
# under KEY.stopped, and timed returns 1.
timed() {
    local key=$1 t0 t1 kib user sys rc=0 limit=()
    shift
    [ -n "${LIMIT:-}" ] && limit=(timeout "$LIMIT")
    t0=$EPOCHREALTIME
    /usr/bin/time -f "%M %U %S" -o "$TMP/usage" "${limit[@]}" "$@" >/dev/null 2>"$TMP/err" || rc=$?
    if [ "$rc" = 124 ] && [ -n "${LIMIT:-}" ]; then
        record "$key.stopped" "$LIMIT"
        return 1
    fi
    [ "$rc" = 0 ] || { cat "$TMP/err" >&2; die "$key: $* failed"; }
    t1=$EPOCHREALTIME
    read -r kib user sys < <(tail -1 "$TMP/usage")
    record "$key" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')"
    record "$key.cpu" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
    record "$key.rss" "$((kib / 1024))"
}

# --- tools: the drivers, compiled against the build's library --------------------------------
mkdir -p "$TMP/bin"
for prog in core local gentree; do
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -D_GNU_SOURCE -I"$SRC/include" -I"$SRC/src" "$SRC/bench/plan/$prog.c" \
        "$BUILD/libhfsync.a" \
        $(pkg-config --cflags --libs libcurl openssl yaml-0.1 libpcre2-8 libgit2 jansson libmicrohttpd) \
        -lpthread -o "$TMP/bin/$prog"
done

"$HFSYNC" hub serve --root "$TMP/hub" --listen 127.0.0.1:0 --port-file "$TMP/port" \
    --token "$TOKEN" >"$TMP/hub.out" 2>"$TMP/hub.err" &
HUB_PID=$!
for _ in $(seq 1 200); do [ -s "$TMP/port" ] && break; sleep 0.05; done
[ -s "$TMP/port" ] || die "the local hub did not start: $(cat "$TMP/hub.err")"
HF_ENDPOINT="http://127.0.0.1:$(cat "$TMP/port")"
export HF_ENDPOINT HF_TOKEN=$TOKEN HF_HOME="$TMP/hf-home"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 3. the planning core, in memory -----------------------------------------------------------
log "planning core: $N files"
"$TMP/bin/core" "$N" >"$TMP/core.tsv"
awk -F'\t' '{ print "core." $1 "\t" $2 }' "$TMP/core.tsv" >>"$TSV"

# --- 1. hashing ---------------------------------------------------------------------------------
log "hashing: generating $((HASH_BYTES >> 20)) MiB (seed $SEED)"
MIXED="$TMP/mixed"
"$TMP/bin/gentree" mixed "$MIXED" "$HASH_BYTES" "$SEED"
# The two halves for the two openssl processes: largest first, each to the lighter half.
(cd "$MIXED" && find . -type f -printf '%s\t%P\n') | sort -t$'\t' -k1,1nr -k2 | awk -F'\t' -v d="$TMP" '
    { if (a <= b) { a += $1; print $2 > (d "/half1") } else { b += $1; print $2 > (d "/half2") } }'
record hash.files "$(find "$MIXED" -type f | wc -l)"
record hash.bytes "$HASH_BYTES"
# shellcheck disable=SC2016
OPENSSL_PAIR=(bash -c 'cd "$1" && { xargs -d "\n" -a "$2/half1" openssl dgst -sha256 >/dev/null &
    xargs -d "\n" -a "$2/half2" openssl dgst -sha256 >/dev/null; wait $!; }' pair "$MIXED" "$TMP")
mkdir -p "$TMP/plan-mixed"
cat >"$TMP/plan-mixed/hfsync.yaml" <<EOF
version: 1
syncs:
  mixed:
    repo_id: bench/mixed
    folder_path: $MIXED
    create: {}
EOF
# `hfsync plan` with an empty hash cache (the remote repo does not exist).
PLAN_MIXED=("$HFSYNC" plan -q -f "$TMP/plan-mixed/hfsync.yaml" -o "$TMP/plan-mixed/plan.json" --jobs 2)
drop_caches() { sync && echo 3 >/proc/sys/vm/drop_caches; }
if [ "$COLD" = 1 ]; then
    log "hashing: cold runs (page cache dropped before each)"
    drop_caches && timed cold.openssl "${OPENSSL_PAIR[@]}"
    drop_caches && timed cold.pool "$TMP/bin/local" hash "$MIXED" 2
    rm -rf "$TMP/plan-mixed/.hfsync" && drop_caches && timed cold.plan "${PLAN_MIXED[@]}"
fi
cat "$TMP/half1" "$TMP/half2" | (cd "$MIXED" && xargs -d '\n' cat) >/dev/null # into the page cache
largest=$(head -1 "$TMP/half1")
for r in $(seq 1 "$RUNS"); do
    log "hashing: run $r/$RUNS"
    timed hash.openssl "${OPENSSL_PAIR[@]}"
    "$TMP/bin/local" hash "$MIXED" 2 >"$TMP/pool.tsv"
    record hash.pool "$(awk -F'\t' '$1 == "hash_s" { print $2 }' "$TMP/pool.tsv")"
    record hash.pool.cpu "$(awk -F'\t' '$1 == "hash_cpu_s" { print $2 }' "$TMP/pool.tsv")"
    rm -rf "$TMP/plan-mixed/.hfsync"
    timed hash.plan "${PLAN_MIXED[@]}"
    timed hash.openssl1 openssl dgst -sha256 "$MIXED/$largest"
done
awk -F'\t' '{ print "pool." $1 "\t" $2 }' "$TMP/pool.tsv" >>"$TSV"
record hash.largest "$(stat -c %s "$MIXED/$largest")"
rm -rf "$MIXED" # before the next tree, to keep the disk footprint down

# --- 2. warm re-plan -----------------------------------------------------------------------------
SMALL="$TMP/small"
log "re-plan: generating $N files, committing them to git and to the local hub"
"$TMP/bin/gentree" small "$SMALL" "$N" "$SEED"
(cd "$SMALL" && git init -q && git add -A &&
    git -c user.name=bench -c user.email=bench@localhost commit -qm "bench tree" &&
    git status --porcelain >/dev/null)
python3 - "$SMALL" "$HF_ENDPOINT" "$TOKEN" <<'EOF'
# Seeds repo bench/warm with every file of the tree, in commits of 25,000 files.
import base64, json, os, sys, urllib.request
root, endpoint, token = sys.argv[1:4]
def post(path, body, ctype):
    req = urllib.request.Request(endpoint + path, data=body, method="POST", headers={
        "Authorization": "Bearer " + token, "Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=600) as r:
        r.read()
post("/api/repos/create", json.dumps({"name": "warm", "organization": "bench"}).encode(),
     "application/json")
paths = []
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if x != ".git"]
    paths += [os.path.relpath(os.path.join(d, f), root) for f in files]
paths.sort()
for i in range(0, len(paths), 25000):
    lines = [json.dumps({"key": "header", "value": {"summary": "seed %d" % i}})]
    for p in paths[i:i + 25000]:
        with open(os.path.join(root, p), "rb") as f:
            lines.append(json.dumps({"key": "file", "value": {
                "path": p, "content": base64.b64encode(f.read()).decode(), "encoding": "base64"}}))
    post("/api/models/bench/warm/commit/main", ("\n".join(lines) + "\n").encode(),
         "application/x-ndjson")
EOF
mkdir -p "$TMP/plan-small"
cat >"$TMP/plan-small/hfsync.yaml" <<EOF
version: 1
syncs:
  warm:
    repo_id: bench/warm
    folder_path: $SMALL
  adds:
    repo_id: bench/adds
    folder_path: $SMALL
    create: {}
    commit: { strategy: large }
EOF
plan_small=("$HFSYNC" plan -q -f "$TMP/plan-small/hfsync.yaml" --jobs 2 -s)
git_status=(git -C "$SMALL" status --porcelain)
# The full plan lists the remote tree page by page over HTTP; the local hub re-walks the whole
# tree for every page, so at 100,000 files one plan takes minutes: one run, stopped after
# PLAN_LIMIT seconds so that the whole benchmark stays near ten minutes.
PLAN_RUNS=${PLAN_RUNS:-$([ "$QUICK" = 1 ] && echo "$RUNS" || echo 1)}
PLAN_LIMIT=${PLAN_LIMIT:-300}
# The cache is filled by planning the tree into a new repo (every file an add, every file
# read): the largest plan, so its peak RSS is the one that counts. The warm plans and the
# local part then share that cache (.hfsync beside the manifest).
log "re-plan: planning $N adds with a cold hash cache (fills it)"
timed adds.plan "${plan_small[@]}" adds -o "$TMP/plan-small/adds.json"
sleep 1 # well past the racy-clean window of the cache just written
for r in $(seq 1 "$RUNS"); do
    log "re-plan: run $r/$RUNS"
    timed replan.git "${git_status[@]}"
    "$TMP/bin/local" replan "$SMALL" "$TMP/plan-small/.hfsync" 2 >"$TMP/replan.tsv"
    awk -F'\t' '$1 == "secs" { print "replan.local\t" $2 } $1 == "rss_mib" { print "replan.local.rss\t" $2 }
        $1 == "files_read" { print "replan.local.read\t" $2 }' "$TMP/replan.tsv" >>"$TSV"
    # In the last PLAN_RUNS rounds: a stopped plan leaves the hub busy with its page for a while.
    if [ "$r" -gt $((RUNS - PLAN_RUNS)) ]; then
        LIMIT=$PLAN_LIMIT timed replan.plan "${plan_small[@]}" warm -o "$TMP/plan-small/warm.json" ||
            PLAN_RUNS=0
    fi
done
record replan.files "$(awk -F'\t' '$1 == "files" { print $2 }' "$TMP/replan.tsv")"
# The hub holds every file: the warm plan must have found nothing to do.
[ ! -s "$TMP/plan-small/warm.json" ] || python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['syncs'][0]['summary']; sys.exit(s['add'] + s['update'] + s['delete'] + s['copy'] != 0 or s['unchanged'] != int(sys.argv[2]))" \
    "$TMP/plan-small/warm.json" "$N" || die "the re-plan tree is not unchanged against the hub: the benchmark is void"

# --- the table ----------------------------------------------------------------------------------------
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$TSV" "$RESULTS" "$N" "$RUNS" "$QUICK" "$COLD" "$LOAD_BEFORE" "$LOAD_AFTER" "$(basename "$BUILD")" "$PLAN_LIMIT" <<'EOF'
import collections, os, platform, statistics, subprocess, sys
tsv, out, n, runs, quick, cold, load0, load1, build, plan_limit = sys.argv[1:11]
n, runs = int(n), int(runs)
v = collections.defaultdict(list)
for line in open(tsv):
    k, _, x = line.rstrip("\n").partition("\t")
    v[k].append(x)
num = lambda k: [float(x) for x in v[k]]
med = lambda k: statistics.median(num(k))
def spread(xs, fmt, unit):
    """median unit (min–max)"""
    if len(xs) == 1:
        return "%s %s (1 run)" % (fmt % xs[0], unit)
    return "%s %s (%s–%s)" % (fmt % statistics.median(xs), unit, fmt % min(xs), fmt % max(xs))
def verdict(ok):
    return "yes" if ok else "**NO**"
MB = 1e6
total = float(v["hash.bytes"][0])
gib, files = total / (1 << 30), v["hash.files"][0]
# Per core with both cores busy: bytes / wall time / 2; by CPU time: bytes / CPU seconds.
wall = lambda k: [total / s / 2 / MB for s in num(k)]
cpu = lambda k: [total / s / MB for s in num(k + ".cpu")]
rows = []
# The ratio is the median of the runs' own ratios: the tools of one run ran back to back,
# so other load on the machine weighs on both alike.
def paired(mine, peer):
    return statistics.median(a / b for a, b in zip(mine, peer))
for basis, rate in (("wall time / 2", wall), ("CPU time", cpu)):
    peer = rate("hash.openssl")
    for key, what in (("hash.pool", "hashing pool alone"),
                      ("hash.plan", "`hfsync plan` (empty remote, fresh cache)")):
        mine = rate(key)
        r = paired(mine, peer)
        rows.append(("Hashing %.3g GiB, %s files, per core by %s, 2 cores busy: %s" % (gib, files, basis, what),
                     spread(mine, "%.0f", "MB/s"), "openssl ×2: " + spread(peer, "%.0f", "MB/s"),
                     "%.2f" % r, "≥ 0.85", verdict(r >= 0.85)))
if cold == "1":
    peer = wall("cold.openssl")[0]
    for key, what in (("cold.pool", "hashing pool"), ("cold.plan", "`hfsync plan`")):
        mine = wall(key)[0]
        rows.append(("Hashing, cold page cache, per core by wall time / 2: %s" % what,
                     "%.0f MB/s (1 run)" % mine, "openssl ×2: %.0f MB/s" % peer,
                     "%.2f" % (mine / peer), "(info)", ""))
nf = int(v["replan.files"][0])
g = med("replan.git")
loc = paired(num("replan.local"), num("replan.git"))
reads = sum(int(x) for x in v["replan.local.read"])
rows.append(("Warm re-plan of %s unchanged files, local part (hash cache load, scan, lookups)%s" %
             (format(nf, ","), "" if reads == 0 else ": %d files re-read!" % reads),
             spread(num("replan.local"), "%.3f", "s"), "git status: " + spread(num("replan.git"), "%.3f", "s"),
             "%.2f" % loc, "≤ 1.5", verdict(loc <= 1.5)))
what = "Warm re-plan, full `hfsync plan` against the local hub, beside it"
if v["replan.plan"]:
    rows.append((what, spread(num("replan.plan"), "%.2f", "s"), "git status: %.3f s" % g,
                 "%.0f" % (med("replan.plan") / g), "(reported)", ""))
if v["replan.plan.stopped"]:
    limit = float(v["replan.plan.stopped"][0])
    rows.append((what + " (stopped)", "> %.0f s" % limit, "git status: %.3f s" % g,
                 "> %.0f" % (limit / g), "(reported)", ""))
core = float(v["core.core_s"][0])
rows.append(("Planning core (diff + limits + grouping, no I/O), %s files" % format(n, ","),
             "%.3f s" % core, "", "", "< 0.5 s", verdict(core < 0.5)))
for key, what in (("adds.plan.rss", "`hfsync plan` of %s files into a new repo (all adds, cold cache)"),
                  ("replan.plan.rss", "`hfsync plan` of %s unchanged files (warm, against the hub)"),
                  ("core.rss_peak_mib", "the planning core alone, %s files (inputs, plan, JSON)")):
    if not v[key]:
        continue
    x = max(num(key))
    rows.append(("Peak RSS, " + what % format(n, ","), "%.0f MiB" % x, "", "", "< 200 MiB", verdict(x < 200)))

head = ("measure", "hfsync", "peer", "ratio", "target", "pass?")
table = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
table += ["| " + " | ".join(r) + " |" for r in rows]
largest = float(v["hash.largest"][0])
ossl1 = statistics.median(largest / s / MB for s in num("hash.openssl1"))
notes = [
    "Hashing: median of %d runs (min–max), tools alternating. Both tools read the files from the "
    "page cache, so the comparison is CPU-bound, which is what \"per core\" compares (run with "
    "--cold for one run from disk). hfsync runs 2 hash threads and reads each file once, for the "
    "one hash its mode needs: the git blob SHA-1 for regular files (%.0f %% of the bytes), the "
    "SHA-256 for LFS files; the peer is two concurrent `openssl dgst -sha256` over the two halves "
    "of the same files. The CPU-time rows divide bytes by user + system seconds, which other "
    "load on the machine disturbs less than wall time. One `openssl dgst -sha256` alone on one "
    "%d MiB file: %.0f MB/s." % (runs, 100 * float(v["pool.sha1_bytes"][0]) / total,
                                 largest / (1 << 20), ossl1),
    "Ratios are the median of each run's own ratio (the tools of a run ran back to back)."
    " Re-plan: median of %d runs (min–max), alternating with `git status --porcelain` on the same "
    "files committed in a git repo (index refreshed first). The local part is bench/plan/local.c "
    "with the cache `hfsync plan` filled; the full plan adds the remote listing over HTTP, the "
    "diff and the plan file (%s: the local hub re-walks the whole tree, reading every blob, for "
    "each 1,000-entry page of the listing, so its time grows with the square of the file count)."
    % (runs, "%d run%s" % (len(v["replan.plan"]), "" if len(v["replan.plan"]) == 1 else "s")
       if not v["replan.plan.stopped"] else "stopped after %s s" % plan_limit),
    "The cold plan of %s adds (every file sampled and hashed) took %.2f s; planning core: diff %s s, "
    "limits %s s, grouping %s s, plan built and serialized %s s (%s MiB of JSON)." % (
        format(n, ","), med("adds.plan"), v["core.diff_s"][0], v["core.limits_s"][0],
        v["core.group_s"][0], v["core.plan_json_s"][0], v["core.plan_json_mib"][0]),
]
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
ossl_version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
machine = ("nproc %s, %s%s, Linux %s, load average %s before and %s after the run; build %s; %s" % (
    os.cpu_count(), model, " (SHA extensions)" if " sha_ni" in flags else "", platform.release(),
    load0, load1, build, ossl_version))
print()
print("\n".join(table))
print()
for note in notes:
    print("- " + note)
print("- Machine: " + machine)
with open(out, "w") as f:
    f.write("# Planner benchmarks%s\n\nProduced by `bench/plan/run.sh%s`.\n\nMachine: %s.\n\n" % (
        " (quick)" if quick == "1" else "", " --quick" if quick == "1" else "", machine))
    f.write("\n".join(table) + "\n\n")
    f.write("".join("- " + note + "\n" for note in notes))
print("\nwritten to " + out)
EOF
