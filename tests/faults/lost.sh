# Fault suite: answers lost on the way back, against the real hfsync binary: the hub carried
# a request out and then failed (or never answered in time), so the client must find out
# what landed instead of doing it twice; and a plan gone stale under a failing commit.
#
#   case                                        fault                                   expected
#   a step commit lands, answers 500 (large)    commit:land_then_status=500,nth=2       found by plan id and step, exit 0
#   a step commit lands, answers 502 (multi)    commit:land_then_status=502             found on the PR, exit 0
#   `hfsync upload` commit lands, answers 503   commit:land_then_status=503             found, exit 0
#   the repo is created, answer lost            create:land_then_status=500             exit 0 or 1; the re-run uses the repo
#   the pull request opens, answer lost         discussions:land_then_status=500,nth=2  exit 0 or 1; the re-run finds that PR
#                                                                                         by the plan id: one PR, not two
#   the merge lands, answer lost                discussions:land_then_status=502,nth=8  exit 0 or 1; the re-run: already applied
#   the commit body cut mid-stream              commit:drop=300                         nothing landed: sent again, exit 0
#   the commit times out (HFSYNC_STALL_TIMEOUT) commit:delay=12000                      looked up, sent again; the late first
#                                                                                         one is refused (412): one commit
#                                                                                         (or, its look just after the first landed:
#                                                                                         found, not sent again)
#   main moves during the upload, commit 503    lfs-put:delay + commit:status=503,nth=2 exit 3 (stale), main holds only the
#                                                                                         other commit; re-plan, apply: exit 0
#
# Each case applies a saved plan; after it, the same plan applied again exits 0 (resumed or
# already applied; the stale one is planned again), and check_case (no changes left, the tree is the
# folder, every file reads back bit for bit, no commit twice, .hfsync intact).
. "$SRCDIR/tests/faults/fault-lib.sh"
fault_begin
cat >hfsync.yaml <<'YAML'
version: 1
defaults:
  create: { private: false }
  delete_patterns: ["*"]
syncs:
  single:
    repo_id: user/lost-single
    folder_path: ./single
  large:
    repo_id: user/lost-large
    folder_path: ./large
    commit: { message: "Large", strategy: large, max_files: 3 }
  multi:
    repo_id: user/lost-multi
    folder_path: ./multi
    commit: { message: "Multi", strategy: multi, max_files: 3 }
  fresh:
    repo_id: user/lost-fresh
    folder_path: ./fresh
YAML
n=0
for s in single large multi fresh; do
    n=$((n + 1))
    churn "$W/$s" "$n"
done
for s in single large multi; do
    "$HFSYNC" apply --sync "$s" --yes >"first-$s.out" 2>&1
    ok $? "a first apply of sync $s"
done

# lost NAME SYNC EXPECT SPEC...: a plan of SYNC applied under these faults; EXPECT 0 (must
# get through) or 01 (exit 0, or exit 1); then the same plan applied again on a hub without
# faults exits 0 (resumed, or already applied), and check_case.
lost() {
    local name=$1 sync=$2 expect=$3 rc
    shift 3
    n=$((n + 1))
    churn "$W/$sync" "$n"
    "$HFSYNC" plan --sync "$sync" -o "plan-$n.json" >/dev/null 2>&1
    fault_hub "$@"
    log_mark
    "$HFSYNC" apply "plan-$n.json" >"$n.out" 2>"$n.err"
    rc=$?
    if [ "$expect" = 0 ] || [ "$rc" = 0 ]; then
        expect_eq "$rc" 0 "$name: the apply gets through (exit 0)"
    else
        expect_eq "$rc" 1 "$name: the apply fails cleanly (exit 1)"
    fi
    [ "$rc" -eq 0 ] || say "$(tail -2 "$n.err")"
    fault_hub
    rerun "$name" "$sync"
}
rerun() {
    local rc
    "$HFSYNC" apply "plan-$n.json" >"$n.rerun" 2>&1
    rc=$?
    expect_eq "$rc" 0 "$1: a re-run exits 0"
    [ "$rc" -eq 0 ] || say "$(tail -3 "$n.rerun")"
    check_case "$1" "$W/$2" "user/lost-$2" "$2"
}

# ---- a commit that lands but answers 5xx
lost "a large step's commit lands, answers 500" large 0 'commit:land_then_status=500,nth=2'
expect_in "$n.err" "had landed" "... the client says it found the commit"
lost "a multi step's commit lands, answers 502" multi 0 'commit:land_then_status=502'
expect_in "$n.err" "had landed" "... the client says it found the commit"

n=$((n + 1))
printf 'one file, %s\n' "$n" >"$W/up-$n.txt"
fault_hub 'commit:land_then_status=503'
before=$(commit_count models/user/lost-single)
"$HFSYNC" upload user/lost-single "$W/up-$n.txt" "uploads/up-$n.txt" >"$n.out" 2>"$n.err"
expect_eq "$?" 0 "upload: its commit lands, answers 503: exit 0"
expect_eq "$(commit_count models/user/lost-single)" "$((before + 1))" "upload: ... one commit"
curl -sf -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/lost-single/resolve/main/uploads/up-$n.txt" -o got.txt
expect_eq "$(cmp -s got.txt "$W/up-$n.txt" && echo same)" same "upload: ... the file reads back"
# the upload put a file into the repo the manifest does not have: the single case takes it away
lost "upload, then apply" single 0

