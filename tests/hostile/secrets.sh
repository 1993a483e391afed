# Secrets: the token never appears in any output (plain, --verbose, --json, error messages,
# a rejected token, a failing hub) nor in any file hfsync writes (plans, journal, hash cache,
# the git cache and its config, locks); the token file is read with a warning naming it and
# its mode when others can read it; the local hub's tokens.json and signing secret are 0600.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

TOKEN=hf_SeCrEtToKeN4242aBcDeFgHiJkLmN
hub_start --multipart-threshold 3MB || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
O=$TEST_TMP/outputs # every stdout and stderr of hfsync goes here
mkdir -p "$W/data/sub" "$W/gitdata" "$O"
printf 'one\n' >"$W/data/a.txt"
head -c 4000000 /dev/urandom >"$W/data/sub/w.safetensors"
printf 'over git\n' >"$W/gitdata/g.txt"
head -c 200000 /dev/urandom >"$W/gitdata/g.bin"
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  http:
    repo_id: user/secrets
    create: { private: true }
    folder_path: ./data
    delete_patterns: ["*"]
  multi:
    repo_id: user/secrets-multi
    create: { private: true }
    folder_path: ./data
    commit: { strategy: multi, max_files: 1 }
  large:
    repo_id: user/secrets-large
    create: { private: true }
    folder_path: ./data
    commit: { strategy: large, max_files: 1 }
  git:
    repo_id: user/secrets-git
    create: { private: true }
    folder_path: ./gitdata
    transport: git
YAML
cd "$W" || exit 1
n=0
# run ARGS...: runs hfsync with the captured outputs kept under $O; sets RC.
run() {
    n=$((n + 1))
    "$HFSYNC" "$@" >"$O/$n.out" 2>"$O/$n.err"
    RC=$?
}
run plan -o plan.json --format json
expect_eq "$RC" 0 "plan --format json -o plan.json"
run show plan.json --format markdown
run apply plan.json --verbose
expect_eq "$RC" 0 "apply --verbose of every strategy and the git transport"
expect_contains "$(cat "$O/$n.err")" "Authorization: <redacted>" "--verbose logs the Authorization header, redacted"
printf 'two\n' >"$W/data/b.txt"
run apply -f hfsync.yaml --yes --json --verbose
expect_eq "$RC" 0 "apply -f --yes --json --verbose"
run upload user/secrets "$W/data" up --verbose
expect_eq "$RC" 0 "upload --verbose"
HF_TOKEN=hf_wrongTokenButSecret99 run plan --format json
expect_eq "$RC" 1 "a token the hub rejects: exit 1"
expect_contains "$(cat "$O/$n.err")" "the hub rejected the token (from HF_TOKEN)" "... the error names where the token came from"
if grep -q hf_wrongTokenButSecret99 "$O/$n.out" "$O/$n.err"; then ok 1 "... never the token"; else ok 0 "... never the token"; fi
hub_stop
hub_start --fault 'commit:status=400,times=0' --fault 'info:status=503,nth=3,times=1' || exit 1
exec_env
printf 'three\n' >"$W/data/c.txt"
head -c 3500000 /dev/urandom >"$W/data/sub/w2.safetensors" # uploaded, then the commit fails:
HFSYNC_STALL_TIMEOUT=5 run apply -f hfsync.yaml --sync large --yes --verbose
expect_eq "$RC" 1 "a hub refusing every commit (400): exit 1"
expect_contains "$(cat "$O/$n.err")" "HTTP 400" "... the error shows the hub's answer"
HF_ENDPOINT="http://user:$TOKEN@127.0.0.1:1" run plan
expect_eq "$RC" 1 "an endpoint with the token in its URL: refused"
expect_eq "$(cat "$O/$n.err" | sed "s/$TOKEN/TOKEN/")" "$(cat "$O/$n.err")" "... without echoing the token"

