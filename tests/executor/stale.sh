# Stale plans: the pins an apply checks before it changes anything (the remote head; each
# local file's size, and its hash when its mtime moved), the repo a plan creates, a race with
# another client during the commit (412), the hub disagreeing with the plan's modes, and the
# hub's .gitignore (shouldIgnore).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

hub_start --multipart-threshold 3MB || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
D=$W/data
mkdir -p "$D"
printf 'one\n' >"$D/a.txt"
printf 'two\n' >"$D/b.txt"
head -c 50000 /dev/urandom >"$D/w.safetensors"
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  s:
    repo_id: user/stale
    create: { private: true }
    folder_path: ./data
YAML
cd "$W" || exit 1
"$HFSYNC" apply -f hfsync.yaml --yes >/dev/null 2>first.err
ok $? "the first apply creates the repo"
[ -f first.err ] && grep -q "created private model user/stale" first.err
ok $? "... private, as declared"
private=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/stale" | python3 -c 'import json,sys; print(json.load(sys.stdin)["private"])')
expect_eq "$private" "True" "the hub holds it as private"

# ---- the remote moved between plan and apply: exit 3, nothing uploaded
printf 'one, changed\n' >"$D/a.txt"
head -c 60000 /dev/urandom >"$D/w.safetensors"
"$HFSYNC" plan -o p1.json >/dev/null 2>&1
before=$(head_of models/user/stale)
printf '{"key":"header","value":{"summary":"someone else"}}\n{"key":"file","value":{"path":"other.txt","content":"%s","encoding":"base64"}}\n' "$(b64 other)" | nd
commit_post /api/models/user/stale/commit/main
expect_status 200 "another client commits in between"
after=$(head_of models/user/stale)
log_mark
"$HFSYNC" apply p1.json >out 2>err
expect_eq "$?" 3 "the stale plan exits 3"
expect_contains "$(cat err)" "plan is stale: user/stale@main moved from ${before:0:7} to ${after:0:7} since the plan was written" "... saying what moved"
expect_eq "$(log_since | grep -c -E 'preupload|/info/lfs/|lfs-upload|/commit/' || true)" 0 "... and nothing was uploaded or committed"
"$HFSYNC" apply p1.json --json >json.out 2>/dev/null
expect_eq "$(python3 -c 'import json; print(json.loads(open("json.out").read().splitlines()[-1])["event"])')" "stale" "--json ends with a stale event"

# ---- local pins
"$HFSYNC" plan -o p2.json >/dev/null 2>&1
printf 'one, changed, and longer\n' >"$D/a.txt"
log_mark
"$HFSYNC" apply p2.json >out 2>err
expect_eq "$?" 3 "a planned file whose size changed: exit 3"
expect_contains "$(cat err)" "$D/a.txt changed size (25 bytes now, 13 planned)" "... naming the file"
expect_eq "$(log_since | grep -c -E 'preupload|/info/lfs/|/commit/' || true)" 0 "... before anything was sent"
printf 'one, changed\n' >"$D/a.txt"
"$HFSYNC" apply p2.json >out 2>err
expect_eq "$?" 0 "the file back as planned (its mtime moved): hashed again, applied"
expect_contains "$(cat err)" "hashed 1 file(s) whose mtime moved" "... saying it hashed it again"

printf 'three\n' >"$D/c.txt"
"$HFSYNC" plan -o p4.json >/dev/null 2>&1
printf 'THREE\n' >"$D/c.txt"
touch -d '2001-01-01' "$D/c.txt"
"$HFSYNC" apply p4.json >out 2>err
expect_eq "$?" 3 "same size, other content, mtime moved: exit 3"
expect_contains "$(cat err)" "$D/c.txt changed (its " "... naming the file"
rm "$D/c.txt"
"$HFSYNC" apply p4.json >out 2>err
expect_eq "$?" 3 "a planned file that was removed: exit 3"
expect_contains "$(cat err)" "$D/c.txt was removed" "... naming it"

