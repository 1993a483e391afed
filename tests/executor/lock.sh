# The per-sync lock: two applies of one sync at the same time → one is refused, exits 0 and
# names the holder's pid (the cron contract); --wait waits for the holder instead and then
# finds its work done; a SIGKILLed holder leaves no lock behind; other syncs are not held up.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/executor/large-lib.sh"

# Slow commits: an apply holds its lock for a few seconds.
hub_start --fault 'commit:delay=700,times=0' || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
mkdir -p "$W/data" "$W/other"
cd "$W" || exit 1
for i in $(seq 1 120); do printf 'row %s\n' "$i" >"$W/data/r$i.txt"; done
printf 'x\n' >"$W/other/x.txt"
cat >hfsync.yaml <<'YAML'
version: 1
syncs:
  logs:
    repo_id: user/logs
    create: {}
    folder_path: ./data
    commit: {strategy: large, max_files: 40}
  other:
    repo_id: user/other
    create: {}
    folder_path: ./other
YAML
"$HFSYNC" plan -o plan.json >/dev/null 2>&1
ok $? "plan -o plan.json"

# wait_holder FILE: until the holder has written its pid into the lock file.
wait_holder() {
    for _ in $(seq 1 200); do grep -q '^pid ' "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

# Two applies at the same time: exactly one runs, the other is refused and exits 0.
"$HFSYNC" apply plan.json --sync logs >a.out 2>a.err &
a=$!
"$HFSYNC" apply plan.json --sync logs >b.out 2>b.err &
b=$!
wait "$a"
ra=$?
wait "$b"
rb=$?
expect_eq "$ra $rb" "0 0" "both concurrent applies exit 0"
refused=$(grep -l "is being applied by another hfsync" a.err b.err | wc -l)
expect_eq "$refused" 1 "exactly one of them is refused"
loser=$(grep -l "is being applied by another hfsync" a.err b.err | head -1)
winner_pid=$([ "$loser" = a.err ] && echo "$b" || echo "$a")
expect_contains "$(cat "$loser" 2>/dev/null)" \
    "hfsync: sync logs is being applied by another hfsync (pid $winner_pid, since " \
    "the refusal names the sync and the holder's pid"
expect_contains "$(cat "$loser" 2>/dev/null)" "); not running (use --wait to wait for it)" \
    "... says it did nothing and how to wait"
REPORT=$(commit_report "$(hub_git user/logs)")
expect_eq "$(report_get 'len(r["commits"])')" 3 "120 files in three commits: nothing twice"
expect_eq "$(report_get 'r["twice"]')" "[]" "no file committed twice"

# While one holds the lock: the lock file says who; another sync is not held up; --wait
# waits until the holder is done, then finds the plan's work done (its own commits do
# not make a large plan stale).
for i in $(seq 121 240); do printf 'row %s\n' "$i" >"$W/data/r$i.txt"; done
printf 'y\n' >"$W/other/y.txt"
"$HFSYNC" plan -o plan2.json >/dev/null 2>&1
"$HFSYNC" apply plan2.json --sync logs >c.out 2>c.err &
c=$!
wait_holder .hfsync/state/logs/lock
holder=$(cat .hfsync/state/logs/lock)
expect_contains "$holder" "pid $c" "the lock file holds the holder's pid"
expect_contains "$holder" "since 20" "... its start time"
expect_contains "$holder" "command " "... and its command line"
expect_contains "$holder" "apply plan2.json --sync logs" "... with its arguments"
"$HFSYNC" apply plan2.json --sync other >o.out 2>o.err
expect_eq "$?" 0 "another sync of the manifest applies meanwhile"
t0=$(date +%s.%N)
"$HFSYNC" apply plan2.json --sync logs --wait --json >w.out 2>w.err
rw=$?
t1=$(date +%s.%N)
grep -q "Applied:" c.out
still=$?
wait "$c"
rc=$?
expect_eq "$rc" 0 "the holder finishes"
expect_eq "$rw" 0 "apply --wait exits 0"
ok "$still" "--wait returned only after the holder had finished"
expect_eq "$(grep -c '"event":"commit"' w.out)" 0 "... and found nothing left to commit"
diag "waited $(python3 -c "print(round($t1 - $t0, 1))") s"
REPORT=$(commit_report "$(hub_git user/logs)")
expect_eq "$(report_get 'len(r["commits"])')" 6 "three more commits, none twice"
expect_eq "$(report_get 'r["twice"]')" "[]" "no file committed twice"

# A holder killed with SIGKILL, most likely while its first commit is on the way (the hub
# takes 0.7 s over it): its pid stays in the file, the lock does not; the next apply runs,
# and a commit of the killed one that lands behind its back is recognised, not repeated.
for i in $(seq 241 300); do printf 'row %s\n' "$i" >"$W/data/r$i.txt"; done
"$HFSYNC" plan -o plan3.json >/dev/null 2>&1
"$HFSYNC" apply plan3.json --sync logs >k.out 2>k.err &
k=$!
wait_holder .hfsync/state/logs/lock
sleep 0.4
kill -9 "$k"
wait "$k" 2>/dev/null
"$HFSYNC" apply plan3.json --sync logs >d.out 2>d.err
rd=$?
expect_eq "$rd" 0 "the next apply runs after a SIGKILLed holder"
[ "$rd" -eq 0 ] || diag "$(cat d.err)"
ok $(grep -q "being applied" d.err && echo 1 || echo 0) "... without being refused"
grep -q "interrupted apply; their" d.err && diag "(the killed apply's commit landed during the next one, and was adopted)"
expect_eq "$(tree_check "$W/data" "$(hub_git user/logs)")" "" "the repo holds the folder"
REPORT=$(commit_report "$(hub_git user/logs)" "$(python3 -c 'import json; print(json.load(open("plan3.json"))["plan_id"])')")
expect_eq "$(report_get 'r["twice"]')" "[]" "no file committed twice across the kill"

# Held by someone else (here a python flock): --json gets an error event with the lock's
# code, and the exit is still 0.
printf 'pid 4242\nsince 2026-01-01T00:00:00Z\ncommand hfsync apply\n' >.hfsync/state/logs/lock
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.flock(f, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)' .hfsync/state/logs/lock >held.out &
h=$!
for _ in $(seq 1 100); do grep -q held held.out && break; sleep 0.05; done
"$HFSYNC" apply plan3.json --sync logs --json >j.out 2>j.err
rj=$?
# Ctrl-C while --wait waits: it stops waiting.
"$HFSYNC" apply plan3.json --sync logs --wait >i.out 2>i.err &
i=$!
sleep 0.5
kill -INT "$i"
t0=$(date +%s.%N)
wait "$i"
ri=$?
waited=$(python3 -c "print($(date +%s.%N) - $t0 < 2)")
kill "$h"
wait "$h" 2>/dev/null
expect_eq "$ri $waited" "1 True" "Ctrl-C during --wait: it stops at once, exit 1"
expect_contains "$(cat i.err)" "interrupted while waiting for the lock of sync logs" "... saying so"
expect_eq "$rj" 0 "refused with --json: exit 0"
expect_contains "$(cat j.out)" '"event":"error"' "... an error event"
expect_contains "$(cat j.out)" '"code":-9' "... with the lock's code"
expect_contains "$(cat j.err)" "(pid 4242, since 2026-01-01T00:00:00Z)" \
    "... and the holder named on stderr"
hub_stop
done_testing
