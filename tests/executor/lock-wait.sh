# `hfsync apply -f M --wait` takes the syncs' locks before it plans: while another apply holds
# a sync it waits, then plans against the head that apply left (here: nothing left to do),
# instead of planning against the old head and finding its plan stale. Without --wait it is
# refused before planning (exit 0, the holder named); Ctrl-C stops the wait.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

# Slow commits: an apply holds its lock for a while.
hub_start --fault 'commit:delay=1500,times=0' || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
mkdir -p "$W/data"
cd "$W" || exit 1
for i in 1 2 3; do printf 'row %s\n' "$i" >"$W/data/r$i.txt"; done
cat >hfsync.yaml <<'YAML'
version: 1
syncs:
  rows:
    repo_id: user/waited
    create: {}
    folder_path: ./data
YAML

# wait_holder FILE: until the holder has written its pid into the lock file.
wait_holder() {
    for _ in $(seq 1 200); do grep -q '^pid ' "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

"$HFSYNC" apply -f hfsync.yaml --yes >a.out 2>a.err &
a=$!
wait_holder .hfsync/state/rows/lock
ok $? "the first apply holds the sync's lock"
"$HFSYNC" apply -f hfsync.yaml --yes >r.out 2>r.err
rr=$?
"$HFSYNC" apply -f hfsync.yaml --yes --wait --json >b.json 2>b.err
rb=$?
wait "$a"
ra=$?
expect_eq "$ra" 0 "the first apply commits"
expect_eq "$rr" 0 "a second apply without --wait: refused, exit 0"
expect_contains "$(cat r.err)" "sync rows is being applied by another hfsync (pid $a, since " "... naming the holder"
expect_eq "$(grep -c 'hashed\|Apply these' r.err || true)" 0 "... before planning anything"
expect_eq "$rb" 0 "apply -f --wait after it: exit 0, not stale"
[ "$rb" -eq 0 ] || diag "$(cat b.err)" "$(cat b.json)"
expect_contains "$(cat b.err)" "sync rows is being applied by another hfsync (pid $a" "... it waited for the holder"
expect_eq "$(python3 -c '
import json
for l in open("b.json"):
    e = json.loads(l)
    print(e["event"], e.get("changes"))')" "done False" \
    "... then planned against the holder's commit: no changes, nothing committed"
expect_eq "$(commit_count models/user/waited)" 2 "one commit on the hub's first"

# Ctrl-C while `apply -f --wait` waits: it stops waiting.
printf 'row 4\n' >"$W/data/r4.txt"
"$HFSYNC" apply -f hfsync.yaml --yes >c.out 2>c.err &
c=$!
wait_holder .hfsync/state/rows/lock
"$HFSYNC" apply -f hfsync.yaml --yes --wait >i.out 2>i.err &
i=$!
for _ in $(seq 1 100); do grep -q "waiting for it" i.err 2>/dev/null && break; sleep 0.05; done
kill -INT "$i"
wait "$i"
ri=$?
wait "$c"
expect_eq "$ri" 1 "Ctrl-C during apply -f --wait: exit 1"
expect_contains "$(cat i.err)" "interrupted while waiting for the lock of sync rows" "... saying so"
expect_eq "$(commit_count models/user/waited)" 3 "only the holder committed"

hub_stop
done_testing
