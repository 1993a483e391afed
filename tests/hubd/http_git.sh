# The local hub's git smart HTTP with the real git and git-lfs clients: clone, fetch and push
# through git http-backend, credentials (token as the password), the push rules checked by
# the pre-receive hook before any ref moves, refs/pr/N, chunked pushes, a long history.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

if ! command -v git >/dev/null || ! git lfs version >/dev/null 2>&1; then
    skip "git and git-lfs are not installed (scripts/install-deps.sh installs them)"
    done_testing
    exit 0
fi

hub_start || { ok 1 "the hub starts"; done_testing; exit 1; }
PORT=${HUB_URL##*:}
READ=$("$HFSYNC" hub token create reader --role read --namespace user --root "$HUB_ROOT")
create_repo user/g
expect_status 200 "create user/g through the API"
create_repo user/priv '"private":true'
create_repo user/hist

# git and git-lfs see only this test's configuration; credentials come from files.
export HOME="$TEST_TMP/home" XDG_CONFIG_HOME="$TEST_TMP/home/.config" GIT_CONFIG_NOSYSTEM=1
export GIT_TERMINAL_PROMPT=0 GIT_ASKPASS=/bin/false SSH_ASKPASS=/bin/false
unset GIT_DIR GIT_WORK_TREE GIT_LFS_SKIP_SMUDGE
mkdir -p "$HOME"
git config --global user.name "git test"
git config --global user.email "git@example.invalid"
git config --global init.defaultBranch main
git config --global lfs.locksverify false
git lfs install --skip-repo >/dev/null
printf 'http://user:%s@127.0.0.1:%s\n' "$TOKEN" "$PORT" >"$TEST_TMP/cred-write"
printf 'http://user:hf_notatoken000000000000@127.0.0.1:%s\n' "$PORT" >"$TEST_TMP/cred-wrong"
printf 'http://reader:%s@127.0.0.1:%s\n' "$READ" "$PORT" >"$TEST_TMP/cred-read"
# g CRED ARGS...: git with one credential file (CRED: write, wrong, read or none).
g() {
    local cred=$1
    shift
    if [ "$cred" = none ]; then git -c credential.helper= "$@"; else
        git -c credential.helper= -c credential.helper="store --file=$TEST_TMP/cred-$cred" "$@"; fi
}
diag_out() { printf '%s\n' "$1" | sed 's/^/# /'; }
# head_of REPO [REF]: the ref's commit through the API (refs/pr/N quoted), "" when missing.
head_of() {
    local rev=${2:-main}
    req GET "/api/models/$1/revision/${rev//\//%2F}" -H "Authorization: Bearer $TOKEN"
    [ "$STATUS" = 200 ] && jq_ 'j["sha"]'
}
# refused NAME OUT RC BEFORE AFTER NEEDLE: a push that fails, says NEEDLE, and moves nothing.
refused() {
    [ "$3" -ne 0 ]
    ok $? "$1: the push fails"
    expect_contains "$2" "$6" "... and says why"
    expect_eq "$5" "$4" "... and the ref did not move"
}
G=$HUB_URL/user/g

# ---- clone and push
cd "$TEST_TMP" || exit 1
out=$(g none clone -q "$G" c1 2>&1)
ok $? "anonymous clone of a public repo made through the API"
[ -f c1/.gitattributes ] && grep -q 'filter=lfs' c1/.gitattributes
ok $? "... it holds the hub's initial .gitattributes"
expect_eq "$(git -C c1 rev-parse HEAD)" "$(head_of user/g)" "... at the API's head of main"
cd c1 || exit 1
mkdir -p docs
printf 'hello git\n' >hello.txt
printf 'nested\n' >docs/guide.md
git add -A && git commit -qm "two small files"
out=$(g write push -q origin main 2>&1)
rc=$?
ok $rc "push with the token as the password"
[ $rc -eq 0 ] || diag_out "$out"
HEAD1=$(git rev-parse HEAD)
expect_eq "$(head_of user/g)" "$HEAD1" "the API sees the pushed commit as main's head"
req GET /api/models/user/g/tree/main/docs
expect_eq "$(jq_ '[e["path"] for e in j]')" '["docs/guide.md"]' "the tree listing shows the pushed folder"
req GET /user/g/resolve/main/hello.txt
expect_eq "$STATUS $BODY" "200 hello git" "resolve serves a pushed file"
expect_eq "$(hdr X-Repo-Commit)" "$HEAD1" "... with X-Repo-Commit the pushed commit"
grep -q "POST /user/g/git-receive-pack 200 .*user=user" "$TEST_TMP/access.log"
ok $? "the access log has the push, with the token's user"

# ---- a second clone, then fetch
cd "$TEST_TMP" || exit 1
out=$(g write clone -q "$G.git" c2 2>&1)
ok $? "clone through the .git URL"
expect_eq "$(git -C c2 rev-parse HEAD)" "$HEAD1" "... at the pushed commit"
cd c1 || exit 1
printf 'more\n' >>hello.txt
git commit -qam "second"
g write push -q origin main 2>/dev/null
HEAD2=$(git rev-parse HEAD)
out=$(g none -C "$TEST_TMP/c2" fetch -q origin 2>&1)
ok $? "git fetch from the second clone"
expect_eq "$(git -C "$TEST_TMP/c2" rev-parse origin/main)" "$HEAD2" "... brings the new commit"

out=$(g none ls-remote "$HUB_URL/USER/G" main 2>&1)
expect_eq "${out%%[[:space:]]*}" "$HEAD2" "repo ids are case-insensitive for git too (USER/G)"
printf '0032want %s\n00000009done\n' "$HEAD1" | gzip -c >"$TEST_TMP/want.gz"
curl -s -H 'Content-Type: application/x-git-upload-pack-request' -H 'Content-Encoding: gzip' \
    --data-binary @"$TEST_TMP/want.gz" "$G/git-upload-pack" -o "$TEST_TMP/pack.out"
grep -q PACK "$TEST_TMP/pack.out"
ok $? "a gzip-encoded upload-pack request is answered with a pack"

# ---- credentials
printf 'not pushed\n' >nope.txt
git add -A && git commit -qm "must not land"
out=$(g wrong push origin main 2>&1)
refused "a wrong token" "$out" $? "$HEAD2" "$(head_of user/g)" "Authentication failed"
out=$(g none push origin main 2>&1)
refused "no credentials" "$out" $? "$HEAD2" "$(head_of user/g)" "could not read Username"
grep -q "GET /user/g/info/refs?service=git-receive-pack 401" "$TEST_TMP/access.log" &&
    curl -s -D - -o /dev/null "$G/info/refs?service=git-receive-pack" | grep -qi '^WWW-Authenticate: Basic realm="hfsync hub"'
ok $? "... a push without credentials gets 401 with a Basic challenge"
out=$(g read push origin main 2>&1)
refused "a read-only token" "$out" $? "$HEAD2" "$(head_of user/g)" "403"
git reset -q --hard "$HEAD2"
req GET "/user/g/info/refs"
expect_status 403 "the dumb protocol (info/refs without ?service=) is refused"
out=$(g none clone -q "$HUB_URL/user/priv" "$TEST_TMP/p0" 2>&1)
[ $? -ne 0 ] && [ ! -d "$TEST_TMP/p0" ]
ok $? "a private repo cannot be cloned anonymously"
out=$(g read clone -q "$HUB_URL/user/priv" "$TEST_TMP/p1" 2>&1)
ok $? "... a read token of its namespace clones it"

# ---- LFS through the same remote: git-lfs's pre-push hook uploads via the batch endpoint
git lfs install --local >/dev/null
git lfs track '*.ckpt' >/dev/null
head -c 2097152 /dev/urandom >model.ckpt
git add -A && git commit -qm "an LFS file"
out=$(g write push -q origin main 2>&1)
rc=$?
ok $rc "push with an LFS file (git-lfs uploads it, the pointer check passes)"
[ $rc -eq 0 ] || diag_out "$out"
grep -q "POST /user/g.git/info/lfs/objects/batch 200" "$TEST_TMP/access.log"
ok $? "... git-lfs used the hub's batch endpoint under the same URL"
curl -sL "$G/resolve/main/model.ckpt" -o "$TEST_TMP/model.got"
cmp -s "$TEST_TMP/model.got" model.ckpt
ok $? "resolve serves the LFS file's content"
req GET /api/models/user/g/tree/main
expect_eq "$(jq_ '[e.get("lfs",{}).get("oid") for e in j if e["path"]=="model.ckpt"][0]')" \
    "$(sha256_of model.ckpt)" "the tree listing shows it as LFS"
HEAD3=$(git rev-parse HEAD)

# ---- the hub's rules, checked before refs move
oid=$(printf 'never uploaded' | sha256sum | cut -c1-64)
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 14\n' "$oid" >ghost.dat
git add ghost.dat && git commit -qm "pointer to a missing object"
out=$(g write -c core.hooksPath=/nonexistent push origin main 2>&1)
refused "an LFS pointer to an object not in the store" "$out" $? "$HEAD3" "$(head_of user/g)" \
    "an LFS pointer pointed to a file that does not exist"
expect_contains "$out" "ghost.dat (ref: refs/heads/main)" "... naming the file"
git reset -q --hard "$HEAD3"
head -c 11534336 /dev/urandom >big.dat
git add big.dat && git commit -qm "11 MiB regular file"
out=$(g write push origin main 2>&1)
refused "an 11 MiB regular file" "$out" $? "$HEAD3" "$(head_of user/g)" \
    "Your push was rejected because it contains files larger than 10 MiB."
expect_contains "$out" "Please use https://git-lfs.github.com/ to store large files." "... the hub's message"
expect_contains "$out" "big.dat (ref: refs/heads/main)" "... naming the file"
git reset -q --hard "$HEAD3"
blob=$(printf 'x\n' | git hash-object -w --stdin)
sub=$(printf '100644 blob %s\tconfig\n' "$blob" | git mktree)
tree=$(printf '040000 tree %s\t.Git\n' "$sub" | git mktree)
bad=$(git commit-tree "$tree" -p HEAD -m "a .Git folder")
out=$(g write push origin "$bad:refs/heads/main" 2>&1)
refused "a '.Git' folder" "$out" $? "$HEAD3" "$(head_of user/g)" "a '.git' segment is reserved by git"
out=$(g write push origin :main 2>&1)
refused "deleting main" "$out" $? "$HEAD3" "$(head_of user/g)" "cannot be deleted"
out=$(g write push origin HEAD:refs/notes/x 2>&1)
refused "a ref outside branches, tags and PRs" "$out" $? "" "$(head_of user/g refs/notes/x)" "none of these"
! ls "$HUB_ROOT"/repos/models/user/g.git/objects | grep -q incoming
ok $? "rejected pushes leave no quarantine behind"
out=$(g write push -q origin HEAD:refs/heads/feature HEAD:refs/tags/v1 2>&1)
ok $? "push a new branch and a tag"
expect_eq "$(head_of user/g feature)" "$HEAD3" "... the branch is there"
out=$(g write push -q origin :feature 2>&1)
ok $? "delete a branch by push"
expect_eq "$(head_of user/g feature)" "" "... it is gone"

# ---- pull requests: refs/pr/N of an existing PR takes pushes, a missing one does not
printf '{"key":"header","value":{"summary":"a pr"}}\n{"key":"file","value":{"content":"cHI=","path":"pr.txt","encoding":"base64"}}\n' | nd
commit_post "/api/models/user/g/commit/main?create_pr=1"
expect_eq "$STATUS $(jq_ 'j["pullRequestUrl"]')" "200 $G/discussions/1" "open PR #1 with a commit"
g write fetch -q origin refs/pr/1 2>/dev/null
git checkout -q FETCH_HEAD
printf 'from git\n' >pr-git.txt
git add pr-git.txt && git commit -qm "pushed to the PR"
out=$(g write push -q origin HEAD:refs/pr/1 2>&1)
rc=$?
ok $rc "push to refs/pr/1"
[ $rc -eq 0 ] || diag_out "$out"
expect_eq "$(head_of user/g refs/pr/1)" "$(git rev-parse HEAD)" "... the API sees the PR's new head"
out=$(g write push origin HEAD:refs/pr/7 2>&1)
refused "a push to refs/pr/7 (no such PR)" "$out" $? "" "$(head_of user/g refs/pr/7)" "refs/pr/7 does not exist"
git checkout -q main

# ---- chunked: a body above http.postBuffer goes as Transfer-Encoding: chunked
head -c 300000 /dev/urandom | base64 >chunky.txt
git add chunky.txt && git commit -qm "a bigger pack"
out=$(GIT_TRACE_CURL="$TEST_TMP/curl.trace" GIT_TRACE_CURL_NO_DATA=1 \
    g write -c http.postBuffer=1024 push -q origin main 2>&1)
rc=$?
ok $rc "chunked push (http.postBuffer=1024)"
[ $rc -eq 0 ] || diag_out "$out"
grep -qi 'Transfer-Encoding: chunked' "$TEST_TMP/curl.trace"
ok $? "... git did send it chunked"
expect_eq "$(head_of user/g)" "$(git rev-parse HEAD)" "... and it landed"

# ---- a client that goes away mid-request: its backend is stopped and reaped
mkfifo "$TEST_TMP/slow"
curl -s -u "user:$TOKEN" -H 'Content-Type: application/x-git-receive-pack-request' \
    -X POST -T "$TEST_TMP/slow" "$G/git-receive-pack" -o /dev/null &
CURL=$!
exec 9>"$TEST_TMP/slow"
for _ in $(seq 1 100); do [ -n "$(ps -o pid= --ppid "$HUB_PID")" ] && break; sleep 0.05; done
[ -n "$(ps -o pid= --ppid "$HUB_PID")" ]
ok $? "a push whose body is still coming has a running backend"
kill "$CURL"
wait "$CURL" 2>/dev/null
exec 9>&-
for _ in $(seq 1 100); do [ -z "$(ps -o pid= --ppid "$HUB_PID")" ] && break; sleep 0.05; done
expect_eq "$(ps -o pid=,stat=,comm= --ppid "$HUB_PID")" "" "... the client going away ends it (no process left, no zombie)"

# ---- a long history: 1,000 commits pushed at once, cloned, then fetched incrementally
cd "$TEST_TMP" || exit 1
g write clone -q "$HUB_URL/user/hist" h1 2>/dev/null
cd h1 || exit 1
{
    for i in $(seq 1 1000); do
        printf 'commit refs/heads/main\ncommitter t <t@example.invalid> %d +0000\ndata 5\nc%04d\n' \
            $((1700000000 + i)) "$i"
        [ "$i" -eq 1 ] && printf 'from refs/heads/main^0\n'
        printf 'M 100644 inline counter.txt\ndata %d\n%d\n\n' $((${#i} + 1)) "$i"
        printf 'M 100644 inline d%d/f.txt\ndata 2\n%d\n\n' $((i % 10)) $((i % 10))
    done
} | git fast-import --quiet
git reset -q --hard main
expect_eq "$(git rev-list --count main)" "1001" "fast-import built 1,000 commits on the initial one"
start=$(date +%s%N)
out=$(g write push -q origin main 2>&1)
rc=$?
ok $rc "push 1,000 commits at once"
[ $rc -eq 0 ] || diag_out "$out"
diag "the 1,000-commit push took $((($(date +%s%N) - start) / 1000000)) ms"
req GET "/api/models/user/hist/commits/main?limit=1"
expect_eq "$(hdr X-Total-Count)" "1001" "the API counts 1,001 commits"
cd "$TEST_TMP" || exit 1
out=$(g write clone -q "$HUB_URL/user/hist" h2 2>&1)
ok $? "clone the long history"
expect_eq "$(git -C h2 rev-list --count HEAD)" "1001" "... all of it"
cd h1 || exit 1
for i in 1 2 3 4 5; do printf 'new file %d\n' "$i" >"new$i.txt"; git add "new$i.txt"; git commit -qm "new $i"; done
g write push -q origin main 2>/dev/null
cd "$TEST_TMP/h2" || exit 1
git count-objects -v >"$TEST_TMP/objs.before"
out=$(GIT_TRACE_PACKET="$TEST_TMP/packet.trace" g write fetch -q origin 2>&1)
ok $? "incremental fetch after 5 more commits"
expect_eq "$(git rev-list --count origin/main)" "1006" "... it brings them"
loose=$(git count-objects -v | sed -n 's/^count: //p')
[ "$loose" -ge 15 ] && [ "$loose" -le 20 ]
ok $? "... and only their objects: $loose new objects (5 commits, trees, blobs)"
grep -q 'protocol v2\|version 2' "$TEST_TMP/packet.trace"
ok $? "... over git protocol v2 (Git-Protocol reaches the backend)"

cd "$TEST_TMP" || exit 1
expect_eq "$(ps -o pid=,stat=,comm= --ppid "$HUB_PID")" "" "no backend or hook process is left (every child reaped)"
hub_stop
done_testing
