# The local hub under concurrent requests: parallel commits to one branch all land (the ref
# moves by compare-and-swap), parentCommit races leave one winner, parallel uploads of one
# object and parallel creates of one repo stay consistent.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

hub_start || { done_testing; exit 1; }
pids=()
# waits for the requests started in the background (not for the hub)
wait_all() { wait "${pids[@]}"; pids=(); }
R=/api/models/tester/race
create_repo tester/race
expect_status 200 "create the repo"
areq GET "$R/commits/main"
before=$(jq_ 'len(j)')
HEAD=$(jq_ 'j[0]["id"]')

# ---- 8 commits at once, each adding its own file: all land
for i in 1 2 3 4 5 6 7 8; do
    printf '{"key":"header","value":{"summary":"parallel %s"}}\n{"key":"file","value":{"content":"%s","path":"p/file%s.txt","encoding":"base64"}}\n' \
        "$i" "$(b64 "content $i")" "$i" > "$TEST_TMP/c$i.ndjson"
done
for i in 1 2 3 4 5 6 7 8; do
    curl -s -o "$TEST_TMP/r$i" -w '%{http_code}\n' -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/x-ndjson' --data-binary @"$TEST_TMP/c$i.ndjson" \
        "$HUB_URL$R/commit/main" > "$TEST_TMP/s$i" &
    pids+=($!)
done
wait_all
statuses=$(cat "$TEST_TMP"/s? | sort | uniq -c | tr -s ' ')
expect_eq "$statuses" " 8 200" "8 parallel commits to one branch all answer 200"
areq GET "$R/tree/main/p"
expect_eq "$(jq_ 'len(j)')" "8" "all 8 files are on the branch"
areq GET "$R/commits/main"
expect_eq "$(jq_ 'len(j)')" "$((before + 8))" "8 new commits in the history"
oids=$(for i in 1 2 3 4 5 6 7 8; do python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["commitOid"])' "$TEST_TMP/r$i"; done | sort -u | wc -l)
expect_eq "$oids" "8" "each answered a different commit"

# ---- the same race with parentCommit: exactly one wins, the rest are 412
areq GET "$R/commits/main"
HEAD=$(jq_ 'j[0]["id"]')
for i in 1 2 3 4 5 6 7 8; do
    printf '{"key":"header","value":{"summary":"guarded %s","parentCommit":"%s"}}\n{"key":"file","value":{"content":"%s","path":"g/file%s.txt","encoding":"base64"}}\n' \
        "$i" "$HEAD" "$(b64 "guarded $i")" "$i" > "$TEST_TMP/c$i.ndjson"
done
for i in 1 2 3 4 5 6 7 8; do
    curl -s -o "$TEST_TMP/r$i" -w '%{http_code}\n' -H "Authorization: Bearer $TOKEN" \
        --data-binary @"$TEST_TMP/c$i.ndjson" "$HUB_URL$R/commit/main" > "$TEST_TMP/s$i" &
    pids+=($!)
done
wait_all
statuses=$(cat "$TEST_TMP"/s? | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
expect_eq "$statuses" " 1 200  7 412 " "8 racing commits with the same parentCommit: one 200, seven 412"
areq GET "$R/tree/main/g"
expect_eq "$(jq_ 'len(j)')" "1" "only the winner's file landed"

# ---- the same LFS object uploaded 4 times at once
head -c 3000000 /dev/urandom > "$TEST_TMP/obj.bin"
OID=$(sha256_of "$TEST_TMP/obj.bin")
areq POST /tester/race.git/info/lfs/objects/batch -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$OID\",\"size\":3000000}]}"
PUT=$(jq_ 'j["objects"][0]["actions"]["upload"]["href"]')
for i in 1 2 3 4; do
    curl -s -o /dev/null -w '%{http_code}\n' -T "$TEST_TMP/obj.bin" "$PUT" > "$TEST_TMP/s$i" &
    pids+=($!)
done
wait_all
expect_eq "$(cat "$TEST_TMP"/s[1-4] | sort -u)" "200" "4 parallel PUTs of one object all succeed"
expect_eq "$(find "$HUB_ROOT/lfs/objects" -name "$OID" | wc -l) $(hub_temps)" "1 0" \
    "one object stored, no temp file left"
expect_eq "$(sha256_of "$(find "$HUB_ROOT/lfs/objects" -name "$OID")")" "$OID" "the stored object is intact"

# ---- one repo created 6 times at once
for i in 1 2 3 4 5 6; do
    curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $TOKEN" \
        -d '{"name":"twice","organization":"tester"}' "$HUB_URL/api/repos/create" > "$TEST_TMP/s$i" &
    pids+=($!)
done
wait_all
statuses=$(cat "$TEST_TMP"/s[1-6] | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
expect_eq "$statuses" " 1 200  5 409 " "6 parallel creates of one repo: one 200, five 409"

hub_stop
done_testing
