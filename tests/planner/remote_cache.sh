# The remote listing cache (.hfsync/remote/): a re-plan against an unchanged head lists no
# tree; a head moved by another client is listed again; a damaged cache file is ignored and
# written anew; the cache holds no token.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

hub_start || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
D=$W/data
mkdir -p "$D/sub"
for i in 1 2 3 4 5; do printf 'file %s\n' "$i" >"$D/sub/f$i.txt"; done
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  c:
    repo_id: user/cached
    create: { private: false }
    folder_path: ./data
YAML
cd "$W" || exit 1
"$HFSYNC" apply -f hfsync.yaml --yes >/dev/null 2>&1
ok $? "the first apply"
tree_lists() { log_since | grep -c -E 'GET /api/models/user/cached/tree/' || true; }

log_mark
"$HFSYNC" plan >out 2>&1
expect_contains "$(cat out)" "No changes" "a plan after the apply finds no changes"
expect_eq "$(ls .hfsync/remote/*.tree 2>/dev/null | wc -l | tr -d ' ')" 1 "... and keeps the listing in .hfsync/remote/"
log_mark
"$HFSYNC" plan >out 2>&1
expect_contains "$(cat out)" "No changes" "a second plan finds no changes"
expect_eq "$(tree_lists)" 0 "... without listing the tree (the head has not moved)"
grep -q "$TOKEN" .hfsync/remote/*.tree
ok $((! $?)) "the cache holds no token"

# another client commits: the head moves, the tree is listed again and the change is seen
printf '{"key":"header","value":{"summary":"someone else"}}\n{"key":"file","value":{"path":"sub/f1.txt","content":"%s","encoding":"base64"}}\n' "$(b64 changed)" | nd
commit_post /api/models/user/cached/commit/main
expect_status 200 "another client changes sub/f1.txt"
log_mark
"$HFSYNC" plan >out 2>&1
expect_contains "$(cat out)" "sub/f1.txt" "the next plan sees the other client's change"
ok $([ "$(tree_lists)" -ge 1 ] && echo 0 || echo 1) "... by listing the tree at the new head"

# a damaged cache file is ignored (and rewritten)
f=$(ls .hfsync/remote/*.tree)
python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(bytes(b))
PY
log_mark
"$HFSYNC" plan >out 2>&1
expect_contains "$(cat out)" "sub/f1.txt" "a damaged cache is ignored: the plan is still right"
ok $([ "$(tree_lists)" -ge 1 ] && echo 0 || echo 1) "... listed from the hub"
log_mark
"$HFSYNC" plan >out 2>&1
expect_eq "$(tree_lists)" 0 "... and the cache was written anew"
printf 'truncated' >"$f"
"$HFSYNC" plan >out 2>&1
expect_contains "$(cat out)" "sub/f1.txt" "a truncated cache file is ignored too"
done_testing
