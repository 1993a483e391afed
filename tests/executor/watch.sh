# hfsync watch under load: a writer appends JSON lines to several files (one of them LFS)
# while watch pushes every 2 s for ~20 s, against a hub that fails now and then. After the
# stop: every line is on the hub exactly once, no commit ever held a torn line, no commit
# was empty, and the failed runs were retried.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

W=$TEST_TMP/work
D=$W/logs
mkdir -p "$D"
cd "$W" || exit 1
# big.jsonl is LFS (a .gitattributes rule), so growth is also sent through the LFS engine.
printf 'big.jsonl filter=lfs diff=lfs merge=lfs -text\n' >"$D/.gitattributes"
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  logs:
    repo_id: user/logs
    repo_type: dataset
    create: { private: false }
    folder_path: ./logs
    schedule: { every: 2s, append_only: true }
YAML

# Faults, each on a request the runs make again and again: a commit answered 503 twice (the
# run fails, the next one pushes), a commit that lands but answers 500 (found by its plan
# id), a preupload answered 429 (retried after Retry-After), a dropped LFS PUT (resent).
hub_start --fault 'commit:status=503,nth=3,times=2' --fault 'commit:land_then_status=500,nth=6' \
    --fault 'preupload:status=429,retry_after=0,nth=5' --fault 'lfs-put:drop=100,nth=2' ||
    { done_testing; exit 1; }
exec_env

# The writer: whole lines, one write(2) each, to three files, for WRITE_FOR seconds.
cat >"$W/writer.py" <<'PY'
import json, os, sys, time
folder, seconds = sys.argv[1], float(sys.argv[2])
files = {"a.jsonl": 60, "b.jsonl": 200, "big.jsonl": 3000}
fds = {n: os.open(os.path.join(folder, n), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
       for n in files}
seq = {n: 0 for n in files}
end = time.time() + seconds
while time.time() < end:
    for n, pad in files.items():
        line = json.dumps({"file": n, "seq": seq[n], "pad": "x" * pad}) + "\n"
        os.write(fds[n], line.encode())
        seq[n] += 1
    time.sleep(0.03)
print(json.dumps(seq))
PY

"$HFSYNC" watch -f hfsync.yaml >"$W/watch.out" 2>"$W/watch.err" &
WATCH=$!
python3 "$W/writer.py" "$D" 14 >"$W/seq.json"
ok $? "the writer wrote for 14 s while watch ran"
# Quiet now: the runs of the next seconds find nothing to push, so make no commit.
sleep 3
quiet_commits=$(commit_count datasets/user/logs)
sleep 4
expect_eq "$(commit_count datasets/user/logs)" "$quiet_commits" "runs with nothing to push make no commit"
kill -TERM "$WATCH"
wait "$WATCH"
rc=$?
expect_eq "$rc" 0 "watch exits 0 after SIGTERM (its last run succeeded)"
[ "$rc" -eq 0 ] || diag "$(tail -20 "$W/watch.err")"

err=$(cat "$W/watch.err")
expect_contains "$err" "stopping: a last run of each sync" "SIGTERM asks for a last run"
expect_contains "$err" "logs: no changes (the last run)" "... which found everything pushed"
expect_contains "$err" "(the next run tries again)" "a failed run was logged as retried"
expect_contains "$err" "the commit had landed" "the commit answered 500 was recognised, not resent"
ok "$(grep -c -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z hfsync: ' "$W/watch.err")" \
    "every log line starts with a UTC timestamp"
pushes=$(grep -c 'logs: pushed ' "$W/watch.err")
ok $([ "$pushes" -ge 4 ] && echo 0 || echo 1) "several runs pushed ($pushes)"
statuses=$(grep -E 'POST /api/datasets/user/logs/commit/main' "$TEST_TMP/access.log" | awk '{print $5}' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
expect_contains "$statuses" "2 503" "the hub answered 503 to two commits"
expect_eq "$(grep -c -E 'PUT /lfs-upload/.* -\(dropped\)' "$TEST_TMP/access.log")" 1 \
    "an LFS PUT was dropped (and sent again)"

# Every commit: each file it holds ends at a line end and starts the final file; no commit
# leaves the tree as it was; the final tree holds every line exactly once.
python3 - "$HUB_URL" "$TOKEN" "$D" "$W/seq.json" >"$W/check.out" 2>&1 <<'PY'
import json, os, sys, urllib.request, urllib.parse
hub, token, folder, seqfile = sys.argv[1:5]
api = hub + "/api/datasets/user/logs"
def get(url):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req) as r:
        return r.read()
commits = json.loads(get(api + "/commits/main"))
problems = []
final = {n: open(os.path.join(folder, n), "rb").read() for n in ("a.jsonl", "b.jsonl", "big.jsonl")}
trees = []
for c in reversed(commits):
    tree = json.loads(get(api + "/tree/" + c["id"] + "?recursive=true"))
    sig = sorted((e["path"], e["oid"]) for e in tree if e["type"] == "file")
    trees.append(sig)
    for path, _ in sig:
        if path not in final:
            continue
        body = get(hub + "/datasets/user/logs/resolve/" + c["id"] + "/" + urllib.parse.quote(path))
        if body and not body.endswith(b"\n"):
            problems.append("commit %s: %s ends in a torn line" % (c["id"][:7], path))
        if not final[path].startswith(body):
            problems.append("commit %s: %s is not the start of the final file" % (c["id"][:7], path))
for i in range(1, len(trees)):
    if trees[i] == trees[i - 1]:
        problems.append("commit %d changed nothing" % i)
seq = json.load(open(seqfile))
for name, n in seq.items():
    body = get(hub + "/datasets/user/logs/resolve/main/" + name)
    got = [json.loads(l)["seq"] for l in body.decode().splitlines()]
    if got != list(range(n)):
        problems.append("%s on the hub: %d lines, want seq 0..%d once each" % (name, len(got), n - 1))
    if body != final[name]:
        problems.append("%s on the hub differs from the local file" % name)
print("commits:", len(commits))
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
rc=$?
ok $rc "every line on the hub exactly once; every commit ends files at a line end; no empty commit"
[ "$rc" -eq 0 ] && diag "$(head -1 "$W/check.out")" || diag "$(cat "$W/check.out")"
expect_eq "$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/datasets/user/logs/commits/main" |
    python3 -c 'import json,sys; print(sorted({c["title"] for c in json.load(sys.stdin)}))')" \
    "['Scheduled commit', 'initial commit']" "commits say \"Scheduled commit\""

expect_eq "$(cat "$W/watch.err" 2>/dev/null | grep -c -E 'Sanitizer|runtime error')" 0 \
    "no sanitizer report from hfsync"
hub_stop
done_testing
