# strategy: large end to end against a local hub: adaptive commit sizes (50, 75, 100, …),
# every delete in the first commit, a distinct step trailer per commit, the large_status
# events, the journal gone when done, a re-run of the same plan a no-op; two failed commit
# POSTs in a row → a smaller commit and on; Ctrl-C mid-way → the re-run finishes the job
# without committing anything twice.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/executor/large-lib.sh"

hub_start --multipart-threshold 1MB || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
D=$W/data
mkdir -p "$D"
cd "$W" || exit 1
manifest() { # manifest MAX_FILES
    cat >hfsync.yaml <<YAML
version: 1
syncs:
  big:
    repo_id: user/big
    create: {}
    folder_path: ./data
    delete_patterns: ["old/*"]
    commit:
      message: "Big upload"
      description: "many files"
      strategy: large
      max_files: $1
YAML
}
manifest 1000

# A first state on the hub: files the large plan then deletes and updates.
mkdir -p "$D/old" "$D/keep"
for i in $(seq 1 7); do printf 'old %s\n' "$i" >"$D/old/o$i.txt"; done
printf 'v1\n' >"$D/keep/changed.txt"
"$HFSYNC" apply -f hfsync.yaml --yes >seed.out 2>seed.err
ok $? "a first apply seeds the repo"

rm -rf "$D/old"
printf 'v2\n' >"$D/keep/changed.txt"
for d in a b c; do
    mkdir -p "$D/$d"
    for i in $(seq 1 110); do printf '%s file %s\n' "$d" "$i" >"$D/$d/f$i.txt"; done
done
head -c 2500000 /dev/urandom >"$D/weights.bin"          # LFS, multipart
head -c 300000 /dev/urandom >"$D/a/tensor.safetensors"  # LFS, basic
cp "$D/a/tensor.safetensors" "$D/c/same.safetensors"    # the same object once
"$HFSYNC" plan -o plan.json >plan.txt 2>plan.err
ok $? "plan -o plan.json"
plan_id=$(python3 -c 'import json; print(json.load(open("plan.json"))["plan_id"])')
before=$(commit_count models/user/big)

log_mark
"$HFSYNC" apply plan.json --json >apply.json 2>apply.err
rc=$?
expect_eq "$rc" 0 "apply plan.json exits 0"
[ "$rc" -eq 0 ] || diag "$(tail -5 apply.err)" "$(tail -3 apply.json)"
expect_eq "$(tree_check "$D" "$(hub_git user/big)")" "" "the remote tree is the folder, file for file"

REPORT=$(commit_report "$(hub_git user/big)" "$plan_id")
expect_eq "$(report_get '[c["files"] for c in r["commits"][1:]]')" "[50, 75, 100, 109]" \
    "commits grow 50, 75, 100 after fast commits (then the rest)"
expect_eq "$(report_get 'r["commits"][1]["deleted"]')" 7 "every delete goes with the first commit"
expect_eq "$(report_get 'sum(c["deleted"] for c in r["commits"][2:])')" 0 "... and none later"
expect_eq "$(report_get 'r["twice"]')" "[]" "no path is changed by two commits"
expect_eq "$(report_get 'sorted(set(c["plan"] for c in r["commits"][1:]))')" "['$plan_id']" \
    "every commit carries the plan's id"
expect_eq "$(report_get 'len(set(c["step"] for c in r["commits"][1:])) == 4 and all(len(c["step"]) == 64 for c in r["commits"][1:])')" \
    True "each commit has its own step id (sha256 of its paths)"
expect_eq "$(report_get 'set(c["title"] for c in r["commits"][1:])')" "{'Big upload'}" \
    "the commits keep the sync's message"
expect_eq "$(commit_count models/user/big)" $((before + 4)) "four commits on the branch"