# Everything hfsync wrote beside the manifest (plans, .hfsync: journals, hash cache, locks,
# the git cache and its config) and everything it printed.
leaks=$(grep -rl -a -F "$TOKEN" "$W" "$O" 2>/dev/null)
expect_eq "$leaks" "" "the token is in no output and no file under the work folder"
diag "searched $(find "$W" -type f | wc -l | tr -d ' ') files under the work folder and $(ls "$O" | wc -l | tr -d ' ') outputs"
journals=$(find "$W/.hfsync" -name "journal*.json" | wc -l)
[ "$journals" -ge 1 ]
ok $? "... the journal of the failed apply among them ($journals)"
git_cfg=$(find "$W/.hfsync" -name config -path '*.git/*' | head -1)
[ -n "$git_cfg" ]
ok $? "the git cache exists (${git_cfg#"$W"/})"
if grep -q -i -e url -e token -e extraheader "$git_cfg"; then ok 1 "... its config names no remote and no credential"; else
    ok 0 "... its config names no remote and no credential"; fi
if grep -q -F "$TOKEN" "$TEST_TMP/access.log" "$TEST_TMP/hub.err"; then ok 1 "the hub's logs hold no token"; else ok 0 "the hub's logs hold no token"; fi

# ---- the token file: read with a warning when others can read it
unset HF_TOKEN
hub_stop
hub_start || exit 1
export HF_ENDPOINT=$HUB_URL
mkdir -p "$HF_HOME"
printf '%s\n' "$TOKEN" >"$HF_HOME/token"
chmod 600 "$HF_HOME/token"
run plan
expect_eq "$RC $(grep -c 'token file' "$O/$n.err")" "0 0" "a 0600 token file: used, no warning"
chmod 644 "$HF_HOME/token"
run plan
expect_eq "$RC" 0 "a 0644 token file: still used"
expect_contains "$(cat "$O/$n.err")" "the hub token file $HF_HOME/token has mode 0644: every user of this machine can read it; run chmod 600 $HF_HOME/token" \
    "... with a warning naming the file and its mode"
expect_eq "$(grep -c 'has mode' "$O/$n.err")" 1 "... once per run"
chmod 640 "$HF_HOME/token"
run plan
expect_contains "$(cat "$O/$n.err")" "has mode 0640: its group can read it" "a 0640 token file: the warning says the group"
printf '%s\n' "$TOKEN" >"$TEST_TMP/elsewhere-token"
chmod 604 "$TEST_TMP/elsewhere-token"
HF_TOKEN_PATH=$TEST_TMP/elsewhere-token run plan
expect_contains "$(cat "$O/$n.err")" "the hub token file $TEST_TMP/elsewhere-token has mode 0604" "HF_TOKEN_PATH: the warning names that file"
HF_TOKEN=$TOKEN run plan
expect_eq "$(grep -c 'has mode' "$O/$n.err")" 0 "HF_TOKEN set: the file is not read, no warning"
if grep -q -F "$TOKEN" "$O"/*; then ok 1 "none of these printed the token"; else ok 0 "none of these printed the token"; fi

# ---- the local hub's credentials are its owner's alone
R2=$TEST_TMP/fresh-hub
"$HFSYNC" hub token create alice --root "$R2" >/dev/null
expect_eq "$(stat -c %a "$R2/tokens.json")" 600 "a new hub root's tokens.json is created 0600"
chmod 644 "$R2/tokens.json"
"$HFSYNC" hub token create bob --root "$R2" >/dev/null 2>"$O/token.err"
expect_eq "$(stat -c %a "$R2/tokens.json")" 600 "... and written back 0600 after someone loosened it"
expect_contains "$(cat "$O/token.err")" "$R2/tokens.json has mode 0644" "... with a warning naming it"
HUB_ROOT=$R2
hub_stop
hub_start || exit 1
expect_eq "$(stat -c %a "$R2/secret")" 600 "the hub's URL-signing secret is 0600"
chmod 640 "$R2/tokens.json"
hub_stop
hub_start || exit 1
expect_contains "$(cat "$TEST_TMP/hub.err")" "$R2/tokens.json has mode 0640" "hub serve warns about a tokens.json others can read"
hub_stop
done_testing
