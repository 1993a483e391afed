# The local hub's discussions and pull requests over HTTP: open (API and create_pr, shared
# numbers), details with commit events and diff, comment / edit / hide, title, status, the
# list with filters and pages, squash-merge (one commit, conflicts, no changes), access.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

hub_start || { done_testing; exit 1; }
READ=$("$HFSYNC" hub token create reader --role read --root "$HUB_ROOT")
BOB=$("$HFSYNC" hub token create bob --role write --namespace bob --root "$HUB_ROOT")
R=/api/models/tester/disc
create_repo tester/disc
expect_status 200 "create the repo"
areq GET $R
MAIN0=$(jq_ 'j["sha"]')
J='Content-Type: application/json'

# commit_file REV PATH TEXT [SUMMARY]: a one-file commit; COID gets its oid.
commit_file() {
    printf '{"key":"header","value":{"summary":"%s"}}\n{"key":"file","value":{"path":"%s","content":"%s","encoding":"base64"}}\n' \
        "${4:-add $2}" "$2" "$(b64 "$3")" | nd
    commit_post "$R/commit/$1"
    COID=$(jq_ 'j.get("commitOid","")')
}

# ---- a pull request opened through the API
areq POST $R/discussions -H "$J" -d '{"title":"  Add data  ","description":"the description","pullRequest":true}'
expect_status 200 "open a pull request"
expect_eq "$(jq_ 'j["num"]')" "1" "it is #1"
expect_eq "$(jq_ 'j["status"]')" "draft" "a PR opened through the API starts as a draft"
expect_eq "$(jq_ 'j["title"]')" "Add data" "the title is trimmed"
expect_eq "$(jq_ 'j["url"]["web"]')" "$HUB_URL/tester/disc/discussions/1" "url.web"
areq GET "$R/refs?include_prs=1"
expect_eq "$(jq_ '[(p["ref"], p["targetCommit"]) for p in j["pullRequests"]]')" "[[\"refs/pr/1\", \"$MAIN0\"]]" \
    "refs/pr/1 exists and points at main's head"
areq GET $R/discussions/1
expect_status 200 "details"
expect_eq "$(jq_ '[j["num"], j["isPullRequest"], j["status"], j["author"]["name"], j["repo"]]')" \
    '[1, true, "draft", "user", {"name": "tester/disc", "type": "model"}]' "details: num, isPullRequest, status, author, repo"
expect_eq "$(jq_ 'j["changes"]')" '{"base": "refs/heads/main"}' "changes.base is main, no mergeCommitId yet"
expect_eq "$(jq_ 'j["filesWithConflicts"]')" '[]' "no conflicts"
expect_eq "$(jq_ '[(e["type"], e["data"]["latest"]["raw"], e["data"]["edited"], e["data"]["hidden"], e["author"]["name"]) for e in j["events"]]')" \
    '[["comment", "the description", false, false, "user"]]' "the first event is a comment holding the description"
expect_eq "$(jq_ 'len(j["events"][0]["id"]) == 24 and j["createdAt"].endswith("Z")')" "true" "event ids are 24 hex, times ISO 8601"
DESC=$(jq_ 'j["events"][0]["id"]')

# ---- commits to refs/pr/1 (quoted and raw) show as commit events
commit_file refs%2Fpr%2F1 data/a.txt "alpha
" "first PR commit"
expect_status 200 "commit to refs%2Fpr%2F1"
C1=$COID
commit_file refs/pr/1 data/b.txt "beta
" "second PR commit"
expect_status 200 "commit to a raw refs/pr/1"
C2=$COID
areq GET "$R/discussions/1?diff=1"
expect_eq "$(jq_ '[(e["data"]["subject"], e["data"]["oid"]) for e in j["events"] if e["type"] == "commit"]')" \
    "[[\"first PR commit\", \"$C1\"], [\"second PR commit\", \"$C2\"]]" "details list the PR's commits, oldest first"
expect_contains "$(jq_ 'j["diff"]')" "+++ b/data/a.txt" "diff=1 adds a unified diff"
expect_contains "$(jq_ 'j["diff"]')" "+beta" "... with the added lines"
areq GET $R/discussions/1
expect_eq "$(jq_ '"diff" in j')" "false" "no diff without diff=1"

