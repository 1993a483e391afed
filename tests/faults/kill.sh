# Fault suite: the client killed with SIGKILL at seeded random points, in one strategy or
# transport per run (kill.sh single | multi | large | git), FAULT_SEEDS seeds (default 20).
#
#   mode    sync                          hub slowed down by                       after the kill, main is
#   single  strategy single over http     commit 250 ms, lfs-put/part 150 ms       untouched or the new folder
#   multi   strategy multi, 3 files/step  commit 200 ms, discussions 50 ms, lfs    untouched or the new folder
#   large   strategy large, 3 files/step  commit 200 ms, lfs-put/part 150 ms       any prefix of the plan's steps
#   git     transport git                 git 150 ms, lfs-put/part 150 ms          untouched or the new folder
#
# Seed S changes the folder (churn S), plans it, and kills `hfsync apply` at a point drawn
# from [0, 1.2 × the duration of an unkilled apply] (every third seed applies with -f, so
# kills land in the planning and hashing too; every fourth kills the re-run as well). After
# each kill: .hfsync intact, no commit twice, main untouched or complete (single, multi,
# git); then the re-run (the same plan, or -f) exits 0 and check_case holds: no changes
# left, the tree is the folder, every file reads back bit for bit, no commit twice.
. "$SRCDIR/tests/faults/fault-lib.sh"

MODE=${1:?usage: kill.sh single|multi|large|git}
SEEDS=${FAULT_SEEDS:-20}
W=$TEST_TMP/work
D=$W/data
REPO=user/kill-$MODE
mkdir -p "$D"
cd "$W" || exit 1

slow=('lfs-put:delay=150,times=0' 'lfs-part:delay=150,times=0')
commit="message: \"Kill $MODE\""
transport=http
case $MODE in
single) slow+=('commit:delay=250,times=0') ;;
multi)
    slow+=('commit:delay=200,times=0' 'discussions:delay=50,times=0')
    commit="$commit, strategy: multi, max_files: 3"
    ;;
large)
    slow+=('commit:delay=200,times=0')
    commit="$commit, strategy: large, max_files: 3"
    ;;
git)
    if ! have_git_lfs; then
        skip "git and git-lfs are needed (scripts/install-deps.sh installs them)"
        done_testing
        exit 0
    fi
    slow+=('git:delay=150,times=0')
    transport=git
    ;;
*)
    echo "Bail out! unknown mode $MODE"
    exit 1
    ;;
esac
fault_hub "${slow[@]}" || { ok 1 "the hub starts"; done_testing; exit 1; }
[ "$MODE" = git ] && git_env
cat >hfsync.yaml <<YAML
version: 1
syncs:
  k:
    repo_id: $REPO
    create: { private: false }
    folder_path: ./data
    delete_patterns: ["*"]
    transport: $transport
    commit: { $commit }
YAML

# A first apply creates the repo; the duration of a second, unkilled, is the range the
# kills are drawn from.
churn "$D" 100
"$HFSYNC" apply -f hfsync.yaml --yes >first.out 2>&1
expect_eq "$?" 0 "a first apply creates the repo"
churn "$D" 101
"$HFSYNC" plan -o plan-0.json >/dev/null 2>&1
start=$(date +%s%N)
"$HFSYNC" apply plan-0.json >second.out 2>&1
rc=$?
span=$((($(date +%s%N) - start) / 1000000))
expect_eq "$rc" 0 "a second apply, unkilled ($span ms)"
[ "$rc" -eq 0 ] || say "$(tail -3 second.out)"
points=$(python3 -c 'import random, sys; r = random.Random("kill-" + sys.argv[1]); print(" ".join("%.3f" % r.uniform(0, 0.9 * int(sys.argv[2]) / 1000) for _ in range(int(sys.argv[3]) * 2)))' \
    "$MODE" "$span" "$SEEDS")
set -- $points
say "kill points (s): $points"

# killed_run OUT ARGS...: runs apply in the background, SIGKILLs it at the next kill point;
# KILLED is 1 when it was still running then. The --json events say where it was.
killed_run() {
    local out=$1 point=$2 pid
    shift 2
    "$HFSYNC" apply "$@" --json >"$out" 2>"$out.err" &
    pid=$!
    sleep "$point"
    KILLED=0
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # 137 (128 + SIGKILL): the kill found it running (kill(1) succeeds on a run that ended
    # but was not waited for)
    [ $? -eq 137 ] && KILLED=1
    # whatever the killed client left on the way is answered before the next run looks
    log_settle 0.6
}

