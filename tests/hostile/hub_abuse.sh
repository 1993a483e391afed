# The local hub under load and abuse: 64 clients committing to one repo at once (every change
# kept, git fsck --strict clean), hfsync uploads racing them, slow-loris connections cut off
# by the header deadline while others are served, oversized headers and bodies (431 / 413 with
# a JSON error), and the permission matrix: unauthenticated writes (401), a read token writing
# (403), another user's private repo indistinguishable from a missing one (404).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

hub_start --header-timeout 2 || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
pids=()
wait_all() { wait "${pids[@]}"; pids=(); }
R=/api/models/tester/race
create_repo tester/race
expect_status 200 "create tester/race"
bare=$HUB_ROOT/repos/models/tester/race.git
before=$(git --git-dir="$bare" rev-list --count main)

# ---- 64 clients commit at once, 8 hfsync uploads race them
N=64
for i in $(seq 1 $N); do
    printf '{"key":"header","value":{"summary":"client %s"}}\n{"key":"file","value":{"content":"%s","path":"p/c%02d.txt","encoding":"base64"}}\n' \
        "$i" "$(b64 "change $i")" "$i" >"$TEST_TMP/c$i.ndjson"
done
for k in 1 2 3 4 5 6 7 8; do
    mkdir -p "$TEST_TMP/up$k" && printf 'upload %s\n' "$k" >"$TEST_TMP/up$k/u.txt"
done
for i in $(seq 1 $N); do
    curl -s -o "$TEST_TMP/r$i" -w '%{http_code}\n' -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/x-ndjson' --data-binary @"$TEST_TMP/c$i.ndjson" \
        "$HUB_URL$R/commit/main" >"$TEST_TMP/s$i" &
    pids+=($!)
    if [ $((i % 8)) -eq 0 ]; then
        k=$((i / 8))
        "$HFSYNC" upload tester/race "$TEST_TMP/up$k" "u$k" >/dev/null 2>"$TEST_TMP/up$k.err" &
        pids+=($!)
    fi
done
upload_rcs=()
for p in "${pids[@]}"; do wait "$p"; upload_rcs+=($?); done
pids=()
statuses=$(cat "$TEST_TMP"/s* | sort | uniq -c | tr -s ' ')
expect_eq "$statuses" " $N 200" "$N parallel commits to one branch all answer 200"
# An upload pins the head it planned against, so one that lost the race is stale (exit 3)
# and changed nothing; run again, it lands.
stale=0
for k in 1 2 3 4 5 6 7 8; do
    for _ in 1 2 3 4 5; do
        grep -q 'stale' "$TEST_TMP/up$k.err" || break
        stale=$((stale + 1))
        "$HFSYNC" upload tester/race "$TEST_TMP/up$k" "u$k" >/dev/null 2>"$TEST_TMP/up$k.err"
    done
done
diag "$stale upload(s) lost a race and were run again"
bad_err=$(cat "$TEST_TMP"/up?.err | grep -i 'error' | grep -v 'stale' | head -3)
expect_eq "$bad_err" "" "the racing uploads failed only as stale, never otherwise"
areq GET "$R/tree/main/p"
expect_eq "$(jq_ 'len(j)')" "$N" "all $N committed files are on the branch"
want=$(for i in $(seq 1 $N); do printf 'p/c%02d.txt %s\n' "$i" "$(printf 'change %s' "$i" | git hash-object --stdin)"; done)
got=$(jq_ '"\n".join(e["path"] + " " + e["oid"] for e in j)')
expect_eq "$got" "$want" "... each with the content its client sent"
missing=""
for k in 1 2 3 4 5 6 7 8; do
    body=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/tester/race/resolve/main/u$k/u.txt")
    [ "$body" = "upload $k" ] || missing="$missing u$k"
