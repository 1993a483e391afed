# The local hub's LFS API over HTTP: the batch endpoint (every client's variant), signed
# basic PUTs, multipart parts and completion, verify, downloads, and the memory an upload takes.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

hub_start --multipart-threshold 3MB || { done_testing; exit 1; }
READ=$("$HFSYNC" hub token create reader --role read --root "$HUB_ROOT")
create_repo tester/lfs
create_repo tester/parts '"lfsmultipartthresh":1000000'
expect_status 200 "create a repo with lfsmultipartthresh"
B=/tester/lfs.git/info/lfs/objects/batch
LFS_CT='Content-Type: application/vnd.git-lfs+json'

head -c 2000000 /dev/urandom > "$TEST_TMP/two.bin"
OID=$(sha256_of "$TEST_TMP/two.bin")
obj="{\"oid\":\"$OID\",\"size\":2000000}"

# ---- batch: the clients' variants
areq POST $B -H "$LFS_CT" -d "{\"operation\":\"upload\",\"transfers\":[\"basic\",\"multipart\"],\"objects\":[$obj],\"hash_algo\":\"sha256\",\"ref\":{\"name\":\"main\"}}"
expect_status 200 "batch, huggingface_hub style (sha256, ref)"
expect_eq "$(hdr Content-Type)" "application/vnd.git-lfs+json" "the batch answers application/vnd.git-lfs+json"
expect_eq "$(jq_ 'j["transfer"]')" "basic" "transfer basic below the threshold"
expect_eq "$(jq_ 'sorted(j["objects"][0]["actions"].keys())')" '["upload", "verify"]' "upload and verify actions"
expect_eq "$(jq_ 'j["objects"][0]["oid"] == "'"$OID"'" and j["objects"][0]["size"] == 2000000')" "true" "objects echo oid and size"
PUT=$(jq_ 'j["objects"][0]["actions"]["upload"]["href"]')
VERIFY=$(jq_ 'j["objects"][0]["actions"]["verify"]["href"]')
expect_contains "$PUT" "$HUB_URL/lfs-upload/$OID?" "the upload href is an absolute URL on this hub"
areq POST $B -H "$LFS_CT" -d "{\"operation\":\"upload\",\"transfers\":[\"basic\",\"multipart\",\"xet\"],\"hash_algo\":\"sha_256\",\"ref\":{\"name\":\"main\"},\"objects\":[$obj]}"
expect_eq "$STATUS $(jq_ 'j["transfer"]')" "200 basic" "batch, JS style (sha_256, xet offered): never xet"
req POST $B -H "$LFS_CT" -u "git:$TOKEN" -d "{\"operation\":\"upload\",\"objects\":[$obj],\"transfers\":[\"lfs-standalone-file\",\"basic\",\"ssh\"],\"ref\":{\"name\":\"refs/heads/main\"},\"hash_algo\":\"sha256\"}"
expect_eq "$STATUS $(jq_ 'j["transfer"]')" "200 basic" "batch, git-lfs style (Basic auth, refs/heads/main)"
req POST $B -H "$LFS_CT" -H "Authorization: Bearer $READ" -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[$obj]}"
expect_status 200 "batch without ref (create_pr) works with a read-only token"
req POST $B -H "$LFS_CT" -H "Authorization: Bearer $READ" -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[$obj],\"ref\":{\"name\":\"main\"}}"
expect_status 403 "batch for main with a read-only token is 403"
req POST $B -H "$LFS_CT" -d "{\"operation\":\"upload\",\"objects\":[$obj]}"
expect_status 401 "anonymous upload batch is 401"
areq POST $B -H "$LFS_CT" -d "{\"operation\":\"upload\",\"objects\":[$obj],\"hash_algo\":\"md5\"}"
expect_status 409 "an unknown hash_algo is 409"
areq POST $B -H "$LFS_CT" -d '{"operation":"upload","objects":[{"oid":"nothex","size":1}]}'
expect_eq "$STATUS $(jq_ 'j["objects"][0]["error"]["code"]')" "200 422" "an invalid object gets a per-object error, status stays 200"
areq POST /tester/nope.git/info/lfs/objects/batch -H "$LFS_CT" -d "{\"operation\":\"upload\",\"objects\":[$obj]}"
expect_status 404 "batch for a missing repo is 404"