# ---- things created, answers lost
lost "the repo is created, the answer lost" fresh 01 'create:land_then_status=500'
lost "the pull request opens, the answer lost" multi 01 'discussions:land_then_status=500,nth=2'
prs=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/lost-multi/discussions?type=pull_request" |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin).get("discussions", [])))')
expect_eq "$prs" "$((1 + 2))" "... three pull requests in all: one per apply of a plan, none twice"
lost "the merge lands, the answer lost" multi 01 'discussions:land_then_status=502,nth=8'
expect_in "$n.rerun" "already applied" "... the plan applied again finds it merged"

# ---- the commit body cut mid-stream: nothing landed, sent again
lost "the commit body cut after 300 bytes" single 0 'commit:drop=300'
expect_eq "$(log_since | grep -E 'POST /api/models/user/lost-single/commit/main' | awk '{print $5}' | tr '\n' ' ')" \
    "-(dropped) 200 " "... the commit was sent again once"

# ---- the commit times out: the client gives up waiting (HFSYNC_STALL_TIMEOUT=1, which curl
# measures over its ~5 s speed window), finds nothing yet, sends it again; the first one,
# handled late, finds main moved and is refused (parentCommit), so one commit lands.
n=$((n + 1))
churn "$W/single" "$n"
"$HFSYNC" plan --sync single -o "plan-$n.json" >/dev/null 2>&1
before=$(commit_count models/user/lost-single)
fault_hub 'commit:delay=12000'
log_mark
HFSYNC_STALL_TIMEOUT=1 "$HFSYNC" apply "plan-$n.json" >"$n.out" 2>"$n.err"
rc=$?
expect_eq "$rc" 0 "a commit that times out: exit 0"
[ "$rc" -eq 0 ] || say "$(tail -2 "$n.err")"
expect_in "$n.err" "Operation too slow" "... after the client gave up waiting"
for _ in $(seq 1 80); do
    posts=$(log_since | grep -c 'POST /api/models/user/lost-single/commit/main')
    [ "$posts" -ge 2 ] && break
    [ "$posts" -ge 1 ] && grep -q "had landed" "$n.err" && break
    sleep 0.2
done
late=$(log_since | grep -E 'POST /api/models/user/lost-single/commit/main' | awk '{print $5}' | sort | tr '\n' ' ')
late=${late//(aborted)/}
# Under load (sanitizers, a busy machine) the client may give up so close to the hub's 12 s
# that its look at the branch comes after the first commit landed: it must find it there and
# not send it again.
if [ "$late" = "200 " ] && grep -q "had landed" "$n.err"; then
    ok 0 "... the first landed before the client looked; it found it and did not send it again"
else
    expect_eq "$late" "200 412 " "... the second landed; the first, handled late, was refused as stale"
    [ "$late" = "200 412 " ] || say "$(log_since | grep -E '/commit' | cut -d' ' -f1,3-5,8-)" "$(tail -3 "$n.err")"
fi
expect_eq "$(commit_count models/user/lost-single)" "$((before + 1))" "... one commit"
fault_hub
rerun "a commit that times out" single

# ---- main moves while the upload runs, then the commit answers 503: a stale plan
n=$((n + 1))
churn "$W/single" "$n"
"$HFSYNC" plan --sync single -o "plan-$n.json" >/dev/null 2>&1
fault_hub 'lfs-put:delay=1500,times=0' 'commit:status=503,nth=2'
"$HFSYNC" apply "plan-$n.json" --json >"$n.json" 2>"$n.err" &
apid=$!
for _ in $(seq 1 200); do grep -q '"event":"upload_start"' "$n.json" 2>/dev/null && break; sleep 0.05; done
printf '{"key":"header","value":{"summary":"meanwhile"}}\n{"key":"file","value":{"path":"other.txt","content":"%s","encoding":"base64"}}\n' \
    "$(printf 'someone else\n' | base64 -w0)" | nd
commit_post /api/models/user/lost-single/commit/main
expect_status 200 "stale: someone else commits while the upload runs"
theirs=$(jq_ 'j["commitOid"]')
wait "$apid"
expect_eq "$?" 3 "stale: our commit answered 503, main moved: exit 3"
expect_in "$n.err" "plan is stale" "stale: ... saying the plan is stale"
expect_eq "$(head_of models/user/lost-single)" "$theirs" "stale: main holds the other commit, untouched by us"
fault_hub
"$HFSYNC" apply "plan-$n.json" >"$n.again" 2>&1
expect_eq "$?" 3 "stale: the plan applied again is still stale (exit 3)"
"$HFSYNC" plan --sync single -o "plan-$n.json" >/dev/null 2>&1
rerun "stale, re-planned" single

hub_stop
done_testing
