# Reliability against the local hub's --fault: a PUT dropped halfway, 503 on preupload, 429
# with Retry-After, a 500 on a commit that landed (exactly one commit), a 500 on one that did
# not (sent once more), pull requests (also when their commit's answer is lost), and the
# token in no output with --verbose.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

W=$TEST_TMP/work
D=$W/data
mkdir -p "$D"
cd "$W" || exit 1
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  f:
    repo_id: user/faulty
    create: { private: false }
    folder_path: ./data
YAML

# restart_hub FAULT...: a fresh hub process on the same root with these faults.
restart_hub() {
    [ -n "$HUB_PID" ] && { kill -TERM "$HUB_PID"; wait "$HUB_PID"; HUB_PID=; }
    local args=()
    for f in "$@"; do args+=(--fault "$f"); done
    hub_start --multipart-threshold 3MB "${args[@]}" || { ok 1 "the hub starts"; done_testing; exit 1; }
    exec_env
}

restart_hub
printf 'seed\n' >"$D/seed.txt"
"$HFSYNC" apply -f hfsync.yaml --yes >/dev/null 2>&1
ok $? "a first apply creates the repo"

# ---- one apply through every retried fault, and a commit that lands but answers 500
restart_hub 'preupload:status=503' 'lfs-batch:status=429,retry_after=1' \
    'lfs-put:drop=1048576' 'commit:land_then_status=500'
head -c 2500000 /dev/urandom >"$D/basic.safetensors"
printf 'text\n' >"$D/text.txt"
before=$(commit_count models/user/faulty)
log_mark
start=$(date +%s)
"$HFSYNC" apply -f hfsync.yaml --yes >out 2>err
rc=$?
elapsed=$(($(date +%s) - start))
expect_eq "$rc" 0 "the apply succeeds through 503, 429, a dropped PUT and a lost commit answer"
[ "$rc" -eq 0 ] || diag "$(cat err)"
expect_eq "$(log_since | grep -E 'POST /api/models/user/faulty/preupload/' | awk '{print $5}' | tr '\n' ' ')" "503 200 " "preupload: 503, then retried"
expect_eq "$(log_since | grep -E 'POST /user/faulty.git/info/lfs/objects/batch' | awk '{print $5}' | tr '\n' ' ')" "429 200 " "LFS batch: 429, then retried"
ok $([ "$elapsed" -ge 2 ] && echo 0 || echo 1) "... after the Retry-After of 1 s plus one (took ${elapsed}s)"
puts=$(log_since | grep -E 'PUT /lfs-upload/' | awk '{print $5}' | tr '\n' ' ')
expect_eq "$puts" "-(dropped) 200 " "the PUT dropped halfway was sent again from its start"
expect_eq "$(log_since | grep -c -E 'POST /api/models/user/faulty/commit/main' || true)" 1 "the commit was POSTed once"
expect_eq "$(commit_count models/user/faulty)" "$((before + 1))" "exactly one commit landed"
expect_contains "$(cat err)" "the commit had landed" "the output says the commit was recognised by the plan's id"
expect_contains "$(cat out)" "committed " "... and names it"
expect_eq "$(resolve_check "$D" user/faulty)" "" "every file reads back"

# ---- a 500 on a commit that did not land: looked up, then sent once more
restart_hub 'commit:status=500'
printf 'again\n' >"$D/again.txt"
before=$(commit_count models/user/faulty)
log_mark
"$HFSYNC" apply -f hfsync.yaml --yes >out 2>err
expect_eq "$?" 0 "a commit refused with 500 (nothing landed) is sent once more"
expect_eq "$(log_since | grep -E 'POST /api/models/user/faulty/commit/main' | awk '{print $5}' | tr '\n' ' ')" "500 200 " "... after looking at the branch"
expect_eq "$(log_since | grep -c 'GET /api/models/user/faulty/commits/main' || true)" 1 "... which it read once"
expect_eq "$(commit_count models/user/faulty)" "$((before + 1))" "... and one commit landed"

# ---- a 429 on the commit: looked up, then sent once more after the Retry-After it asked for
restart_hub 'commit:status=429,retry_after=2'
printf 'rate limited\n' >"$D/limited.txt"
before=$(commit_count models/user/faulty)
log_mark
start=$(date +%s.%N)
"$HFSYNC" apply -f hfsync.yaml --yes >out 2>err
rc=$?
elapsed=$(python3 -c "print(int($(date +%s.%N) - $start))")
expect_eq "$rc" 0 "a commit answered 429 is sent once more"
expect_eq "$(log_since | grep -E 'POST /api/models/user/faulty/commit/main' | awk '{print $5}' | tr '\n' ' ')" "429 200 " "... once"
ok $([ "$elapsed" -ge 3 ] && echo 0 || echo 1) "... after the Retry-After of 2 s plus one (took ${elapsed}s)"
expect_eq "$(commit_count models/user/faulty)" "$((before + 1))" "... and one commit landed"

