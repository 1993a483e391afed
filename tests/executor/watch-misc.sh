# hfsync watch, the rest of its contract: syncs run independently (a slow upload never holds
# up another sync's runs); append_only pushes growth only (a rewritten or shorter file is
# left out, said every run); squash_history keeps the branch at one commit; an error no
# retry mends (a rejected token, a missing repo) is logged on every run and named in the
# exit status; bad invocations are refused before anything runs.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

W=$TEST_TMP/work
mkdir -p "$W/big" "$W/fast" "$W/grow" "$W/sq"
cd "$W" || exit 1
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
defaults:
  create: { private: false }
syncs:
  big:
    repo_id: user/big
    folder_path: ./big
    schedule: { every: 1h }
  fast:
    repo_id: user/fast
    folder_path: ./fast
    schedule: { every: 1s }
  grow:
    repo_id: user/grow
    folder_path: ./grow
    schedule: { every: 1h, append_only: true }
  sq:
    repo_id: user/sq
    folder_path: ./sq
    schedule: { every: 1h, squash_history: true }
  plain:
    repo_id: user/plain
    folder_path: ./fast
YAML

wait_for() {
    for _ in $(seq 1 200); do
        grep -q -F "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
run() { "$HFSYNC" apply --yes -f hfsync.yaml --sync "$1" >"$W/run.out" 2>"$W/run.err"; }

# ---- a slow sync never holds up another: fast keeps pushing while big uploads
hub_start --fault 'lfs-put:delay=12000' || { done_testing; exit 1; }
exec_env
head -c 2000000 /dev/urandom >"$W/big/weights.bin"
printf 'line 0\n' >"$W/fast/log.txt"
"$HFSYNC" watch -f hfsync.yaml --sync big --sync fast >"$W/watch.out" 2>"$W/watch.err" &
WATCH=$!
wait_for "$W/watch.err" "big: uploading 1 LFS file(s)"
ok $? "big's first run is uploading (slowly)"
# fast's file changes every 1.1 s until fast has pushed twice since big started (big's PUT
# is held 12 s; a loaded machine may take a few seconds per push)
pushes_since_big() { sed -n '/big: uploading/,/big: uploaded/p' "$W/watch.err" | grep -c 'fast: pushed'; }
for i in $(seq 1 9); do
    printf 'line %s\n' "$i" >>"$W/fast/log.txt"
    sleep 1.1
    [ "$(pushes_since_big)" -ge 2 ] && break
done
wait_for "$W/watch.err" "big: uploaded 1 LFS file(s)"
kill -TERM "$WATCH"
wait "$WATCH"
expect_eq "$?" 0 "watch of two syncs exits 0"
during=$(pushes_since_big)
ok $([ "$during" -ge 2 ] && echo 0 || echo 1) "fast pushed $during times while big was uploading"
expect_eq "$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/fast/resolve/main/log.txt")" \
    "$(cat "$W/fast/log.txt")" "fast's file is on the hub in full"
kill -TERM "$HUB_PID"; wait "$HUB_PID"; HUB_PID=
hub_start || { done_testing; exit 1; }
exec_env

# ---- append_only: growth is pushed, a rewrite or a truncation is left out and said
printf 'a\nb\n' >"$W/grow/events.jsonl"
printf 'keep\n' >"$W/grow/other.txt"
run grow
expect_contains "$(cat "$W/run.err")" "grow: pushed 2 change(s)" "the first run pushes both files"
printf 'c\n' >>"$W/grow/events.jsonl"
run grow
expect_contains "$(cat "$W/run.err")" "grow: pushed 1 change(s)" "a grown file is pushed"
printf 'rewritten\n' >"$W/grow/other.txt"
printf 'a\n' >"$W/grow/events.jsonl"
run grow
rc=$?
err=$(cat "$W/run.err")
expect_eq "$rc" 0 "refusals do not fail the run"
expect_contains "$err" "warning: grow: other.txt was rewritten, not appended to" "a rewritten file is left out, said"
expect_contains "$err" "warning: grow: events.jsonl is shorter here (2 bytes) than on the hub (6 bytes)" \
    "a truncated file is left out, said"
expect_contains "$err" "grow: no changes" "... and nothing is pushed"
expect_eq "$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/grow/resolve/main/events.jsonl")" \
    "$(printf 'a\nb\nc')" "the hub keeps its copy"
rm "$W/grow/other.txt"
run grow
expect_contains "$(cat "$W/run.err")" "grow: no changes" "a file removed here stays on the hub (nothing is deleted)"

