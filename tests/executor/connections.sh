# Connection reuse: an apply whose plan has several commits (strategy multi, 16 LFS files
# each) sends every round of parallel uploads over the connections the rounds before it
# opened, instead of opening new ones after each commit (libcurl trims its connection cache
# to a handful whenever a single request ends, unless told otherwise). The hub's access log
# names each request's connection (conn=N).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

hub_start || { done_testing; exit 1; }
exec_env

DIR=$TEST_TMP/blobs
mkdir -p "$DIR"
python3 - "$DIR" <<'PY'
import os, random, sys
rng = random.Random(7)
for i in range(64):
    with open(os.path.join(sys.argv[1], "shard-%02d.bin" % i), "wb") as f:
        f.write(bytes(rng.getrandbits(8) for _ in range(3000)))
PY
cat >"$TEST_TMP/hfsync.yaml" <<EOF2
version: 1
syncs:
  blobs:
    repo_id: user/conns
    create: {}
    folder_path: $DIR
    commit: { message: "Shards", strategy: multi, max_files: 16 }
EOF2

: >"$TEST_TMP/access.log"
"$HFSYNC" apply -f "$TEST_TMP/hfsync.yaml" --yes -q --jobs 16 >"$TEST_TMP/out" 2>&1
ok $? "apply: 64 LFS files in 4 commits of 16, 16 uploads at a time"
puts=$(grep -c " PUT /" "$TEST_TMP/access.log")
expect_eq "$puts" "64" "the hub got 64 PUTs"
conns=$(grep -o ' conn=[0-9]*$' "$TEST_TMP/access.log" | sort -u | wc -l)
requests=$(grep -c ' conn=[0-9]*$' "$TEST_TMP/access.log")
# 16 uploads at a time need 16 connections; the rounds after the first reuse them (a few more
# at most, for requests that overlapped). Without reuse each round opens 11 or more anew.
if [ "$conns" -ge 16 ] && [ "$conns" -le 20 ]; then ok 0 "the $requests requests came on $conns connections"; else
    ok 1 "the $requests requests came on 16 to 20 connections"; diag "$conns connections" "$(tail -5 "$TEST_TMP/access.log")"; fi
expect_eq "$(resolve_check "$DIR" user/conns)" "" "every file reads back byte for byte through resolve"

hub_stop
done_testing
