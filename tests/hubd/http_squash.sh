# The local hub's history rewrites over HTTP: super-squash (one commit, same tree, other refs
# untouched), tags (create, list, resolve, delete); and hub fixes: expand on one tree page
# only, renaming an LFS file keeps it LFS, stale ref locks cleared at start, repo ids
# case-insensitive.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

hub_start || { done_testing; exit 1; }
READ=$("$HFSYNC" hub token create reader --role read --root "$HUB_ROOT")
R=/api/models/tester/sq
J='Content-Type: application/json'
create_repo tester/sq
expect_status 200 "create the repo"

# commit_file REV PATH TEXT: a one-file commit; COID gets its oid.
commit_file() {
    printf '{"key":"header","value":{"summary":"set %s"}}\n{"key":"file","value":{"path":"%s","content":"%s","encoding":"base64"}}\n' \
        "$2" "$2" "$(b64 "$3")" | nd
    commit_post "$R/commit/$1"
    COID=$(jq_ 'j.get("commitOid","")')
}
# tree_of REV: the recursive listing (paths and oids), to compare trees across commits.
tree_of() {
    areq GET "$R/tree/$1?recursive=true"
    jq_ '[(e["path"], e["oid"]) for e in j]'
}

commit_file main file.txt "content"
commit_file main lfs.bin "binary"
commit_file main file.txt "another content"
areq POST $R/branch/v0.1 -H "$J" -d '{}'
expect_status 200 "create branch v0.1"
commit_file v0.1 file.txt "foo"
V01=$COID
TREE_MAIN=$(tree_of main)

# ---- super-squash
areq POST $R/super-squash/main -H "$J" -d '{"message":"Super-squash branch '"'"'main'"'"' using huggingface_hub"}'
expect_status 200 "super-squash main"
SQ=$(jq_ 'j["commitOid"]')
expect_eq "${#SQ}" "40" "the answer carries the new commit oid"
areq GET "$R/commits/main"
expect_eq "$(jq_ '[[c["id"], c["title"]] for c in j]')" "[[\"$SQ\", \"Super-squash branch 'main' using huggingface_hub\"]]" \
    "main's history is that one commit, with the message"
expect_eq "$(tree_of main)" "$TREE_MAIN" "... and the same tree"
req GET /tester/sq/resolve/main/file.txt
expect_eq "$BODY" "another content" "files still resolve"
areq GET "$R/commits/v0.1"
expect_eq "$(jq_ '[len(j), j[0]["id"], j[-1]["title"]]')" "[5, \"$V01\", \"initial commit\"]" \
    "the other branch keeps its 5 commits down to the initial commit"
areq POST $R/super-squash/v0.1
expect_status 200 "super-squash v0.1 without a body"
areq GET "$R/commits/v0.1"
expect_eq "$(jq_ '[len(j), j[0]["title"]]')" "[1, \"Super-squash branch 'v0.1'\"]" "one commit, with the default message"
printf '{"key":"header","value":{"summary":"on a PR"}}\n{"key":"file","value":{"path":"pr.txt","content":"%s","encoding":"base64"}}\n' "$(b64 one)" | nd
commit_post "$R/commit/main?create_pr=1"
commit_file refs%2Fpr%2F1 pr.txt "two"
areq POST "$R/super-squash/refs%2Fpr%2F1" -H "$J" -d '{"message":"squashed PR"}'
expect_status 200 "super-squash refs/pr/1 (quoted)"
areq GET "$R/commits/refs%2Fpr%2F1"
expect_eq "$(jq_ 'len(j)')" "1" "the PR ref is one commit"
req GET /tester/sq/resolve/refs%2Fpr%2F1/pr.txt
expect_eq "$BODY" "two" "... with the PR's content"
areq POST $R/super-squash/nope -H "$J" -d '{"message":"x"}'
expect_status 404 "super-squash of a missing branch is 404"
expect_eq "$(hdr X-Error-Code)" "RevisionNotFound" "... RevisionNotFound"
req POST $R/super-squash/main -H "Authorization: Bearer $READ" -H "$J" -d '{"message":"x"}'
expect_status 403 "super-squash with a read-only token is 403"
req POST $R/super-squash/main -H "$J" -d '{"message":"x"}'
expect_status 401 "... and without a token it is 401"

