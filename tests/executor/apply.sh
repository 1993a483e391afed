# hfsync apply end to end against a local hub: a matrix of files (regular, LFS basic and
# multipart, empty, non-ASCII, deeply nested, awkward names, shared content) applied from a
# saved plan and read back byte for byte through resolve and through the official JS client;
# a second plan finds nothing; no Authorization reaches an upload href; moves, --json, -f.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

hub_start --multipart-threshold 3MB --strict-upload-auth || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
D=$W/data
mkdir -p "$D/données" "$D/a/b/c/d/e/f/g/h/i/j" "$D/weights"
printf '# matrix\n' >"$D/README.md"
printf '{"a": 1}\n' >"$D/config.json"
: >"$D/empty.txt"
printf 'été\n' >"$D/données/été ünïcødé.txt"
printf 'nihon\n' >"$D/日本語.txt"
printf 'deep\n' >"$D/a/b/c/d/e/f/g/h/i/j/deep.txt"
for n in 'sp ace.txt' 'hash#tag.txt' 'q?mark.txt' 'per%cent.txt' 'plus+sign.txt' "quote'single.txt" '[brackets].txt' 'semi;colon&amp.txt'; do
    printf '%s\n' "$n" >"$D/$n"
done
head -c 2000000 /dev/urandom >"$D/weights/basic.safetensors"
head -c 7500000 /dev/urandom >"$D/weights/multi part.bin"
head -c 300 /dev/urandom >"$D/blob.dat"
head -c 100000 /dev/urandom >"$D/weights/same-1.safetensors"
cp "$D/weights/same-1.safetensors" "$D/weights/same-2.safetensors"
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  matrix:
    repo_id: user/matrix
    create: { private: false }
    folder_path: ./data
    delete_patterns: ["*"]
    commit:
      message: "Matrix upload"
      description: "every kind of file"
YAML
cd "$W" || exit 1

"$HFSYNC" plan -o plan.json >plan.txt 2>plan.err
ok $? "plan -o plan.json"
log_mark
"$HFSYNC" apply plan.json >apply.out 2>apply.err
rc=$?
expect_eq "$rc" 0 "apply plan.json exits 0"
[ "$rc" -eq 0 ] || diag "$(cat apply.err)"
expect_contains "$(cat apply.out)" "committed " "stdout names the commit"
expect_contains "$(cat apply.out)" "$HUB_URL/user/matrix/commit/" "... with its URL"
expect_contains "$(cat apply.err)" "created public model user/matrix" "the repo was created"
expect_contains "$(cat apply.err)" "uploading 4 LFS file(s)" "4 distinct LFS objects go up (shared content once)"
expect_eq "$(commit_count models/user/matrix)" 2 "one commit on top of the hub's first"

bad=$(resolve_check "$D" user/matrix)
expect_eq "$bad" "" "every file reads back byte for byte through resolve"
if have_node; then
    js=$(js_listing user/matrix)
    expect_eq "$js" "$(local_listing "$D")" "the JS client lists and downloads the same files and bytes"
else
    skip "node or tests/node/node_modules is missing"
fi

msg=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/matrix/commits/main" |
    python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["title"]); print(c["message"])')
plan_id=$(python3 -c 'import json,sys; print(json.load(open("plan.json"))["plan_id"])')
expect_contains "$msg" "Matrix upload" "the commit's summary"
expect_contains "$msg" "every kind of file" "the commit's description"
expect_contains "$msg" "hfsync-plan: $plan_id" "the description carries the plan's id"

# The hub tells whose token came with each request; upload hrefs must get none.
puts=$(log_since | grep -c -E ' (PUT|POST) /lfs-upload/' || true)
leaked=$(log_since | grep -E ' (PUT|POST) /lfs-upload/' | grep -v -c ' user=- ' || true)
ok $([ "$puts" -ge 5 ] && echo 0 || echo 1) "the LFS objects went up as basic PUTs, parts and a completion ($puts requests)"
expect_eq "$leaked" 0 "no Authorization header reached an upload href"
# With --strict-upload-auth the hub itself refuses a token on a signed URL (as S3 does), so
# the apply above could not have succeeded had hfsync sent one.
strict=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $TOKEN" \
    --data-binary x "$HUB_URL/lfs-upload/$(printf '0%.0s' $(seq 64))?size=1&expires=1&sig=x")
expect_eq "$strict" 400 "the hub refuses an Authorization header on an upload href"
parts=$(log_since | grep -c -E 'PUT /lfs-upload/[0-9a-f]+\?part=' || true)
ok $([ "$parts" -ge 3 ] && echo 0 || echo 1) "the 7.5 MB file went up in parts ($parts)"