# ---- the send check: an apply of a plan file checks the LFS bytes it sends against the check
# the plan's hash cache holds beside the sha256 (not against a second sha256 of them). A cache
# entry whose check says other bytes (tampered with, its checksum made good) proves it: the
# upload stops as for a changed file, and nothing is committed.
head -c 70000 /dev/urandom >"$D/sc.safetensors"
touch -d '1 hour ago' "$D/sc.safetensors"
"$HFSYNC" plan -o p5.json >/dev/null 2>&1
python3 - "$W/.hfsync/hashcache" "$D/sc.safetensors" <<'PY'
import hashlib, struct, sys
path, target = sys.argv[1], sys.argv[2].encode()
b = bytearray(open(path, "rb").read())
assert b[:8] == b"HFSHASHC" and struct.unpack_from("<I", b, 8)[0] == 2
count, off, done = struct.unpack_from("<Q", b, 16)[0], 64, False
for _ in range(count):
    (plen,) = struct.unpack_from("<I", b, off)
    fixed = 4 + 1 + 8 * 4 + 20 + 32 + 16
    if bytes(b[off + fixed:off + fixed + plen]) == target:
        assert b[off + 4] & 4, "the entry has a send check"
        b[off + 89] ^= 1
        done = True
    off += fixed + plen + 1
assert done, "the file has an entry"
b[32:64] = hashlib.sha256(b[64:]).digest()
open(path, "wb").write(b)
PY
ok $? "the hash cache holds the file's send check (then made to say other bytes)"
before=$(head_of models/user/stale)
"$HFSYNC" apply p5.json >out 2>err
expect_eq "$?" 3 "the bytes sent differ from the cache's send check: exit 3"
expect_contains "$(cat err)" "$D/sc.safetensors changed since it was planned: the bytes read to be sent are not the bytes its sha256 was taken from" "... naming the file"
expect_eq "$(head_of models/user/stale)" "$before" "... and nothing was committed"
# The cache is trusted for the check as for the sha256 (while the file's stat data match): a
# new plan takes the same check from it; without the cache it is taken again.
rm "$W/.hfsync/hashcache"
"$HFSYNC" plan -o p6.json >/dev/null 2>&1
"$HFSYNC" apply p6.json >out 2>err
expect_eq "$?" 0 "planned again without the cache, the same file applies"
expect_eq "$(curl -sL "$HUB_URL/user/stale/resolve/main/sc.safetensors" -H "Authorization: Bearer $TOKEN" | sha256sum | cut -c1-64)" \
    "$(sha256sum <"$D/sc.safetensors" | cut -c1-64)" "... and reads back byte for byte"

# ---- a plan that creates a repo someone else created and committed to meanwhile
mkdir -p "$W/d2" && printf 'x\n' >"$W/d2/x.txt"
cat >"$W/create.yaml" <<'YAML'
version: 1
syncs:
  c:
    repo_id: user/raced
    create: { private: false }
    folder_path: ./d2
YAML
"$HFSYNC" plan -f create.yaml -o p5.json >/dev/null 2>&1
create_repo user/raced
printf '{"key":"header","value":{"summary":"first"}}\n{"key":"file","value":{"path":"y.txt","content":"%s","encoding":"base64"}}\n' "$(b64 y)" | nd
commit_post /api/models/user/raced/commit/main
"$HFSYNC" apply p5.json >out 2>err
expect_eq "$?" 3 "a repo to create that meanwhile has commits: exit 3"
expect_contains "$(cat err)" "the plan creates model user/raced, but it exists now and has commits" "... saying so"
"$HFSYNC" plan -f create.yaml -o p6.json >/dev/null 2>&1
"$HFSYNC" apply p6.json >out 2>err
expect_eq "$?" 0 "planned again, it applies"

# ---- the hub must agree with the plan's modes (a plan edited, its id recomputed)
printf 'regular text\n' >"$D/mode.txt"
"$HFSYNC" plan -o p7.json >/dev/null 2>&1
python3 - p7.json <<'PY'
import hashlib, json, sys
p = json.load(open(sys.argv[1]))
for c in p["syncs"][0]["commits"]:
    for op in c["operations"]:
        if op["path"] == "mode.txt":
            op["mode"] = "lfs"
            op["sha256"] = hashlib.sha256(b"regular text\n").hexdigest()
