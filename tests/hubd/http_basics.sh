# The local hub over HTTP: auth and tokens, repos/create and delete, repo info, refs,
# commits listing, branches, validate-yaml, routing errors, request ids, the access log.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

hub_start
ok $? "hub starts on a free port and writes the port file"
expect_contains "$(cat "$TEST_TMP/hub.out")" "hub listening on $HUB_URL" "serve prints its URL"

# ---- whoami and tokens
areq GET /api/whoami-v2
expect_status 200 "whoami with the --token token"
expect_eq "$(jq_ 'j["name"]')" "user" "whoami: name"
expect_eq "$(jq_ 'j["auth"]["accessToken"]["role"]')" "write" "whoami: auth.accessToken.role"
expect_eq "$(jq_ 'j["auth"]["type"]')" "access_token" "whoami: auth.type"
req GET /api/whoami-v2
expect_status 401 "whoami without a token is 401"
req GET /api/whoami-v2 -H "Authorization: Bearer hf_notatoken"
expect_status 401 "whoami with an unknown token is 401"
expect_eq "$(hdr X-Error-Message)" "Invalid credentials in Authorization header" "401 carries X-Error-Message"
expect_eq "$(jq_ 'j["error"]')" "Invalid credentials in Authorization header" "401 carries a JSON error"
req GET /api/whoami-v2 -u "git:$TOKEN"
expect_status 200 "Basic auth with the token as password (git, git-lfs) works"

READ=$("$HFSYNC" hub token create alice --role read --root "$HUB_ROOT")
ok $? "hub token create prints a token"
expect_contains "$READ" "hf_" "the new token starts with hf_"
req GET /api/whoami-v2 -H "Authorization: Bearer $READ"
expect_status 200 "a token created while the hub runs works without a restart"
expect_eq "$(jq_ 'j["name"] + "/" + j["auth"]["accessToken"]["role"]')" "alice/read" "whoami of the read token"
BOB=$("$HFSYNC" hub token create bob --role write --namespace bob --namespace bobs-org --root "$HUB_ROOT")
req GET /api/whoami-v2 -H "Authorization: Bearer $BOB"
expect_eq "$(jq_ '[o["name"] for o in j["orgs"]]')" '["bobs-org"]' "whoami lists the token's other namespaces as orgs"
"$HFSYNC" hub token create carol --role admin --root "$HUB_ROOT" 2>/dev/null
expect_eq "$?" "64" "token create refuses an unknown role (usage error)"
mode=$(stat -c %a "$HUB_ROOT/tokens.json")
expect_eq "$mode" "600" "tokens.json is readable by its owner only"

# ---- request ids
expect_contains "$(hdr X-Request-Id)" "Root=1-" "X-Request-Id on every response"
req GET /api/whoami-v2 -H "X-Amzn-Trace-Id: 876f508e-0fe2-48d0-8b4d-bcd28429423c"
expect_contains "$(hdr X-Request-Id)" ";876f508e-0fe2-48d0-8b4d-bcd28429423c" "the client's trace id is echoed in X-Request-Id"

# ---- repos/create
create_repo tester/alpha
expect_status 200 "repos/create"
expect_eq "$(jq_ 'j["url"]')" "$HUB_URL/tester/alpha" "create: url is absolute, on this hub"
expect_eq "$(jq_ 'j["name"]')" "tester/alpha" "create: name"
expect_eq "$(jq_ 'len(j["id"])')" "24" "create: id is the 24-hex object id"
create_repo tester/alpha
expect_status 409 "creating an existing repo is 409"
expect_eq "$(jq_ 'j["url"]')" "$HUB_URL/tester/alpha" "the 409 body carries url (exist_ok needs it)"
expect_contains "$(jq_ 'j["error"]')" "already created" "the 409 says the repo exists"
req POST /api/repos/create -H 'Content-Type: application/json' -d '{"name":"x","organization":"tester"}'
expect_status 401 "create without a token is 401"
req POST /api/repos/create -H "Authorization: Bearer $READ" -d '{"name":"x","organization":"alice"}'
expect_status 403 "create with a read-only token is 403"
req POST /api/repos/create -H "Authorization: Bearer $BOB" -d '{"name":"x","organization":"tester"}'
expect_status 403 "create in another namespace is 403"
req POST /api/repos/create -H "Authorization: Bearer $BOB" -d '{"name":"mine","organization":null}'
expect_status 200 "organization null creates under the token's user"
expect_eq "$(jq_ 'j["name"]')" "bob/mine" "... as bob/mine"
create_repo tester/bad--name
expect_status 400 "an invalid repo name is 400"
areq POST /api/repos/create -d '{"name": "secret", "organization": "tester", "private": true}'
expect_status 200 "Py <1.8 style private: true"
areq POST /api/repos/create -d '{"name":"ds","organization":"tester","type":"dataset","visibility":"private"}'
expect_status 200 "dataset with visibility private"
expect_eq "$(jq_ 'j["url"]')" "$HUB_URL/datasets/tester/ds" "dataset url has the datasets/ prefix"
areq POST /api/repos/create -d '{"name":"sp","organization":"tester","type":"space"}'
expect_status 400 "a Space without sdk is 400"
areq POST /api/repos/create -d '{"name":"sp","organization":"tester","type":"space","sdk":"static"}'
expect_status 200 "a Space with sdk"
areq POST /api/repos/create -d 'not json'
expect_status 400 "a body that is not JSON is 400"
expect_contains "$(jq_ 'j["error"]')" "not valid JSON" "... and says so"
areq POST /api/repos/create -d '{"name":"withfiles","organization":"tester","files":[{"encoding":"base64","path":"hello.txt","content":"aGVsbG8K"}]}'
expect_status 200 "create with inline files (JS files option)"
req GET /tester/withfiles/resolve/main/hello.txt
expect_eq "$BODY" "hello" "the inline file is in the repo"