"$HFSYNC" plan --detailed-exitcode >plan2.txt 2>&1
expect_eq "$?" 0 "a second plan finds no changes (exit 0 with --detailed-exitcode)"
expect_contains "$(cat plan2.txt)" "No changes" "... and says so"
HF_ENDPOINT=http://127.0.0.1:9 "$HFSYNC" apply plan.json >other.out 2>other.err
expect_eq "$?" 1 "a plan is not applied to another hub than its own"
expect_contains "$(cat other.err)" "the plan was made against $HUB_URL but HF_ENDPOINT is http://127.0.0.1:9" "... saying which"
before_again=$(commit_count models/user/matrix)
"$HFSYNC" apply plan.json >again.out 2>again.err
expect_eq "$?" 0 "applying the same plan again: its commit is found, nothing to do (exit 0)"
expect_contains "$(cat again.out again.err)" "already applied" "... saying it was already applied"
expect_eq "$(commit_count models/user/matrix)" "$before_again" "... and no commit is made"

# A local move of an LFS file becomes a server-side copy plus a delete.
mv "$D/weights/basic.safetensors" "$D/weights/moved.safetensors"
printf 'changed\n' >"$D/README.md"
"$HFSYNC" apply -f hfsync.yaml </dev/null >noyes.out 2>noyes.err
expect_eq "$?" 64 "apply -f without a terminal needs --yes (usage error)"
expect_contains "$(cat noyes.err)" "--yes" "... saying so"
log_mark
"$HFSYNC" apply -f hfsync.yaml --yes --json >json.out 2>json.err
expect_eq "$?" 0 "apply -f --yes --json"
events=$(python3 -c '
import json,sys
names=[json.loads(l)["event"] for l in open("json.out")]
print(" ".join(n for n in names if n not in ("hash_progress","upload_progress","commit_progress")))')
expect_eq "$events" "preupload commit done" "--json prints one event per line: preupload, commit, done"
expect_eq "$(log_since | grep -c 'lfs-upload' || true)" 0 "the move sent no LFS bytes (a server-side copy)"
expect_eq "$(resolve_check "$D" user/matrix)" "" "after the move every file reads back"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/matrix/resolve/main/weights/basic.safetensors")
expect_eq "$code" 404 "the moved file's old path is gone"
expect_eq "$(commit_count models/user/matrix)" 3 "one more commit"

# Nothing to do: no commit.
"$HFSYNC" apply -f hfsync.yaml --yes >none.out 2>&1
expect_eq "$?" 0 "apply with nothing to do exits 0"
expect_contains "$(cat none.out)" "No changes." "... and says there are no changes"
expect_eq "$(commit_count models/user/matrix)" 3 "no empty commit"

# ---- several syncs in one plan, --sync, and a plan of several commits (strategy large)
mkdir -p "$W/l" "$W/o"
for i in 1 2 3 4 5; do printf 'part %s\n' "$i" >"$W/l/f$i.txt"; done
printf 'other\n' >"$W/o/o.txt"
cat >"$W/two.yaml" <<'YAML'
version: 1
defaults:
  create: { private: false }
syncs:
  large:
    repo_id: user/large
    folder_path: ./l
    commit: { message: "Large", strategy: large, max_files: 2 }
  other:
    repo_id: user/other
    folder_path: ./o
YAML
"$HFSYNC" plan -f two.yaml -o two.json >/dev/null 2>&1
"$HFSYNC" apply two.json --sync nope >out 2>err
expect_eq "$?" 1 "--sync naming no sync of the plan: exit 1"
expect_contains "$(cat err)" 'the plan has no sync named "nope" (its syncs: large, other)' "... listing the plan's syncs"
"$HFSYNC" apply two.json --sync large >out 2>err
expect_eq "$?" 0 "apply --sync large"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/other")
expect_eq "$code" 404 "the other sync was left alone"
expect_eq "$(grep -c '^committed ' out)" 3 "5 files, 2 per commit: 3 commits"
log=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/large/commits/main" |
    python3 -c 'import json,sys; print("\n".join(c["title"]+"/"+c["message"].replace("\n"," ") for c in json.load(sys.stdin)[:3]))')
pid=$(python3 -c 'import json; print(json.load(open("two.json"))["plan_id"])')
# strategy large: each commit is named after its group of paths (a 64-hex step id), so a
# resumed apply recognises finished groups whatever their number.
steps=$(printf '%s\n' "$log" | grep -c -E "^Large/hfsync-plan: $pid hfsync-step: [0-9a-f]{64}$" || true)
expect_eq "$steps" 3 "each commit carries the plan's id and its step id"
expect_eq "$(printf '%s\n' "$log" | sed 's/.*hfsync-step: //' | sort -u | wc -l)" 3 "... three distinct steps"
expect_eq "$(resolve_check "$W/l" user/large)" "" "every file of the large sync reads back"
"$HFSYNC" apply two.json --sync other >out 2>err
expect_eq "$?" 0 "then apply --sync other from the same plan"
expect_eq "$(resolve_check "$W/o" user/other)" "" "... which reads back"

