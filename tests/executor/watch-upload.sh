# `hfsync upload … --every MINUTES`: the one-shot upload run as a CommitScheduler, as
# `huggingface-cli upload --every` does — a folder, or a single file watched in its folder;
# pushes only when something changed, "Scheduled commit" unless a message is given, a last
# push on SIGINT; --delete and --create-pr refused; a bad --every is a usage error.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

W=$TEST_TMP/work
mkdir -p "$W/data/sub" "$W/app"
cd "$W" || exit 1
hub_start || { done_testing; exit 1; }
exec_env

wait_for() {
    for _ in $(seq 1 200); do
        [ "$(grep -c -F "$2" "$1" 2>/dev/null)" -ge "${3:-1}" ] && return 0
        sleep 0.1
    done
    return 1
}
titles() {
    curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/$1/commits/main" |
        python3 -c 'import json,sys; print(" | ".join(c["title"] for c in json.load(sys.stdin)))'
}

# ---- a folder, every 0.02 minutes (1.2 s)
printf 'a\n' >"$W/data/a.txt"
printf 'b\n' >"$W/data/sub/b.txt"
printf 'skip\n' >"$W/data/skip.tmp"
"$HFSYNC" upload user/every ./data --repo-type dataset --exclude '*.tmp' --every 0.02 \
    >"$W/out" 2>"$W/err" &
UP=$!
wait_for "$W/err" "upload: pushed" 1
ok $? "the first push"
printf 'a2\n' >>"$W/data/a.txt"
wait_for "$W/err" "upload: pushed" 2
ok $? "a change is pushed at a later run"
sleep 1.5
printf 'c\n' >"$W/data/c.txt"
kill -INT "$UP"
wait "$UP"
expect_eq "$?" 0 "SIGINT: a last push, exit 0"
err=$(cat "$W/err")
expect_contains "$err" "upload: every 1 s, pushing to dataset user/every@main" "it says where and how often"
expect_contains "$err" "upload: no changes" "runs with nothing new push nothing"
expect_eq "$(grep -c -E 'upload: pushed .*\(the last run\)$' "$W/err")" 1 "the last run pushed c.txt"
expect_eq "$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/datasets/user/every/tree/main?recursive=true" |
    python3 -c 'import json,sys; print(" ".join(sorted(e["path"] for e in json.load(sys.stdin) if e["type"]=="file")))')" \
    ".gitattributes a.txt c.txt sub/b.txt" "the folder is on the hub, without the excluded file"
expect_eq "$(titles datasets/user/every)" "Scheduled commit | Scheduled commit | Scheduled commit | initial commit" \
    "three commits, each \"Scheduled commit\""

# ---- one file, watched alone in its folder, under PATH_IN_REPO's folder
printf 'start\n' >"$W/app/app.log"
printf 'not me\n' >"$W/app/other.log"
"$HFSYNC" upload user/applog ./app/app.log logs/app.log --every 0.02 --commit-message "App log" \
    >"$W/out" 2>"$W/err" &
UP=$!
wait_for "$W/err" "upload: pushed" 1
printf 'more\n' >>"$W/app/app.log"
wait_for "$W/err" "upload: pushed" 2
kill -TERM "$UP"
wait "$UP"
expect_eq "$?" 0 "a single file: SIGTERM, exit 0"
expect_eq "$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/applog/tree/main?recursive=true" |
    python3 -c 'import json,sys; print(" ".join(sorted(e["path"] for e in json.load(sys.stdin) if e["type"]=="file")))')" \
    ".gitattributes logs/app.log" "only the file, under logs/"
expect_eq "$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/user/applog/resolve/main/logs/app.log")" \
    "$(cat "$W/app/app.log")" "its grown content"
expect_contains "$(titles models/user/applog)" "App log | App log" "--commit-message names the commits"

# ---- refused
"$HFSYNC" upload user/every ./data --every 0 >/dev/null 2>"$W/err"
expect_eq "$?" 64 "--every 0: usage error"
"$HFSYNC" upload user/every ./data --every soon >/dev/null 2>"$W/err"
expect_eq "$?" 64 "--every soon: usage error"
expect_contains "$(cat "$W/err")" "--every takes a number of minutes above 0" "... saying what it takes"
"$HFSYNC" upload user/every ./data --every 1 --delete '*.txt' >/dev/null 2>"$W/err"
expect_eq "$?" 64 "--every with --delete: usage error"
expect_contains "$(cat "$W/err")" "never delete" "... saying scheduled uploads never delete"
"$HFSYNC" upload user/every ./data --every 1 --create-pr >/dev/null 2>"$W/err"
expect_eq "$?" 64 "--every with --create-pr: usage error"
"$HFSYNC" upload user/applog ./app/app.log renamed.log --every 1 >/dev/null 2>"$W/err"
expect_eq "$?" 1 "--every with a file renamed in the repo: refused"
expect_contains "$(cat "$W/err")" "keeps its name in the repo" "... saying why"

expect_eq "$(cat "$W"/*.err 2>/dev/null | grep -c -E 'Sanitizer|runtime error')" 0 \
    "no sanitizer report from hfsync"
hub_stop
done_testing