ev() { python3 -c "
import json, sys
evs = [json.loads(l) for l in open('apply.json')]
$1"; }
expect_eq "$(ev 'print(sum(1 for e in evs if e["event"] == "commit"))')" 4 "four commit events"
expect_eq "$(ev 'print([e["files"] for e in evs if e["event"] == "commit"])')" "[50, 75, 100, 109]" \
    "the commit events count their files"
expect_eq "$(ev 'print(len([e for e in evs if e["event"] == "large_status"]) >= 2)')" True \
    "large_status events at the start and at the end"
last=$(ev 's = [e for e in evs if e["event"] == "large_status"][-1]
print(s["files_total"], s["files_committed"], s["files_uploaded"], s["files_hashed"], s["commits"], sorted(s["workers"]), s["bytes_committed"] == s["bytes_total"] > 0)')
expect_eq "$last" "334 334 334 334 4 ['commit', 'hash', 'preupload', 'upload'] True" \
    "the last status: everything hashed, uploaded and committed; workers per phase"
expect_eq "$(ev 'print(len([e for e in evs if e["event"] in ("preupload", "upload_start", "upload_progress", "commit_progress")]))')" 0 \
    "no per-batch events (the status stands for them)"
puts=$(log_since | grep -c -E ' (PUT /lfs-upload/[0-9a-f]+\?size|POST /lfs-upload/[0-9a-f]+\?chunk)=' || true)
expect_eq "$puts" 2 "two LFS objects uploaded (the shared content once)"
ok $([ ! -e .hfsync/state/big/journal.json ] && [ -e .hfsync/state/big/lock ] && echo 0 || echo 1) \
    "the journal is gone once the sync is done; the lock file stays"

# The same plan again: its own commits moved the branch, which is not stale for large.
log_mark
"$HFSYNC" apply plan.json >again.out 2>again.err
rc=$?
expect_eq "$rc" 0 "the same plan again exits 0 (resumed: nothing left)"
[ "$rc" -eq 0 ] || diag "$(cat again.err)"
expect_eq "$(commit_count models/user/big)" $((before + 4)) "... and makes no commit"
expect_eq "$(log_since | grep -c -E ' (PUT|POST) /lfs-upload/|/commit/main ' || true)" 0 \
    "... nor any upload"
expect_contains "$(cat again.err)" "committed 334/334" "... its status says everything is committed"
"$HFSYNC" plan >replan.txt 2>&1
expect_contains "$(cat replan.txt)" "No changes" "a new plan finds no changes"

# Two failed commit POSTs in a row (the first and its one resend): a smaller commit, and on.
hub_stop
hub_start --multipart-threshold 1MB --fault 'commit:status=503,nth=2,times=2' ||
    { ok 1 "the hub restarts"; done_testing; exit 1; }
exec_env
for i in $(seq 1 200); do printf 'more %s\n' "$i" >"$D/b/m$i.txt"; done
"$HFSYNC" plan -o plan2.json >/dev/null 2>&1
"$HFSYNC" apply plan2.json --json >apply2.json 2>apply2.err
rc=$?
expect_eq "$rc" 0 "apply with two 503s on one commit exits 0"
[ "$rc" -eq 0 ] || diag "$(tail -5 apply2.err)"
warn=$(grep '"warning"' apply2.json | grep -c 'trying again with at most 50' || true)
expect_eq "$warn" 1 "the failed commit is tried again, smaller (75 → 50)"
REPORT=$(commit_report "$(hub_git user/big)" "$(python3 -c 'import json; print(json.load(open("plan2.json"))["plan_id"])')")
expect_eq "$(report_get '[c["files"] for c in r["commits"][5:]]')" "[50, 50, 75, 25]" \
    "commit sizes: 50, then 50 after the failure, growing again"
expect_eq "$(report_get 'r["twice"]')" "[]" "still no path changed twice"
expect_eq "$(tree_check "$D" "$(hub_git user/big)")" "" "the remote tree is the folder"

# Ctrl-C mid-way (slow commits), then the re-run finishes without repeating a commit.
hub_stop
hub_start --multipart-threshold 1MB --fault 'commit:delay=400,times=0' ||
    { ok 1 "the hub restarts"; done_testing; exit 1; }
exec_env
manifest 30
for i in $(seq 1 150); do printf 'third %s\n' "$i" >"$D/c/t$i.txt"; done
"$HFSYNC" plan -o plan3.json >/dev/null 2>&1
n_before=$(commit_count models/user/big)
"$HFSYNC" apply plan3.json --json >apply3.json 2>apply3.err &
pid=$!
for _ in $(seq 1 100); do grep -q '"event":"commit"' apply3.json 2>/dev/null && break; sleep 0.05; done
kill -INT "$pid"
wait "$pid"
rc=$?
expect_eq "$rc" 1 "Ctrl-C stops the apply (exit 1)"
expect_contains "$(cat apply3.err)" "interrupted" "... saying it was interrupted"
n_mid=$(commit_count models/user/big)
ok $([ "$n_mid" -gt "$n_before" ] && [ "$n_mid" -lt $((n_before + 5)) ] && echo 0 || echo 1) \
    "some commits landed before the stop ($((n_mid - n_before)) of 5)"
journal=.hfsync/state/big/journal.json
ok $([ -s "$journal" ] && python3 -c "
import json, sys; j = json.load(open('$journal'))
sys.exit(0 if j['plan_id'] == json.load(open('plan3.json'))['plan_id'] and len(j['commits']) == $((n_mid - n_before)) else 1)" && echo 0 || echo 1) \
    "the journal names the plan and the commits made"
"$HFSYNC" apply plan3.json --json >apply4.json 2>apply4.err
rc=$?
expect_eq "$rc" 0 "the re-run of the plan exits 0"
[ "$rc" -eq 0 ] || diag "$(tail -5 apply4.err)"
skipped=$(python3 -c "
import json; s = [json.loads(l) for l in open('apply4.json') if '\"large_status\"' in l][0]
print(s['files_skipped'])")
expect_eq "$skipped" $(((n_mid - n_before) * 30)) "the re-run skips the files already committed"
expect_eq "$(commit_count models/user/big)" $((n_before + 5)) "150 files in 5 commits in all"
REPORT=$(commit_report "$(hub_git user/big)" "$(python3 -c 'import json; print(json.load(open("plan3.json"))["plan_id"])')")
expect_eq "$(report_get 'r["twice"]')" "[]" "no path committed twice across the stop"
expect_eq "$(report_get 'r["dup_steps"]')" "[]" "no step committed twice"
expect_eq "$(tree_check "$D" "$(hub_git user/big)")" "" "the remote tree is the folder"
hub_stop
done_testing
