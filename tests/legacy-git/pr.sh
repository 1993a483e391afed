# Pull requests over git: create_pr opens the PR through the discussions API and pushes the
# commit to its refs/pr/N (main untouched); strategy multi pushes one commit per step to the
# PR and merges it, as it does over http.
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

W=$TEST_TMP/work
mkdir -p "$W/review" "$W/steps"
printf 'please review\n' >"$W/review/README.md"
head -c 20000 /dev/urandom >"$W/review/weights.bin"
for i in 1 2 3 4 5; do printf 'step file %s\n' "$i" >"$W/steps/f$i.txt"; done
head -c 30000 /dev/urandom >"$W/steps/model.safetensors"
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
syncs:
  review:
    repo_id: user/review
    create: { private: false }
    folder_path: ./review
    transport: git
    commit: { message: "Proposed over git", create_pr: true }
  steps:
    repo_id: user/steps
    create: { private: false }
    folder_path: ./steps
    transport: git
    commit: { message: "Many steps over git", strategy: multi, max_files: 2 }
YAML
cd "$W" || exit 1


"$HFSYNC" apply -f hfsync.yaml --sync review --yes >review.out 2>review.err
rc=$?
expect_eq "$rc" 0 "create_pr over git"
[ "$rc" -eq 0 ] || diag "$(cat review.err)"
expect_contains "$(cat review.out)" "$HUB_URL/user/review/discussions/1" "the pull request's URL is printed"
areq GET /api/models/user/review/discussions/1
expect_eq "$(jq_ 'j["isPullRequest"]') $(jq_ 'j["status"]')" "true open" "PR #1 is open"
expect_eq "$(commit_count models/user/review)" 1 "main still holds only the hub's first commit"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/user/review/resolve/main/README.md")" 404 \
    "... and not the file"
expect_eq "$(resolve_check "$W/review" user/review | wc -l)" 2 "resolve at main finds neither file"
got=$(curl -sfL "$HUB_URL/user/review/resolve/refs%2Fpr%2F1/weights.bin" | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$(sha256_of "$W/review/weights.bin")" "refs/pr/1 holds the LFS file's bytes"
expect_eq "$(git ls-remote "$HUB_URL/user/review" refs/pr/1 | cut -c1-40)" \
    "$(head_of models/user/review refs%2Fpr%2F1)" "git sees the same refs/pr/1"

"$HFSYNC" plan -f hfsync.yaml --sync steps -o steps.json >steps.txt 2>&1
expect_contains "$(cat steps.txt)" "3 commits" "strategy multi, max_files 2: 6 files in 3 commits"
"$HFSYNC" apply steps.json --json >steps.jsonl 2>steps.err
rc=$?
expect_eq "$rc" 0 "strategy multi over git"
[ "$rc" -eq 0 ] || diag "$(cat steps.err)"
expect_eq "$(grep -c '"event":"commit"' steps.jsonl)" 4 "three step commits and the merge"
areq GET /api/models/user/steps/discussions/1
expect_eq "$(jq_ 'j["status"]')" "merged" "the pull request is merged"
expect_eq "$(resolve_check "$W/steps" user/steps)" "" "main holds every file, byte for byte"
pr=$(git ls-remote "$HUB_URL/user/steps" refs/pr/1 | cut -c1-40)
scratch=$TEST_TMP/steps.git
git init -q --bare "$scratch"
git -C "$scratch" fetch -q "$HUB_URL/user/steps" "+refs/pr/1:refs/pr1" 2>/dev/null
expect_eq "$(git -C "$scratch" log --format=%an refs/pr1 | head -3 | sort -u)" "user" \
    "the PR's commits were pushed by hfsync as the token's user"
expect_eq "$(git -C "$scratch" rev-parse refs/pr1)" "$pr" "refs/pr/1 is where the last step went"

cd "$TEST_TMP" || exit 1
hub_stop
done_testing