# ---- strategy multi with create_pr: the commits go on one pull request, left open
mkdir -p "$W/m"
printf 'm1\n' >"$W/m/m1.txt"
printf 'm2\n' >"$W/m/m2.txt"
cat >"$W/multi.yaml" <<'YAML'
version: 1
syncs:
  multi:
    repo_id: user/other
    folder_path: ./m
    path_in_repo: m
    commit: { message: "Multi", strategy: multi, max_files: 1, create_pr: true }
YAML
head=$(head_of models/user/other)
"$HFSYNC" apply -f multi.yaml --yes >out 2>err
expect_eq "$?" 0 "strategy multi with create_pr"
expect_eq "$(grep -c "pull request with commit .* $HUB_URL/user/other/discussions/1\$" out)" 2 "both commits are on pull request 1"
expect_eq "$(head_of models/user/other)" "$head" "main did not move"
expect_eq "$(commit_count models/user/other refs%2Fpr%2F1)" "$(($(commit_count models/user/other) + 2))" "refs/pr/1 holds the two commits"

# ---- a .gitattributes that brings LFS rules of its own, to a repo made by the apply: the
# hub judges by the new rules (sent with the preupload), not by the file it made the repo with
for strategy in single large; do
    mkdir -p "$W/attrs-$strategy"
    printf 'logs/*.jsonl filter=lfs diff=lfs merge=lfs -text\n' >"$W/attrs-$strategy/.gitattributes"
    mkdir -p "$W/attrs-$strategy/logs"
    printf '{"seq": 1}\n' >"$W/attrs-$strategy/logs/run.jsonl"
    printf 'text\n' >"$W/attrs-$strategy/notes.txt"
    cat >"attrs-$strategy.yaml" <<YAML
version: 1
syncs:
  attrs:
    repo_id: user/attrs-$strategy
    repo_type: dataset
    create: {}
    folder_path: ./attrs-$strategy
    commit: { message: "Attrs", strategy: $strategy, max_files: 1 }
YAML
    "$HFSYNC" plan -f "attrs-$strategy.yaml" >plan.out 2>&1
    expect_contains "$(cat plan.out)" "logs/run.jsonl [lfs]" "strategy $strategy: the plan puts the file the new rule covers in LFS"
    "$HFSYNC" apply -f "attrs-$strategy.yaml" --yes >out 2>err
    rc=$?
    expect_eq "$rc" 0 "strategy $strategy: the hub agrees, judging by the .gitattributes being uploaded"
    [ "$rc" -eq 0 ] || diag "$(cat err)"
    expect_contains "$(curl -s "$HUB_URL/datasets/user/attrs-$strategy/raw/main/logs/run.jsonl")" \
        "oid sha256:$(sha256sum <"$W/attrs-$strategy/logs/run.jsonl" | cut -c1-64)" "... and the file is an LFS pointer on the hub"
    expect_eq "$(resolve_check "$W/attrs-$strategy" datasets/user/attrs-$strategy)" "" "... every file reads back"
    "$HFSYNC" plan -f "attrs-$strategy.yaml" >replan.out 2>&1
    expect_contains "$(cat replan.out)" "No changes" "... and a second plan finds no changes"
done

# ---- on a terminal: the plan is shown and confirmed; a progress bar is drawn
if command -v script >/dev/null; then
    printf 'more\n' >"$W/o/more.txt"
    printf 'no\n' | script -qec "cd '$W' && '$HFSYNC' apply -f two.yaml --sync other" /dev/null >tty1.out 2>&1
    expect_contains "$(cat tty1.out)" "+ more.txt" "on a terminal apply shows the plan"
    expect_contains "$(cat tty1.out)" "Nothing was changed." "... and answering no changes nothing"
    head -c 300000 /dev/urandom >"$W/o/big.safetensors"
    printf 'yes\n' | script -qec "cd '$W' && '$HFSYNC' apply -f two.yaml --sync other" /dev/null >tty2.out 2>&1
    expect_contains "$(cat tty2.out)" "committed " "answering yes applies it"
    ok $(grep -q 'upload .*files' tty2.out && echo 0 || echo 1) "... drawing a progress bar (phase, files, bytes)"
    expect_eq "$(resolve_check "$W/o" user/other)" "" "... and the files read back"
else
    skip "script(1) is missing: no pseudo-terminal for the confirmation test"
fi

hub_stop
done_testing
