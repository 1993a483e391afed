# The git path's refusals against a local hub: a branch that moves between the fetch and the
# push (non-fast-forward → exit 3, stale), a wrong token and a read-only token (nothing
# changes, the token is never printed), and a push that breaks a hub rule (the pre-receive
# check refuses it with the hub's words; the branch does not move).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/legacy-git/git.sh"

if ! have_git_lfs; then
    skip "git and git-lfs are needed (scripts/install-deps.sh installs them)"
    done_testing
    exit 0
fi
# LFS PUTs and the git requests from the third on (the push) are slowed down, so the test
# can act between the fetch, the upload and the push.
hub_start --fault 'lfs-put:delay=1500,times=0;git:delay=700,nth=3,times=0' ||
    { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
git_env

W=$TEST_TMP/work
D=$W/data
mkdir -p "$D"
printf 'one\n' >"$D/README.md"
head -c 100000 /dev/urandom >"$D/weights.bin"
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  g:
    repo_id: user/refusals
    folder_path: ./data
    transport: git
    commit: { message: "Over git" }
YAML
create_repo user/refusals
cd "$W" || exit 1

# wait_event FILE EVENT: until the --json stream in FILE has that event (at most ~10 s).
wait_event() {
    for _ in $(seq 1 200); do
        grep -q "\"event\":\"$2\"" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# ---- the branch moves while the LFS upload runs: the push is not a fast-forward
"$HFSYNC" plan -o plan.json >/dev/null 2>&1
ok $? "plan"
"$HFSYNC" apply plan.json --json >race.json 2>race.err &
apply=$!
wait_event race.json upload_start
ok $? "the apply reaches its LFS upload (after the fetch)"
b64=$(printf 'someone else\n' | base64 -w0)
printf '{"key":"header","value":{"summary":"meanwhile"}}\n{"key":"file","value":{"path":"other.txt","content":"%s","encoding":"base64"}}\n' "$b64" | nd
commit_post /api/models/user/refusals/commit/main
expect_status 200 "someone else commits to main meanwhile"
theirs=$(jq_ 'j["commitOid"]')
wait "$apply"
expect_eq "$?" 3 "the push is refused as non-fast-forward: exit 3 (stale)"
expect_contains "$(cat race.err)" "plan is stale" "... saying the plan is stale"
expect_eq "$(head_of models/user/refusals)" "$theirs" "main holds the other commit only"

# ---- wrong token, read-only token
"$HFSYNC" plan -o plan.json >/dev/null 2>&1
before=$(head_of models/user/refusals)
HF_TOKEN=hf_wrongwrongwrongwrong "$HFSYNC" apply plan.json >bad.out 2>bad.err
rc=$?
ok $([ "$rc" -ne 0 ] && [ "$rc" -ne 3 ] && echo 0 || echo 1) "a wrong token fails the apply (exit $rc)"
expect_contains "$(cat bad.err)" "401" "... with the hub's 401"
ok $(grep -q hf_wrongwrong bad.err bad.out && echo 1 || echo 0) "... and never prints the token"
READ=$("$HFSYNC" hub token create reader --role read --namespace user --root "$HUB_ROOT")
HF_TOKEN=$READ "$HFSYNC" apply plan.json >read.out 2>read.err
rc=$?
ok $([ "$rc" -ne 0 ] && echo 0 || echo 1) "a read-only token cannot apply (exit $rc)"
expect_contains "$(cat read.err)" "403" "... the hub answered 403"
expect_eq "$(head_of models/user/refusals)" "$before" "neither token changed main"

# A token revoked after the upload: the push itself meets the 401, offers the token once
# (git's basic auth) and gives up with a message about the token, not a loop.
WRITE=$("$HFSYNC" hub token create writer --role write --namespace user --root "$HUB_ROOT")
head -c 100000 /dev/urandom >"$D/revoked.bin"
"$HFSYNC" plan -o plan.json >/dev/null 2>&1
before=$(head_of models/user/refusals)
log_mark
HF_TOKEN=$WRITE "$HFSYNC" apply plan.json --json >revoked.json 2>revoked.err &
apply=$!
wait_event revoked.json upload_done
ok $? "with a second write token the apply gets to its push"
python3 - "$HUB_ROOT/tokens.json" "$WRITE" <<'PY'
import json, os, sys
path, token = sys.argv[1], sys.argv[2]
doc = json.load(open(path))
doc["tokens"] = [t for t in doc["tokens"] if t["token"] != token]
json.dump(doc, open(path + ".new", "w"), indent=2)
os.replace(path + ".new", path)
PY
wait "$apply"
expect_eq "$?" 1 "the push with the revoked token fails (exit 1)"
expect_contains "$(cat revoked.err)" "the hub refused the token from HF_TOKEN (401)" \
    "... the git push says the hub refused the token"
ok $(grep -q "$WRITE" revoked.err revoked.json && echo 1 || echo 0) "... without printing it"
expect_eq "$(log_since | grep -c 'git-receive-pack 401')" 2 \
    "... after offering it once (one challenge, one refusal)"
expect_eq "$(head_of models/user/refusals)" "$before" "main did not move"
rm "$D/revoked.bin"

# ---- a push that breaks a hub rule: its LFS object vanishes from the hub's store after the
# upload, so the pointer the push carries names nothing; the pre-receive check refuses it.
head -c 100000 /dev/urandom >"$D/rule.bin"
oid=$(sha256_of "$D/rule.bin")
object="$HUB_ROOT/lfs/objects/${oid:0:2}/$oid"
"$HFSYNC" plan -o plan.json >/dev/null 2>&1
"$HFSYNC" apply plan.json --json >rule.json 2>rule.err &
apply=$!
wait_event rule.json upload_done
ok $? "the LFS upload is done before the push"
rm -f "$object"
wait "$apply"
rc=$?
expect_eq "$rc" 1 "the hub refuses the push (exit 1)"
expect_contains "$(cat rule.err)" "the hub refused the push to refs/heads/main" "... saying so"
expect_contains "$(cat rule.err)" "LFS" "... with the hub's own words about the LFS pointer"
expect_eq "$(head_of models/user/refusals)" "$before" "nothing changed on main"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/user/refusals/resolve/main/rule.bin")" 404 \
    "the file is not in the repo"

cd "$TEST_TMP" || exit 1
hub_stop
done_testing