# ---- numbers are shared: a discussion, then a PR opened by a commit
areq POST $R/discussions -H "$J" -d '{"title":"A question","description":"why?"}'
expect_eq "$(jq_ '[j["num"], j["isPullRequest"], j["status"]]')" '[2, false, "open"]' "a discussion is #2, open"
printf '{"key":"header","value":{"summary":"PR by commit","description":"opened with create_pr"}}\n{"key":"file","value":{"path":"c.txt","content":"%s","encoding":"base64"}}\n' "$(b64 c)" | nd
commit_post "$R/commit/main?create_pr=1"
expect_eq "$(jq_ 'j["pullRequestUrl"]')" "$HUB_URL/tester/disc/discussions/3" "create_pr takes the next number, #3"
CPR=$(jq_ 'j["commitOid"]')
areq GET $R/discussions/3
expect_eq "$(jq_ '[j["title"], j["status"], j["isPullRequest"], j["changes"]["base"]]')" \
    '["PR by commit", "open", true, "refs/heads/main"]' "the create_pr PR is recorded: title, open, base"
expect_eq "$(jq_ '[e["type"] for e in j["events"]]')" '["commit", "comment"]' "its events: the commit and the description"
expect_eq "$(jq_ '[e["data"].get("oid") or e["data"]["latest"]["raw"] for e in j["events"]]')" \
    "[\"$CPR\", \"opened with create_pr\"]" "... with the commit oid and the description"
areq POST $R/discussions -H "$J" -d '{"title":"ab"}'
expect_status 400 "a title shorter than 3 characters is 400"
areq POST $R/discussions -H "$J" -d '{"description":"no title"}'
expect_status 400 "no title is 400"
areq POST $R/discussions -H "$J" -d '{"title":"good title","pullRequest":"yes"}'
expect_status 400 "pullRequest must be a boolean"

# ---- comments, edits, titles, status
areq POST $R/discussions/2/comment -H "$J" -d '{"comment":"an answer"}'
expect_status 200 "comment"
expect_eq "$(jq_ '[j["newMessage"]["type"], j["newMessage"]["data"]["latest"]["raw"]]')" '["comment", "an answer"]' "newMessage is the comment event"
ANSWER=$(jq_ 'j["newMessage"]["id"]')
areq POST $R/discussions/2/comment -H "$J" -d '{"comment":"   "}'
expect_status 400 "an empty comment is 400"
areq POST "$R/discussions/1/comment/$DESC/edit" -H "$J" -d '{"content":"- [x] step done"}'
expect_status 200 "edit the description comment"
expect_eq "$(jq_ '[j["updatedComment"]["id"], j["updatedComment"]["data"]["edited"], j["updatedComment"]["data"]["latest"]["raw"], j["updatedComment"]["data"]["numEdits"]]')" \
    "[\"$DESC\", true, \"- [x] step done\", 1]" "updatedComment: same id, edited, new content"
areq GET $R/discussions/1
expect_eq "$(jq_ '[e["data"]["latest"]["raw"] for e in j["events"] if e["type"] == "comment"]')" '["- [x] step done"]' "the details show the edit"
expect_eq "$(jq_ '[h["raw"] for e in j["events"] if e["type"] == "comment" for h in e["data"]["history"]]')" '["the description"]' "the history keeps the old text"
areq POST "$R/discussions/1/comment/ffffffffffffffffffffffff/edit" -H "$J" -d '{"content":"x"}'
expect_status 404 "editing a missing comment is 404"
areq POST "$R/discussions/2/comment/$ANSWER/hide"
expect_status 200 "hide a comment (no body)"
expect_eq "$(jq_ '[j["updatedComment"]["data"]["hidden"], j["updatedComment"]["data"]["latest"]["raw"]]')" '[true, ""]' "hidden, its content dropped"
areq POST "$R/discussions/2/comment/$ANSWER/edit" -H "$J" -d '{"content":"back"}'
expect_status 400 "a hidden comment cannot be edited"
areq POST $R/discussions/2/title -H "$J" -d '{"title":"A better question"}'
expect_status 200 "rename"
expect_eq "$(jq_ '[j["newTitle"]["type"], j["newTitle"]["data"]["from"], j["newTitle"]["data"]["to"]]')" \
    '["title-change", "A question", "A better question"]' "newTitle: from, to"
