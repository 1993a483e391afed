# Fault suite: what happens under the hub's storage and connections while the real hfsync
# binary uploads: connections dropped mid-body, a full disk, the hub killed and restarted.
#
#   case                                          fault                              expected
#   dropped mid-PUT, strategy large               lfs-put:drop=60000                 PUT resent from its start, exit 0
#   dropped mid-PUT, transport git                lfs-put:drop=60000                 the same through the git path, exit 0
#   dropped mid-part (multipart)                  lfs-part:drop=500000               that part resent, completed, exit 0
#   disk full on a basic PUT                      lfs-put:enospc=50000,times=0       507, exit 1, nothing landed, no temp file;
#   disk full on a part                           lfs-part:enospc=300000,times=0       the re-run on a hub with space
#   disk full on the commit's blobs               commit:enospc=0,times=0              finishes (exit 0)
#   hub killed -9 between two parts, restarted    lfs-part:delay=2500,nth=2          the client's retries reach the new hub
#   hub killed -9 while the commit waits          commit:delay=2500                  the commit is looked up, sent again
#   hub killed -9 at 4 seeded points of an        lfs-part/put/commit slowed         the apply ends (exit 0 or 1), the re-run
#   upload, restarted on the same root                                                 finishes; the store holds only whole objects
#
# After every case: check_case (no changes left, the tree is the folder, every file reads
# back bit for bit, no commit twice, .hfsync intact).
. "$SRCDIR/tests/faults/fault-lib.sh"
fault_begin --git
cat >hfsync.yaml <<'YAML'
version: 1
defaults:
  create: { private: false }
  delete_patterns: ["*"]
syncs:
  single:
    repo_id: user/hub-single
    folder_path: ./single
  large:
    repo_id: user/hub-large
    folder_path: ./large
    commit: { message: "Large", strategy: large, max_files: 3 }
  git:
    repo_id: user/hub-git
    folder_path: ./git
    transport: git
YAML
n=0
for s in single large git; do
    n=$((n + 1))
    churn "$W/$s" "$n"
done
for s in single large git; do
    [ "$s" = git ] && [ "$HAVE_GIT" = 0 ] && continue
    "$HFSYNC" apply --sync "$s" --yes >"first-$s.out" 2>&1
    ok $? "a first apply of sync $s"
done

