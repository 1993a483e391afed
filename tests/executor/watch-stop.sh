# Stopping hfsync watch in the middle of an upload: SIGTERM lets the run finish and makes a
# last one (everything written before the stop lands); a second signal, or SIGKILL, stops
# at once, and the next run (cron's apply here) completes it, with nothing lost or doubled.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

W=$TEST_TMP/work
D=$W/ckpt
mkdir -p "$D"
cd "$W" || exit 1
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  ckpt:
    repo_id: user/ckpt
    create: { private: false }
    folder_path: ./ckpt
    schedule: { every: 1h }
YAML

# restart_hub FAULT...: a fresh hub process on the same root with these faults.
restart_hub() {
    [ -n "$HUB_PID" ] && { kill -TERM "$HUB_PID"; wait "$HUB_PID"; HUB_PID=; }
    local args=()
    for f in "$@"; do args+=(--fault "$f"); done
    hub_start "${args[@]}" || { ok 1 "the hub starts"; done_testing; exit 1; }
    exec_env
}

# wait_for FILE TEXT: until FILE holds TEXT (at most 20 s).
wait_for() {
    for _ in $(seq 1 200); do
        grep -q -F "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# remote_sha REPO PATH: the sha256 of the file on the hub's main ("" when missing).
remote_sha() {
    curl -sfL -H "Authorization: Bearer $TOKEN" "$HUB_URL/$1/resolve/main/$2" | sha256sum | cut -d' ' -f1 |
        sed 's/^e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855$//'
}

# ---- SIGTERM during an upload: the run finishes, a last run pushes what came meanwhile
restart_hub 'lfs-put:delay=2500,times=0'
head -c 3000000 /dev/urandom >"$D/model-1.bin"
"$HFSYNC" watch -f hfsync.yaml >"$W/watch.out" 2>"$W/watch.err" &
WATCH=$!
wait_for "$W/watch.err" "ckpt: uploading 1 LFS file(s)"
ok $? "the first run is uploading"
printf 'written during the upload\n' >"$D/late.txt"
kill -TERM "$WATCH"
wait "$WATCH"
rc=$?
expect_eq "$rc" 0 "watch exits 0 after SIGTERM during an upload"
[ "$rc" -eq 0 ] || diag "$(cat "$W/watch.err")"
err=$(cat "$W/watch.err")
expect_contains "$err" "ckpt: uploaded 1 LFS file(s)" "the upload in flight was finished"
expect_eq "$(grep -c 'ckpt: pushed 1 change(s) in 1 commit(s)' "$W/watch.err")" 2 \
    "the run in flight pushed its file, and a last run the file written meanwhile"
expect_eq "$(grep -c -E 'ckpt: pushed .*\(the last run\)$' "$W/watch.err")" 1 "... as the last run"
expect_eq "$(remote_sha user/ckpt model-1.bin)" "$(sha256_of "$D/model-1.bin")" "the LFS file is on the hub"
expect_eq "$(remote_sha user/ckpt late.txt)" "$(sha256_of "$D/late.txt")" "the late file is on the hub"

# ---- a second signal: stop now; the next run (cron) completes the push
head -c 3000000 /dev/urandom >"$D/model-2.bin"
"$HFSYNC" watch -f hfsync.yaml >"$W/watch.out" 2>"$W/watch.err" &
WATCH=$!
wait_for "$W/watch.err" "ckpt: uploading 1 LFS file(s)"
ok $? "the next watch is uploading model-2.bin"
kill -TERM "$WATCH"
sleep 0.3
kill -TERM "$WATCH"
wait "$WATCH"
rc=$?
expect_eq "$rc" 1 "two signals: watch stops at once, exit 1"
expect_contains "$(cat "$W/watch.err")" "ckpt: its last run failed: interrupted" "... naming the interrupted sync"
expect_eq "$(remote_sha user/ckpt model-2.bin)" "" "model-2.bin did not land"
before=$(commit_count models/user/ckpt)
restart_hub
"$HFSYNC" apply --yes -f hfsync.yaml --sync ckpt >"$W/cron.out" 2>"$W/cron.err"
expect_eq "$?" 0 "the next run (cron) succeeds"
expect_eq "$(remote_sha user/ckpt model-2.bin)" "$(sha256_of "$D/model-2.bin")" "... and model-2.bin is on the hub"
expect_eq "$(commit_count models/user/ckpt)" "$((before + 1))" "... in one commit"

# ---- SIGKILL mid-upload: nothing is left half done; the next run completes it
restart_hub 'lfs-put:delay=2500,times=0'
head -c 3000000 /dev/urandom >"$D/model-3.bin"
"$HFSYNC" watch -f hfsync.yaml >"$W/watch.out" 2>"$W/watch.err" &
WATCH=$!
wait_for "$W/watch.err" "ckpt: uploading 1 LFS file(s)"
ok $? "a third watch is uploading model-3.bin"
kill -KILL "$WATCH"
wait "$WATCH" 2>/dev/null
before=$(commit_count models/user/ckpt)
restart_hub
"$HFSYNC" watch -f hfsync.yaml >"$W/watch.out" 2>"$W/watch.err" &
WATCH=$!
wait_for "$W/watch.err" "ckpt: pushed"
ok $? "after SIGKILL, the next watch (its lock free again) pushes at once"
kill -TERM "$WATCH"
wait "$WATCH"
expect_eq "$?" 0 "... and stops cleanly"
expect_eq "$(remote_sha user/ckpt model-3.bin)" "$(sha256_of "$D/model-3.bin")" "model-3.bin is on the hub"
expect_eq "$(commit_count models/user/ckpt)" "$((before + 1))" "... in one commit"
if have_node; then
    expect_eq "$(js_listing user/ckpt | cut -f1,2)" "$(local_listing "$D" | cut -f1,2)" \
        "the JS client reads back exactly the folder, nothing lost"
else
    skip "node or the pinned @huggingface/hub is missing"
fi

expect_eq "$(cat "$W"/*.err 2>/dev/null | grep -c -E 'Sanitizer|runtime error')" 0 \
    "no sanitizer report from hfsync"
hub_stop
done_testing
