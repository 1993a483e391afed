#!/usr/bin/env bash
# The git path's benchmark (issue 7): the executor benchmark's folder (bench/upload/gen.py:
# two large files and many small ones, all LFS) pushed to the local hub three ways, each into
# a fresh hub: `hfsync apply` with `transport: git`, the same with `transport: http`, and git
# by hand (`git add` + `git commit` + `git lfs push` + `git push`, with git-lfs's pre-push
# upload disabled so the LFS and git steps are timed apart). Prints a Markdown table (median
# and min–max per way, the ratio to http) and whether the three trees came out identical.
#
# usage: bench/git/run.sh [--size small|full] [--reps N] [--jobs N] [--build-dir DIR]
#                         [--work DIR]
#   --size small  (default) 2 × 150 MiB + 1,000 small files (≈ 400 MiB)
#   --size full   2 × 1.5 GiB + 10,000 small files (≈ 4 GiB), the executor benchmark's folder
#   --reps N      repetitions of every timed run (default 1)
#   --jobs N      hfsync's parallel transfers (default 8)
#   --build-dir   the release build to use (default build-gitpath-release, set up when missing)
#   --work DIR    hubs, clones, state and logs (default $TMPDIR/hfsync-bench-git); the data
#                 is shared with bench/upload ($TMPDIR/hfsync-bench-upload/data), made once
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
SIZE=small
REPS=1
JOBS=8
BUILD=$SRC/build-gitpath-release
WORK=${TMPDIR:-/tmp}/hfsync-bench-git
while [ $# -gt 0 ]; do
    case $1 in
        --size) SIZE=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --build-dir) BUILD=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done
case $SIZE in
    full) THRESHOLD=500MiB ;;
    small) THRESHOLD=100MiB ;;
    *) echo "run.sh: --size is small or full, not $SIZE" >&2; exit 64 ;;
esac

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

# ---- build, tools, data -----------------------------------------------------------------------
if [ ! -f "$BUILD/build.ninja" ]; then
    say "setting up the release build in $BUILD"
    meson setup "$BUILD" "$SRC" --buildtype=release >/dev/null
fi
ninja -C "$BUILD" hfsync >/dev/null || die "the release build in $BUILD failed"
HFSYNC=$BUILD/hfsync
command -v git >/dev/null && git lfs version >/dev/null 2>&1 || die "git and git-lfs are needed"
command -v python3 >/dev/null || die "python3 is needed (data generation, the table)"

DATA=${TMPDIR:-/tmp}/hfsync-bench-upload/data
[ "$SIZE" = small ] && DATA=$DATA-small
mkdir -p "$WORK/logs"
say "generating the $SIZE data set in $DATA (once; seeded)"
python3 "$SRC/bench/upload/gen.py" "$DATA" "$SIZE"
FOLDER=$DATA/folder

TOKEN=hf_benchtoken0123456789
HUB_ROOT=$WORK/hub
HUB_PID=
HUB_URL=
cleanup() { [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null; rm -rf "$HUB_ROOT" "$WORK/clone"; }
trap cleanup EXIT

# git and git-lfs see only this benchmark's configuration; the token reaches git-lfs through a
# credential store in $WORK (the benchmark's own throwaway hub token).
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config GIT_CONFIG_NOSYSTEM=1
export GIT_TERMINAL_PROMPT=0 GIT_ASKPASS=/bin/false
mkdir -p "$HOME"
git config --global user.name "bench"
git config --global user.email "bench@example.invalid"
git config --global init.defaultBranch main
git lfs install --skip-repo >/dev/null

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
    printf 'http://bench:%s@127.0.0.1:%s\n' "$TOKEN" "$(cat "$WORK/port")" >"$WORK/credentials"
    git config --global credential.helper "store --file=$WORK/credentials"
}
hub_stop() {
    kill "$HUB_PID" 2>/dev/null || true
    wait "$HUB_PID" 2>/dev/null || true
    HUB_PID=
}
# tree_of NAME: the tree oid of user/NAME's main, fetched by git.
tree_of() {
    git -C "$WORK/trees.git" fetch -q "$HUB_URL/user/$1" "+main:refs/$1" &&
        git -C "$WORK/trees.git" rev-parse "refs/$1^{tree}"
}

now() { date +%s.%N; }
# record NAME REP START END
record() {
    printf '%s\t%s\t%s\n' "$1" "$2" "$(python3 -c "print(f'{$4 - $3:.3f}')")" >>"$WORK/results.tsv"
    say "  $1: $(tail -1 "$WORK/results.tsv" | cut -f3) s"
}
# timed NAME REP CMD...: runs CMD, records its wall time, fails loudly
timed() {
    local name=$1 rep=$2 log="$WORK/logs/$1-$2.log" start end
    shift 2
    start=$(now)
    "$@" >"$log" 2>&1 || { say "run.sh: $name (rep $rep) failed:"; tail -20 "$log" >&2; exit 1; }
    end=$(now)
    record "$name" "$rep" "$start" "$end"
}