# ---- basic PUT: signed, streamed, verified
req PUT "$(tamper "$PUT")" -T "$TEST_TMP/two.bin"
expect_status 403 "a PUT with a tampered signature is 403"
head -c 2000000 /dev/zero > "$TEST_TMP/zeros.bin"
req PUT "$PUT" -T "$TEST_TMP/zeros.bin"
expect_status 400 "bytes that do not hash to the oid are refused"
expect_contains "$(jq_ 'j["error"]')" "hash to sha256" "... saying why"
req PUT "$PUT" --data-binary "short"
expect_status 400 "a Content-Length other than the signed size is refused"
req PUT "$VERIFY" -T "$TEST_TMP/two.bin"
expect_status 405 "the verify URL does not take a PUT"
req POST "$VERIFY" -H 'Content-Type: application/json' -d "$obj"
expect_status 404 "verify before the upload is 404"
req PUT "$PUT" -T "$TEST_TMP/two.bin" -H "X-Request-Id: req-5"
expect_status 200 "the basic PUT (no Authorization header)"
expect_eq "$(hdr ETag)" "\"$OID\"" "the PUT answers an ETag"
req POST "$VERIFY" -H 'Content-Type: application/json' -d "$obj"
expect_eq "$STATUS $(jq_ 'j["success"]')" "200 true" "verify through the signed verify URL, no token (git-lfs)"
areq POST /tester/lfs.git/info/lfs/objects/verify -H 'Content-Type: application/json' -d "$obj"
expect_status 200 "verify with a token (huggingface_hub)"
create_repo tester/hidden '"private":true'
areq POST /tester/hidden.git/info/lfs/objects/batch -H "$LFS_CT" -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$(printf z | sha256sum | cut -d' ' -f1)\",\"size\":1}]}"
printf z > "$TEST_TMP/z"
hidden_verify=$(jq_ 'j["objects"][0]["actions"]["verify"]["href"]')
req PUT "$(jq_ 'j["objects"][0]["actions"]["upload"]["href"]')" -T "$TEST_TMP/z"
req POST "$hidden_verify" -d "{\"oid\":\"$(sha256_of "$TEST_TMP/z")\",\"size\":1}"
expect_status 200 "the signed verify URL of a private repo works without a token (git-lfs)"
req POST /tester/hidden.git/info/lfs/objects/verify -d "{\"oid\":\"$(sha256_of "$TEST_TMP/z")\",\"size\":1}"
expect_status 401 "the unsigned verify URL of a private repo is 401 without a token"
req POST /tester/lfs.git/info/lfs/objects/verify -H 'Content-Type: application/json' -d "$obj"
expect_status 401 "verify with neither is 401"
areq POST /tester/lfs.git/info/lfs/objects/verify -d "{\"oid\":\"$OID\",\"size\":5}"
expect_status 422 "verify with the wrong size is 422"
areq POST $B -H "$LFS_CT" -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[$obj]}"
expect_eq "$(jq_ '"actions" in j["objects"][0]')" "false" "an object already stored gets no actions"

# ---- download batch
areq POST $B -H "$LFS_CT" -d "{\"operation\":\"download\",\"objects\":[$obj,{\"oid\":\"$(printf x | sha256sum | cut -d' ' -f1)\",\"size\":1}]}"
expect_eq "$(jq_ 'j["objects"][1]["error"]["code"]')" "404" "download of a missing object: per-object 404"
GET=$(jq_ 'j["objects"][0]["actions"]["download"]["href"]')
curl -s "$GET" -o "$TEST_TMP/got.bin"
expect_eq "$(sha256_of "$TEST_TMP/got.bin")" "$OID" "the download action serves the bytes"
req POST /tester/lfs.git/info/lfs/locks/verify -H "$LFS_CT" -d '{"ref":{"name":"refs/heads/main"}}'
expect_status 404 "LFS locks are not offered (404, as git-lfs tolerates)"

