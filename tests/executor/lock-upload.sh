# One-shot uploads lock (and journal) by what they target — repo type, repo id, revision,
# path in repo — not by the one name their in-memory manifest gives every upload: two
# `hfsync upload`s from one directory to different repos run at once, two to the same repo
# do not; upload-large-folder's state in the folder is per target as well.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

# Slow commits: an upload holds its lock for a while.
hub_start --fault 'commit:delay=1500,times=0' || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
mkdir -p "$W/a" "$W/b"
cd "$W" || exit 1
printf 'a\n' >"$W/a/a.txt"
printf 'b\n' >"$W/b/b.txt"

# lock_of PATTERN: the lock file of the upload state folder matching PATTERN (a glob).
lock_of() { ls -d .hfsync/state/$1/lock 2>/dev/null | head -1; }
wait_holder() { # wait_holder PATTERN
    for _ in $(seq 1 200); do
        grep -q '^pid ' "$(lock_of "$1")" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

"$HFSYNC" upload user/one ./a >one.out 2>one.err &
one=$!
wait_holder 'upload*'
ok $? "an upload to user/one holds its lock"
ok "$([ -n "$(lock_of 'upload--models--user--one--*')" ] && echo 0 || echo 1)" "... named after its target"
"$HFSYNC" upload user/two ./b >two.out 2>two.err &
two=$!
"$HFSYNC" upload user/one ./a >again.out 2>again.err
ragain=$?
wait "$two"
rtwo=$?
wait "$one"
rone=$?
expect_eq "$rone $rtwo" "0 0" "uploads to user/one and user/two from one directory at once: both exit 0"
expect_eq "$(grep -c 'being applied by another hfsync' two.err || true)" 0 "... the second was not held up by the first"
expect_contains "$(cat two.out)" "$HUB_URL/user/two/commit/" "... and printed its commit"
expect_eq "$ragain" 1 "a second upload to user/one meanwhile: refused"
expect_contains "$(cat again.err)" "is being applied by another hfsync (pid $one, since " "... naming the holder"
expect_eq "$(commit_count models/user/one) $(commit_count models/user/two)" "2 2" \
    "one commit on each repo"
expect_eq "$(ls -d .hfsync/state/upload--models--user--*--* | wc -l)" 2 "two state folders, one per target"

# --wait: the second upload to a target waits for the first, then finds its file there.
printf 'a2\n' >"$W/a/a2.txt"
"$HFSYNC" upload user/one ./a >w1.out 2>w1.err &
w1=$!
wait_holder 'upload--models--user--one--*'
"$HFSYNC" upload user/one ./a --wait >w2.out 2>w2.err
rw2=$?
wait "$w1"
rw1=$?
expect_eq "$rw1 $rw2" "0 0" "a second upload with --wait while one runs: both exit 0"
expect_contains "$(cat w2.err)" "is being applied by another hfsync (pid $w1" "... it said whom it waited for"
expect_eq "$(commit_count models/user/one)" 3 "... and made no commit of its own (nothing left to send)"

# upload-large-folder: the state lives in the folder, per target too.
"$HFSYNC" upload-large-folder user/big1 ./b --repo-type model >l1.out 2>l1.err
r1=$?
"$HFSYNC" upload-large-folder user/big2 ./b --repo-type model >l2.out 2>l2.err
r2=$?
expect_eq "$r1 $r2" "0 0" "upload-large-folder of one folder to two repos"
expect_eq "$(ls -d b/.hfsync/state/upload-large-folder--models--user--big1--* b/.hfsync/state/upload-large-folder--models--user--big2--* | wc -l)" 2 \
    "... keeps a state folder per target in the folder"

hub_stop
done_testing