done
expect_eq "$missing" "" "every hfsync upload's file landed too"
after=$(git --git-dir="$bare" rev-list --count main)
expect_eq "$((after - before))" "$((N + 8))" "every change is its own commit, none lost"
fsck=$(git --git-dir="$bare" fsck --strict --no-dangling 2>&1)
expect_eq "$? $fsck" "0 " "git fsck --strict on the bare repo is clean"

# ---- big commits racing: 40 files each (a commit's objects go in as one pack, written by the
# hub itself), the same contents repeated within and across them; the losers of the race
# rebuild their trees and write another pack
M=4
for i in $(seq 1 $M); do
    {
        printf '{"key":"header","value":{"summary":"big %s"}}\n' "$i"
        for f in $(seq 1 40); do
            printf '{"key":"file","value":{"content":"%s","path":"big%s/f%02d.txt","encoding":"base64"}}\n' \
                "$(b64 "same $((f % 5))")" "$i" "$f"
        done
    } >"$TEST_TMP/big$i.ndjson"
done
for i in $(seq 1 $M); do
    curl -s -o "$TEST_TMP/bigr$i" -w '%{http_code}\n' -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/x-ndjson' --data-binary @"$TEST_TMP/big$i.ndjson" \
        "$HUB_URL$R/commit/main" >"$TEST_TMP/bigs$i" &
    pids+=($!)
done
wait_all
expect_eq "$(cat "$TEST_TMP"/bigs* | sort | uniq -c | tr -s ' ')" " $M 200" \
    "$M parallel commits of 40 files each all answer 200"
areq GET "$R/tree/main/big3"
expect_eq "$(jq_ 'len(j)')" "40" "a big commit's 40 files are on the branch"
body=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/tester/race/resolve/main/big2/f07.txt")
expect_eq "$body" "same 2" "... each with its content"
fsck=$(git --git-dir="$bare" fsck --strict --no-dangling 2>&1)
expect_eq "$? $fsck" "0 " "git fsck --strict is clean after the big commits"

# ---- slow-loris: 20 connections dribble a request a byte a second; the header deadline
# (--header-timeout 2) cuts each off while other clients are served at full speed
python3 - "$HUB_URL" "$TOKEN" >"$TEST_TMP/loris" <<'PY'
import socket, sys, threading, time, urllib.request
url, token = sys.argv[1], sys.argv[2]
host, port = url.split("//")[1].split(":")
cut = []
def loris():
    s = socket.create_connection((host, int(port)))
    t0 = time.time()
    def drip():
        try:
            for ch in b"GET /api/whoami-v2 HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 60:
                s.send(bytes([ch]))
                time.sleep(1)
        except OSError:
            pass
    threading.Thread(target=drip, daemon=True).start()
    s.settimeout(30)
    try:
        data = s.recv(1)
    except OSError:
        data = b""
    cut.append((time.time() - t0, data))
threads = [threading.Thread(target=loris) for _ in range(20)]
for t in threads:
    t.start()
time.sleep(0.5)
lat = []
for _ in range(10):
    t0 = time.time()
    req = urllib.request.Request(url + "/api/whoami-v2", headers={"Authorization": "Bearer " + token})
    status = urllib.request.urlopen(req, timeout=5).status
    lat.append((status, time.time() - t0))
for t in threads:
    t.join()
print("served", " ".join(str(s) for s, _ in lat))
print("max_latency %.2f" % max(l for _, l in lat))
print("cut", sum(1 for t, d in cut if d == b"" and 1.5 <= t <= 6))
print("cut_times", " ".join("%.1f" % t for t, _ in cut))
PY
expect_eq "$(sed -n 's/^served //p' "$TEST_TMP/loris")" "200 200 200 200 200 200 200 200 200 200" \
    "while 20 slow-loris connections dribble, other requests are served"