# ---- multipart: per-repo threshold (1 MB) and the server's (--multipart-threshold 3MB)
OID2=$OID
areq POST /tester/parts.git/info/lfs/objects/batch -H "$LFS_CT" -d "{\"operation\":\"upload\",\"transfers\":[\"basic\",\"multipart\"],\"objects\":[{\"oid\":\"$(printf y | sha256sum | cut -d' ' -f1)\",\"size\":2500000}]}"
expect_eq "$(jq_ 'j["transfer"]')" "multipart" "above the repo's lfsmultipartthresh: multipart"
expect_eq "$(jq_ 'j["objects"][0]["actions"]["upload"]["header"]["chunk_size"]')" "1000000" "chunk_size follows a small threshold"
expect_eq "$(jq_ 'sorted(k for k in j["objects"][0]["actions"]["upload"]["header"] if k.isdigit())')" '["00001", "00002", "00003"]' \
    "part keys 00001..0000N, N = ceil(size / chunk_size)"
head -c 7000000 /dev/urandom > "$TEST_TMP/seven.bin"
OID=$(sha256_of "$TEST_TMP/seven.bin")
areq POST $B -H "$LFS_CT" -d "{\"operation\":\"upload\",\"transfers\":[\"basic\",\"multipart\"],\"objects\":[{\"oid\":\"$OID\",\"size\":7000000}]}"
expect_eq "$(jq_ 'j["objects"][0]["actions"]["upload"]["header"]["chunk_size"]')" "3000000" "above --multipart-threshold: multipart"
printf '%s' "$BODY" > "$TEST_TMP/batch.json"
areq POST $B -H "$LFS_CT" -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$OID\",\"size\":7000000}]}"
expect_eq "$(jq_ '"chunk_size" in j["objects"][0]["actions"]["upload"]["header"]')" "false" "a client without multipart (git-lfs) gets a basic PUT"
BODY=$(cat "$TEST_TMP/batch.json")
COMPLETE=$(jq_ 'j["objects"][0]["actions"]["upload"]["href"]')
parts=$(jq_ '" ".join(j["objects"][0]["actions"]["upload"]["header"][k] for k in sorted(k for k in j["objects"][0]["actions"]["upload"]["header"] if k.isdigit()))')
n=0
etags=()
for url in $parts; do
    n=$((n + 1))
    tail -c +$(( (n - 1) * 3000000 + 1 )) "$TEST_TMP/seven.bin" | head -c 3000000 > "$TEST_TMP/part$n"
    req PUT "$url" -T "$TEST_TMP/part$n"
    etags+=("$(hdr ETag)")
