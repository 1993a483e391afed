# A big history over git: a repo with 1,000 commits (made with git fast-import, pushed by
# git) is fetched once into hfsync's cache; after 5 more commits by git, the next apply
# fetches only those (a small pack), and its own push makes a fast-forward git pulls.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/legacy-git/git.sh"

if ! have_git_lfs; then
    skip "git and git-lfs are needed (scripts/install-deps.sh installs them)"
    done_testing
    exit 0
fi
hub_start || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
git_env

create_repo user/history
G=$TEST_TMP/gitwork
git clone -q "$HUB_URL/user/history" "$G" 2>/dev/null
# 1,000 commits, each changing one of 50 files, on top of the hub's first commit.
python3 - <<'PY' | git -C "$G" fast-import --quiet
import sys
out = sys.stdout
for i in range(1000):
    msg = "step %d\n" % i
    body = "content of step %d\n" % i
    out.write("commit refs/heads/main\n")
    out.write("committer git user <git@example.invalid> %d +0000\n" % (1700000000 + i))
    out.write("data %d\n%s" % (len(msg), msg))
    if i == 0:
        out.write("from refs/heads/main^0\n")
    out.write("M 644 inline hist/f%02d.txt\ndata %d\n%s\n" % (i % 50, len(body), body))
PY
git -C "$G" reset -q --hard main
expect_eq "$(git -C "$G" rev-list --count main)" 1001 "git fast-import made 1,000 commits on the hub's first"
out=$(git -C "$G" push -q origin main 2>&1)
ok $? "git pushes them to the hub"
[ -z "$out" ] || diag "$out"

W=$TEST_TMP/work
mkdir -p "$W/data/hist"
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  h:
    repo_id: user/history
    folder_path: ./data
    path_in_repo: added
    transport: git
    commit: { message: "Add files over git" }
YAML
cd "$W" || exit 1
cache=$(cache_of user/history)

# packs: the object count of each pack in the cache, oldest first.
packs() {
    for idx in $(ls -tr "$cache"/objects/pack/*.idx 2>/dev/null); do
        git show-index <"$idx" | wc -l
    done
}

printf 'first\n' >data/one.txt
log_mark
"$HFSYNC" apply -f hfsync.yaml --yes >first.out 2>first.err
rc=$?
expect_eq "$rc" 0 "the first apply over git fetches the whole history and pushes"
[ "$rc" -eq 0 ] || diag "$(cat first.err)"
first_pack=$(packs | tail -1)
ok $([ "${first_pack:-0}" -ge 3000 ] && echo 0 || echo 1) "... the first fetch brought the history ($first_pack objects)"
first_bytes=$(log_since | grep 'POST /user/history.git/git-upload-pack 200' |
    sed -E 's/.* out=([0-9]+).*/\1/' | awk '{ s += $1 } END { print s + 0 }')

git -C "$G" pull -q --ff-only 2>/dev/null
ok $? "git pulls hfsync's commit as a fast-forward"
expect_eq "$(cat "$G/added/one.txt" 2>/dev/null)" "first" "... with its file"
for i in 1 2 3 4 5; do
    printf 'more %s\n' "$i" >"$G/hist/more$i.txt"
    git -C "$G" add -A && git -C "$G" commit -qm "more $i"
done
out=$(git -C "$G" push -q origin main 2>&1)
ok $? "git pushes 5 more commits"
[ -z "$out" ] || diag "$out"

printf 'second\n' >data/two.txt
n_before=$(packs | wc -l)
log_mark
"$HFSYNC" apply -f hfsync.yaml --yes >second.out 2>second.err
rc=$?
expect_eq "$rc" 0 "the second apply over git"
[ "$rc" -eq 0 ] || diag "$(cat second.err)"
expect_eq "$(packs | wc -l)" "$((n_before + 1))" "... fetched one more pack"
second_pack=$(packs | tail -1)
ok $([ "${second_pack:-99999}" -le 30 ] && echo 0 || echo 1) \
    "... holding only what changed: the 5 commits' objects ($second_pack objects)"
second_bytes=$(log_since | grep 'POST /user/history.git/git-upload-pack 200' |
    sed -E 's/.* out=([0-9]+).*/\1/' | awk '{ s += $1 } END { print s + 0 }')
ok $([ "${second_bytes:-999999999}" -lt $((first_bytes / 20)) ] && echo 0 || echo 1) \
    "... and the hub sent a fraction of the first fetch's bytes ($second_bytes vs $first_bytes)"
git -C "$G" pull -q --ff-only 2>/dev/null
ok $? "git pulls the second hfsync commit as a fast-forward"
expect_eq "$(git -C "$G" rev-list --count main)" 1008 "the history is 1,000 + 1 + 1 + 5 + 1 commits"
expect_eq "$(cat "$G/added/two.txt" 2>/dev/null)" "second" "... the last with hfsync's file"

cd "$TEST_TMP" || exit 1
hub_stop
done_testing