max=$(sed -n 's/^max_latency //p' "$TEST_TMP/loris")
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)" "$max"
ok $? "... at full speed (slowest ${max} s)"
expect_eq "$(sed -n 's/^cut //p' "$TEST_TMP/loris")" 20 "each slow-loris connection is closed after the 2 s header deadline"
diag "cut after: $(sed -n 's/^cut_times //p' "$TEST_TMP/loris") s"
expect_contains "$(cat "$TEST_TMP/hub.err")" "that sent no complete request within 2 s (--header-timeout)" "the hub logs the cut"
"$HFSYNC" hub serve --header-timeout 0 >/dev/null 2>&1
expect_eq "$?" 64 "--header-timeout 0 is a usage error"

# ---- oversized headers and bodies: limits, with the hub's JSON error
printf 'X-Big: %s\r\n' "$(head -c 100000 /dev/zero | tr '\0' 'b')" >"$TEST_TMP/big.hdr"
areq GET /api/whoami-v2 -H @"$TEST_TMP/big.hdr"
expect_status 431 "100 KB of headers: 431"
expect_contains "$(jq_ 'j["error"]')" "the request line and headers take 100" "... with a JSON error saying how large"
expect_contains "$(hdr X-Error-Message)" "more than the 65536 this hub accepts" "... and X-Error-Message"
areq GET "/api/whoami-v2?q=$(head -c 90000 /dev/zero | tr '\0' 'q')"
expect_status 431 "a 90 KB URL: 431 with the JSON error"
printf 'X-Big: %s\r\n' "$(head -c 400000 /dev/zero | tr '\0' 'b')" >"$TEST_TMP/huge.hdr"
areq GET /api/whoami-v2 -H @"$TEST_TMP/huge.hdr"
expect_status 431 "400 KB of headers: 431"
expect_contains "$(hdr X-Error-Message)" "more than the 65536 this hub accepts" "... with the hub's own error"
head -c 17000000 /dev/zero | tr '\0' ' ' >"$TEST_TMP/big.json"
for ep in "$R/preupload/main" "/tester/race.git/info/lfs/objects/batch" "$R/paths-info/main"; do
    areq POST "$ep" -H 'Content-Type: application/json' --data-binary @"$TEST_TMP/big.json"
    expect_status 413 "17 MB JSON to ${ep##*/}: 413"
    expect_contains "$(jq_ 'j["error"]')" "larger than this endpoint accepts (16777216 bytes)" "... with a JSON error"
done
areq GET /api/whoami-v2
expect_status 200 "the hub still answers afterwards"

