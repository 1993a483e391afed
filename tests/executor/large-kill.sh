# strategy: large killed with SIGKILL at random points (seeded delays of 0.2–3 s), ten
# times in a row, then run to the end: the final tree is exactly the folder, no file is
# committed twice, no step twice, no LFS object is uploaded again once it was complete, and
# the lock of a killed apply never blocks the next one.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/executor/large-lib.sh"

# Slow commits and PUTs, so that the kills land in every phase.
hub_start --multipart-threshold 1MB --fault 'commit:delay=350,times=0' \
    --fault 'lfs-put:delay=300,times=0' --fault 'lfs-part:delay=300,times=0' ||
    { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
D=$W/data
mkdir -p "$D"
cd "$W" || exit 1
python3 - "$D" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(6)
for i in range(600):
    d = os.path.join(root, "part%02d" % (i % 12))
    os.makedirs(d, exist_ok=True)
    words = " ".join("w%d" % rnd.randrange(10**6) for _ in range(rnd.randrange(120, 1200)))
    open(os.path.join(d, "doc%03d.txt" % i), "w").write(words[: rnd.randrange(1000, 3000)] + "\n")
for i, size in enumerate([1500000, 2600000, 400000, 900000, 120000, 3100000]):
    open(os.path.join(root, "blob%d.bin" % i), "wb").write(rnd.randbytes(size))
PY
cat >hfsync.yaml <<'YAML'
version: 1
syncs:
  killme:
    repo_id: user/killme
    create: {}
    folder_path: ./data
    commit:
      message: "Kill test"
      strategy: large
      max_files: 20
YAML
"$HFSYNC" plan -o plan.json >plan.txt 2>plan.err
ok $? "plan -o plan.json (606 files, 6 of them LFS)"
plan_id=$(python3 -c 'import json; print(json.load(open("plan.json"))["plan_id"])')

delays=$(python3 -c 'import random; r = random.Random(2026); print(" ".join("%.2f" % r.uniform(0.2, 3.0) for _ in range(10)))')
diag "kill delays: $delays"
# A completed upload is a basic PUT of the whole object or a multipart completion. The hub
# logs "200(aborted)" when it stored the object but the killed client was gone before the
# answer: the object is complete all the same.
completed() { grep -o -E ' (PUT /lfs-upload/[0-9a-f]{64}\?size|POST /lfs-upload/[0-9a-f]{64}\?chunk)=[^ ]* 200(\(aborted\))? ' | grep -o -E '[0-9a-f]{64}' | sort -u; }
# resent FROM: objects completed after line FROM of the access log that were complete before.
resent() {
    local before
    before=$(head -n "$1" "$TEST_TMP/access.log" | completed)
    tail -n +"$(($1 + 1))" "$TEST_TMP/access.log" | completed |
        grep -c -F -x -f <(printf '%s\n' "$before") || true
}
killed=0 progress="" resends=0
for d in $delays; do
    from=$(wc -l <"$TEST_TMP/access.log")
    "$HFSYNC" apply plan.json >>runs.out 2>>runs.err &
    pid=$!
    sleep "$d"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # 137 (128 + SIGKILL): the kill found it running; a run already over exited 0 or 3
    [ $? -eq 137 ] && killed=$((killed + 1))
    # Requests the killed run left on the way land (or fail) before the next run looks: an
    # upload whose body was all in the socket when the run died is still stored, up to the
    # hub's 300 ms delay later; landing after the next run asked for it, it would look like
    # a resend by that run. So wait for a log quiet for longer than the delays.
    log_settle 0.5
    progress="$progress $(($(commit_count models/user/killme) - 1))"
    resends=$((resends + $(resent "$from")))
done
diag "commits after each run:$progress"
ok $([ "$killed" -ge 3 ] && echo 0 || echo 1) "at least 3 runs were killed mid-way ($killed of 10; the later ones may find the work done)"
ok $(grep -q "is being applied by another hfsync" runs.err && echo 1 || echo 0) \
    "a killed apply's lock never refused the next run"

log_mark
"$HFSYNC" apply plan.json >final.out 2>final.err
rc=$?
expect_eq "$rc" 0 "the final run completes"
[ "$rc" -eq 0 ] || diag "$(tail -5 final.err)"

expect_eq "$(tree_check "$D" "$(hub_git user/killme)")" "" "the final tree is exactly the folder"
REPORT=$(commit_report "$(hub_git user/killme)" "$plan_id")
expect_eq "$(report_get 'r["twice"]')" "[]" "no file committed twice"
expect_eq "$(report_get 'r["dup_steps"]')" "[]" "no step committed twice"
expect_eq "$(report_get 'all(c["plan"] == "'"$plan_id"'" and c["step"] for c in r["commits"])')" True \
    "every commit is one of the plan's steps"
expect_eq "$(report_get 'sum(c["files"] for c in r["commits"])')" 606 \
    "the commits hold 606 files in all"
expect_eq "$(report_get 'max(c["files"] for c in r["commits"]) <= 20')" True \
    "no commit passes max_files"
# No run sends an object completed before it started (the journal, and the batch saying
# "exists"); each of the six is complete exactly once.
resends=$((resends + $(resent "$LOG_MARK")))
expect_eq "$resends" 0 "no run uploaded an LFS object that was complete before it started"
expect_eq "$(completed <"$TEST_TMP/access.log" | wc -l)" 6 "the six LFS objects are all on the hub"
ok $([ ! -e .hfsync/state/killme/journal.json ] && echo 0 || echo 1) "the journal is gone at the end"
expect_eq "$(find .hfsync/state/killme -name '*.tmp.*' | wc -l)" 0 \
    "no temp file of a killed journal save is left"
"$HFSYNC" plan >replan.txt 2>&1
expect_contains "$(cat replan.txt)" "No changes" "a new plan finds no changes"
hub_stop
done_testing
