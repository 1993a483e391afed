# Interop: the git-lfs client (Debian git-lfs) against the local hub's LFS batch API, with the
# hub as the git remote too (smart HTTP): git-lfs finds the batch endpoint from the remote's
# URL, with the token as the password (credential helper) or as a Bearer extraHeader.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

if ! command -v git >/dev/null || ! git lfs version >/dev/null 2>&1; then
    skip "git-lfs is not installed (scripts/install-deps.sh installs it)"
    done_testing
    exit 0
fi

# A private repo, so every download needs the credentials too. The 1 MB threshold is below
# model.bin: git-lfs offers no multipart transfer, so the hub must still answer basic.
hub_start --multipart-threshold 1MB || { ok 1 "the hub starts"; done_testing; exit 1; }
create_repo user/lfs '"private":true'
expect_status 200 "create the private repo user/lfs"
LFS_URL="$HUB_URL/user/lfs.git/info/lfs"
PORT=${HUB_URL##*:}

# git and git-lfs see only this test's configuration.
export HOME="$TEST_TMP/home" XDG_CONFIG_HOME="$TEST_TMP/home/.config" GIT_CONFIG_NOSYSTEM=1
export GIT_TERMINAL_PROMPT=0 GIT_ASKPASS=/bin/false SSH_ASKPASS=/bin/false
unset GIT_DIR GIT_WORK_TREE GIT_LFS_SKIP_SMUDGE
mkdir -p "$HOME"
git config --global user.name "interop test"
git config --global user.email "interop@example.invalid"
git config --global init.defaultBranch main
git lfs install --skip-repo >/dev/null
printf 'http://user:%s@127.0.0.1:%s\n' "$TOKEN" "$PORT" >"$TEST_TMP/credentials"
CRED="store --file=$TEST_TMP/credentials"

# lfs_fetch_check OID FILE NAME: the hub's batch API hands out a download href for OID, and
# GET on it returns exactly FILE's bytes.
lfs_fetch_check() {
    local oid=$1 file=$2 name=$3 href got
    areq POST /user/lfs.git/info/lfs/objects/batch -H 'Content-Type: application/vnd.git-lfs+json' \
        -d "{\"operation\":\"download\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$oid\",\"size\":$(stat -c %s "$file")}]}"
    href=$(jq_ 'j["objects"][0].get("actions",{}).get("download",{}).get("href","")')
    got=$(curl -sf "$href" | sha256sum | cut -d' ' -f1)
    expect_eq "$got" "$oid" "$name"
}
# diag_out TEXT: a command's output as TAP comments, every line prefixed.
diag_out() { printf '%s\n' "$1" | sed 's/^/# /'; }
puts() { grep -c ' PUT /lfs-upload/' "$TEST_TMP/access.log"; }

git -c credential.helper="$CRED" clone -q "$HUB_URL/user/lfs" "$TEST_TMP/work"
cd "$TEST_TMP/work" || exit 1
git config credential.helper "$CRED"
git lfs install --local >/dev/null
git lfs track '*.bin' >/dev/null
head -c 3145728 /dev/urandom >model.bin
echo "an ordinary file" >README.md
git add -A && git commit -qm "a 3 MiB LFS file"
MODEL_OID=$(sha256_of model.bin)

# ---- upload: git push runs the pre-push hook, which uploads through the hub's batch API
out=$(git push -q origin main 2>&1)
rc=$?
ok $rc "git push to the hub uploads model.bin first (batch with credentials, basic PUT, verify)"
[ $rc -eq 0 ] || diag_out "$out"
grep -q "POST /user/lfs.git/info/lfs/objects/batch 200" "$TEST_TMP/access.log"
ok $? "... at the batch endpoint git-lfs derived from the remote's URL"
lfs_fetch_check "$MODEL_OID" model.bin "the pushed object is in the hub: batch download href, same bytes"
expect_eq "$(git ls-remote origin main | cut -c1-40)" "$(git rev-parse HEAD)" \
    "the git ref went to the hub (its pre-receive check found the object)"

# ---- upload of one object by oid, without pushing git refs
mkdir -p weights
head -c 262144 /dev/urandom >weights/extra.bin
git add -A && git commit -qm "another LFS file"
EXTRA_OID=$(sha256_of weights/extra.bin)
out=$(git lfs push --object-id origin "$EXTRA_OID" 2>&1)
rc=$?
ok $rc "git lfs push --object-id uploads one object"
[ $rc -eq 0 ] || diag_out "$out"
lfs_fetch_check "$EXTRA_OID" weights/extra.bin "... and the hub serves it back"

# ---- objects the hub already has get no upload action, so git-lfs sends nothing
before=$(puts)
out=$(git push -q origin main 2>&1)
rc=$?
ok $rc "git push of the commit whose object is already stored"
[ $rc -eq 0 ] || diag_out "$out"
expect_eq "$(puts)" "$before" "... makes no PUT (the hub's batch answered no actions)"
out=$(git lfs push --all origin 2>&1)
ok $? "git lfs push --all origin succeeds with everything stored"
expect_eq "$(puts)" "$before" "... and makes no PUT either"

# ---- a read-only token may not upload
READ=$("$HFSYNC" hub token create reader --role read --namespace user --root "$HUB_ROOT")
printf 'http://reader:%s@127.0.0.1:%s\n' "$READ" "$PORT" >"$TEST_TMP/read-credentials"
head -c 100000 /dev/urandom >refused.bin
git add -A && git commit -qm "pushed with a read token"
before=$(puts)
out=$(git -c credential.helper= -c credential.helper="store --file=$TEST_TMP/read-credentials" \
    lfs push --object-id origin "$(sha256_of refused.bin)" 2>&1)
[ $? -ne 0 ] && [ "$(puts)" = "$before" ]
ok $? "git lfs push with a read-only token fails and uploads nothing"
grep -q 'POST /user/lfs.git/info/lfs/objects/batch 403 .*user=reader' "$TEST_TMP/access.log" &&
    grep -q 'Authorization error' <<<"$out"
ok $? "... the hub answered the batch 403 and git-lfs reports an authorization error"

# ---- download: a clone without smudge, then git lfs pull with the credential helper
cd "$TEST_TMP" || exit 1
GIT_LFS_SKIP_SMUDGE=1 git -c credential.helper="$CRED" clone -q "$HUB_URL/user/lfs" pull 2>/dev/null
cd pull || exit 1
git config credential.helper "$CRED"
expect_contains "$(head -c 200 model.bin)" "oid sha256:$MODEL_OID" "a clone with GIT_LFS_SKIP_SMUDGE holds pointers"
out=$(git lfs pull 2>&1)
rc=$?
ok $rc "git lfs pull downloads through the hub's batch API"
[ $rc -eq 0 ] || diag_out "$out"
cmp -s model.bin "$TEST_TMP/work/model.bin" && cmp -s weights/extra.bin "$TEST_TMP/work/weights/extra.bin"
ok $? "... and both files have their bytes back"
out=$(git lfs fsck 2>&1)
rc=$?
ok $rc "git lfs fsck finds the downloaded objects intact"
[ $rc -eq 0 ] || diag_out "$out"

# ---- download: smudge during clone, the token sent as a Bearer extraHeader
cd "$TEST_TMP" || exit 1
out=$(git -c http.extraHeader="Authorization: Bearer $TOKEN" clone -q "$HUB_URL/user/lfs" smudge 2>&1)
rc=$?
ok $rc "git clone smudges LFS files from the hub (http.extraHeader Bearer token)"
[ $rc -eq 0 ] || diag_out "$out"
cmp -s smudge/model.bin "$TEST_TMP/work/model.bin"
ok $? "... with the right bytes"

# ---- a private repo's objects need credentials: git's own are given, git-lfs gets none
out=$(git -c http.extraHeader="Authorization: Bearer $TOKEN" -c http."$LFS_URL".extraHeader= \
    clone -q "$HUB_URL/user/lfs" anon 2>&1)
[ ! -f anon/model.bin ] || ! cmp -s anon/model.bin "$TEST_TMP/work/model.bin"
ok $? "without credentials the private repo's object is not downloaded"
expect_contains "$out" "batch response: Git credentials for $HUB_URL/user/lfs not found" \
    "... and git-lfs says it needs credentials"

cd "$TEST_TMP" || exit 1
hub_stop
done_testing