# ---- tags
areq GET $R
MAIN=$(jq_ 'j["sha"]')
areq POST $R/tag/main -H "$J" -d '{"tag":"v1","message":"This is a tag message."}'
expect_status 200 "tag main (annotated)"
areq GET $R/revision/v1
expect_eq "$(jq_ 'j["sha"]')" "$MAIN" "the tag resolves to main's head"
areq POST "$R/tag/refs%2Fpr%2F1" -H "$J" -d '{"tag":"on-pr"}'
expect_status 200 "tag a PR ref (lightweight)"
areq GET "$R/revision/refs%2Fpr%2F1"
PR1=$(jq_ 'j["sha"]')
areq POST "$R/tag/${V01:0:7}" -H "$J" -d '{"tag":"old"}'
expect_status 200 "tag an abbreviated commit oid"
areq GET $R/refs
expect_eq "$(jq_ '[[t["name"], t["ref"], t["targetCommit"]] for t in j["tags"]]')" \
    "[[\"old\", \"refs/tags/old\", \"$V01\"], [\"on-pr\", \"refs/tags/on-pr\", \"$PR1\"], [\"v1\", \"refs/tags/v1\", \"$MAIN\"]]" \
    "refs lists the tags, each with its commit"
areq POST $R/tag/main -H "$J" -d '{"tag":"v1"}'
expect_status 409 "tagging an existing tag again is 409"
areq POST $R/tag/main -H "$J" -d '{"tag":"invalid tag"}'
expect_status 400 "a tag name git refuses is 400"
areq POST $R/tag/foobar -H "$J" -d '{"tag":"v2"}'
expect_status 404 "tagging a missing revision is 404"
expect_eq "$(hdr X-Error-Code)" "RevisionNotFound" "... RevisionNotFound"
req POST $R/tag/main -H "Authorization: Bearer $READ" -H "$J" -d '{"tag":"v3"}'
expect_status 403 "tagging with a read-only token is 403"
areq POST $R/super-squash/v1 -H "$J" -d '{"message":"x"}'
expect_status 400 "a tag cannot be super-squashed"
areq DELETE $R/tag/v1
expect_status 200 "delete tag v1"
areq GET $R/revision/v1
expect_status 404 "the deleted tag no longer resolves"
areq DELETE $R/tag/v1
expect_status 404 "deleting a missing tag is 404"
expect_eq "$(hdr X-Error-Code)" "RevisionNotFound" "... RevisionNotFound"
areq DELETE $R/tag/main
expect_status 404 "deleting a tag named like a branch is 404 (it is no tag)"

# ---- fix: expand looks up last commits for the page it sends only
T=/api/models/tester/big
create_repo tester/big
python3 -c '
import base64, json
print(json.dumps({"key": "header", "value": {"summary": "first half"}}))
for i in range(30):
    print(json.dumps({"key": "file", "value": {"path": "d/f%02d.txt" % i, "content": base64.b64encode(b"a%d" % i).decode(), "encoding": "base64"}}))' | nd
commit_post $T/commit/main
FIRST=$(jq_ 'j["commitOid"]')
python3 -c '
import base64, json
print(json.dumps({"key": "header", "value": {"summary": "second half"}}))
for i in range(30, 60):
    print(json.dumps({"key": "file", "value": {"path": "d/f%02d.txt" % i, "content": base64.b64encode(b"b%d" % i).decode(), "encoding": "base64"}}))' | nd
commit_post $T/commit/main
SECOND=$(jq_ 'j["commitOid"]')
areq GET "$T/tree/main/d?expand=true"
expect_eq "$(jq_ '[len(j), sorted(set(e["lastCommit"]["id"] for e in j[:30])) == ["'"$FIRST"'"], sorted(set(e["lastCommit"]["id"] for e in j[30:])) == ["'"$SECOND"'"]]')" \
    "[50, true, true]" "expand: page 1 has 50 entries, each with the commit that last touched it"
NEXT=$(hdr Link | sed -e 's/^<//' -e 's/>.*//')
areq GET "$NEXT"
expect_eq "$(jq_ '[len(j), j[0]["path"], sorted(set(e["lastCommit"]["id"] for e in j)) == ["'"$SECOND"'"], j[0]["lastCommit"]["title"]]')" \
    '[10, "d/f50.txt", true, "second half"]' "expand: page 2 is expanded too, with the right commits"