restart_hub 'commit:status=500,times=2'
printf 'twice\n' >"$D/twice.txt"
before=$(commit_count models/user/faulty)
"$HFSYNC" apply -f hfsync.yaml --yes >out 2>err
expect_eq "$?" 1 "two 500s that landed nothing: exit 1"
expect_contains "$(cat err)" "sent twice; the commit did not land" "... saying it was sent twice and nothing changed"
expect_eq "$(commit_count models/user/faulty)" "$before" "... and no commit was made"

# ---- pull requests
restart_hub
printf 'proposal\n' >"$D/pr.txt"
head=$(head_of models/user/faulty)
"$HFSYNC" upload user/faulty "$D/pr.txt" proposals/pr.txt --create-pr >out 2>err
expect_eq "$?" 0 "upload --create-pr"
expect_contains "$(cat out)" "$HUB_URL/user/faulty/discussions/1" "it prints the pull request's URL"
expect_eq "$(head_of models/user/faulty)" "$head" "main did not move"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/faulty/resolve/refs%2Fpr%2F1/proposals/pr.txt")
expect_eq "$code" 200 "the file is on refs/pr/1"

restart_hub 'commit:land_then_status=502'
printf 'proposal 2\n' >"$D/pr2.txt"
"$HFSYNC" upload user/faulty "$D/pr2.txt" proposals/pr2.txt --create-pr >out 2>err
expect_eq "$?" 0 "a pull request whose commit answer was lost"
expect_contains "$(cat out)" "$HUB_URL/user/faulty/discussions/2" "... is found among the pull requests (URL printed)"
prs=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/faulty/refs?include_prs=1" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("pullRequests", [])))')
expect_eq "$prs" 2 "... and no second pull request was opened"

# ---- Ctrl-C during the uploads: stops soon, commits nothing
restart_hub 'lfs-put:delay=5000,times=0'
head -c 900000 /dev/urandom >"$D/slow.safetensors"
before=$(commit_count models/user/faulty)
start=$(date +%s)
"$HFSYNC" apply -f hfsync.yaml --yes >out 2>err &
apply_pid=$!
for _ in $(seq 1 100); do grep -q 'uploading' err 2>/dev/null && break; sleep 0.05; done
sleep 0.3
kill -INT "$apply_pid"
wait "$apply_pid"
rc=$?
expect_eq "$rc" 1 "SIGINT during the uploads: exit 1"
expect_contains "$(cat err)" "interrupted" "... saying it was interrupted"
ok $([ $(($(date +%s) - start)) -lt 5 ] && echo 0 || echo 1) "... without waiting for the slow transfer"
expect_eq "$(commit_count models/user/faulty)" "$before" "... and nothing was committed"
rm "$D/slow.safetensors"

# ---- --verbose never shows the token
restart_hub
printf 'verbose\n' >"$D/verbose.txt"
head -c 400000 /dev/urandom >"$D/verbose.safetensors"
"$HFSYNC" apply -f hfsync.yaml --yes --verbose >out 2>err
expect_eq "$?" 0 "apply --verbose"
ok $(grep -q -- '> POST\|POST ' err && echo 0 || echo 1) "--verbose logs the requests"
ok $(grep -q "$TOKEN" out err && echo 1 || echo 0) "the token appears in no output of apply --verbose"
printf 'verbose 2\n' >"$D/v2.txt"
"$HFSYNC" upload user/faulty "$D/v2.txt" --verbose >out 2>err
expect_eq "$?" 0 "upload --verbose"
ok $(grep -q "$TOKEN" out err && echo 1 || echo 0) "the token appears in no output of upload --verbose"

# ---- --verbose shows the debug notes too (here: a hash cache of an earlier version replaced,
# its version field set to 1), and without it they stay quiet
printf '\001' | dd of="$W/.hfsync/hashcache" bs=1 seek=8 conv=notrunc status=none
printf 'verbose 3\n' >"$D/v3.txt"
"$HFSYNC" apply -f hfsync.yaml --yes --verbose >out 2>err
expect_eq "$?" 0 "apply --verbose with a hash cache of an earlier hfsync"
expect_contains "$(cat err)" "hfsync: debug: the hash cache $W/.hfsync/hashcache is from an earlier hfsync" "... says so in a debug note"
printf '\001' | dd of="$W/.hfsync/hashcache" bs=1 seek=8 conv=notrunc status=none
printf 'verbose 4\n' >"$D/v4.txt"
"$HFSYNC" apply -f hfsync.yaml --yes >out 2>err
expect_eq "$?" 0 "the same without --verbose"
ok $(grep -q "debug:" out err && echo 1 || echo 0) "... and no debug note"

hub_stop
done_testing