# ---- the permission matrix
READ=$("$HFSYNC" hub token create alice --role read --root "$HUB_ROOT")
BOB=$("$HFSYNC" hub token create bob --role write --root "$HUB_ROOT")
ALICE=$("$HFSYNC" hub token create alice --role write --root "$HUB_ROOT")
req POST /api/repos/create -H "Authorization: Bearer $ALICE" -d '{"name":"pub","organization":"alice"}'
expect_status 200 "alice creates alice/pub"
req POST /api/repos/create -H "Authorization: Bearer $BOB" -d '{"name":"secret","organization":"bob","private":true}'
expect_status 200 "bob creates the private bob/secret"
printf '{"key":"header","value":{"summary":"s"}}\n{"key":"file","value":{"content":"%s","path":"s.txt","encoding":"base64"}}\n' "$(b64 'bob only')" >"$TEST_TMP/s.ndjson"
req POST /api/models/bob/secret/commit/main -H "Authorization: Bearer $BOB" --data-binary @"$TEST_TMP/s.ndjson"
expect_status 200 "... and commits a file to it"
head_pub=$(head_of models/alice/pub)
A=/api/models/alice/pub
# To a branch: without a ref (or to a PR ref) any token that sees the repo may upload, as a
# pull request from a reader needs.
lfs_upload_body='{"operation":"upload","transfers":["basic"],"ref":{"name":"refs/heads/main"},"objects":[{"oid":"'$(printf '%064d' 0)'","size":1}]}'
# write_case METHOD PATH [curl args]: the write, anonymous then with the read token.
write_case() {
    local m=$1 p=$2
    shift 2
    req "$m" "$p" "$@"
    expect_status 401 "anonymous $m ${p#/api/models/alice/pub}: 401"
    expect_eq "$(jq_ 'isinstance(j.get("error"), str) and len(j["error"]) > 0')" "true" "... with a JSON error"
    req "$m" "$p" -H "Authorization: Bearer $READ" "$@"
    expect_status 403 "read token $m ${p#/api/models/alice/pub}: 403"
}
write_case POST /api/repos/create -d '{"name":"x","organization":"alice"}'
write_case POST "$A/commit/main" -H 'Content-Type: application/x-ndjson' --data-binary @"$TEST_TMP/c1.ndjson"
write_case POST "$A/preupload/main" -d '{"files":[{"path":"a.bin","size":1,"sample":"eA=="}]}'
write_case POST /alice/pub.git/info/lfs/objects/batch -d "$lfs_upload_body"
write_case POST "$A/branch/dev"
write_case POST "$A/tag/v1"
write_case POST "$A/super-squash/main" -d '{"message":"squash"}'
write_case DELETE /api/repos/delete -d '{"name":"pub","organization":"alice"}'
req GET "/alice/pub.git/info/refs?service=git-receive-pack"
expect_status 401 "anonymous git push (receive-pack): 401"
req GET "/alice/pub.git/info/refs?service=git-receive-pack" -u "alice:$READ"
expect_status 403 "read token git push: 403"
expect_eq "$(head_of models/alice/pub)" "$head_pub" "none of them changed alice/pub"
req GET /api/models/alice/pub -H "Authorization: Bearer $ALICE"
expect_status 200 "... which is still there"

# Another user's private repo answers exactly as a repo that does not exist, on every read.
invisible() { # PATH-TEMPLATE (with REPO) [curl args]
    local t=$1
    shift
    local tail=${t//REPO/bob\/secret}
    req GET "${t//REPO/bob/secret}" -H "Authorization: Bearer $ALICE" "$@"
    local s1=$STATUS c1 b1
    c1=$(hdr X-Error-Code)
    b1=$(printf '%s' "$BODY" | sed 's/secret/NAME/g; s/Root=[^"]*//')
    req GET "${t//REPO/bob/nothing}" -H "Authorization: Bearer $ALICE" "$@"
    local b2
    b2=$(printf '%s' "$BODY" | sed 's/nothing/NAME/g; s/Root=[^"]*//')
    expect_eq "$s1 $STATUS $c1 | $b1" "404 404 $(hdr X-Error-Code) | $b2" "bob/secret answers alice as a missing repo does (404): GET ${tail}"
}
invisible /api/models/REPO
invisible /api/models/REPO/revision/main
invisible "/api/models/REPO/tree/main?recursive=true"
invisible /api/models/REPO/refs
invisible /api/models/REPO/commits/main
invisible /api/models/REPO/discussions
invisible /REPO/resolve/main/s.txt
invisible /REPO/raw/main/s.txt
invisible "/REPO.git/info/refs?service=git-upload-pack"
req POST /api/models/bob/secret/paths-info/main -H "Authorization: Bearer $ALICE" -d 'paths=s.txt'
expect_status 404 "paths-info on bob/secret: 404"
req POST /bob/secret.git/info/lfs/objects/batch -H "Authorization: Bearer $ALICE" \
    -d '{"operation":"download","objects":[{"oid":"'$(printf '%064d' 0)'","size":1}]}'
expect_status 404 "LFS batch download on bob/secret: 404"
if grep -rq "bob only" "$TEST_TMP/body"; then ok 1 "its content never reached alice"; else ok 0 "its content never reached alice"; fi
req GET /bob/secret/resolve/main/s.txt -H "Authorization: Bearer $BOB"
expect_eq "$STATUS $BODY" "200 bob only" "bob still reads his file"

hub_stop
done_testing