p.pop("plan_id")
p["plan_id"] = hashlib.sha256(json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
json.dump(p, open(sys.argv[1], "w"), indent=2, sort_keys=True)
PY
log_mark
"$HFSYNC" apply p7.json >out 2>err
expect_eq "$?" 1 "the hub deciding another mode than the plan: exit 1"
expect_contains "$(cat err)" "the hub decided regular for mode.txt but the plan says lfs" "... naming the file and both modes"
expect_eq "$(log_since | grep -c -E '/info/lfs/|/commit/' || true)" 0 "... before any upload or commit"
rm "$D/mode.txt"

# ---- the hub's .gitignore: files it excludes are neither uploaded nor committed
printf '{"key":"header","value":{"summary":"ignore logs"}}\n{"key":"file","value":{"path":".gitignore","content":"%s","encoding":"base64"}}\n' "$(b64 '*.log')" | nd
commit_post /api/models/user/stale/commit/main
mkdir -p "$W/d3" && printf 'kept\n' >"$W/d3/kept.txt" && printf 'noise\n' >"$W/d3/run.log"
cat >"$W/ignore.yaml" <<'YAML'
version: 1
syncs:
  i:
    repo_id: user/stale
    folder_path: ./d3
    path_in_repo: sub
    gitignore: false
YAML
"$HFSYNC" apply -f ignore.yaml --yes >out 2>err
expect_eq "$?" 0 "apply with a file the repo's .gitignore excludes"
expect_contains "$(cat err)" "sub/run.log left out" "... says it is left out"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/stale/resolve/main/sub/run.log")
expect_eq "$code" 404 "... and it was not committed"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/stale/resolve/main/sub/kept.txt")
expect_eq "$code" 200 "... while the rest was"

# ---- a race the pin check cannot see: the branch moves while the commit is on its way
hub_stop
hub_start --multipart-threshold 3MB --fault 'commit:delay=1500' || { ok 1 "the hub restarts"; done_testing; exit 1; }
exec_env
printf 'race\n' >"$D/race.txt"
"$HFSYNC" plan -o p8.json >/dev/null 2>&1
"$HFSYNC" apply p8.json >race.out 2>race.err &
apply_pid=$!
sleep 0.7
printf '{"key":"header","value":{"summary":"sneaky"}}\n{"key":"file","value":{"path":"sneaky.txt","content":"%s","encoding":"base64"}}\n' "$(b64 s)" | nd
commit_post /api/models/user/stale/commit/main
wait "$apply_pid"
expect_eq "$?" 3 "a commit whose parent moved meanwhile (412): exit 3"
expect_contains "$(cat race.err)" "plan is stale (the branch moved during apply)" "... saying the branch moved during apply"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/stale/resolve/main/race.txt")
expect_eq "$code" 404 "... and nothing of the plan was committed"

# ---- a file that changes while it is being uploaded is not committed
hub_stop
# The hub holds the PUT's body back for 1.5 s; the file is far larger than what the sockets
# buffer meanwhile, so its end is read after it was changed.
hub_start --multipart-threshold 100MB --fault 'lfs-put:delay=1500' || { ok 1 "the hub restarts"; done_testing; exit 1; }
exec_env
head -c 40000000 /dev/urandom >"$D/moving.safetensors"
"$HFSYNC" plan -o p9.json >/dev/null 2>&1
before=$(commit_count models/user/stale)
"$HFSYNC" apply p9.json >moving.out 2>moving.err &
apply_pid=$!
for _ in $(seq 1 100); do grep -q 'uploading' moving.err 2>/dev/null && break; sleep 0.05; done
sleep 0.5
head -c 1000 /dev/urandom | dd of="$D/moving.safetensors" bs=1 seek=39000000 conv=notrunc status=none
wait "$apply_pid"
expect_eq "$?" 3 "a file written to while it is uploaded: exit 3"
expect_contains "$(cat moving.err)" "moving.safetensors" "... naming the file"
expect_eq "$(commit_count models/user/stale)" "$before" "... and no commit was made"

hub_stop
done_testing
