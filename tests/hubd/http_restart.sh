# The local hub survives a crash: kill -9 in the middle of an LFS upload, restart on the
# same root; the half object is nowhere, repos, objects and tokens are intact.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

hub_start || { done_testing; exit 1; }
READ=$("$HFSYNC" hub token create reader --role read --root "$HUB_ROOT")
create_repo tester/keep
head -c 1500000 /dev/urandom > "$TEST_TMP/a.bin"
A=$(sha256_of "$TEST_TMP/a.bin")
lfs_upload /tester/keep "$TEST_TMP/a.bin"
commit_ndjson /api/models/tester/keep/commit/main <<EOF2
{"key":"header","value":{"summary":"before the crash"}}
{"key":"file","value":{"content":"$(b64 kept)","path":"kept.txt","encoding":"base64"}}
{"key":"lfsFile","value":{"path":"a.bin","algo":"sha256","size":1500000,"oid":"$A"}}
EOF2
expect_status 200 "commit before the crash"
HEAD=$(jq_ 'j["commitOid"]')

head -c 33554432 /dev/urandom > "$TEST_TMP/b.bin"
B=$(sha256_of "$TEST_TMP/b.bin")
areq POST /tester/keep.git/info/lfs/objects/batch -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$B\",\"size\":33554432}]}"
PUT=$(jq_ 'j["objects"][0]["actions"]["upload"]["href"]')
curl -s -o /dev/null --limit-rate 4M -T "$TEST_TMP/b.bin" "$PUT" &
upload=$!
for _ in $(seq 1 100); do
    tmp=$(find "$HUB_ROOT/lfs/objects" -name '.upload-*' -size +1024k)
    [ -n "$tmp" ] && break
    sleep 0.05
done
expect_eq "$(hub_temps) $(dirname "$tmp")" "1 $HUB_ROOT/lfs/objects/${B:0:2}" \
    "mid-upload: the bytes go to a temp file beside where the object will be"
kill -9 "$HUB_PID"
wait "$HUB_PID" 2>/dev/null
wait "$upload" 2>/dev/null
expect_eq "$(find "$HUB_ROOT/lfs/objects" -name "$B" | wc -l)" "0" "after kill -9 the half object is not in the store"

OLD_PUT=${PUT#*/lfs-upload/}
hub_start
ok $? "restart on the same root"
expect_eq "$(hub_temps)" "0" "the crash's temp file is swept at start"
bad=0
for f in $(find "$HUB_ROOT/lfs/objects" -type f ! -name .layout-ab); do
    [ "$(sha256_of "$f")" = "$(basename "$f")" ] || bad=$((bad + 1))
done
expect_eq "$bad" "0" "every file in lfs/objects is a complete object named by its sha256"
areq POST /tester/keep.git/info/lfs/objects/verify -d "{\"oid\":\"$B\",\"size\":33554432}"
expect_status 404 "the interrupted object is absent"
areq GET /api/models/tester/keep
expect_eq "$STATUS $(jq_ 'j["sha"]')" "200 $HEAD" "the repo and its head survive"
req GET /tester/keep/resolve/main/kept.txt
expect_eq "$BODY" "kept" "regular content survives"
curl -s -L "$HUB_URL/tester/keep/resolve/main/a.bin" -o "$TEST_TMP/a.back"
expect_eq "$(sha256_of "$TEST_TMP/a.back")" "$A" "LFS content survives"
req GET /api/whoami-v2 -H "Authorization: Bearer $READ"
expect_status 200 "tokens survive"
req PUT "$HUB_URL/lfs-upload/$OLD_PUT" -T "$TEST_TMP/b.bin"
expect_status 200 "an upload URL handed out before the crash still works (the secret persists)"
areq POST /tester/keep.git/info/lfs/objects/verify -d "{\"oid\":\"$B\",\"size\":33554432}"
expect_status 200 "the retried upload completes"

hub_stop
done_testing
