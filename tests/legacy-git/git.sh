# Helpers for the git path's integration tests (source after tests/lib.sh, hubd/hub.sh and
# executor/exec.sh): the real git and git-lfs, seeing only this test's configuration.

have_git_lfs() { command -v git >/dev/null && git lfs version >/dev/null 2>&1; }

# git_env: a HOME of the test's own, the token in a credential store for the real tools.
git_env() {
    export HOME="$TEST_TMP/home" XDG_CONFIG_HOME="$TEST_TMP/home/.config" GIT_CONFIG_NOSYSTEM=1
    export GIT_TERMINAL_PROMPT=0 GIT_ASKPASS=/bin/false SSH_ASKPASS=/bin/false
    unset GIT_DIR GIT_WORK_TREE GIT_LFS_SKIP_SMUDGE
    mkdir -p "$HOME"
    git config --global user.name "git user"
    git config --global user.email "git@example.invalid"
    git config --global init.defaultBranch main
    git lfs install --skip-repo >/dev/null
    printf 'http://user:%s@127.0.0.1:%s\n' "$TOKEN" "${HUB_URL##*:}" >"$TEST_TMP/credentials"
    git config --global credential.helper "store --file=$TEST_TMP/credentials"
}

# tree_of REPO_PATH [REV]: the tree oid of the revision's head, read over git by the real git.
tree_of() {
    local scratch=$TEST_TMP/scratch.git
    [ -d "$scratch" ] || git init -q --bare "$scratch"
    git -C "$scratch" fetch -q "$HUB_URL/$1" "+${2:-main}:refs/look" 2>/dev/null &&
        git -C "$scratch" rev-parse 'refs/look^{tree}'
}

# cache_of REPO_PATH: the git cache hfsync keeps for it beside the manifest in $W.
cache_of() { printf '%s/.hfsync/git/%s.git' "$W" "$1"; }

# clone_check DIR REPO_PATH NAME: `git clone` + `git lfs pull` of the repo give exactly the
# files of DIR (and .gitattributes); prints the differences as TAP diagnostics.
clone_check() {
    local dir=$1 repo=$2 name=$3 out=$TEST_TMP/clone-$RANDOM diff
    GIT_LFS_SKIP_SMUDGE=1 git clone -q "$HUB_URL/$repo" "$out" 2>/dev/null &&
        git -C "$out" lfs pull >/dev/null 2>&1
    diff=$(diff <(cd "$dir" && find . -type f -not -path './.hfsync/*' | sort | xargs -d '\n' sha256sum) \
        <(cd "$out" && find . -type f -not -path './.git/*' -not -name .gitattributes | sort | xargs -d '\n' sha256sum))
    expect_eq "$diff" "" "$name"
}