# ---- squash_history: after each push the branch is one commit with the same files
printf 'v1\n' >"$W/sq/a.txt"
run sq
expect_contains "$(cat "$W/run.err")" "sq: squashed the history of main into one commit" "the push is squashed"
printf 'v2\n' >"$W/sq/b.txt"
run sq
expect_eq "$(commit_count models/user/sq)" 1 "after two pushes the branch is one commit"
expect_eq "$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/sq/resolve/main/b.txt")" "v2" "with every file"

# ---- --json: one event per line on stdout, each with a UTC time
printf 'v3\n' >"$W/sq/c.txt"
"$HFSYNC" watch -f hfsync.yaml --sync sq --json >"$W/json.out" 2>"$W/json.err" &
WATCH=$!
wait_for "$W/json.out" '"event":"watch_squashed"'
kill -TERM "$WATCH"
wait "$WATCH"
expect_eq "$?" 0 "watch --json exits 0"
events=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["event"] for l in open(sys.argv[1]) if "progress" not in l))' "$W/json.out")
expect_contains "$events" "watch_start " "--json: the start"
expect_contains "$events" "preupload commit done watch_pushed watch_squashed" \
    "--json: the apply's events, the push, the squash"
expect_contains "$events" "watch_stopping watch_no_changes" "--json: the stop and the last run"
expect_eq "$(python3 -c 'import json,re,sys; print(all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", json.loads(l)["time"]) for l in open(sys.argv[1])))' "$W/json.out")" \
    "True" "--json: every event has a UTC time"

# ---- errors no retry mends: logged every run, named when watch stops
cat >"$W/broken.yaml" <<'YAML'
version: 1
syncs:
  denied:
    repo_id: user/grow
    folder_path: ./grow
    schedule: { every: 1s }
  missing:
    repo_id: user/not-there
    folder_path: ./grow
    schedule: { every: 1s }
YAML
HF_TOKEN=hf_not_a_valid_token "$HFSYNC" watch -f broken.yaml --sync denied >"$W/watch.out" 2>"$W/watch.err" &
WATCH=$!
sleep 3.5
kill -TERM "$WATCH"
wait "$WATCH"
expect_eq "$?" 1 "a rejected token: watch exits 1"
n=$(grep -c 'error: denied: .*this needs fixing' "$W/watch.err")
ok $([ "$n" -ge 3 ] && echo 0 || echo 1) "the error was logged on every run ($n)"
expect_contains "$(tail -3 "$W/watch.err")" "sync denied: " "the exit names the sync"
expect_contains "$(tail -3 "$W/watch.err")" "rejected the token" "... and the cause"
"$HFSYNC" watch -f broken.yaml --sync missing >"$W/watch.out" 2>"$W/watch.err" &
WATCH=$!
sleep 2
kill -TERM "$WATCH"
wait "$WATCH"
expect_eq "$?" 1 "a missing repo (no create): watch exits 1"
expect_contains "$(cat "$W/watch.err")" "does not exist" "... saying the repo does not exist"
expect_contains "$(cat "$W/watch.err")" "this needs fixing" "... as an error no retry mends"

# ---- refused before anything runs
"$HFSYNC" watch -f hfsync.yaml --sync plain >/dev/null 2>"$W/err"
expect_eq "$?" 1 "watching an unscheduled sync: exit 1"
expect_contains "$(cat "$W/err")" "sync plain of hfsync.yaml has no schedule" "... saying so"
"$HFSYNC" watch -f hfsync.yaml --sync nope >/dev/null 2>"$W/err"
expect_contains "$(cat "$W/err")" "has no sync named \"nope\"" "an unknown sync is named"
printf 'version: 1\nsyncs:\n  p: {repo_id: user/p, folder_path: ./fast}\n' >"$W/none.yaml"
"$HFSYNC" watch -f none.yaml >/dev/null 2>"$W/err"
expect_contains "$(cat "$W/err")" "none.yaml has no scheduled sync" "a manifest without schedules"
"$HFSYNC" watch extra >/dev/null 2>&1
expect_eq "$?" 64 "an argument: usage error"
"$HFSYNC" watch --help >"$W/out" 2>&1
expect_contains "$(cat "$W/out")" "SIGINT or SIGTERM" "watch --help says how it stops"

expect_eq "$(cat "$W"/*.err 2>/dev/null | grep -c -E 'Sanitizer|runtime error')" 0 \
    "no sanitizer report from hfsync"
hub_stop
done_testing
