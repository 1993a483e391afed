# hfsync apply over git (transport: git) against a local hub: a matrix of files pushed from a
# saved plan, read back through resolve and through `git clone` + `git lfs pull`; the same
# plan over http gives the same tree; a multipart LFS file; the cache keeps no token; a
# second round with updates, a move and deletes; what git + git-lfs pushed plans as no changes;
# the git-transport example.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/legacy-git/git.sh"

if ! have_git_lfs; then
    skip "git and git-lfs are needed (scripts/install-deps.sh installs them)"
    done_testing
    exit 0
fi
hub_start --multipart-threshold 3MB --strict-upload-auth || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
git_env

W=$TEST_TMP/work
D=$W/data
mkdir -p "$D/données" "$D/a/b/c" "$D/weights" "$D/odd [1]"
printf '# over git\n' >"$D/README.md"
printf '{"a": 1}\n' >"$D/config.json"
: >"$D/empty.txt"
printf 'été\n' >"$D/données/été.txt"
printf 'x\n' >"$D/sp ace.txt"
printf 'deep\n' >"$D/a/b/c/deep.txt"
head -c 2000000 /dev/urandom >"$D/weights/model.safetensors"
head -c 7500000 /dev/urandom >"$D/weights/multi part.bin"
head -c 300 /dev/urandom >"$D/blob.dat"
head -c 500 /dev/urandom >"$D/odd [1]/x.dat"
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  viagit:
    repo_id: user/viagit
    create: { private: false }
    folder_path: ./data
    delete_patterns: ["*"]
    transport: git
    commit:
      message: "Matrix over git"
      description: "every kind of file"
  viahttp:
    repo_id: user/viahttp
    create: { private: false }
    folder_path: ./data
    delete_patterns: ["*"]
    commit:
      message: "Matrix over git"
      description: "every kind of file"
YAML
cd "$W" || exit 1