areq POST $R/discussions/2/title -H "$J" -d '{"title":"x"}'
expect_status 400 "renaming to a too short title is 400"
areq POST $R/discussions/2/status -H "$J" -d '{"status":"closed","comment":"answered"}'
expect_status 200 "close with a comment"
expect_eq "$(jq_ '[j["newStatus"]["type"], j["newStatus"]["data"]["status"]]')" '["status-change", "closed"]' "newStatus"
areq POST $R/discussions/2/status -H "$J" -d '{"status":"published"}'
expect_status 400 "an unknown status is 400"
areq GET $R/discussions/2
expect_eq "$(jq_ '[j["title"], j["status"], [e["type"] for e in j["events"]]]')" \
    '["A better question", "closed", ["comment", "comment", "title-change", "comment", "status-change"]]' \
    "details: the new title and status, every event in order"

# ---- the list: filters and pages
areq GET $R/discussions
expect_eq "$(jq_ '[j["count"], j["start"], [d["num"] for d in j["discussions"]]]')" '[3, 0, [3, 2, 1]]' "list: newest first"
expect_eq "$(jq_ '[[d["repo"]["name"], d["author"]["name"], "createdAt" in d] for d in j["discussions"]][0]')" \
    '["tester/disc", "user", true]' "list entries carry repo, author, createdAt"
areq GET "$R/discussions?type=pull_request"
expect_eq "$(jq_ '[d["num"] for d in j["discussions"]]')" '[3, 1]' "type=pull_request"
areq GET "$R/discussions?type=discussion"
expect_eq "$(jq_ '[d["num"] for d in j["discussions"]]')" '[2]' "type=discussion"
areq GET "$R/discussions?status=open"
expect_eq "$(jq_ '[d["num"] for d in j["discussions"]]')" '[3, 1]' "status=open includes drafts"
areq GET "$R/discussions?status=closed&type=all"
expect_eq "$(jq_ '[d["num"] for d in j["discussions"]]')" '[2]' "status=closed"
areq GET "$R/discussions?author=nobody"
expect_eq "$(jq_ '[j["count"], j["discussions"]]')" '[0, []]' "author filter"
areq GET "$R/discussions?type=issues"
expect_status 400 "an unknown type is 400"
BULK=$(python3 - "$HUB_URL$R/discussions" "$TOKEN" <<'EOF'
import json, sys, urllib.request
codes = set()
for i in range(52):  # one process, one connection: fast under sanitizers too
    r = urllib.request.Request(sys.argv[1], data=json.dumps({"title": "bulk %d" % i}).encode(),
                               headers={"Authorization": "Bearer " + sys.argv[2],
                                        "Content-Type": "application/json"})
    codes.add(urllib.request.urlopen(r).status)
print(sorted(codes))
EOF
)
expect_eq "$BULK" "[200]" "52 more discussions"
areq GET "$R/discussions?p=0"
expect_eq "$(jq_ '[j["count"], j["start"], len(j["discussions"]), j["discussions"][0]["num"]]')" '[55, 0, 50, 55]' "page 0: 50 of 55"
areq GET "$R/discussions?p=1"
expect_eq "$(jq_ '[j["start"], [d["num"] for d in j["discussions"]]]')" '[50, [5, 4, 3, 2, 1]]' "page 1: the last 5"
areq GET "$R/discussions?p=1&type=pull_request"
expect_eq "$(jq_ '[j["count"], j["start"], j["discussions"]]')" '[2, 50, []]' "a page past the end is empty"

