# The local hub over HTTP: preupload, NDJSON commits (both clients' encodings, deletes,
# parentCommit, no-op, PRs, every refusal), tree listing with pagination, paths-info, resolve.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

hub_start || { done_testing; exit 1; }
READ=$("$HFSYNC" hub token create reader --role read --root "$HUB_ROOT")
R=/api/models/tester/files
create_repo tester/files
expect_status 200 "create the repo"
areq GET $R
HEAD0=$(jq_ 'j["sha"]')

# ---- preupload
areq POST $R/preupload/main -H 'Content-Type: application/json' -d '{"files":[
  {"path":"a.txt","size":6,"sample":"'"$(b64 'hello\n')"'"},
  {"path":"w.bin","size":11,"sample":"'"$(b64 'binary-ish!')"'"},
  {"path":"raw.dat","size":4,"sample":"AAECAw=="},
  {"path":"huge.txt","size":20971520,"sample":"'"$(b64 'just text')"'"},
  {"path":"empty.bin","size":0,"sample":""},
  {"path":"debug.log","size":3,"sample":"'"$(b64 abc)"'"}],
  "gitIgnore":"*.log\n"}'
expect_status 200 "preupload"
expect_eq "$(jq_ '[f["uploadMode"] for f in j["files"]]')" '["regular", "lfs", "lfs", "lfs", "regular", "regular"]' \
    "uploadMode: text regular, *.bin (default .gitattributes) lfs, binary sample lfs, >10 MiB lfs, empty regular"
expect_eq "$(jq_ '[f["shouldIgnore"] for f in j["files"]]')" '[false, false, false, false, false, true]' \
    "shouldIgnore from the gitIgnore sent in the body"
expect_eq "$(jq_ 'j["commitOid"]')" "$HEAD0" "commitOid is the revision's head"
expect_eq "$(jq_ '"oid" in j["files"][0]')" "false" "no oid for a path that does not exist yet"
areq POST $R/preupload/main -d '{"files":[{"path":"notes.txt","size":2,"sample":"aGk="}],
  "gitAttributes":"*.txt filter=lfs diff=lfs merge=lfs -text\n"}'
expect_eq "$(jq_ 'j["files"][0]["uploadMode"]')" "lfs" "gitAttributes sent in the body decide (JS)"
req POST $R/preupload/main -H "Authorization: Bearer $READ" -d '{"files":[]}'
expect_status 403 "preupload to main with a read-only token is 403"
req POST "$R/preupload/main?create_pr=1" -H "Authorization: Bearer $READ" -d '{"files":[]}'
expect_status 200 "preupload with create_pr=1 needs only read access"
areq POST $R/preupload/main -d '{"files":[{"path":"../x","size":1,"sample":"eA=="}]}'
expect_status 422 "preupload of a path with '..' is 422"
many=$(python3 -c 'import json; print(json.dumps({"files":[{"path":"f%d"%i,"size":1,"sample":"eA=="} for i in range(257)]}))')
areq POST $R/preupload/main -d "$many"
expect_status 400 "more than 256 files in one preupload is 400"
areq POST $R/preupload/nobranch -d '{"files":[]}'
expect_status 404 "preupload to a missing revision is 404"
expect_eq "$(hdr X-Error-Code)" "RevisionNotFound" "... RevisionNotFound"