"$HFSYNC" plan -o plan.json >plan.txt 2>plan.err
ok $? "plan -o plan.json (one git sync, one http sync, same folder)"
log_mark
"$HFSYNC" apply plan.json --sync viagit --json >git.json 2>git.err
rc=$?
expect_eq "$rc" 0 "apply plan.json --sync viagit (over git) exits 0"
[ "$rc" -eq 0 ] || diag "$(cat git.err)" "$(tail -3 git.json)"
events=$(python3 -c '
import json
names=[json.loads(l)["event"] for l in open("git.json")]
print(" ".join(n for n in names if n not in ("hash_progress","upload_progress","commit_progress")))')
expect_eq "$events" "create_repo preupload upload_start upload_done commit done" \
    "events: the repo created, preupload, LFS uploads, one commit, done"
parts=$(log_since | grep -c -E 'PUT /lfs-upload/[0-9a-f]+\?part=' || true)
ok $([ "$parts" -ge 3 ] && echo 0 || echo 1) "the 7.5 MB file went up in multipart parts, no custom agent ($parts parts)"
expect_eq "$(log_since | grep -c 'POST /user/viagit.git/git-receive-pack 200' || true)" 1 \
    "the commit went up in one git push"
expect_eq "$(log_since | grep -c 'POST /api/models/user/viagit/commit/' || true)" 0 \
    "... and not through the commit endpoint"
expect_eq "$(resolve_check "$D" user/viagit)" "" "every file reads back byte for byte through resolve"
clone_check "$D" user/viagit "git clone + git lfs pull of what hfsync pushed gives the same bytes"

plan_id=$(python3 -c 'import json; print(json.load(open("plan.json"))["plan_id"])')
scratch=$TEST_TMP/scratch.git
git init -q --bare "$scratch"
git -C "$scratch" fetch -q "$HUB_URL/user/viagit" +main:refs/look
expect_eq "$(git -C "$scratch" log -1 --format=%s refs/look)" "Matrix over git" "the commit's summary"
expect_contains "$(git -C "$scratch" log -1 --format=%b refs/look)" "every kind of file" "... its description"
expect_contains "$(git -C "$scratch" log -1 --format=%b refs/look)" "hfsync-plan: $plan_id" "... and the plan's id"
expect_eq "$(git -C "$scratch" log -1 --format='%an <%ae>' refs/look)" "user <user@users.noreply.huggingface.co>" \
    "the author is the token's user"
expect_eq "$(git -C "$scratch" rev-list --count refs/look)" 2 "one commit on top of the hub's first"
attrs=$(git -C "$scratch" show refs/look:.gitattributes)
expect_contains "$attrs" "blob.dat filter=lfs diff=lfs merge=lfs -text" \
    ".gitattributes got a line for the LFS file no rule covers"
expect_contains "$attrs" 'odd[[:space:]]\[1]/x.dat filter=lfs' "... escaped as git lfs track writes it"
pointer=$(git -C "$scratch" show 'refs/look:weights/model.safetensors')
expect_eq "$pointer" "$(printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 2000000' \
    "$(sha256_of "$D/weights/model.safetensors")")" "an LFS file is a git-lfs v1 pointer blob"

cache=$(cache_of user/viagit)
ok $([ -f "$cache/HEAD" ] && [ ! -e "$cache/index" ] && echo 0 || echo 1) \
    "the cache is a bare repository in .hfsync/git/user/viagit.git"
expect_eq "$(grep -rl "$TOKEN" "$W/.hfsync" 2>/dev/null)" "" "the token is nowhere in .hfsync"
expect_eq "$(git -C "$cache" config --get-regexp '^remote\.' || true)" "" "the cache's config names no remote"
expect_eq "$(git -C "$cache" config --get pack.bigFileThreshold) $(git -C "$cache" config --get pack.deltaCacheSize)" \
    "1 1" "the cache's pushes pack without deltas (libgit2 reads both keys)"

"$HFSYNC" apply plan.json --sync viahttp >http.out 2>http.err
rc=$?
expect_eq "$rc" 0 "the same plan's http sync applies"
[ "$rc" -eq 0 ] || diag "$(cat http.err)"
t_git=$(tree_of user/viagit)
t_http=$(tree_of user/viahttp)
ok $([ -n "$t_git" ] && [ "$t_git" = "$t_http" ] && echo 0 || echo 1) \
    "the same plan over git and over http gives the same tree ($t_git)"
[ "$t_git" = "$t_http" ] || diag "git: $t_git" "http: $t_http"

"$HFSYNC" plan --detailed-exitcode >plan2.txt 2>&1
expect_eq "$?" 0 "a second plan finds no changes on either repo"

# ---- round two: an update, a move (copy + delete), a delete, a new uncovered LFS file
printf '# over git, again\n' >"$D/README.md"
mv "$D/weights/model.safetensors" "$D/weights/renamed.safetensors"
rm "$D/blob.dat" "$D/a/b/c/deep.txt"
head -c 700 /dev/urandom >"$D/new.dat"
"$HFSYNC" plan -o plan2.json >plan2.txt 2>&1
ok $? "plan the second round"
expect_contains "$(cat plan2.txt)" "weights/renamed.safetensors" "the move is planned"
log_mark
"$HFSYNC" apply plan2.json >round2.out 2>round2.err
rc=$?
expect_eq "$rc" 0 "apply the second round on both repos"
[ "$rc" -eq 0 ] || diag "$(cat round2.err)"
expect_eq "$(log_since | grep -c 'PUT /lfs-upload/' || true)" 1 "only new.dat's bytes went up (the move reused its object)"
expect_eq "$(resolve_check "$D" user/viagit)" "" "every file reads back after the second round"
code=$(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/user/viagit/resolve/main/blob.dat")
expect_eq "$code" 404 "the deleted file is gone"
t_git=$(tree_of user/viagit)
t_http=$(tree_of user/viahttp)
ok $([ -n "$t_git" ] && [ "$t_git" = "$t_http" ] && echo 0 || echo 1) \
    "after updates, a move and deletes both transports still give one tree"
clone_check "$D" user/viagit "a fresh clone + git lfs pull matches the folder after the second round"
"$HFSYNC" plan --detailed-exitcode >plan3.txt 2>&1
expect_eq "$?" 0 "and then there is nothing left to do"

# ---- the other way: what git + git-lfs push, hfsync plans as "no changes"
create_repo user/pushed
G=$TEST_TMP/gitwork
git clone -q "$HUB_URL/user/pushed" "$G" 2>/dev/null
cd "$G" || exit 1
mkdir -p weights docs
printf 'pushed by git\n' >README.md
printf 'notes\n' >docs/notes.txt
head -c 1500000 /dev/urandom >weights/model.bin
head -c 4000 /dev/urandom >weights/raw.dat
git lfs track 'weights/raw.dat' >/dev/null
git add -A && git commit -qm "pushed with git and git-lfs"
out=$(git push -q origin main 2>&1)
ok $? "git + git-lfs push a folder to the hub"
[ -z "$out" ] || diag "$out"
cd "$W" || exit 1
cat >pushed.yaml <<YAML
version: 1
syncs:
  pushed:
    repo_id: user/pushed
    folder_path: $G
    transport: git
YAML
"$HFSYNC" plan -f pushed.yaml --detailed-exitcode >pushed.txt 2>&1
rc=$?
expect_eq "$rc" 0 "hfsync plans that folder as no changes (exit 0 with --detailed-exitcode)"
[ "$rc" -eq 0 ] || diag "$(cat pushed.txt)"
printf 'then hfsync\n' >>"$G/README.md"
"$HFSYNC" apply -f pushed.yaml --yes >pushed.out 2>&1
rc=$?
expect_eq "$rc" 0 "hfsync then pushes a change on top of git's commit"
[ "$rc" -eq 0 ] || diag "$(cat pushed.out)"
git -C "$G" fetch -q origin 2>/dev/null
git -C "$G" merge-base --is-ancestor HEAD origin/main
ok $? "... a fast-forward of git's commit for the git user"
expect_eq "$(git -C "$G" diff origin/main --stat)" "" "... holding exactly their work tree"

# ---- a big commit: its regular files go into the cache as one pack (read once, checked
# against the plan), not a loose object each; a file changed since the plan stops it
B=$W/big
mkdir -p "$B/json"
for i in $(seq 1 60); do printf '{"row": %d}\n' "$i" >"$B/json/r$i.json"; done
for i in 1 2 3; do printf 'same content\n' >"$B/json/dup$i.json"; done  # one blob, once
printf '{"a": 1}\n' >"$B/config.json"                                  # the cache has it
cat >big.yaml <<'YAML'
version: 1
syncs:
  big:
    repo_id: user/viagit
    folder_path: ./big
    path_in_repo: big
    transport: git
YAML
cache=$(cache_of user/viagit)
packs_before=$(find "$cache/objects/pack" -name 'pack-*.pack' | wc -l)
loose_before=$(find "$cache/objects" -path '*/objects/[0-9a-f][0-9a-f]/*' -type f | wc -l)
"$HFSYNC" plan -f big.yaml -o big.json >/dev/null 2>&1
# the same size and mtime: only the content read for the pack can tell
cp -p "$B/json/r7.json" "$W/r7.ref"
printf '{"row": 9}\n' >"$B/json/r7.json"
touch -r "$W/r7.ref" "$B/json/r7.json"
"$HFSYNC" apply big.json >big.out 2>&1
expect_eq "$?" 3 "a file changed after the plan stops the big commit (exit 3)"
expect_contains "$(cat big.out)" "r7.json changed since the plan was written" "... naming the file"
expect_eq "$(find "$cache/objects/pack" -name 'tmp_*' | wc -l) $(find "$cache/objects/pack" -name 'pack-*.pack' | wc -l)" \
    "0 $packs_before" "... leaving neither a pack nor a temp file in the cache"
printf '{"row": 7}\n' >"$B/json/r7.json"
"$HFSYNC" apply -f big.yaml --yes >big.out 2>&1
rc=$?
expect_eq "$rc" 0 "re-planned, the big commit (64 files) goes over git"
[ "$rc" -eq 0 ] || diag "$(cat big.out)"
expect_eq "$(find "$cache/objects/pack" -name 'pack-*.pack' | wc -l)" "$((packs_before + 1))" \
    "... its blobs as one new pack in the cache"
new_blobs=$(git -C "$cache" show-index <"$(ls -t "$cache"/objects/pack/pack-*.idx | head -1)" | wc -l)
expect_eq "$new_blobs" 61 "... holding each new blob once (60 rows, the 3 copies as one; config.json was there)"
loose_after=$(find "$cache/objects" -path '*/objects/[0-9a-f][0-9a-f]/*' -type f | wc -l)
ok $([ $((loose_after - loose_before)) -lt 20 ] && echo 0 || echo 1) \
    "... and only trees and the commit loose ($((loose_after - loose_before)) new loose objects)"
for repo in "$cache" "$HUB_ROOT/repos/models/user/viagit.git"; do
    git -C "$repo" fsck --strict >fsck.out 2>&1
    rc=$?
    ok $rc "git fsck passes in ${repo#"$TEST_TMP"/}"
    [ "$rc" -eq 0 ] || diag "$(head -5 fsck.out)"
done
expect_eq "$(resolve_check "$B" user/viagit big)" "" "... every file reads back through resolve"

# ---- the example a user copies: examples/git-transport
cp -r "$SRCDIR/examples/git-transport" "$TEST_TMP/example"
printf 'noise\n' >"$TEST_TMP/example/model/train.log"
cd "$TEST_TMP/example" || exit 1
"$HFSYNC" apply -f hfsync.yaml --yes >example.out 2>example.err
rc=$?
expect_eq "$rc" 0 "examples/git-transport applies over git"
[ "$rc" -eq 0 ] || diag "$(cat example.err)"
rm "$TEST_TMP/example/model/train.log"
expect_eq "$(resolve_check "$TEST_TMP/example/model" demo/git-model)" "" \
    "... its files are on the hub, byte for byte"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/demo/git-model/resolve/main/train.log")" 404 \
    "... and its .gitignore kept the log out"

cd "$TEST_TMP" || exit 1
hub_stop
done_testing