# ---- merge
areq POST $R/discussions/1/merge
expect_status 400 "a draft cannot be merged"
expect_contains "$(jq_ 'j["error"]')" "draft" "... and the error says so"
areq POST $R/discussions/1/status -H "$J" -d '{"status":"open"}'
expect_status 200 "publish the PR (status open)"
areq GET $R
MAIN1=$(jq_ 'j["sha"]')
areq POST $R/discussions/1/merge -H "$J" -d '{"comment":"LGTM"}'
expect_status 200 "merge"
MERGED=$(jq_ 'j["mergeCommitId"]')
areq GET $R
expect_eq "$(jq_ 'j["sha"]')" "$MERGED" "main moved to the merge commit"
areq GET "$R/commits/main?limit=2"
expect_eq "$(jq_ '[c["id"] for c in j]')" "[\"$MERGED\", \"$MAIN1\"]" "ONE commit on top of main's head (a squash, parent = old head)"
expect_contains "$(jq_ 'j[0]["title"]')" "Add data (#1)" "the merge commit is titled after the PR"
req GET /tester/disc/resolve/main/data/b.txt
expect_eq "$BODY" "beta" "the PR's files are on main"
req GET /tester/disc/resolve/main/c.txt
expect_status 404 "... and nothing of the other PR"
areq GET $R/discussions/1
expect_eq "$(jq_ '[j["status"], j["changes"]["mergeCommitId"]]')" "[\"merged\", \"$MERGED\"]" "the PR is merged, changes.mergeCommitId set"
expect_eq "$(jq_ '[e["type"] + ":" + e["data"].get("status", "") for e in j["events"] if e["type"] != "commit"][-3:]')" \
    '["status-change:open", "comment:", "status-change:merged"]' "events: the merge comment and a status change to merged"
areq POST $R/discussions/1/merge
expect_status 400 "merging again is refused"
expect_contains "$(jq_ 'j["error"]')" "already merged" "... as already merged"
areq POST $R/discussions/1/status -H "$J" -d '{"status":"open"}'
expect_status 400 "a merged PR cannot be reopened"
areq POST $R/discussions/2/merge
expect_status 400 "a discussion cannot be merged"
areq POST $R/discussions/3/status -H "$J" -d '{"status":"closed"}'
areq POST $R/discussions/3/merge
expect_status 400 "a closed PR cannot be merged"

# a PR with nothing in it
areq POST $R/discussions -H "$J" -d '{"title":"Empty PR","pullRequest":true}'
EMPTY=$(jq_ 'j["num"]')
areq POST "$R/discussions/$EMPTY/status" -H "$J" -d '{"status":"open"}'
areq POST "$R/discussions/$EMPTY/merge"
expect_status 400 "merging a PR without changes is 400"
expect_contains "$(jq_ 'j["error"]')" "no associated changes" "... saying 'no associated changes'"

# a conflict: both sides add conf.txt differently
areq POST $R/discussions -H "$J" -d '{"title":"Conflicting","pullRequest":true}'
CONF=$(jq_ 'j["num"]')
commit_file "refs%2Fpr%2F$CONF" conf.txt "from the PR"
commit_file main conf.txt "from main"
areq GET "$R/discussions/$CONF"
expect_eq "$(jq_ 'j["filesWithConflicts"]')" '["conf.txt"]' "details name the conflicting file"
areq POST "$R/discussions/$CONF/status" -H "$J" -d '{"status":"open"}'
areq GET $R
MAIN2=$(jq_ 'j["sha"]')
areq POST "$R/discussions/$CONF/merge"
expect_status 409 "a conflicting merge is refused with 409"
expect_contains "$(jq_ 'j["error"]')" "conf.txt" "... naming the file"
areq GET $R
expect_eq "$(jq_ 'j["sha"]')" "$MAIN2" "... and main did not move"

# both sides add an LFS file outside the rules: .gitattributes lines on both sides merge
head -c 3000 /dev/urandom >"$TEST_TMP/pr.dat"
head -c 3000 /dev/urandom >"$TEST_TMP/main.dat"
lfs_upload /tester/disc "$TEST_TMP/pr.dat"
lfs_upload /tester/disc "$TEST_TMP/main.dat"
lfs_line() { printf '{"key":"header","value":{"summary":"lfs %s"}}\n{"key":"lfsFile","value":{"path":"%s","algo":"sha256","oid":"%s","size":3000}}\n' "$1" "$1" "$(sha256_of "$2")"; }
areq POST $R/discussions -H "$J" -d '{"title":"LFS on both sides","pullRequest":true}'
LFSPR=$(jq_ 'j["num"]')
lfs_line data/pr.dat "$TEST_TMP/pr.dat" | nd; commit_post "$R/commit/refs%2Fpr%2F$LFSPR"
lfs_line data/main.dat "$TEST_TMP/main.dat" | nd; commit_post "$R/commit/main"
areq POST "$R/discussions/$LFSPR/status" -H "$J" -d '{"status":"open"}'
areq POST "$R/discussions/$LFSPR/merge"
expect_status 200 "a PR whose .gitattributes lines conflict only by position merges"
req GET /tester/disc/resolve/main/.gitattributes
expect_contains "$BODY" "data/main.dat filter=lfs" ".gitattributes keeps main's line"
expect_contains "$BODY" "data/pr.dat filter=lfs" "... and the PR's line"
areq POST /api/models/tester/disc/paths-info/main -H "$J" -d '{"paths":["data/pr.dat"]}'
expect_eq "$(jq_ 'j[0]["lfs"]["oid"]')" "$(sha256_of "$TEST_TMP/pr.dat")" "the PR's LFS file is on main"

