# An interrupted apply over git, re-run on the same plan: killed (SIGKILL) during its LFS
# uploads, it resumes — the objects that went up are not sent again (the LFS batch says they
# exist) and one commit lands, the tree exact; applied once more after the push landed, the
# plan is "already applied" (the head is the commit carrying this plan's id), not stale; and
# a killed apply's push that lands while the next apply runs is recognised, not made twice.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/legacy-git/git.sh"

if ! have_git_lfs; then
    skip "git and git-lfs are needed (scripts/install-deps.sh installs them)"
    done_testing
    exit 0
fi
# Slow LFS PUTs: the apply can be killed between two uploads.
hub_start --fault 'lfs-put:delay=800,times=0' || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
git_env

W=$TEST_TMP/work
D=$W/data
mkdir -p "$D/weights"
printf '# resumed over git\n' >"$D/README.md"
printf '{"layers": 4}\n' >"$D/config.json"
for i in 1 2 3 4; do head -c 60000 /dev/urandom >"$D/weights/w$i.bin"; done
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  g:
    repo_id: user/resumed
    create: { private: false }
    folder_path: ./data
    transport: git
    commit: { message: "Resumed over git" }
YAML
cd "$W" || exit 1
"$HFSYNC" plan -o plan.json >/dev/null 2>&1
ok $? "plan -o plan.json"
plan_id=$(python3 -c 'import json; print(json.load(open("plan.json"))["plan_id"])')

# ---- killed during the LFS uploads (one at a time: the first is in, the others are not)
log_mark
"$HFSYNC" apply plan.json --jobs 1 --json >k.json 2>k.err &
apply=$!
for _ in $(seq 1 200); do
    log_since | grep -q 'POST /user/resumed.git/info/lfs/objects/verify' && break
    kill -0 "$apply" 2>/dev/null || break
    sleep 0.05
done
kill -9 "$apply" 2>/dev/null
wait "$apply" 2>/dev/null
sent=$(log_since | grep -c 'PUT /lfs-upload/' || true)
ok "$([ "$sent" -ge 1 ] && [ "$sent" -lt 4 ] && echo 0 || echo 1)" "killed during the LFS uploads ($sent of 4 sent or under way)"
expect_eq "$(log_since | grep -c 'git-receive-pack' || true)" 0 "... before any push"
expect_eq "$(commit_count models/user/resumed)" 1 "the repo holds only the hub's first commit"

# ---- the same plan again: resumes, sends only what is missing, pushes once
sleep 1 # an upload the kill cut off may still finish on the hub's side
log_mark
"$HFSYNC" apply plan.json --json >r.json 2>r.err
rc=$?
expect_eq "$rc" 0 "the same plan applied again: exit 0"
[ "$rc" -eq 0 ] || diag "$(cat r.err)" "$(tail -3 r.json)"
again=$(log_since | grep -c 'PUT /lfs-upload/' || true)
ok "$([ "$again" -ge 1 ] && [ "$again" -lt 4 ] && echo 0 || echo 1)" \
    "... uploading only the objects the hub lacked ($again more)"
expect_eq "$(log_since | grep -c 'POST /user/resumed.git/git-receive-pack 200' || true)" 1 "... in one push"
expect_eq "$(commit_count models/user/resumed)" 2 "one commit on the hub's first"
expect_eq "$(resolve_check "$D" user/resumed)" "" "every file reads back byte for byte"
clone_check "$D" user/resumed "git clone + git lfs pull gives the folder"

# ---- once more, after the push landed (as when a kill comes between the push and the end):
# already applied, recognised by the plan's id in the head commit's message
head=$(head_of models/user/resumed)
log_mark
"$HFSYNC" apply plan.json >a.out 2>a.err
rc=$?
expect_eq "$rc" 0 "applied once more: exit 0, not stale"
[ "$rc" -eq 0 ] || diag "$(cat a.err)"
expect_contains "$(cat a.out)" "g: already applied: user/resumed@main holds this plan's commit ${head:0:7}" \
    "... saying the plan's commit is there"
expect_eq "$(log_since | grep -c -E 'git-receive-pack|lfs/objects/batch|preupload' || true)" 0 \
    "... sending nothing"
expect_eq "$(head_of models/user/resumed)" "$head" "main did not move"
"$HFSYNC" apply plan.json --json >a.json 2>a.err
expect_eq "$(python3 -c '
import json
for l in open("a.json"):
    e = json.loads(l)
    if e["event"] == "already_applied":
        print(e["commit"], e["sync"])')" "$head g" "--json: an already_applied event naming the commit"
msg=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/resumed/commits/main" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["message"])')
expect_contains "$msg" "hfsync-plan: $plan_id" "(the head commit carries the plan's id)"
ok "$([ ! -e .hfsync/state/g/journal.json ] && echo 0 || echo 1)" "no journal is left"

# ---- killed while the hub holds its push (delayed), re-run at once: the killed push lands
# while the re-run waits on its preupload, so the re-run's own push is refused as a
# non-fast-forward — and the commit there, on the same parent with this plan's trailer, is
# recognised as made rather than reported stale. (The hub's 5th git request is the push.)
hub_stop
hub_start --fault 'git:delay=2500,nth=5;preupload:delay=3500,nth=2' ||
    { ok 1 "the hub starts again"; done_testing; exit 1; }
exec_env
git_env
mkdir -p "$W/late"
printf 'late\n' >"$W/late/README.md"
head -c 30000 /dev/urandom >"$W/late/w.bin"
cat >"$W/late.yaml" <<'YAML'
version: 1
syncs:
  late:
    repo_id: user/late
    folder_path: ./late
    transport: git
    commit: { message: "Late push" }
YAML
create_repo user/late
"$HFSYNC" plan -f late.yaml -o late.json >/dev/null 2>&1
log_mark
"$HFSYNC" apply late.json >l1.out 2>l1.err &
apply=$!
for _ in $(seq 1 200); do
    [ "$(log_since | grep -c 'GET /user/late.git/info/refs?service=git-receive-pack 200')" -ge 1 ] && break
    kill -0 "$apply" 2>/dev/null || break
    sleep 0.05
done
sleep 0.5 # its push is now held by the hub
kill -9 "$apply" 2>/dev/null
wait "$apply" 2>/dev/null
"$HFSYNC" apply late.json >l2.out 2>l2.err
rc=$?
expect_eq "$rc" 0 "re-run while the killed apply's push lands: exit 0"
[ "$rc" -eq 0 ] || diag "$(cat l2.err)"
expect_contains "$(cat l2.err)" "late: the commit had landed already" "... recognising the landed commit"
expect_eq "$(commit_count models/user/late)" 2 "one commit on the hub's first: not made twice"
expect_eq "$(resolve_check "$W/late" user/late)" "" "the repo holds the folder"

cd "$TEST_TMP" || exit 1
hub_stop
done_testing
