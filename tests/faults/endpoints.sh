# Fault suite: a 5xx and a 429 on every hub endpoint the client uses, one endpoint at a time,
# against the real hfsync binary and a local hub started with --fault for that case.
#
#   endpoint      reached by                       5xx          429   expected
#   create        apply of a new repo (single)     500          429   sent once: exit 1 naming the status, re-run creates it
#   whoami        transport git                    502          429   retried, exit 0
#   info          plan + apply pins (single)       503          429   retried, exit 0
#   tree          plan, listing cache removed      504          429   retried, exit 0
#   paths-info    strategy large, resuming a plan  500          429   retried, exit 0
#   preupload     apply (single)                   502          429   retried, exit 0
#   lfs-batch     apply (single)                   503          429   retried, exit 0
#   lfs-put       basic PUT (single)               504          429   retried, exit 0
#   lfs-part      multipart part (single)          500          429   retried, exit 0
#   lfs-complete  multipart completion (single)    502          429   retried, exit 0
#   lfs-verify    after each upload (single)       503          429   retried, exit 0
#   commit        apply (single)                   504          429   branch read, sent once more, exit 0
#   resolve       plan: remote .gitattributes      500          429   retried, exit 0
#   discussions   strategy multi: each of its 9    odd: 500 502 503 504 500, even: 429
#                 pull-request requests in turn    exit 0, or exit 1 naming the status (sent once); re-run finishes
#   git           transport git: each of its 3     #1 500, #2 429, #3 502
#                 smart-HTTP requests in turn      exit 0, or exit 1 naming the status; re-run finishes
#
# Each fault hits the first request to its endpoint (info: also the third, the apply's pin
# check after the plan's look). After every case: the fault fired, the expected exit, a
# re-run exits 0, and check_case (no changes left, every file reads back bit for bit, the
# tree is exactly the folder, no commit twice, .hfsync intact).
. "$SRCDIR/tests/faults/fault-lib.sh"
fault_begin --git

# write_manifest CREATE_REPO: one sync per way of reaching the endpoints; `create` points at
# a repo that does not exist yet.
write_manifest() {
    cat >"$W/hfsync.yaml" <<YAML
version: 1
defaults:
  create: { private: false }
  delete_patterns: ["*"]
syncs:
  single:
    repo_id: user/ep-single
    folder_path: ./single
  large:
    repo_id: user/ep-large
    folder_path: ./large
    commit: { message: "Large", strategy: large, max_files: 3 }
  multi:
    repo_id: user/ep-multi
    folder_path: ./multi
    commit: { message: "Multi", strategy: multi, max_files: 3 }
  git:
    repo_id: user/ep-git
    folder_path: ./git
    transport: git
  create:
    repo_id: $1
    folder_path: ./single
YAML
}
write_manifest user/ep-create-0
n=0
for s in single large multi git; do
    n=$((n + 1))
    churn "$W/$s" "$n"
done
for s in single large multi git; do
    [ "$s" = git ] && [ "$HAVE_GIT" = 0 ] && continue
    "$HFSYNC" apply --sync "$s" --yes >"first-$s.out" 2>&1
    ok $? "a first apply of sync $s"
done

# The access-log lines (METHOD PATH) of each endpoint's requests.
declare -A SHAPE=(
    [create]='^POST /api/repos/create'
    [whoami]='^GET /api/whoami'
    [info]='^GET /api/models/user/[^/ ]+(/revision/[^/ ]+)?(\?expand=sha)?$'
    [tree]='/tree/'
    [paths-info]='/paths-info/'
    [preupload]='/preupload/'
    [lfs-batch]='/info/lfs/objects/batch'
    [lfs-put]='^PUT /lfs-upload/[0-9a-f]+\?size='
    [lfs-part]='^PUT /lfs-upload/[0-9a-f]+\?part='
    [lfs-complete]='^POST /lfs-upload/'
    [lfs-verify]='/info/lfs/objects/verify'
    [commit]='^POST /api/models/[^ ]+/commit/'
    [resolve]='/resolve/'
    [discussions]='/discussions'
    [git]='/info/refs|/git-(upload|receive)-pack'
)