# ---- fix: a rename (oldPath, no content) of an LFS file stays an LFS file
head -c 2048 /dev/urandom >"$TEST_TMP/w.dat"
W=$(sha256_of "$TEST_TMP/w.dat")
lfs_upload /tester/sq "$TEST_TMP/w.dat"
printf '{"key":"header","value":{"summary":"weights"}}\n{"key":"lfsFile","value":{"path":"weights/model.dat","algo":"sha256","oid":"%s","size":2048}}\n' "$W" | nd
commit_post $R/commit/main
areq POST $R/paths-info/main -H "$J" -d '{"paths":["weights/model.dat"]}'
BLOB=$(jq_ 'j[0]["oid"]')
printf '{"key":"header","value":{"summary":"rename"}}\n{"key":"file","value":{"path":"weights/renamed.dat","oldPath":"weights/model.dat"}}\n' | nd
commit_post $R/commit/main
expect_status 200 "rename an LFS file with oldPath and no content"
areq POST $R/paths-info/main -H "$J" -d '{"paths":["weights/model.dat","weights/renamed.dat"]}'
expect_eq "$(jq_ '[[e["path"], e["oid"], e.get("lfs", {}).get("oid"), e["size"]] for e in j]')" \
    "[[\"weights/renamed.dat\", \"$BLOB\", \"$W\", 2048]]" "the new path holds the same pointer blob, as LFS; the old path is gone"
req GET /tester/sq/resolve/main/.gitattributes
expect_contains "$BODY" "weights/renamed.dat filter=lfs diff=lfs merge=lfs -text" ".gitattributes tracks the new path"
req GET /tester/sq/resolve/main/weights/renamed.dat -L
cmp -s "$TEST_TMP/body" "$TEST_TMP/w.dat"
ok $? "resolve serves the LFS content at the new path"
printf '{"key":"header","value":{"summary":"rename text"}}\n{"key":"file","value":{"path":"moved.txt","oldPath":"file.txt"}}\n' | nd
commit_post $R/commit/main
req GET /tester/sq/resolve/main/moved.txt
expect_eq "$BODY" "another content" "a regular file's rename keeps its bytes"

# ---- fix: repo ids are case-insensitive
create_repo tester/CaseRepo
expect_status 200 "create tester/CaseRepo"
create_repo tester/caserepo
expect_status 409 "creating tester/caserepo then is 409"
areq GET /api/models/TESTER/caserepo
expect_status 200 "GET with another case finds it"
expect_eq "$(jq_ 'j["id"]')" "tester/CaseRepo" "... and answers with the spelling it was created with"
printf '{"key":"header","value":{"summary":"x"}}\n{"key":"file","value":{"path":"x.txt","content":"eA==","encoding":"base64"}}\n' | nd
commit_post /api/models/tester/caserepo/commit/main
expect_status 200 "commit through another spelling"
req GET /Tester/CASEREPO/resolve/main/x.txt
expect_eq "$BODY" "x" "resolve through a third"

# ---- fix: stale ref locks (a crash's leftovers) are removed at start; old mixed-case paths move
hub_stop
touch "$HUB_ROOT/repos/models/tester/sq.git/refs/heads/main.lock"
mv "$HUB_ROOT/repos/models/tester/big.git" "$HUB_ROOT/repos/models/tester/Big.git"
mv "$HUB_ROOT/repos/models/tester/big.json" "$HUB_ROOT/repos/models/tester/Big.json"
hub_start
expect_contains "$(cat "$TEST_TMP/hub.err")" "sq.git/refs/heads/main.lock" "the hub logs the stale lock it removed"
ok "$([ ! -e "$HUB_ROOT/repos/models/tester/sq.git/refs/heads/main.lock" ]; echo $?)" "the lock file is gone"
started=$(date +%s)
commit_file main after-crash.txt "ok"
expect_status 200 "main takes commits again after the restart"
expect_eq "$(( $(date +%s) - started < 5 ))" "1" "... at once (a stale lock would stall it 10 s)"
areq GET /api/models/tester/big
expect_status 200 "a repo stored under a mixed-case path before the fix is found after a restart"

hub_stop
done_testing
