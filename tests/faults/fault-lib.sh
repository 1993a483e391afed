# Helpers for the fault suite (not a test itself): every script of it starts by sourcing this
# file, which brings the helpers of the suites it builds on; then fault_begin, a hub restarted
# with faults, and the checks every case ends with.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/executor/large-lib.sh"
. "$SRCDIR/tests/legacy-git/git.sh"

# fault_begin [--git]: the work folder $W, the current directory from here on, and a hub
# without faults (bails out when it does not start); with --git, HAVE_GIT=1 and git's
# environment when git and git-lfs are installed (HAVE_GIT=0 otherwise).
fault_begin() {
    W=$TEST_TMP/work
    mkdir -p "$W"
    cd "$W" || exit 1
    fault_hub || { ok 1 "the hub starts"; done_testing; exit 1; }
    HAVE_GIT=0
    if [ "${1:-}" = --git ] && have_git_lfs; then
        HAVE_GIT=1
        git_env
    fi
}

# fault_hub [SPEC...]: (re)starts the hub on the same root and the same port (a saved plan
# names its endpoint) with these --fault specs and a 1 MB multipart threshold (a 1.5 MB
# file goes up in two parts).
fault_hub() {
    if [ -n "$HUB_PID" ]; then
        kill -TERM "$HUB_PID" 2>/dev/null
        wait "$HUB_PID" 2>/dev/null
        local rc=$?
        # silent when it went well; hub_stop at the end greps hub.err for sanitizer reports
        [ "$rc" -eq 0 ] || { ok 1 "the hub (pid $HUB_PID) stops cleanly on SIGTERM"; say "exit $rc" "$(tail -5 "$TEST_TMP/hub.err")"; }
        HUB_PID=
    fi
    local args=() f
    for f in "$@"; do args+=(--fault "$f"); done
    [ -n "${HUB_URL:-}" ] && args+=(--listen "127.0.0.1:${HUB_URL##*:}")
    for _ in 1 2 3 4 5; do
        hub_start --multipart-threshold 1MB "${args[@]}" 2>/dev/null && break
        sleep 0.2
    done
    [ -n "$HUB_PID" ] && kill -0 "$HUB_PID" 2>/dev/null || return 1
    exec_env
}

# rand_file PATH BYTES SEED: BYTES of seeded pseudo-random data (the same seed, the same bytes).
rand_file() {
    python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(sys.argv[2]).randbytes(int(sys.argv[1])))' \
        "$2" "$3" >"$1"
}

# churn DIR N: changes a folder the way a user does between two syncs (N, a case number,
# makes it deterministic): a new text file and a new LFS file, README.md rewritten, the
# oldest note removed (delete_patterns: ["*"] removes it remotely), a text file renamed (a
# copy from the remote plus a delete), and the 1.5 MB file that uploads in two parts replaced.
churn() {
    python3 - "$1" "$2" <<'PY'
import glob, os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
for sub in ("notes", "moved"):
    os.makedirs(os.path.join(d, sub), exist_ok=True)
old = sorted(glob.glob(os.path.join(d, "notes", "n-*.txt")))
open(os.path.join(d, "notes", "n-%d.txt" % n), "w").write("case %d\n" % n)
if old:
    os.remove(old[0])
open(os.path.join(d, "w-%d.bin" % n), "wb").write(random.Random(n).randbytes(100000 + n * 1000))
open(os.path.join(d, "README.md"), "w").write("rewritten in case %d\n" % n)
for f in glob.glob(os.path.join(d, "moved", "keep-*.txt")):
    os.remove(f)
open(os.path.join(d, "moved", "keep-%d.txt" % n), "w").write("the same text, wherever it lives\n")
open(os.path.join(d, "big.safetensors"), "wb").write(random.Random(-n).randbytes(1500000))
PY
}

# settled REPO_API: waits until the branch head stops moving (a request a killed client left
# on the way lands or fails first; the hub is the truth), at most ~3 s.
settled() {
    local a b
    a=$(head_of "$1")
    for _ in 1 2 3 4 5 6; do
        sleep 0.5
        b=$(head_of "$1")
        [ "$a" = "$b" ] && return 0
        a=$b
    done
}

# check REPO_ID DIR [REV]: runs check.py (the remote against DIR, commits, $W/.hfsync);
# checked KEY then prints one of its findings (tree, resolve, dups, state, commits, head).
check() {
    rm -rf "$TEST_TMP/check"
    python3 "$SRCDIR/tests/faults/check.py" "$HUB_URL" "$TOKEN" "$1" "$2" "$W/.hfsync" \
        "$TEST_TMP/check" "${3:-main}" 2>"$TEST_TMP/check.err" ||
        say "check.py failed:" "$(tail -5 "$TEST_TMP/check.err")"
}
checked() {
    if [ -f "$TEST_TMP/check/$1" ]; then tr '\n' '|' <"$TEST_TMP/check/$1" | sed 's/|/ | /g'; else
        echo "(check.py wrote no $1)"; fi
}

# expect_in FILE NEEDLE NAME: FILE holds NEEDLE (on failure its tail, as diagnostics).
expect_in() {
    if grep -q -F -- "$2" "$1"; then ok 0 "$3"; else
        ok 1 "$3"
        say "missing: $2" "in $1:" "$(tail -5 "$1")"
    fi
}

# say TEXT...: TAP diagnostics, every line of every argument behind its '# ' (lib.sh's diag
# prefixes only the first line of each, and a bare line breaks the TAP stream).
say() { printf '%s\n' "$@" | sed 's/^/# /'; }

# check_case NAME DIR REPO_ID [SYNC]: the invariants every case ends with, as TAP lines: a
# new plan has no changes, the tree is exactly the folder, every file reads back through
# resolve bit for bit, no commit was made twice, .hfsync is intact.
check_case() {
    local name=$1 dir=$2 repo=$3 sync=${4:-} out
    out=$("$HFSYNC" plan ${sync:+--sync "$sync"} 2>&1)
    ok $(printf '%s' "$out" | grep -q 'No changes' && echo 0 || echo 1) "$name: a new plan finds no changes"
    printf '%s' "$out" | grep -q 'No changes' || say "$out"
    check "$repo" "$dir"
    expect_eq "$(checked tree)" "" "$name: the remote tree is exactly the folder"
    expect_eq "$(checked resolve)" "" "$name: every file reads back through resolve, bit for bit"
    expect_eq "$(checked dups)" "" "$name: no commit made twice"
    expect_eq "$(checked state)" "" "$name: journal and caches intact, no temp file left"
}