# ---- commits: both clients' encodings
commit_ndjson $R/commit/main <<EOF
{"key":"header","value":{"summary":"seed"}}
{"key":"file","value":{"content":"$(b64 'to be deleted
')","path":"old.txt","encoding":"base64"}}
EOF
expect_status 200 "JS-style commit: compact, no description, no trailing newline"
SEED=$(jq_ 'j["commitOid"]')
expect_eq "$(jq_ 'j["success"]')" "true" "commit: success"
expect_eq "$(jq_ 'j["commitUrl"]')" "$HUB_URL/tester/files/commit/$SEED" "commitUrl splits on /commit/ into the repo URL"
expect_eq "$(jq_ 'j["hookOutput"]')" "" "commit: hookOutput"
expect_eq "$(jq_ '"pullRequestUrl" in j')" "false" "no pullRequestUrl without create_pr"
printf '%s\n%s\n%s\n%s\n' \
  '{"key": "header", "value": {"summary": "py style", "description": ""}}' \
  '{"key": "file", "value": {"content": "'"$(b64 'hello from python
')"'", "path": "dir/a.txt", "encoding": "base64"}}' \
  '{"key": "file", "value": {"content": "plain utf-8 text", "path": "dir/sub/b.txt", "encoding": "utf-8"}}' \
  '{"key": "file", "value": {"content": "'"$(b64 x)"'", "path": "other/c.txt", "encoding": "base64"}}' | nd; commit_post $R/commit/main
expect_status 200 "Py-style commit: spaces, description, trailing newline"
PY=$(jq_ 'j["commitOid"]')
req GET /tester/files/resolve/main/dir/sub/b.txt
expect_eq "$BODY" "plain utf-8 text" "an utf-8 encoded file keeps its bytes"

printf '{"key":"header","value":{"summary":"same again","description":""}}\n{"key":"file","value":{"content":"%s","path":"dir/a.txt","encoding":"base64"}}\n' \
  "$(b64 'hello from python
')" | nd; commit_post $R/commit/main
expect_status 200 "a commit that changes nothing succeeds"
expect_eq "$(jq_ 'j["commitOid"]')" "$PY" "... and returns the current head, creating no commit"

printf '{"key":"header","value":{"summary":"stale","parentCommit":"%s"}}\n{"key":"file","value":{"content":"eA==","path":"z.txt","encoding":"base64"}}\n' \
  "$SEED" | nd; commit_post $R/commit/main
expect_status 412 "a stale parentCommit is 412"
printf '{"key":"header","value":{"summary":"fresh","parentCommit":"%s"}}\n{"key":"file","value":{"content":"eA==","path":"z.txt","encoding":"base64"}}\n' \
  "${PY:0:12}" | nd; commit_post $R/commit/main
expect_status 200 "parentCommit equal to the head (abbreviated) commits"

printf '{"key":"header","value":{"summary":"rm"}}\n{"key":"deletedFile","value":{"path":"old.txt"}}\n{"key":"deletedFile","value":{"path":"dir/sub"}}\n{"key":"deletedFolder","value":{"path":"other/"}}\n' | nd; commit_post $R/commit/main
expect_status 200 "deletedFile (a file and a folder) and deletedFolder with a trailing /"
areq POST $R/paths-info/main -d 'paths=old.txt&paths=dir/sub/b.txt&paths=other/c.txt&paths=dir/a.txt'
expect_eq "$(jq_ '[e["path"] for e in j]')" '["dir/a.txt"]' "... all three are gone, the rest stays"
printf '{"key":"header","value":{"summary":"rm"}}\n{"key":"deletedFile","value":{"path":"never.txt"}}\n' | nd; commit_post $R/commit/main
expect_status 404 "deleting a missing file is 404"
expect_eq "$(hdr X-Error-Code)" "EntryNotFound" "... EntryNotFound"

# ---- commits: refusals
printf '{"key":"header","value":{"summary":"x"}}\nthis is not json\n' | nd; commit_post $R/commit/main
expect_status 400 "malformed NDJSON is 400"
expect_contains "$(jq_ 'j["error"]')" "commit line 2 is not valid JSON" "... naming the line"
printf '{"key":"file","value":{"content":"eA==","path":"x","encoding":"base64"}}\n' | nd; commit_post $R/commit/main
expect_status 400 "a body without a header line is 400"
expect_contains "$(jq_ 'j["error"]')" "first line must be the \"header\"" "... saying the header comes first"
printf '{"key":"header","value":{"summary":""}}\n' | nd; commit_post $R/commit/main
expect_status 400 "an empty summary is 400"
printf '{"key":"header","value":{"summary":"x"}}\n{"key":"rename","value":{"path":"x"}}\n' | nd; commit_post $R/commit/main
expect_status 400 "an unknown line key is 400"
: | nd; commit_post $R/commit/main
expect_status 400 "an empty body is 400"
for bad in '../escape.txt' '/abs.txt' '.git/config' 'a/.git/b' 'a/../b' '..\\ddd'; do
    printf '{"key":"header","value":{"summary":"x"}}\n{"key":"file","value":{"content":"eA==","path":"%s","encoding":"base64"}}\n' "$bad" | nd; commit_post $R/commit/main
    expect_status 422 "path '$bad' is 422"
done
printf '{"key":"header","value":{"summary":"x"}}\n{"key":"lfsFile","value":{"path":"m.bin","algo":"sha256","oid":"%s","size":5}}\n' \
  "$(printf 'absent' | sha256sum | cut -d' ' -f1)" | nd; commit_post $R/commit/main
expect_status 400 "an lfsFile whose object was never uploaded is 400"
expect_contains "$(jq_ 'j["error"]')" "does not exist" "... saying the object does not exist"
head -c 11000000 /dev/zero | tr '\0' 'a' > "$TEST_TMP/big.txt"
python3 - "$TEST_TMP/big.txt" > "$TEST_TMP/big.ndjson" <<'PY'
import base64, json, sys
print(json.dumps({"key": "header", "value": {"summary": "too big"}}))
print(json.dumps({"key": "file", "value": {"path": "big.txt", "encoding": "base64",
      "content": base64.b64encode(open(sys.argv[1], "rb").read()).decode()}}))
PY
areq POST $R/commit/main --data-binary @"$TEST_TMP/big.ndjson"
expect_status 400 "a regular file over 10 MiB is 400 (the body is spooled to disk)"
expect_contains "$(jq_ 'j["error"]')" "larger than 10 MiB" "... with the hub's message"
req POST $R/commit/main -H "Authorization: Bearer $READ" --data-binary @"$TEST_TMP/commit.ndjson"
expect_status 403 "a read-only token cannot commit to main"
req POST $R/commit/main --data-binary @"$TEST_TMP/commit.ndjson"
expect_status 401 "an anonymous commit is 401"
printf '{"key":"header","value":{"summary":"x"}}\n' | nd; commit_post $R/commit/nope
expect_status 404 "a commit to a missing branch is 404"
expect_eq "$(hdr X-Error-Code)" "RevisionNotFound" "... RevisionNotFound"
printf '{"key":"header","value":{"summary":"x"}}\n' | nd; commit_post /api/models/tester/missing/commit/main
expect_status 404 "a commit to a missing repo is 404"
expect_eq "$(hdr X-Error-Code)" "RepoNotFound" "... RepoNotFound"

# ---- LFS files in commits, .gitattributes upkeep
printf 'weights' > "$TEST_TMP/w.custom"
lfs_upload /tester/files "$TEST_TMP/w.custom"
expect_status 200 "upload an LFS object"
OID=$(sha256_of "$TEST_TMP/w.custom")
printf '{"key":"header","value":{"summary":"lfs"}}\n{"key":"lfsFile","value":{"path":"m/w.custom","algo":"sha256","oid":"%s","size":8}}\n' "$OID" | nd; commit_post $R/commit/main
expect_status 400 "an lfsFile whose size does not match the object is 400"
printf '{"key":"header","value":{"summary":"lfs"}}\n{"key":"lfsFile","value":{"path":"m/w.custom","algo":"sha256","oid":"%s"}}\n' "$OID" | nd; commit_post $R/commit/main
expect_status 200 "an lfsFile without size (Py copies) commits"
req GET /tester/files/resolve/main/.gitattributes
expect_contains "$BODY" "m/w.custom filter=lfs diff=lfs merge=lfs -text" ".gitattributes gains a line for an LFS path its rules miss"
areq POST $R/paths-info/main -H 'Content-Type: application/json' -d '{"paths":["m/w.custom"],"expand":false}'
expect_eq "$(jq_ 'j[0]["lfs"]["oid"] + " " + str(j[0]["size"])')" "$OID 7" "paths-info (JSON body) shows lfs.oid and the real size"
areq POST $R/preupload/main -d '{"files":[{"path":"m/w.custom","size":7,"sample":"d2VpZ2h0cw=="},{"path":"dir/a.txt","size":18,"sample":"eA=="}]}'
expect_eq "$(jq_ '[f.get("oid") for f in j["files"]]')" '["'"$OID"'", "'"$(printf 'hello from python\n' | git hash-object --stdin)"'"]' \
    "preupload oid: sha256 for an LFS path, git blob sha1 for a regular one"
printf '{"key":"header","value":{"summary":"mv"}}\n{"key":"file","value":{"path":"dir/renamed.txt","oldPath":"dir/a.txt"}}\n' | nd; commit_post $R/commit/main
expect_status 200 "a file line with oldPath and no content renames (JS)"
req GET /tester/files/resolve/main/dir/renamed.txt
expect_eq "$BODY" "hello from python" "... the content moved"

# ---- pull requests
printf '{"key":"header","value":{"summary":"my pr","description":"please"}}\n{"key":"file","value":{"content":"cHI=","path":"pr.txt","encoding":"base64"}}\n' | nd; req POST "$R/commit/main?create_pr=1" -H "Authorization: Bearer $READ" --data-binary @"$TEST_TMP/commit.ndjson"
expect_status 200 "create_pr=1 with a read-only token opens a PR"
expect_eq "$(jq_ 'j["pullRequestUrl"]')" "$HUB_URL/tester/files/discussions/1" "pullRequestUrl ends in /discussions/N"
PR_HEAD=$(jq_ 'j["commitOid"]')
expect_eq "$(test -f "$HUB_ROOT/discussions/models/tester/files/1.json" && echo yes)" "yes" "the PR is recorded under ROOT/discussions"
req GET "$R/refs?include_prs=true"
expect_eq "$(jq_ '[p["ref"] for p in j["pullRequests"]]')" '["refs/pr/1"]' "refs lists refs/pr/1"
req GET /tester/files/resolve/main/pr.txt
expect_status 404 "the PR's file is not on main"
printf '{"key":"header","value":{"summary":"more"}}\n{"key":"file","value":{"content":"bW9yZQ==","path":"pr2.txt","encoding":"base64"}}\n' | nd; req POST "$R/commit/refs%2Fpr%2F1" -H "Authorization: Bearer $READ" --data-binary @"$TEST_TMP/commit.ndjson"
expect_status 200 "a commit to refs%2Fpr%2F1 adds to the PR"
req GET "$R/tree/refs/pr/1?recursive=false"
expect_status 200 "tree of a raw refs/pr/1 revision (JS listFiles)"
expect_contains "$(jq_ '[e["path"] for e in j]')" '"pr2.txt"' "... shows the PR's files"
req GET "/tester/files/resolve/refs%2Fpr%2F1/pr.txt"
expect_eq "$BODY" "pr" "resolve with a quoted PR revision"

# ---- tree
python3 - > "$TEST_TMP/many.ndjson" <<'PY'
import json
print(json.dumps({"key": "header", "value": {"summary": "many files"}}))
for i in range(1200):
    print(json.dumps({"key": "file", "value": {"path": "many/f%04d.txt" % i, "encoding": "utf-8", "content": str(i)}}))
PY
areq POST $R/commit/main --data-binary @"$TEST_TMP/many.ndjson"
expect_status 200 "commit 1200 files in one folder"
req GET "$R/tree/main?recursive=false&expand=false"
expect_eq "$(jq_ 'sorted((e["type"], e["path"]) for e in j if e["path"] in ("many", "dir"))')" '[["directory", "dir"], ["directory", "many"]]' \
    "non-recursive listing shows folders as type directory"
req GET "$R/tree/main?recursive=true&expand=false"
first=$(jq_ 'len(j)')
next=$(hdr Link | sed -n 's/^<\([^>]*\)>; rel="next"$/\1/p')
expect_eq "$first" "1000" "recursive listing: pages of 1000"
expect_contains "$next" "$HUB_URL$R/tree/main?recursive=true&expand=false&cursor=" "Link: next page, an absolute URL keeping the query"
req GET "$next"
expect_status 200 "follow the Link"
total=$((first + $(jq_ 'len(j)')))
expect_eq "$(hdr Link)" "" "the last page has no Link"
expect_eq "$total" "$(( 1200 + 7 ))" "all entries across the pages (files and folders)"
req GET "$R/tree/main/many?expand=true"
expect_eq "$(jq_ 'len(j)')" "50" "expand=true pages by 50"
expect_eq "$(jq_ 'sorted(j[0]["lastCommit"].keys())')" '["date", "id", "title"]' "expand adds lastCommit"
expect_eq "$(jq_ 'j[0]["securityFileStatus"]["status"]')" "safe" "expand adds securityFileStatus"
req GET "$R/tree/main/dir?recursive=False&expand=False"
expect_eq "$(jq_ '[e["path"] for e in j]')" '["dir/renamed.txt"]' "tree of a folder (raw path, Py <1.0 booleans)"
areq POST $R/branch/feat%2Fx
req GET "$R/tree/feat/x/dir"
expect_eq "$(jq_ '[e["path"] for e in j]')" '["dir/renamed.txt"]' "a raw branch name with '/' (feat/x) is found"
req GET "$R/tree/main/m%2Fnothing"
expect_status 404 "tree of a missing folder is 404"
expect_eq "$(hdr X-Error-Code)" "EntryNotFound" "... EntryNotFound"
req GET "$R/tree/nobranch"
expect_eq "$STATUS $(hdr X-Error-Code)" "404 RevisionNotFound" "tree of a missing revision is 404 RevisionNotFound"

# ---- paths-info
areq POST $R/paths-info/main -d 'paths=dir%2Frenamed.txt&paths=missing.txt&paths=many&expand=False'
expect_eq "$(jq_ 'sorted((e["type"], e["path"]) for e in j)')" '[["directory", "many"], ["file", "dir/renamed.txt"]]' \
    "paths-info (form, Py): files and folders, missing paths left out"
areq POST $R/paths-info/main -H 'Content-Type: application/json' -d '{"paths":["dir/renamed.txt"],"expand":true}'
expect_eq "$(jq_ '"lastCommit" in j[0]')" "true" "paths-info expand=true adds lastCommit"
toomany=$(python3 -c 'print("&".join("paths=p%d" % i for i in range(1001)))')
areq POST $R/paths-info/main -d "$toomany"
expect_status 413 "more than 1000 paths is 413"

# ---- resolve
req GET /tester/files/resolve/main/dir/renamed.txt
expect_status 200 "resolve a regular file"
expect_eq "$(hdr ETag)" "\"$(printf 'hello from python\n' | git hash-object --stdin)\"" "ETag is the git blob sha1"
expect_eq "$(hdr X-Repo-Commit | wc -c)" "41" "X-Repo-Commit"
req HEAD /tester/files/resolve/main/dir/renamed.txt -I
expect_eq "$STATUS $(hdr Content-Length)" "200 18" "HEAD: status and length, no body"
req GET /tester/files/resolve/main/dir/renamed.txt -H 'Range: bytes=0-0'
expect_eq "$STATUS $(hdr Content-Range) $BODY" "206 bytes 0-0/18 h" "Range 0-0 (JS fileDownloadInfo)"
req GET /tester/files/resolve/main/dir/renamed.txt -H 'Range: bytes=-3'
expect_eq "$STATUS $BODY" "206 on" "a suffix range"
req GET /tester/files/resolve/main/dir/renamed.txt -H 'Range: bytes=50-'
expect_eq "$STATUS $(hdr Content-Range)" "416 bytes */18" "a range past the end is 416"
req GET /tester/files/resolve/main/m/w.custom
expect_eq "$STATUS $(hdr X-Linked-Size) $(hdr X-Linked-Etag)" "302 7 \"$OID\"" "LFS: 302 with X-Linked-Size and X-Linked-Etag"
loc=$(hdr Location)
expect_contains "$loc" "$HUB_URL/lfs-files/$OID?" "Location: the LFS object, absolute URL"
req GET "$loc"
expect_eq "$STATUS $BODY" "200 weights" "the LFS download serves the object"
req GET "$(tamper "$loc")"
expect_status 403 "a tampered download URL is 403"
req GET "$HUB_URL/lfs-files/$OID"
expect_status 403 "an unsigned download URL is 403"
req GET /tester/files/raw/main/m/w.custom
expect_eq "$STATUS $(printf '%s' "$BODY" | head -1)" "200 version https://git-lfs.github.com/spec/v1" "raw/ of an LFS file serves its pointer"
expect_contains "$BODY" "oid sha256:$OID" "... naming the object"
req HEAD /tester/files/raw/main/dir/renamed.txt -I
expect_eq "$STATUS $(hdr Content-Length)" "200 18" "HEAD raw/ of a regular file (JS fileExists)"
req HEAD /tester/files/raw/main/nothing.txt -I
expect_status 404 "HEAD raw/ of a missing file is 404"
req GET /tester/files/resolve/main/nothing.txt
expect_eq "$STATUS $(hdr X-Error-Code)" "404 EntryNotFound" "resolving a missing file is 404 EntryNotFound"
req GET /tester/files/resolve/main/dir
expect_status 404 "resolving a folder is 404"
req GET /tester/files/resolve/nobranch/a.txt
expect_eq "$STATUS $(hdr X-Error-Code)" "404 RevisionNotFound" "resolving on a missing revision is 404 RevisionNotFound"

hub_stop
done_testing