# ---- repo info
req GET /api/models/tester/alpha
expect_status 200 "repo info, anonymous, public repo"
expect_eq "$(jq_ 'j["id"]')" "tester/alpha" "info: id"
expect_eq "$(jq_ 'len(j["sha"])')" "40" "info: sha"
expect_eq "$(jq_ '[s["rfilename"] for s in j["siblings"]]')" '[".gitattributes"]' "info: siblings of a new repo"
expect_eq "$(jq_ 'j["private"]')" "false" "info: private"
req GET "/api/models/tester/alpha?blobs=True"
expect_eq "$(jq_ 'sorted(j["siblings"][0].keys())')" '["blobId", "rfilename", "size"]' "blobs=True adds size and blobId"
req GET "/api/models/tester/alpha/revision/main?expand=xetEnabled"
expect_eq "$(jq_ 'j')" '{"_id": "'"$(jq_ 'j["_id"]')"'", "id": "tester/alpha", "xetEnabled": false}' "expand=xetEnabled answers only that (false)"
req GET "/api/models/tester/alpha?expand[]=likes"
expect_eq "$(jq_ 'sorted(j.keys())')" '["_id", "id", "likes"]' "expand[]=likes (JS repoExists)"
req GET "/api/models/tester/alpha/revision/HEAD?expand=private&expand=lastModified"
expect_status 200 "revision HEAD (JS modelInfo default)"
req GET /api/models/tester/alpha/revision/nope
expect_status 404 "an unknown revision is 404"
expect_eq "$(hdr X-Error-Code)" "RevisionNotFound" "... with X-Error-Code RevisionNotFound"
areq GET /api/models/tester/nothere
expect_status 404 "an unknown repo is 404 with a token"
expect_eq "$(hdr X-Error-Code)" "RepoNotFound" "... with X-Error-Code RepoNotFound"
req GET /api/models/tester/nothere
expect_status 401 "an unknown repo is 401 to anonymous callers (as the hub does)"
req GET /api/models/tester/secret
expect_status 401 "a private repo is 401 to anonymous callers"
expect_eq "$(hdr X-Error-Code)" "RepoNotFound" "... and looks like a missing one"
req GET /api/models/tester/secret -H "Authorization: Bearer $READ"
expect_status 404 "a private repo is 404 to a token of another namespace"
areq GET /api/models/tester/secret
expect_status 200 "a private repo is visible to a token of its namespace"
req GET /api/datasets/tester/ds -H "Authorization: Bearer $BOB"
expect_status 404 "a private dataset is hidden from other users"
req GET "/api/models/tester/alpha?blobs=maybe"
expect_status 400 "a boolean that is not true/false is 400"

