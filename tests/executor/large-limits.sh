# The commit bounds a plan is cut with (commit.max_files, commit.max_bytes) are recorded in
# the plan of a multi or large sync, and strategy large commits within them: not within the
# biggest of the plan's own groups, which can be smaller than the bounds. A plan written
# before the bounds were recorded still reads (and large infers them, as it did).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/executor/large-lib.sh"

hub_start || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
D=$W/data
mkdir -p "$D"
cd "$W" || exit 1
# 60 files of 10 bytes, then one of 550: the planner cuts [60 files, 600 B] | [550 B] with
# max_bytes 1KB (600 + 550 > 1000). Large commits 50 files first (its starting size), then
# the other 10 (100 B) with the 550 B one: 650 B, within the 1,000 bytes the manifest
# allows, although beyond the 600 B of the plan's biggest group.
for i in $(seq -w 0 59); do printf 'file %04d\n' "$i" >"$D/s$i.txt"; done
head -c 549 /dev/zero | tr '\0' 't' >"$D/t.txt" && echo >>"$D/t.txt"
cat >hfsync.yaml <<'YAML'
version: 1
syncs:
  bounded:
    repo_id: user/bounded
    create: {}
    folder_path: ./data
    commit: { message: "Bounded", strategy: large, max_files: 1000, max_bytes: 1KB }
YAML
"$HFSYNC" plan -o plan.json >plan.txt 2>plan.err
ok $? "plan -o plan.json"
expect_eq "$(python3 -c '
import json
s = json.load(open("plan.json"))["syncs"][0]
print(s["max_files"], s["max_bytes"], [len(c["operations"]) for c in s["commits"]])')" "1000 1000 [60, 1]" \
    "the plan records max_files and max_bytes beside its groups (60 files, then 1)"
"$HFSYNC" show plan.json >show.txt 2>show.err
ok $? "hfsync show reads it back"

"$HFSYNC" apply plan.json --json >apply.json 2>apply.err
rc=$?
expect_eq "$rc" 0 "apply plan.json"
[ "$rc" -eq 0 ] || diag "$(tail -5 apply.err)"
REPORT=$(commit_report "$(hub_git user/bounded)")
expect_eq "$(report_get '[c["files"] for c in r["commits"]]')" "[50, 11]" \
    "two commits: 50 files, then 11 (650 B, within max_bytes 1KB)"
expect_eq "$(tree_check "$D" "$(hub_git user/bounded)")" "" "the repo holds the folder"

# A single sync's plan records no bounds (they bound nothing there).
cat >single.yaml <<'YAML'
version: 1
syncs:
  one:
    repo_id: user/single
    create: {}
    folder_path: ./data
YAML
"$HFSYNC" plan -f single.yaml -o single.json >/dev/null 2>&1
expect_eq "$(python3 -c '
import json
s = json.load(open("single.json"))["syncs"][0]
print("max_files" in s, "max_bytes" in s)')" "False False" "a single sync's plan has no max_files or max_bytes"

# A plan from before: without the two fields (resealed: plan_id is the sha256 of the
# compact, key-sorted rest), it still reads; one of the two alone is refused.
reseal() { # reseal IN OUT PYTHON-EDIT (on `s`, the first sync)
    python3 - "$1" "$2" "$3" <<'PY'
import hashlib, json, sys
p = json.load(open(sys.argv[1]))
s = p["syncs"][0]
exec(sys.argv[3])
del p["plan_id"]
p["plan_id"] = hashlib.sha256(json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
json.dump(p, open(sys.argv[2], "w"), indent=2, sort_keys=True)
PY
}
reseal plan.json old.json 'del s["max_files"]; del s["max_bytes"]'
"$HFSYNC" show old.json >old.txt 2>old.err
rc=$?
expect_eq "$rc" 0 "a plan without max_files and max_bytes (written before) still reads"
[ "$rc" -eq 0 ] || diag "$(cat old.err)"
reseal plan.json half.json 'del s["max_bytes"]'
"$HFSYNC" show half.json >half.txt 2>half.err
expect_eq "$?" 1 "max_files without max_bytes: refused"
expect_contains "$(cat half.err)" "syncs[0].max_bytes: missing (a plan records max_files and max_bytes together)" \
    "... naming the field"

hub_stop
done_testing