done
expect_eq "$n $STATUS" "3 200" "PUT three parts without a token"
expect_eq "${etags[0]:0:1}${#etags[0]}" '"34' "parts answer a quoted ETag"
mkparts() { local i out=""; for i in 1 2 3; do out="$out${out:+,}{\"partNumber\":$i,\"etag\":$(printf '%s' "${etags[$((i-1))]}" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}"; done; echo "[$out]"; }
req POST "$COMPLETE" -H "$LFS_CT" -d "{\"oid\":\"$OID\",\"parts\":[{\"partNumber\":1,\"etag\":\"x\"},{\"partNumber\":2,\"etag\":\"y\"},{\"partNumber\":3,\"etag\":\"z\"}]}"
expect_status 400 "completion with wrong ETags is 400"
req POST "$(tamper "$COMPLETE")" -H "$LFS_CT" -d "{\"oid\":\"$OID\",\"parts\":$(mkparts)}"
expect_status 403 "completion with a tampered credential is 403"
req POST "$COMPLETE" -H "$LFS_CT" -d "{\"oid\":\"$OID\",\"parts\":[{\"partNumber\":1,\"etag\":\"x\"}]}"
expect_status 400 "completion with too few parts is 400"
req POST "$COMPLETE" -H "$LFS_CT" -d "{\"oid\":\"$OID\",\"parts\":$(mkparts)}"
expect_status 200 "completion with its own credential, no Authorization header"
areq POST /tester/lfs.git/info/lfs/objects/verify -d "{\"oid\":\"$OID\",\"size\":7000000}"
expect_status 200 "the assembled object verifies"
commit_ndjson /api/models/tester/lfs/commit/main <<EOF
{"key":"header","value":{"summary":"lfs files"}}
{"key":"lfsFile","value":{"path":"seven.bin","algo":"sha256","size":7000000,"oid":"$OID"}}
{"key":"lfsFile","value":{"path":"two.bin","algo":"sha256","size":2000000,"oid":"$OID2"}}
EOF
expect_status 200 "commit both LFS files"
curl -s -L "$HUB_URL/tester/lfs/resolve/main/seven.bin" -o "$TEST_TMP/back.bin"
expect_eq "$(sha256_of "$TEST_TMP/back.bin")" "$OID" "resolve → redirect → the multipart object's bytes"

# ---- an upload streams to disk: the hub's peak memory barely moves
if ldd "$HFSYNC" 2>/dev/null | grep -q asan; then
    skip "peak memory is not meaningful under AddressSanitizer"
else
    head -c 134217728 /dev/urandom > "$TEST_TMP/big.bin"
    before=$(awk '/VmHWM/ {print $2}' /proc/$HUB_PID/status)
    lfs_upload /tester/lfs "$TEST_TMP/big.bin"
    after=$(awk '/VmHWM/ {print $2}' /proc/$HUB_PID/status)
    rm -f "$TEST_TMP/big.bin"
    if [ "$STATUS" = 200 ] && [ $((after - before)) -lt 32768 ]; then
        ok 0 "a 128 MiB PUT raises peak RSS by less than 32 MiB"
    else
        ok 1 "a 128 MiB PUT raises peak RSS by less than 32 MiB"; diag "status $STATUS, VmHWM $before kB -> $after kB"
    fi
fi
expect_eq "$(hub_temps)" "0" "no temp files are left in the store"

# ---- a large basic PUT is hashed behind its writes: a disk that fills, or a client that
# gives up, mid-body still leaves nothing behind
hub_stop
hub_start --fault 'lfs-put:enospc=1500000' || { done_testing; exit 1; }
head -c 3000000 /dev/urandom > "$TEST_TMP/three.bin"
OID3=$(sha256_of "$TEST_TMP/three.bin")
lfs_upload /tester/lfs "$TEST_TMP/three.bin"
expect_status 507 "a large PUT on a disk that fills after 1.5 MB is 507"
areq POST /tester/lfs.git/info/lfs/objects/verify -d "{\"oid\":\"$OID3\",\"size\":3000000}"
expect_status 404 "... and stores nothing"
expect_eq "$(hub_temps)" "0" "... and leaves no temp file"
areq POST $B -H "$LFS_CT" -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$OID3\",\"size\":3000000}]}"
curl -s -o /dev/null --limit-rate 1M --max-time 1 -T "$TEST_TMP/three.bin" "$(jq_ 'j["objects"][0]["actions"]["upload"]["href"]')"
expect_eq "$?" 28 "a large PUT the client gives up on after a second (at 1 MB/s)"
for _ in 1 2 3 4 5 6 7 8 9 10; do [ "$(hub_temps)" = 0 ] && break; sleep 0.1; done
expect_eq "$(hub_temps)" "0" "... leaves no temp file"
lfs_upload /tester/lfs "$TEST_TMP/three.bin"
expect_status 200 "the large PUT again, with space: stored"
expect_eq "$(sha256sum < "$(find "$HUB_ROOT/lfs/objects" -name "$OID3")" | cut -d' ' -f1)" "$OID3" \
    "... byte for byte"

hub_stop
done_testing