# store_check: what is wrong in the hub's LFS store: an object not named by its sha256, a
# temp file left behind.
store_check() {
    python3 - "$HUB_ROOT/lfs" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
# upload temp files sit beside the objects (objects/AB/.upload-*) and among the parts
for d, _, files in os.walk(root):
    for f in files:
        rel = os.path.relpath(os.path.join(d, f), root)
        if f.startswith(".upload-"):
            print("temp file left: " + rel)
        elif rel.startswith("objects/") and f != ".layout-ab":
            h = hashlib.sha256()
            with open(os.path.join(d, f), "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            if h.hexdigest() != f:
                print("object %s holds other bytes" % f)
PY
}

# applied NAME SYNC: the apply of SYNC under the hub as it is now must exit 0; then check_case.
applied() {
    local name=$1 sync=$2 rc
    "$HFSYNC" apply --sync "$sync" --yes >"$n.out" 2>"$n.err"
    rc=$?
    expect_eq "$rc" 0 "$name: the apply gets through (exit 0)"
    [ "$rc" -eq 0 ] || say "$(tail -3 "$n.err")"
}

# ---- connections dropped mid-body: the PUT or the part is sent again from its start
for sync in large git; do
    n=$((n + 1))
    if [ "$sync" = git ] && [ "$HAVE_GIT" = 0 ]; then
        skip "dropped mid-PUT over git: git and git-lfs are needed"
        continue
    fi
    churn "$W/$sync" "$n"
    fault_hub 'lfs-put:drop=60000'
    log_mark
    applied "dropped mid-PUT ($sync)" "$sync"
    expect_eq "$(log_since | grep -E 'PUT /lfs-upload/[0-9a-f]+\?size' | awk '{print $5}' | tr '\n' ' ')" \
        "-(dropped) 200 " "dropped mid-PUT ($sync): the PUT cut at 60,000 bytes was sent again"
    check_case "dropped mid-PUT ($sync)" "$W/$sync" "user/hub-$sync" "$sync"
done

n=$((n + 1))
churn "$W/single" "$n"
fault_hub 'lfs-part:drop=500000'
log_mark
applied "dropped mid-part" single
parts=$(log_since | grep -E 'PUT /lfs-upload/[0-9a-f]+\?part=' | awk '{print $5}' | sort | tr '\n' ' ')
expect_eq "$parts" "-(dropped) 200 200 " "dropped mid-part: the part cut at 500,000 bytes was sent again"
expect_eq "$(log_since | grep -c -E '^\S+ \S+ POST /lfs-upload/.* 200 ' || true)" 1 "dropped mid-part: ... and the upload completed once"
check_case "dropped mid-part" "$W/single" user/hub-single single

# ---- the hub's disk full: 507, nothing lands, the re-run on a hub with space finishes
for spec in 'lfs-put:enospc=50000,times=0' 'lfs-part:enospc=300000,times=0' 'commit:enospc=0,times=0'; do
    n=$((n + 1))
    name="disk full (${spec%%,*})"
    churn "$W/single" "$n"
    before=$(head_of models/user/hub-single)
    fault_hub "$spec"
    log_mark
    "$HFSYNC" apply --sync single --yes >"$n.out" 2>"$n.err"
    expect_eq "$?" 1 "$name: the apply fails (exit 1)"
    expect_in "$n.err" "507" "$name: ... naming the hub's 507"
    expect_in "$n.err" "disk is full" "$name: ... and its words"
    # each upload request answered 507 is not sent again; the commit is looked up, then
    # sent once more (a 5xx may hide a commit that landed)
    if [ "${spec%%:*}" = commit ]; then
        expect_eq "$(log_since | awk '$5 == 507' | wc -l | tr -d ' ')" 2 "$name: the commit was sent twice, both 507"
    else
        expect_eq "$(log_since | awk '$5 == 507 {print $4}' | sed 's/&expires.*//' | sort | uniq -d | paste -sd'|')" "" \
            "$name: no upload answered 507 was sent again"
    fi
    expect_eq "$(head_of models/user/hub-single)" "$before" "$name: main did not move"
    expect_eq "$(store_check | paste -sd'|')" "" "$name: the store holds only whole objects, no temp file"
    fault_hub
    applied "$name, then space again" single
    check_case "$name" "$W/single" user/hub-single single
done

# ---- the hub killed with SIGKILL mid-upload and restarted on the same root and port
# wait_log PATTERN: until the access log has a line matching PATTERN (at most ~10 s).
wait_log() {
    for _ in $(seq 1 200); do
        grep -q -E "$1" "$TEST_TMP/access.log" && return 0
        sleep 0.05
    done
    return 1
}
# crash_restart: kill -9 the hub, start it again (same root, same port, no fault).
crash_restart() {
    kill -9 "$HUB_PID" 2>/dev/null
    wait "$HUB_PID" 2>/dev/null
    HUB_PID=
    fault_hub
}
for when in part commit; do
    n=$((n + 1))
    name="hub killed while a $when waits"
    churn "$W/single" "$n"
    if [ "$when" = part ]; then fault_hub 'lfs-part:delay=2500,nth=2'; else fault_hub 'commit:delay=2500'; fi
    : >"$TEST_TMP/access.log"
    "$HFSYNC" apply --sync single --yes >"$n.out" 2>"$n.err" &
    apid=$!
    if [ "$when" = part ]; then
        wait_log 'PUT /lfs-upload/[0-9a-f]+\?part=[0-9]+&.* 200 '
        got=$?
    else
        wait_log 'POST /user/hub-single.git/info/lfs/objects/verify'
        got=$?
        sleep 1.5 # the commit POST is in, its handler waiting
    fi
    ok $got "$name: the apply got there"
    crash_restart
    wait "$apid"
    rc=$?
    expect_eq "$rc" 0 "$name: the client's retries reach the restarted hub (exit 0)"
    [ "$rc" -eq 0 ] || say "$(tail -3 "$n.err")"
    expect_eq "$(store_check | paste -sd'|')" "" "$name: the store holds only whole objects, no temp file"
    check_case "$name" "$W/single" user/hub-single single
done

span_points=$(python3 -c 'import random; r = random.Random("hub-kill"); print(" ".join("%.2f" % r.uniform(0.1, 1.6) for _ in range(4)))')
say "hub kill points (s): $span_points"
for point in $span_points; do
    n=$((n + 1))
    name="hub killed at ${point}s"
    churn "$W/single" "$n"
    fault_hub 'lfs-part:delay=300,times=0' 'lfs-put:delay=300,times=0' 'commit:delay=300,times=0'
    "$HFSYNC" apply --sync single --yes >"$n.out" 2>"$n.err" &
    apid=$!
    sleep "$point"
    crash_restart
    wait "$apid"
    rc=$?
    ok $([ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] && echo 0 || echo 1) "$name: the apply ends (exit $rc)"
    "$HFSYNC" apply --sync single --yes >"$n.rerun" 2>&1
    rc=$?
    expect_eq "$rc" 0 "$name: the re-run exits 0"
    [ "$rc" -eq 0 ] || say "$(tail -3 "$n.rerun")"
    expect_eq "$(store_check | paste -sd'|')" "" "$name: the store holds only whole objects, no temp file"
    check_case "$name" "$W/single" user/hub-single single
done

hub_stop
done_testing