# ---- numbers stay unique when API discussions and create_pr commits race
create_repo tester/race
RR=/api/models/tester/race
racers=()
for i in 1 2 3 4 5 6; do
    curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -H "$J" -d "{\"title\":\"race $i\",\"pullRequest\":$([ $((i % 2)) = 0 ] && echo true || echo false)}" \
        "$HUB_URL$RR/discussions" &
    racers+=($!)
    printf '{"key":"header","value":{"summary":"race commit %s"}}\n{"key":"file","value":{"path":"r%s.txt","content":"eA==","encoding":"base64"}}\n' "$i" "$i" |
        curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/x-ndjson' --data-binary @- \
            "$HUB_URL$RR/commit/main?create_pr=1" &
    racers+=($!)
done
wait "${racers[@]}" # not the hub, which is a background job too
areq GET $RR/discussions
expect_eq "$(jq_ '[j["count"], sorted(d["num"] for d in j["discussions"]) == list(range(1, 13))]')" '[12, true]' \
    "12 concurrent discussions and create_pr commits get the numbers 1 to 12, once each"
areq GET "$RR/refs?include_prs=1"
expect_eq "$(jq_ 'len(j["pullRequests"])')" "9" "... and the 9 PRs among them each have refs/pr/N"

# ---- access
req POST $R/discussions/2/comment -H "Authorization: Bearer $READ" -H "$J" -d '{"comment":"hi"}'
expect_status 403 "commenting with a read-only token is 403"
req POST $R/discussions -H "Authorization: Bearer $READ" -H "$J" -d '{"title":"mine"}'
expect_status 403 "opening a discussion with a read-only token is 403"
req POST $R/discussions -H "Authorization: Bearer $BOB" -H "$J" -d '{"title":"mine"}'
expect_status 403 "... and with a token of another namespace"
req POST $R/discussions -H "$J" -d '{"title":"mine"}'
expect_status 401 "... and without a token it is 401"
req GET $R/discussions/2 -H "Authorization: Bearer $READ"
expect_status 200 "reading a public repo's discussion needs no write access"
req GET $R/discussions/2
expect_status 200 "... nor a token"
areq GET $R/discussions/999
expect_status 404 "a missing discussion is 404"
areq GET $R/discussions/abc
expect_status 400 "a discussion number that is not a number is 400"
areq POST $R/discussions/2/frobnicate -H "$J" -d '{}'
expect_status 404 "an unknown action is 404"

create_repo tester/hidden '"private":true'
areq POST /api/models/tester/hidden/discussions -H "$J" -d '{"title":"private talk","pullRequest":true}'
expect_status 200 "open a PR on a private repo"
req GET /api/models/tester/hidden/discussions/1
expect_status 401 "a private repo's discussion is invisible without a token (401)"
req GET /api/models/tester/hidden/discussions -H "Authorization: Bearer $BOB"
expect_status 404 "... and 404 to a token that cannot see the repo"
expect_eq "$(hdr X-Error-Code)" "RepoNotFound" "... with X-Error-Code RepoNotFound"
areq GET /api/models/tester/nope/discussions
expect_status 404 "discussions of a missing repo are 404"

# ---- deleting the repo removes its discussions
areq DELETE /api/repos/delete -H "$J" -d '{"name":"hidden","organization":"tester"}'
create_repo tester/hidden
areq GET /api/models/tester/hidden/discussions
expect_eq "$(jq_ 'j["count"]')" "0" "a repo created again under a deleted one's id has no discussions"

hub_stop
done_testing
