# Cron mode: `hfsync apply --yes -f M --sync NAME` of a scheduled sync, as the example
# crontab runs it every minute. Two overlapping runs make one commit (the second says who
# holds the lock and exits 0, or waits with --wait); log lines carry UTC timestamps; exit
# codes say what happened; the example's crontab line and systemd units run as written.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

EX=$TEST_TMP/example
cp -r "$SRCDIR/examples/scheduled-logs" "$EX"
cd "$EX" || exit 1
STAMP='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z hfsync: '

# The preupload is slowed down so that a run holds the lock long enough to be overlapped.
hub_start --fault 'preupload:delay=2500,times=0' || { done_testing; exit 1; }
exec_env

# cron_line N: the command of the example crontab's Nth job, run where the copy lives.
cron_line() {
    grep -E '^[*0-9/]+ ' "$SRCDIR/examples/scheduled-logs/crontab" | sed -n "${1}p" |
        cut -d' ' -f6- | sed -e "s|cd /srv/training|cd $EX|" -e "s|/var/log/|$TEST_TMP/|g"
}
LINE=$(cron_line 1)
expect_contains "$LINE" "hfsync apply --yes -f hfsync.yaml --sync logs" "the crontab runs one sync"
LINE=${LINE//hfsync apply/$HFSYNC apply}

# ---- two runs at once: one commit
bash -c "$LINE" &
first=$!
sleep 0.8
"$HFSYNC" apply --yes -f hfsync.yaml --sync logs >"$TEST_TMP/second.out" 2>"$TEST_TMP/second.err"
rc=$?
wait "$first"
expect_eq "$?:$rc" "0:0" "two overlapping runs both exit 0"
second=$(cat "$TEST_TMP/second.err")
if printf '%s' "$second" | grep -q -E 'logs: this run is left to the other one: sync logs is being applied by another hfsync \(pid [0-9]+, since '; then
    ok 0 "the second says another run holds the lock, naming its pid"
else
    ok 1 "the second says another run holds the lock, naming its pid"
    diag "$second"
fi
log=$(cat "$TEST_TMP/hfsync-logs.log")
expect_contains "$log" "logs: pushed 2 change(s) in 1 commit(s)" "the first pushed both files in one commit"
expect_eq "$(commit_count datasets/demo/training-logs)" 2 "one commit (after the hub's first)"
bad=$(cat "$TEST_TMP/hfsync-logs.log" "$TEST_TMP/second.err" | grep -c -v -E "$STAMP")
expect_eq "$bad" 0 "every log line starts with a UTC timestamp"
expect_eq "$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/datasets/demo/training-logs/commits/main" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["title"])')" "Scheduled commit" \
    "the commit says \"Scheduled commit\""

# ---- with --wait the second queues behind the first, then finds nothing left to push
printf '{"step": 4, "loss": 1.70}\n' >>logs/metrics.jsonl
bash -c "$LINE" &
first=$!
sleep 0.8
"$HFSYNC" apply --yes --wait -f hfsync.yaml --sync logs >"$TEST_TMP/second.out" 2>"$TEST_TMP/second.err"
rc=$?
wait "$first"
expect_eq "$?:$rc" "0:0" "with --wait both exit 0"
expect_contains "$(cat "$TEST_TMP/second.err")" "logs: no changes" "the waiting run found nothing left"
expect_eq "$(commit_count datasets/demo/training-logs)" 3 "one more commit in all"
resolved=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/datasets/demo/training-logs/resolve/main/runs/exp-1/metrics.jsonl")
expect_eq "$resolved" "$(cat logs/metrics.jsonl)" "the appended line is on the hub once"

# ---- exit codes
"$HFSYNC" apply --yes -f hfsync.yaml --sync logs >/dev/null 2>"$TEST_TMP/err"
expect_eq "$?" 0 "nothing new: exit 0"
expect_contains "$(cat "$TEST_TMP/err")" "logs: no changes" "... saying so"
HF_TOKEN=hf_not_a_token "$HFSYNC" apply --yes -f hfsync.yaml --sync logs >/dev/null 2>"$TEST_TMP/err"
expect_eq "$?" 1 "a rejected token: exit 1"
expect_contains "$(cat "$TEST_TMP/err")" "this needs fixing" "... named as an error no retry mends"
"$HFSYNC" apply -f hfsync.yaml --sync logs </dev/null >/dev/null 2>"$TEST_TMP/err"
expect_eq "$?" 64 "without --yes and without a terminal: a usage error"

# ---- the other job of the crontab: pack, then squash
LINE=$(cron_line 2)
LINE=${LINE//hfsync apply/$HFSYNC apply}
bash -c "$LINE"
expect_eq "$?" 0 "the feedback job runs"
log=$(cat "$TEST_TMP/hfsync-feedback.log")
expect_contains "$log" "feedback: packed 2 new file(s)" "it packs the thumbnails"
expect_contains "$log" "feedback: squashed the history of main into one commit" "... and squashes"
ok "$(ls feedback/*.png 2>/dev/null | wc -l)" "the packed thumbnails were removed once they landed"
expect_eq "$(commit_count datasets/demo/app-feedback)" 1 "the branch is one commit"
files=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/datasets/demo/app-feedback/tree/main?recursive=true" |
    python3 -c 'import json,sys,re; print(" ".join(sorted(re.sub(r"[0-9TZ]{16}", "STAMP", e["path"]) for e in json.load(sys.stdin) if e["type"]=="file")))')
expect_eq "$files" ".gitattributes images/thumbs-STAMP.zip ratings.jsonl" "the hub holds the archive, not the PNGs"

# ---- the systemd units run the same commands
exec_start() { sed -n 's/^ExecStart=\/usr\/local\/bin\/hfsync //p' "$SRCDIR/examples/scheduled-logs/$1"; }
expect_eq "$(exec_start hfsync-logs.service)" "apply --yes -f hfsync.yaml --sync logs" \
    "hfsync-logs.service runs the crontab's command"
expect_eq "$(exec_start hfsync-watch.service)" "watch -f hfsync.yaml" "hfsync-watch.service runs watch"
if command -v systemd-analyze >/dev/null && systemd-analyze --version >/dev/null 2>&1; then
    out=$(systemd-analyze verify --man=no "$SRCDIR"/examples/scheduled-logs/*.service \
        "$SRCDIR"/examples/scheduled-logs/*.timer 2>&1 | grep -v -e 'usr/local/bin/hfsync' -e 'User=' -e 'WorkingDirectory' || true)
    expect_eq "$out" "" "systemd-analyze finds nothing wrong with the units"
else
    skip "systemd-analyze is not installed"
fi

expect_eq "$(cat "$TEST_TMP"/*.err "$TEST_TMP"/hfsync-*.log 2>/dev/null | grep -c -E 'Sanitizer|runtime error')" 0 \
    "no sanitizer report from hfsync"
hub_stop
done_testing
