# Helpers for the hostile suite (source after tests/lib.sh, tests/hubd/hub.sh and
# tests/executor/exec.sh): "nothing changed" checks and the evil hub.

# untouched_mark: remembers the remote head of user/target, the access log's length and a
# timestamp file; untouched NAME then checks that no request after the mark changed the hub
# (no preupload, LFS, commit or create) and that the head is where it was.
untouched_mark() {
    MARK_HEAD=$(head_of "models/${1:-user/target}")
    MARK_REPO=${1:-user/target}
    log_mark
}
untouched() {
    local writes
    writes=$(log_since | grep -c -E 'preupload|/info/lfs/|lfs-upload|/commit/|repos/create' || true)
    expect_eq "$(head_of "models/$MARK_REPO") writes=$writes" "$MARK_HEAD writes=0" "$1"
}

# tree_digest DIR: one line per file under DIR (path, size, sha256), to prove a folder was
# not touched.
tree_digest() {
    (cd "$1" && find . -path ./.hfsync -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# evil_start MODE [--tls CERT KEY]: starts tests/hostile/evilhub.py; sets EVIL_URL, EVIL_LOG.
evil_start() {
    rm -f "$TEST_TMP/evil.port"
    EVIL_LOG=$TEST_TMP/evil-$1.log
    : >"$EVIL_LOG"
    python3 "$SRCDIR/tests/hostile/evilhub.py" "$1" "$TEST_TMP/evil.port" "$EVIL_LOG" "${@:2}" \
        2>>"$TEST_TMP/evil.err" &
    EVIL_PID=$!
    _hub_pids+=("$EVIL_PID")
    for _ in $(seq 1 100); do
        [ -s "$TEST_TMP/evil.port" ] && break
        sleep 0.05
    done
    local scheme=http
    [ "${2:-}" = --tls ] && scheme=https
    EVIL_URL="$scheme://127.0.0.1:$(cat "$TEST_TMP/evil.port")"
}
evil_stop() {
    kill "$EVIL_PID" 2>/dev/null
    wait "$EVIL_PID" 2>/dev/null
}