# one_case ENDPOINT CODE NTH SYNC EXPECT: the NTH request to ENDPOINT answers CODE. EXPECT
# is "retried" (exit 0 in the same run) or "once" (exit 0, or exit 1 with the status in the
# message; the re-run then finishes).
one_case() {
    local ep=$1 code=$2 nth=$3 sync=$4 expect=$5 repo rc name spec what
    name="$ep $code${nth/#1/}"
    [ "$nth" = 1 ] || name="$ep #$nth $code"
    n=$((n + 1))
    repo=ep-$sync
    if [ "$sync" = create ]; then
        repo=ep-create-$n
        write_manifest "user/$repo"
        churn "$W/single" "$n"
    else
        churn "$W/$sync" "$n"
    fi
    what=(--sync "$sync" --yes)
    spec="$ep:status=$code,nth=$nth"
    case $ep in
    info) spec="$spec;$ep:status=$code,nth=3" ;; # the plan's first look, and the apply's pins
    tree) rm -rf "$W/.hfsync/remote" ;; # the planner lists a head once, then reads its cache
    paths-info)
        # paths-info is how strategy large resumes: a first apply of a saved plan stops
        # after one commit (its second commit refused with 400), the faulty one resumes it.
        "$HFSYNC" plan --sync large -o "plan-$n.json" >/dev/null 2>&1
        fault_hub 'commit:status=400,nth=2'
        "$HFSYNC" apply "plan-$n.json" >"prep-$n.out" 2>&1
        expect_eq "$?:$(grep -c 'HTTP 400' "prep-$n.out")" 1:1 \
            "$name: a first apply stops after one commit (400 on the second)"
        what=("plan-$n.json")
        ;;
    esac
    fault_hub "$spec" || { ok 1 "$name: the hub starts"; return; }
    log_mark
    "$HFSYNC" apply "${what[@]}" >"case-$n.out" 2>"case-$n.err"
    rc=$?
    fired=$(log_since | awk -v c="$code" '$5 == c {print $3, $4}' | grep -E "${SHAPE[$ep]}" | head -1)
    ok $([ -n "$fired" ] && echo 0 || echo 1) "$name: the fault fired (${fired:-no request} answered $code)"
    if [ "$expect" = retried ] || [ "$rc" -eq 0 ]; then
        expect_eq "$rc" 0 "$name: the apply gets through (exit 0)"
    else
        expect_eq "$rc" 1 "$name: the apply fails cleanly (exit 1)"
        expect_in "case-$n.err" "$code" "$name: ... naming the hub's answer"
        fault_hub
    fi
    [ "$rc" -eq 0 ] || say "$(tail -1 "case-$n.err")"
    "$HFSYNC" apply "${what[@]}" >"rerun-$n.out" 2>&1
    rc=$?
    expect_eq "$rc" 0 "$name: a re-run exits 0"
    [ "$rc" -eq 0 ] || say "$(tail -3 "rerun-$n.out")"
    check_case "$name" "$W/${sync/create/single}" "user/$repo" "$sync"
}

# Every endpoint with a 5xx (500, 502, 503, 504 in turn) and a 429 on its first request.
i=0
for row in create:once:create whoami:retried:git info:retried:single tree:retried:single \
    paths-info:retried:large preupload:retried:single lfs-batch:retried:single \
    lfs-put:retried:single lfs-part:retried:single lfs-complete:retried:single \
    lfs-verify:retried:single commit:retried:single resolve:retried:single; do
    IFS=: read -r ep expect sync <<<"$row"
    codes=(500 502 503 504)
    code=${codes[$((i % 4))]}
    i=$((i + 1))
    if [ "$sync" = git ] && [ "$HAVE_GIT" = 0 ]; then
        skip "$ep: git and git-lfs are needed"
        continue
    fi
    one_case "$ep" "$code" 1 "$sync" "$expect"
    one_case "$ep" 429 1 "$sync" "$expect"
done
# strategy multi's pull request, request by request: 1 list PRs, 2 open one, 3 read it,
# 4-5 tick its checklist, 6 rename it, 7 open it for review, 8 merge it, 9 read it back.
for nth in 1 2 3 4 5 6 7 8 9; do
    code=429
    [ $((nth % 2)) -eq 1 ] && code=${codes[$((nth / 2 % 4))]}
    one_case discussions "$code" "$nth" multi once
done
# transport git, request by request (its cache holds the head, so nothing is fetched): the
# push's refs (first unauthenticated, answered 401 for the token, then with it) and its pack.
for nth in 1 2 3; do
    if [ "$HAVE_GIT" = 0 ]; then
        skip "git #$nth: git and git-lfs are needed"
        continue
    fi
    code=429
    [ $((nth % 2)) -eq 1 ] && code=${codes[$((nth / 2 % 4))]}
    one_case git "$code" "$nth" git once
done

hub_stop
done_testing