# last_event FILE: the kind of the last --json event a killed run printed ("-": none).
last_event() {
    python3 -c '
import json, sys
ev = "-"
for l in open(sys.argv[1]):
    try:
        ev = json.loads(l)["event"]
    except ValueError:
        pass
print(ev)' "$1"
}

kills=0 phases=""
for seed in $(seq 1 "$SEEDS"); do
    point=$1 again=$2
    shift 2
    churn "$D" "$seed"
    before=$(head_of "models/$REPO")
    if [ $((seed % 3)) -eq 0 ]; then
        what=(-f hfsync.yaml --yes)
    else
        "$HFSYNC" plan -o "plan-$seed.json" >/dev/null 2>&1
        what=("plan-$seed.json")
    fi
    killed_run "kill-$seed.json" "$point" "${what[@]}"
    kills=$((kills + KILLED))
    [ "$KILLED" = 1 ] && phases="$phases $(last_event "kill-$seed.json")"
    name="seed $seed (killed at ${point}s$([ "$KILLED" = 1 ] || echo ', after it ended'))"
    check "$REPO" "$D"
    # A kill mid-save may leave the temp file of the journal or of the hash cache; the next
    # run sweeps it (check_case below finds none). Everything else must be sound right now.
    expect_eq "$(grep -v -E '^temp file left: (state/[^/]+/journal\.json|hashcache)\.tmp\.' "$TEST_TMP/check/state" | paste -sd'|')" \
        "" "$name: .hfsync intact after the kill"
    expect_eq "$(checked dups)" "" "$name: no commit twice after the kill"
    if [ "$MODE" != large ]; then
        head=$(checked head)
        ok $([ "$head" = "$before" ] || [ -z "$(checked tree)" ] && echo 0 || echo 1) \
            "$name: main is untouched or the whole new folder"
    fi
    if [ $((seed % 4)) -eq 0 ]; then
        killed_run "again-$seed.json" "$again" "${what[@]}"
        kills=$((kills + KILLED))
        [ "$KILLED" = 1 ] && phases="$phases $(last_event "again-$seed.json")"
    fi
    "$HFSYNC" apply "${what[@]}" >"rerun-$seed.out" 2>&1
    rc=$?
    expect_eq "$rc" 0 "$name: the re-run exits 0"
    [ "$rc" -eq 0 ] || say "$(tail -3 "rerun-$seed.out")"
    check_case "$name" "$D" "$REPO" k
done
say "the kills landed after these events:$phases"
say "re-runs that found the plan already applied: $(grep -l 'already applied' rerun-*.out 2>/dev/null | wc -l)"
# What a kill at the worst instant leaves, made by hand (the seeds hit these windows only
# by luck): temp files of a hash-cache and a journal save, and, over git, the lock files of
# a ref update in the git cache. The next apply must clear them and finish.
n=$((SEEDS + 1))
churn "$D" "$n"
: >.hfsync/hashcache.tmp.K1ll3d
: >.hfsync/state/k/journal.json.tmp.K1ll3d
if [ "$MODE" = git ]; then
    cache=$(find .hfsync/git -name '*.git' -type d | head -1)
    : >"$cache/refs/hfsync/outgoing.lock"
    : >"$cache/packed-refs.lock"
fi
"$HFSYNC" apply -f hfsync.yaml --yes >"rerun-$n.out" 2>&1
rc=$?
expect_eq "$rc" 0 "leftovers of a kill at the worst instant: the next apply exits 0"
[ "$rc" -eq 0 ] || say "$(tail -3 "rerun-$n.out")"
expect_eq "$(find .hfsync -name '*.tmp.*' -o -name '*.lock' ! -name hfsync.lock ! -path '*/state/*' | paste -sd'|')" "" \
    "... and left none of them"
check_case "leftovers of a kill" "$D" "$REPO" k

runs=$((SEEDS + SEEDS / 4))
# A run resumed after a kill has less left to do than the unkilled one the points were
# drawn from, so some end before their point; a third killed mid-way still covers the phases.
ok $([ "$kills" -ge $((runs / 3)) ] && echo 0 || echo 1) "many runs were killed mid-way ($kills of $runs)"
ok $(grep -q "is being applied by another hfsync" rerun-*.out && echo 1 || echo 0) \
    "a killed apply's lock never refused the next run"
hub_stop
done_testing
