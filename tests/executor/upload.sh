# hfsync upload, argument for argument like huggingface-cli upload: folders and single files,
# the default LOCAL_PATH and PATH_IN_REPO, patterns, --delete, repo types, private repos,
# messages, --token, --json, and a second upload that changes nothing.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

hub_start --multipart-threshold 3MB || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
export TMPDIR=$TEST_TMP/tmp
mkdir -p "$TMPDIR"
W=$TEST_TMP/work
mkdir -p "$W/my-model/nested" "$W/empty-dir"
cd "$W" || exit 1
printf 'card\n' >my-model/README.md
printf 'n\n' >my-model/nested/n.txt
head -c 70000 /dev/urandom >my-model/w.safetensors
printf 'log\n' >my-model/train.log

# ---- the folder named like the repo, by default
"$HFSYNC" upload user/my-model >out 2>err
expect_eq "$?" 0 "upload with no LOCAL_PATH uploads ./my-model (the repo's name)"
expect_eq "$(wc -l <out | tr -d ' ')" 1 "stdout is one line"
expect_contains "$(cat out)" "$HUB_URL/user/my-model/commit/" "... the commit's URL"
expect_eq "$(resolve_check "$W/my-model" user/my-model)" "" "the folder reads back at the repo root"
if have_node; then
    expect_eq "$(js_listing user/my-model)" "$(local_listing "$W/my-model")" "the JS client reads the same files"
else
    skip "node or tests/node/node_modules is missing"
fi
msg=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/my-model/commits/main" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["title"])')
expect_eq "$msg" "Upload folder using hfsync" "the default commit message"

count=$(commit_count models/user/my-model)
url=$(cat out)
"$HFSYNC" upload user/my-model >out 2>err
expect_eq "$?" 0 "a second upload with nothing changed"
expect_eq "$(cat out)" "$url" "... prints the head commit's URL"
expect_eq "$(commit_count models/user/my-model)" "$count" "... and makes no commit"

mkdir -p elsewhere && cd elsewhere || exit 1
"$HFSYNC" upload user/nothing-here >out 2>err
expect_eq "$?" 1 "no LOCAL_PATH and nothing named like the repo: exit 1"
expect_contains "$(cat err)" "no file or folder named \"nothing-here\"" "... saying what it looked for"
cd "$W" || exit 1

# ---- patterns, prefix, delete, messages
"$HFSYNC" upload user/my-model my-model docs --include '*.md' --include 'nested/*' --exclude '*.log' \
    --commit-message "Docs only" --commit-description "just the docs" >out 2>err
expect_eq "$?" 0 "upload a folder to PATH_IN_REPO with --include and --exclude"
tree=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/my-model/tree/main/docs?recursive=true" |
    python3 -c 'import json,sys; print(" ".join(sorted(e["path"] for e in json.load(sys.stdin) if e["type"]=="file")))')
expect_eq "$tree" "docs/README.md docs/nested/n.txt" "only the included files, under docs/"
msg=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/my-model/commits/main" | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["title"]+"|"+c["message"].splitlines()[0])')
expect_eq "$msg" "Docs only|just the docs" "--commit-message and --commit-description"

rm my-model/train.log
"$HFSYNC" upload user/my-model my-model --delete '*.log' >out 2>err
expect_eq "$?" 0 "upload --delete '*.log'"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/my-model/resolve/main/train.log")
expect_eq "$code" 404 "the remote file absent locally and matching --delete is gone"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/my-model/resolve/main/docs/README.md")
expect_eq "$code" 200 "files outside the folder's place are kept"

# ---- single files
head -c 4000000 /dev/urandom >weights.bin
"$HFSYNC" upload user/my-model weights.bin >out 2>err
expect_eq "$?" 0 "upload a single file (multipart size)"
curl -sfL -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/my-model/resolve/main/weights.bin" -o got.bin
cmp -s got.bin weights.bin
ok $? "... to its own name at the root, byte for byte"
msg=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/my-model/commits/main" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["title"])')
expect_eq "$msg" "Upload weights.bin with hfsync" "the single-file commit message"
log_mark
"$HFSYNC" upload user/my-model weights.bin 'models/v1/renamed #1.bin' >out 2>err
expect_eq "$?" 0 "upload a single file to another name in a folder"
expect_eq "$(log_since | grep -c 'lfs-upload' || true)" 0 "... sending no bytes: the hub has the content (a server-side copy)"
curl -sfL -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/my-model/resolve/main/models/v1/renamed%20%231.bin" -o got2.bin
cmp -s got2.bin weights.bin
ok $? "... readable at its new path"
expect_eq "$(ls -A "$TMPDIR" | grep -c hfsync-upload || true)" 0 "no scratch folder is left behind"
expect_eq "$(ls -A "$W" | grep -c hfsync-upload || true)" 0 "... in the file's folder either"

# ---- repo types, private repos, --token, --json
mkdir -p ds && printf 'a,b\n1,2\n' >ds/data.csv
env -u HF_TOKEN "$HFSYNC" upload user/ds ds --repo-type dataset --private --token "$TOKEN" --json >out 2>err
expect_eq "$?" 0 "upload --repo-type dataset --private --token (no HF_TOKEN) --json"
expect_eq "$(python3 -c '
import json
ev=[json.loads(l)["event"] for l in open("out")]
print(ev[-1], "create_repo" in ev, "commit" in ev)')" "done True True" "--json: create_repo, commit, done events"
private=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/datasets/user/ds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["private"])')
expect_eq "$private" "True" "the dataset was created private"
expect_eq "$(resolve_check "$W/ds" datasets/user/ds)" "" "the dataset reads back"
ok $(grep -q "$TOKEN" out err && echo 1 || echo 0) "the token given with --token is printed nowhere"

"$HFSYNC" upload user/x ds --repo-type nope >out 2>err
expect_eq "$?" 64 "an unknown --repo-type is a usage error"

hub_stop
done_testing