# The manifest of one way, with the hash cache kept warm in $WORK/state-<transport> (hashing
# is the planner's cost, the same for both; this benchmark times the transport).
manifest() {
    mkdir -p "$WORK/state-$1"
    cat >"$WORK/state-$1/hfsync.yaml" <<YAML
version: 1
syncs:
  bench:
    repo_id: user/$1
    create: { private: false }
    folder_path: $FOLDER
    transport: $1
    commit: { message: "Benchmark upload over $1" }
YAML
}
hfsync_apply() {
    (cd "$WORK/state-$1" && HF_ENDPOINT=$HUB_URL HF_TOKEN=$TOKEN "$HFSYNC" apply -f hfsync.yaml \
        --yes --jobs "$JOBS" -q)
}
run_hfsync() {
    hub_start
    rm -rf "$WORK/state-$1/.hfsync/git" # the clone cache starts cold, as a first push does
    timed "hfsync-$1" "$2" hfsync_apply "$1"
    TREES[$1]=$(tree_of "$1")
    hub_stop
}

# git by hand: clone, add (git-lfs's clean filter hashes and copies every LFS file into
# .git/lfs), commit, then the LFS objects and the git objects go up.
git_add_commit() {
    git clone -q "$HUB_URL/user/byhand" "$WORK/clone"
    git -C "$WORK/clone" config lfs.allowincompletepush false
    cp -al "$FOLDER"/. "$WORK/clone"/ 2>/dev/null || cp -a "$FOLDER"/. "$WORK/clone"/
    git -C "$WORK/clone" add -A
    git -C "$WORK/clone" commit -qm "Benchmark upload by hand"
}
git_lfs_push() { git -C "$WORK/clone" lfs push origin main; }
git_push() { GIT_LFS_SKIP_PUSH=1 git -C "$WORK/clone" push -q origin main; }
run_git() {
    hub_start
    curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d '{"name":"byhand","organization":"user"}' "$HUB_URL/api/repos/create" >/dev/null ||
        die "cannot create user/byhand"
    rm -rf "$WORK/clone"
    local s0 s1 s2 s3
    s0=$(now)
    timed git-add-commit "$1" git_add_commit
    s1=$(now)
    timed git-lfs-push "$1" git_lfs_push
    s2=$(now)
    timed git-push "$1" git_push
    s3=$(now)
    record git-by-hand "$1" "$s0" "$s3"
    TREES[byhand]=$(tree_of byhand)
    rm -rf "$WORK/clone"
    hub_stop
}

# ---- the runs ---------------------------------------------------------------------------------
: >"$WORK/results.tsv"
declare -A TREES
rm -rf "$WORK/trees.git" && git init -q --bare "$WORK/trees.git"
say "warming up: the page cache and hfsync's hash caches"
find "$FOLDER" -type f -exec cat {} + >/dev/null
manifest git
manifest http
hub_start
(cd "$WORK/state-http" && HF_ENDPOINT=$HUB_URL HF_TOKEN=$TOKEN "$HFSYNC" plan -q >/dev/null 2>&1) ||
    die "the warm-up plan failed"
(cd "$WORK/state-git" && HF_ENDPOINT=$HUB_URL HF_TOKEN=$TOKEN "$HFSYNC" plan -q >/dev/null 2>&1) ||
    die "the warm-up plan failed"
hub_stop

for rep in $(seq 1 "$REPS"); do
    say "repetition $rep of $REPS"
    if [ $((rep % 2)) -eq 1 ]; then
        run_hfsync git "$rep"; run_hfsync http "$rep"; run_git "$rep"
    else
        run_git "$rep"; run_hfsync http "$rep"; run_hfsync git "$rep"
    fi
done

bytes=$(find "$FOLDER" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
files=$(find "$FOLDER" -type f | wc -l)
python3 - "$WORK/results.tsv" "$SIZE" "$REPS" "$JOBS" "$THRESHOLD" "$bytes" "$files" \
    "${TREES[git]}" "${TREES[http]}" "${TREES[byhand]}" <<'PY'
import statistics, sys
path, size, reps, jobs, threshold, nbytes, files, t_git, t_http, t_hand = sys.argv[1:11]
runs = {}
for line in open(path):
    name, rep, secs = line.split("\t")
    runs.setdefault(name, []).append(float(secs))
order = [("hfsync-git", "hfsync apply, transport git (LFS client + libgit2 push)"),
         ("hfsync-http", "hfsync apply, transport http"),
         ("git-by-hand", "git add + commit + git lfs push + git push"),
         ("git-add-commit", "  of which: git add + commit (git-lfs clean filter)"),
         ("git-lfs-push", "  of which: git lfs push"),
         ("git-push", "  of which: git push")]
base = statistics.median(runs["hfsync-http"])
mb = int(nbytes) / (1 << 20)
print(f"git path benchmark: {size} ({files} files, {mb:.0f} MiB, all LFS), {reps} rep(s), "
      f"jobs {jobs}, multipart threshold {threshold}, local hub on loopback\n")
print("| way | median s | min–max s | MiB/s | vs http |")
print("| --- | ---: | ---: | ---: | ---: |")
for key, label in order:
    if key not in runs:
        continue
    v = runs[key]
    m = statistics.median(v)
    print(f"| {label} | {m:.2f} | {min(v):.2f}–{max(v):.2f} | {mb / m:.0f} | {m / base:.2f}× |")
same = t_git == t_http == t_hand and t_git != ""
print(f"\nsame tree over git, http and by hand: {'yes' if same else 'NO'} ({t_git[:12]}"
      f"{'' if same else ' / ' + t_http[:12] + ' / ' + t_hand[:12]})")
PY