# ---- refs, branches, commits
areq POST /api/models/tester/alpha/branch/dev
expect_status 200 "create branch dev"
areq POST /api/models/tester/alpha/branch/dev
expect_status 409 "creating it again is 409"
areq POST /api/models/tester/alpha/branch/feat%2Fx -d '{"startingPoint":"dev"}'
expect_status 200 "create a quoted branch feat/x from dev"
req POST /api/models/tester/alpha/branch/other -H "Authorization: Bearer $READ"
expect_status 403 "a read-only token cannot create branches"
req GET /api/models/tester/alpha/refs
expect_eq "$(jq_ 'sorted(b["name"] for b in j["branches"])')" '["dev", "feat/x", "main"]' "refs lists the branches"
expect_eq "$(jq_ '"pullRequests" in j')" "false" "pullRequests only with include_prs"
req GET "/api/models/tester/alpha/refs?include_prs=1"
expect_eq "$(jq_ 'j["pullRequests"]')" "[]" "include_prs=1 adds pullRequests"
expect_eq "$(jq_ 'j["branches"][0]["ref"][:11]')" "refs/heads/" "refs: ref is the full ref name"
areq DELETE /api/models/tester/alpha/branch/dev
expect_status 200 "delete branch dev"
areq DELETE /api/models/tester/alpha/branch/dev
expect_status 404 "deleting it again is 404"
areq DELETE /api/models/tester/alpha/branch/main
expect_status 400 "the default branch cannot be deleted"
req GET /api/models/tester/alpha/commits/main
expect_status 200 "commits listing"
expect_eq "$(jq_ 'sorted(j[0].keys())')" '["authors", "date", "id", "message", "title"]' "commit items: id, title, message, authors, date"
req GET "/api/models/tester/withfiles/commits/main?limit=1"
expect_eq "$(jq_ 'len(j)')" "1" "limit=1 gives one commit"
next=$(hdr Link | sed -n 's/^<\([^>]*\)>; rel="next"$/\1/p')
expect_contains "$next" "$HUB_URL/api/models/tester/withfiles/commits/main?limit=1&p=1" "Link: next page, absolute URL"
req GET "$next"
expect_eq "$(jq_ 'len(j)') $(hdr Link)" "1 " "the last page has no Link"

# ---- delete
req DELETE /api/repos/delete -H "Authorization: Bearer $READ" -d '{"name":"alpha","organization":"tester"}'
expect_status 403 "a read-only token cannot delete a public repo (403)"
req DELETE /api/repos/delete -H "Authorization: Bearer $BOB" -d '{"name":"secret","organization":"tester"}'
expect_status 404 "another user cannot delete a private repo it cannot see (404)"
areq DELETE /api/repos/delete -d '{"name":"alpha","organization":"tester","type":"model"}'
expect_status 200 "repos/delete"
expect_eq "$BODY" "OK" "delete answers OK"
areq GET /api/models/tester/alpha
expect_status 404 "a deleted repo is gone"
areq DELETE /api/repos/delete -d '{"name":"alpha","organization":"tester"}'
expect_status 404 "deleting a missing repo is 404"

# ---- validate-yaml
areq POST /api/validate-yaml -d '{"content": "---\nlicense: mit\n---\n# card\n", "repoType": "model"}'
expect_status 200 "validate-yaml: valid metadata"
expect_eq "$(jq_ 'j')" '{"errors": [], "warnings": []}' "validate-yaml answers errors and warnings"
areq POST /api/validate-yaml -d '{"content": "---\nlicense: [mit\n---\n", "repoType": "model"}'
expect_status 400 "validate-yaml: broken YAML is 400"
expect_contains "$(jq_ 'j["errors"][0]["message"]')" "Invalid YAML" "... with errors[].message"
areq POST /api/validate-yaml -d '{"content": "# no metadata\n"}'
expect_status 200 "validate-yaml: a card without metadata is fine"

# ---- routing
req GET /api/nothing/here
expect_status 404 "an unknown endpoint is 404"
expect_eq "$(jq_ '"error" in j')" "true" "... with a JSON error"
req PUT /api/whoami-v2
expect_status 405 "a wrong method is 405"
req GET "/api/models/tester/%zz"
expect_status 400 "a malformed %-escape is 400"

# ---- a hostile client cannot make the hub hold big requests in memory
head -c 17000000 /dev/zero | tr '\0' 'a' > "$TEST_TMP/big.json"
areq POST /api/repos/create --data-binary @"$TEST_TMP/big.json"
expect_status 413 "a JSON body over 16 MiB is 413 (read and dropped, not kept)"
printf 'X-Big: %s\r\n' "$(head -c 200000 /dev/zero | tr '\0' 'b')" > "$TEST_TMP/big.hdr"
req GET /api/whoami-v2 -H @"$TEST_TMP/big.hdr"
expect_status 431 "200 KB of headers is refused (431)"
areq GET /api/whoami-v2
expect_status 200 "the hub still answers afterwards"

# ---- the access log never holds a credential
logged=$(cat "$TEST_TMP/access.log")
expect_contains "$logged" "GET /api/whoami-v2 200" "the access log has method, path and status"
expect_contains "$logged" "in=" "the access log has byte counts"
if grep -q -e "$TOKEN" -e "$READ" -e "$BOB" "$TEST_TMP/access.log" "$TEST_TMP/hub.err"; then
    ok 1 "tokens never reach the logs"; else ok 0 "tokens never reach the logs"; fi

hub_stop
done_testing
