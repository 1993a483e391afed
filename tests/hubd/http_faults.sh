# The local hub's --fault injection: status codes at the Nth request, 429 with Retry-After,
# a commit that lands but answers 500, a connection dropped mid-upload, a delay.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

"$HFSYNC" hub serve --root "$TEST_TMP/x" --listen 127.0.0.1:0 --fault 'comit:status=500' 2>"$TEST_TMP/bad.err"
expect_eq "$?" "1" "a bad fault spec stops serve with an error"
expect_contains "$(cat "$TEST_TMP/bad.err")" "unknown endpoint 'comit'" "... naming what is wrong"

hub_start --fault 'whoami:status=503,nth=2,retry_after=7' \
    --fault 'preupload:status=429,retry_after=1;commit:land_then_status=500,nth=2' \
    --fault 'lfs-put:drop=1000000' --fault 'tree:delay=400' --fault 'lfs-part:status=500,nth=2' ||
    { done_testing; exit 1; }
R=/api/models/tester/faulty

areq GET /api/whoami-v2
expect_status 200 "whoami #1 passes"
areq GET /api/whoami-v2
expect_status 503 "whoami #2 gets the injected 503"
expect_eq "$(hdr Retry-After)" "7" "... with Retry-After"
expect_contains "$(jq_ 'j["error"]')" "fault injected" "... and a JSON error saying it is injected"
expect_contains "$(hdr X-Request-Id)" "Root=1-" "... and a request id"
areq GET /api/whoami-v2
expect_status 200 "whoami #3 passes again (times defaults to 1)"

create_repo tester/faulty
areq POST $R/preupload/main -d '{"files":[]}'
expect_eq "$STATUS $(hdr Retry-After)" "429 1" "preupload #1: 429 with Retry-After"
areq POST $R/preupload/main -d '{"files":[]}'
expect_status 200 "preupload #2 passes"

commit_ndjson $R/commit/main <<EOF2
{"key":"header","value":{"summary":"first"}}
{"key":"file","value":{"content":"MQ==","path":"one.txt","encoding":"base64"}}
EOF2
expect_status 200 "commit #1 passes"
commit_ndjson $R/commit/main <<EOF2
{"key":"header","value":{"summary":"second"}}
{"key":"file","value":{"content":"Mg==","path":"two.txt","encoding":"base64"}}
EOF2
expect_status 500 "commit #2 answers 500 ..."
start=$(date +%s%N)
areq GET "$R/tree/main"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
expect_contains "$(jq_ '[e["path"] for e in j]')" '"two.txt"' "... but it landed"
if [ "$elapsed" -ge 400 ]; then ok 0 "tree:delay=400 delays the answer"; else ok 1 "tree:delay=400 delays the answer"; diag "took ${elapsed} ms"; fi

head -c 2000000 /dev/urandom > "$TEST_TMP/obj.bin"
lfs_upload /tester/faulty "$TEST_TMP/obj.bin"
# curl shows 000, or 100 when the server had already sent "100 Continue"
case $STATUS in 000|100) ok 0 "lfs-put #1: the connection drops after 1 MB of the body" ;;
    *) ok 1 "lfs-put #1: the connection drops after 1 MB of the body"; diag "status $STATUS" ;; esac
OID=$(sha256_of "$TEST_TMP/obj.bin")
areq POST /tester/faulty.git/info/lfs/objects/verify -d "{\"oid\":\"$OID\",\"size\":2000000}"
expect_status 404 "... and no object is stored"
sleep 0.2
expect_eq "$(hub_temps)" "0" "... and its temp file is gone"
lfs_upload /tester/faulty "$TEST_TMP/obj.bin"
expect_status 200 "lfs-put #2 (the retry) succeeds"

head -c 2500000 /dev/urandom > "$TEST_TMP/parts.bin"
OID=$(sha256_of "$TEST_TMP/parts.bin")
create_repo tester/mp '"lfsmultipartthresh":1000000'
areq POST /tester/mp.git/info/lfs/objects/batch -d "{\"operation\":\"upload\",\"transfers\":[\"basic\",\"multipart\"],\"objects\":[{\"oid\":\"$OID\",\"size\":2500000}]}"
p1=$(jq_ 'j["objects"][0]["actions"]["upload"]["header"]["00001"]')
p2=$(jq_ 'j["objects"][0]["actions"]["upload"]["header"]["00002"]')
head -c 1000000 "$TEST_TMP/parts.bin" > "$TEST_TMP/p1"
req PUT "$p1" -T "$TEST_TMP/p1"
expect_status 200 "lfs-part #1 passes"
req PUT "$p2" -T "$TEST_TMP/p1"
expect_status 500 "lfs-part #2 gets the injected 500"

hub_stop
done_testing
