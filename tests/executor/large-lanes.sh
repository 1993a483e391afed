# Strategy large uploads objects of 64 MiB or more in a lane of their own: small LFS files
# queued behind a big one (the same LFS round, with one lane) are uploaded and committed
# while its parts are still on their way, instead of after its last part. The hub delays
# every part of the big object; the small files' first commit lands before its completion.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/executor/large-lib.sh"

# The delay sleeps in the hub's worker thread, stalling every connection that thread serves:
# with the default 8 threads, the small files' requests often waited behind sleeping parts
# (under load, 41 of 400 went up before the big object was complete); with 64, a sleeping
# part rarely shares a thread with them.
hub_start --threads 64 --multipart-threshold 8MB --fault 'lfs-part:delay=2500,times=0' ||
    { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
D=$W/data
mkdir -p "$D/small"
cd "$W" || exit 1
# a-big.bin sorts first: with one lane it shared the first LFS round with 255 small files.
head -c $((64 * 1024 * 1024 + 12345)) /dev/urandom >"$D/a-big.bin"
for i in $(seq -w 1 400); do printf 'small %s\n' "$i" >"$D/small/s$i.bin"; done
cat >hfsync.yaml <<'YAML'
version: 1
syncs:
  lanes:
    repo_id: user/lanes
    create: {}
    folder_path: ./data
    commit: { message: "Lanes", strategy: large }
YAML
"$HFSYNC" plan -o plan.json >plan.txt 2>plan.err
ok $? "plan -o plan.json"
expect_eq "$(python3 -c '
import json
ops = [o for c in json.load(open("plan.json"))["syncs"][0]["commits"] for o in c["operations"]]
print(len(ops), sum(1 for o in ops if o.get("mode") == "lfs"))')" "401 401" \
    "the plan adds 401 LFS files (the big one and 400 small ones)"
big_oid=$(sha256sum "$D/a-big.bin" | cut -d' ' -f1)

log_mark
"$HFSYNC" apply plan.json --json >apply.json 2>apply.err
rc=$?
expect_eq "$rc" 0 "apply plan.json exits 0"
[ "$rc" -eq 0 ] || diag "$(tail -5 apply.err)" "$(tail -3 apply.json)"
log_since >since.log
parts=$(grep -c "PUT /lfs-upload/$big_oid?part=" since.log)
expect_eq "$parts" 13 "the big object went up in 13 parts of 5 MiB"
order=$(awk -v oid="$big_oid" '
    / POST \/api\/models\/user\/lanes\/commit\/main / && !c { c = NR }
    $0 ~ " POST /lfs-upload/" oid "[ ?]" && !d { d = NR; print small }
    / PUT \/lfs-upload\/[0-9a-f]+[ ?]/ && $0 !~ oid { small++ }
    END { print (c && c < d) ? "commit-before-completion" : "commit-after" }' since.log | xargs)
# With one lane, the 145 small files of the second LFS round waited for the first round, so
# for the big object's completion.
expect_eq "$order" "400 commit-before-completion" \
    "every small file was uploaded, and a commit landed, before the big object was complete"
first_files=$(python3 -c '
import json
for line in open("apply.json"):
    e = json.loads(line)
    if e.get("event") == "commit":
        print(e["files"]); break')
ok "$([ "${first_files:-0}" -ge 1 ] && echo 0 || echo 1)" "the first commit holds small files ($first_files)"
expect_eq "$(tree_check "$D" "$(hub_git user/lanes)")" "" "the remote tree is the folder, file for file"
cmp -s "$D/a-big.bin" <(curl -sS -L -H "Authorization: Bearer $TOKEN" \
    "$HUB_URL/user/lanes/resolve/main/a-big.bin") 
ok $? "the big file reads back byte for byte through resolve"
"$HFSYNC" plan --detailed-exitcode -o again.json >again.txt 2>again.err
expect_eq "$?" 0 "a second plan finds no changes"
hub_stop
done_testing
