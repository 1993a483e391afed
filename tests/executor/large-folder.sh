# hfsync upload-large-folder: the command line as huggingface-cli has it (--repo-type
# required), a dataset created private with --include/--exclude, the state kept in the
# folder and never uploaded, a second run with nothing to do and nothing hashed again,
# SIGKILLs then a run to the end (re-planned each time) committing no file twice, --revision.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/executor/large-lib.sh"

hub_start --multipart-threshold 1MB || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
D=$TEST_TMP/big
mkdir -p "$D/train" "$D/test"
for i in $(seq 1 300); do printf 'train %s\n' "$i" >"$D/train/t$i.jsonl"; done
for i in $(seq 1 100); do printf 'test %s\n' "$i" >"$D/test/t$i.jsonl"; done
for i in 1 2 3; do printf 'scratch\n' >"$D/train/s$i.tmp"; done
head -c 1800000 /dev/urandom >"$D/train/shard.parquet"
head -c 200000 /dev/urandom >"$D/test/shard.parquet"
cd "$TEST_TMP" || exit 1

"$HFSYNC" upload-large-folder user/ds "$D" >u.out 2>u.err
expect_eq "$?" 64 "without --repo-type: usage error"
expect_contains "$(cat u.err)" "--repo-type is required" "... saying --repo-type is required"
"$HFSYNC" upload-large-folder user/ds "$D" --repo-type table >u.out 2>u.err
expect_eq "$?" 64 "an unknown --repo-type: usage error"
"$HFSYNC" upload-large-folder user/ds "$D" --repo-type dataset --num-workers 0 >u.out 2>u.err
expect_eq "$?" 64 "--num-workers 0: usage error"
"$HFSYNC" upload-large-folder user/ds "$D/train/t1.jsonl" --repo-type dataset >u.out 2>u.err
expect_eq "$?" 1 "LOCAL_PATH a file: error"
expect_contains "$(cat u.err)" "uploads a folder" "... saying it uploads folders"
"$HFSYNC" upload-large-folder user/ds "$D/nope" --repo-type dataset >u.out 2>u.err
expect_eq "$?" 1 "LOCAL_PATH missing: error"
expect_contains "$(cat u.err)" "$D/nope" "... naming it"

"$HFSYNC" upload-large-folder user/ds "$D" --repo-type dataset --private --exclude '*.tmp' \
    --num-workers 4 --json >up.json 2>up.err
rc=$?
expect_eq "$rc" 0 "upload-large-folder exits 0"
[ "$rc" -eq 0 ] || diag "$(tail -5 up.err)" "$(tail -3 up.json)"
areq GET /api/datasets/user/ds
expect_eq "$(jq_ 'j.get("private")')" true "--private: the dataset was created private"
expect_eq "$(tree_check "$D" "$HUB_ROOT/repos/datasets/user/ds.git" | sort)" \
    "$(printf 'missing remotely: train/s%s.tmp\n' 1 2 3)" \
    "the dataset holds the folder but the excluded files (and no .hfsync)"
ev() { python3 -c "
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
$2" "$1"; }
expect_eq "$(ev up.json 'print([e["files"] for e in evs if e["event"] == "commit"])')" "[50, 75, 100, 125, 52]" \
    "commits of 50, 75, 100, 125 files, then the rest"
expect_eq "$(ev up.json 'print(len([e for e in evs if e["event"] == "large_status"]) >= 2)')" True \
    "large_status events"
expect_eq "$(ev up.json 'print(max(e["files_done"] for e in evs if e["event"] == "hash_progress"))')" 402 \
    "every file was hashed once"
msg=$(git --git-dir "$HUB_ROOT/repos/datasets/user/ds.git" log -1 --format=%s main)
expect_eq "$msg" "Add files using hfsync upload-large-folder" "the commits' message"
ok $([ -d "$D/.hfsync/state" ] && [ -f "$D/.hfsync/hashcache" ] && echo 0 || echo 1) \
    "the state (hash cache, lock) lives in LOCAL_PATH/.hfsync"

"$HFSYNC" upload-large-folder user/ds "$D" --repo-type dataset --exclude '*.tmp' --json >again.json 2>again.err
expect_eq "$?" 0 "a second run exits 0"
expect_contains "$(cat again.json)" '"changes":false' "... with nothing to do"
expect_eq "$(ev again.json 'print(sum(e["files_total"] for e in evs if e["event"] == "hash_progress"))')" 0 \
    "... and nothing hashed again (the hash cache)"

# SIGKILL at seeded random points, each run planning afresh, then a run to the end.
hub_stop
hub_start --multipart-threshold 1MB --fault 'commit:delay=300,times=0' ||
    { ok 1 "the hub restarts"; done_testing; exit 1; }
exec_env
for i in $(seq 1 400); do printf 'more %s\n' "$i" >"$D/test/m$i.jsonl"; done
head -c 2500000 /dev/urandom >"$D/test/more.parquet"
for d in $(python3 -c 'import random; r = random.Random(11); print(" ".join("%.2f" % r.uniform(0.3, 2.0) for _ in range(3)))'); do
    "$HFSYNC" upload-large-folder user/ds "$D" --repo-type dataset --exclude '*.tmp' >k.out 2>k.err &
    pid=$!
    sleep "$d"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done
sleep 0.5
"$HFSYNC" upload-large-folder user/ds "$D" --repo-type dataset --exclude '*.tmp' --json >final.json 2>final.err
rc=$?
expect_eq "$rc" 0 "after three SIGKILLs the upload runs to the end"
[ "$rc" -eq 0 ] || diag "$(tail -5 final.err)"
expect_eq "$(tree_check "$D" "$HUB_ROOT/repos/datasets/user/ds.git" | sort)" \
    "$(printf 'missing remotely: train/s%s.tmp\n' 1 2 3)" "the dataset holds the folder"
REPORT=$(commit_report "$HUB_ROOT/repos/datasets/user/ds.git")
expect_eq "$(report_get 'r["twice"]')" "[]" "no file committed twice over all the runs"
expect_eq "$(report_get 'sum(c["files"] for c in r["commits"])')" 803 "803 files committed in all"
expect_eq "$(ev final.json 'print(sum(e["files_total"] for e in evs if e["event"] == "hash_progress"))')" 0 \
    "the final run hashed nothing again"

# --revision: an existing branch.
areq POST /api/datasets/user/ds/branch/dev -H 'Content-Type: application/json' -d '{}'
mkdir -p "$TEST_TMP/small"
printf 'a\n' >"$TEST_TMP/small/a.txt"
"$HFSYNC" upload-large-folder user/ds "$TEST_TMP/small" --repo-type dataset --revision dev >r.out 2>r.err
expect_eq "$?" 0 "--revision dev"
expect_eq "$(git --git-dir "$HUB_ROOT/repos/datasets/user/ds.git" ls-tree --name-only dev a.txt)" a.txt \
    "... committed to the branch dev"
expect_eq "$(git --git-dir "$HUB_ROOT/repos/datasets/user/ds.git" ls-tree --name-only main a.txt)" "" \
    "... not to main"
hub_stop
done_testing
