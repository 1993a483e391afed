# Hostile local input, end to end against a local hub: manifests whose path_in_repo leaves the
# repo or whose folder_path is the filesystem root, symlinks that escape the folder or loop,
# a folder replaced by a file between plan and apply, and tampered plan files. Each case
# checks the message (what and where), the exit code, and that nothing changed: the remote
# head, the hub's write endpoints (never called), the local files.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
. "$SRCDIR/tests/hostile/hostile.sh"

hub_start || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
D=$W/data
mkdir -p "$D/sub"
printf 'one\n' >"$D/a.txt"
printf 'two\n' >"$D/sub/b.txt"
printf 'the secret\n' >"$TEST_TMP/secret.txt"
cd "$W" || exit 1
# manifest NAME [extra sync lines...]: a one-sync manifest for user/target.
manifest() {
    local name=$1
    shift
    {
        printf 'version: 1\nsyncs:\n  s:\n    repo_id: user/target\n    create: { private: false }\n'
        for line in "$@"; do printf '    %s\n' "$line"; done
    } >"$W/$name"
}
manifest good.yaml 'folder_path: ./data'
"$HFSYNC" apply -f good.yaml --yes >/dev/null 2>&1
ok $? "a first apply creates user/target"
LOCAL=$(tree_digest "$D")

# ---- path_in_repo that leaves the repo: refused before anything touches the network
for p in '../x' '/abs' 'a/../../b' 'a/./b' 'a//b'; do
    manifest bad.yaml 'folder_path: ./data' "path_in_repo: \"$p\""
    untouched_mark
    "$HFSYNC" apply -f bad.yaml --yes >out 2>err
    rc=$?
    expect_eq "$rc $(log_since | wc -l)" "1 0" "path_in_repo \"$p\": exit 1 before any request"
    expect_contains "$(cat err)" "bad.yaml:7:19: syncs.s.path_in_repo: path \"$p\"" "... the message names the file, line, column and path"
    untouched "... the remote head is unchanged"
done

# ---- folder_path tricks. Behaviour: folder_path is resolved (symlinks, "..") when the
# manifest is loaded; a folder that resolves to the filesystem root is refused, since a scan
# of it would offer the whole machine for upload. Anything else is the user's choice, and the
# plan records the resolved folder for review.
ln -s / "$W/rootlink"
up=$(printf '../%.0s' $(seq 1 40))
for fp in ./rootlink "$up" / "./data/../../../../../../../../../../../../../../../../../.."; do
    manifest bad.yaml "folder_path: \"$fp\""
    untouched_mark
    "$HFSYNC" plan -f bad.yaml >out 2>err
    expect_eq "$? $(log_since | wc -l)" "1 0" "folder_path ${fp:0:24}...: exit 1 before any request"
    expect_contains "$(cat err)" "bad.yaml:6:18: syncs.s.folder_path: folder \"$fp\" is the filesystem root \"/\"" \
        "... the message names the file, line, column and folder"
done
mkdir -p "$TEST_TMP/elsewhere" && printf 'x\n' >"$TEST_TMP/elsewhere/x.txt"
ln -s "$TEST_TMP/elsewhere" "$W/outlink"
manifest out.yaml 'folder_path: ./outlink'
"$HFSYNC" plan -f out.yaml -o out.json >/dev/null 2>&1
expect_eq "$? $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["syncs"][0]["folder"])' out.json)" \
    "0 $(realpath "$TEST_TMP/elsewhere")" "a symlinked folder_path elsewhere: planned, the plan records the resolved folder"

# ---- symlinks inside the folder. Behaviour (src/planner/scan.c): a symlink is followed only
# when its target stays inside the folder; one that resolves outside, or loops, is an error
# naming the link (exclude it with ignore_patterns or .gitignore); a dangling one is skipped
# with a warning.
check_link_refused() { # NAME WANT-IN-MESSAGE
    untouched_mark
    "$HFSYNC" apply -f good.yaml --yes >out 2>err
    expect_eq "$?" 1 "$1: apply exits 1"
    expect_contains "$(cat err)" "$2" "... naming the link"
    untouched "... nothing was uploaded or committed"
}
ln -s ../../secret.txt "$D/leak.txt"
check_link_refused "a file symlink escaping the folder" "symlink $D/leak.txt points to ../../secret.txt ($TEST_TMP/secret.txt), outside the folder $D"
rm "$D/leak.txt"
ln -s /etc "$D/sub/etc"
check_link_refused "a directory symlink to /etc" "symlink $D/sub/etc points to /etc (/etc), outside the folder $D"
rm "$D/sub/etc"
ln -s ../.. "$D/sub/up"
check_link_refused "a symlink to the folder's parent" "symlink $D/sub/up points to ../.. ($W), outside"
rm "$D/sub/up"
ln -s .. "$D/sub/top"
check_link_refused "a symlink to the folder itself (a loop)" "symlink loop: $D/sub/top points to a directory that contains it"
rm "$D/sub/top"
ln -s . "$D/sub/self"
check_link_refused "a symlink to its own directory (a loop)" "symlink loop: $D/sub/self points to a directory that contains it"
rm "$D/sub/self"
ln -s loop-b "$D/loop-a" && ln -s loop-a "$D/loop-b"
check_link_refused "two symlinks pointing at each other" "symlink loop at $D/loop-a"
rm "$D/loop-a" "$D/loop-b"
ln -s ../secret.txt "$D/excluded.lnk"
manifest ign.yaml 'folder_path: ./data' 'ignore_patterns: ["*.lnk"]'
"$HFSYNC" plan -f ign.yaml >out 2>err
expect_eq "$?" 0 "an escaping symlink excluded by ignore_patterns is no error"
rm "$D/excluded.lnk"
ln -s nowhere "$D/dangling"
"$HFSYNC" plan -f good.yaml >out 2>err
expect_eq "$?" 0 "a dangling symlink: the plan goes on"
expect_contains "$(cat err)" "skipping $D/dangling: a symlink whose target does not exist" "... with a warning naming it"
rm "$D/dangling"
expect_eq "$(tree_digest "$D")" "$LOCAL" "the local files are as they were"

# ---- a folder replaced by a file between plan and apply
printf 'three\n' >"$D/sub/c.txt"
"$HFSYNC" plan -f good.yaml -o p1.json >/dev/null 2>&1
mv "$D/sub" "$W/sub.moved"
printf 'I was a folder\n' >"$D/sub"
untouched_mark
"$HFSYNC" apply p1.json >out 2>err
expect_eq "$?" 3 "a planned folder that became a file: exit 3 (stale)"
expect_contains "$(cat err)" "$D/sub/c.txt was removed (a folder above it is now a file)" "... naming the planned file under it"
untouched "... nothing was uploaded or committed"
rm "$D/sub" && mv "$W/sub.moved" "$D/sub"
mv "$D" "$W/data.moved"
printf 'I was the synced folder\n' >"$D"
"$HFSYNC" apply p1.json >out 2>err
expect_eq "$?" 3 "the synced folder itself replaced by a file: exit 3"
expect_contains "$(cat err)" "$D/sub/c.txt" "... naming the planned file"
untouched "... nothing was uploaded or committed"
rm "$D" && mv "$W/data.moved" "$D"
"$HFSYNC" apply p1.json >out 2>err
expect_eq "$?" 0 "with the folder back, the same plan applies"
rm "$D/sub/c.txt"
"$HFSYNC" apply -f good.yaml --yes >/dev/null 2>&1
LOCAL=$(tree_digest "$D")

# ---- tampered plans. plan_id is the sha256 of the plan's canonical form: an edit that does
# not recompute it is caught; one that does (anyone can) is still held to the plan's rules:
# every path inside the folder and the repo, the sync name a plain name.
printf 'four\n' >"$D/d.txt"
LOCAL=$(tree_digest "$D")
"$HFSYNC" plan -f good.yaml -o plan.json >/dev/null 2>&1
# edit FILE PYTHON [reseal]: applies a Python statement to the plan `p`, reseals it if asked.
edit() {
    python3 - "$@" <<'PY'
import hashlib, json, sys
path, stmt = sys.argv[1], sys.argv[2]
p = json.load(open(path))
ops = [op for s in p["syncs"] for c in s["commits"] for op in c["operations"]]
exec(stmt)
if len(sys.argv) > 3:
    p.pop("plan_id")
    p["plan_id"] = hashlib.sha256(json.dumps(p, sort_keys=True, separators=(",", ":"),
                                             ensure_ascii=False).encode()).hexdigest()
json.dump(p, open(path, "w"), indent=2, sort_keys=True)
PY
}
tampered() { # NAME WANT-IN-MESSAGE
    untouched_mark
    "$HFSYNC" apply t.json >out 2>err
    expect_eq "$?" 1 "$1: exit 1"
    expect_contains "$(cat err)" "$2" "... saying what is wrong, and where"
    untouched "... nothing was uploaded or committed"
}
cp plan.json t.json && edit t.json 'ops[0]["size"] += 1'
tampered "a plan edited without a new plan_id" "t.json was modified after it was written (plan_id does not match its content)"
cp plan.json t.json && edit t.json 'p["plan_id"] = "0" * 64'
tampered "a plan with a forged plan_id" "t.json was modified after it was written"
cp plan.json t.json && edit t.json 'ops[0]["local"] = "../../secret.txt"' reseal
tampered "a resealed plan reading ../../secret.txt" "t.json: syncs[0].commits[0].operations[0].local: \"../../secret.txt\" is not a path inside the folder"
cp plan.json t.json && edit t.json 'ops[0]["local"] = "/etc/passwd"' reseal
tampered "a resealed plan reading /etc/passwd" "operations[0].local: \"/etc/passwd\" is not a path inside the folder"
cp plan.json t.json && edit t.json 'ops[0]["path"] = "../../escape.txt"' reseal
tampered "a resealed plan writing ../../escape.txt in the repo" "operations[0].path: \"../../escape.txt\" is not a path inside the repo"
cp plan.json t.json && edit t.json 'p["syncs"][0]["path_in_repo"] = "a/../.."' reseal
tampered "a resealed plan with path_in_repo a/../.." "syncs[0].path_in_repo: \"a/../..\" is not a path inside the repo"
cp plan.json t.json && edit t.json 'p["syncs"][0]["name"] = "../../../pwned"' reseal
tampered "a resealed plan whose sync name climbs out of .hfsync/state" "syncs[0].name: \"../../../pwned\" is not a sync name"
expect_eq "$(ls "$TEST_TMP" | grep -c pwned)" 0 "... and nothing was created outside the state folder"
cp plan.json t.json && edit t.json 'p["syncs"][0]["folder"] = "relative/dir"' reseal
tampered "a resealed plan with a relative folder" "syncs[0].folder: \"relative/dir\" is not an absolute path"
"$HFSYNC" show t.json >out 2>err
expect_eq "$?" 1 "hfsync show refuses it too"
expect_eq "$(tree_digest "$D")" "$LOCAL" "the local files are untouched"
"$HFSYNC" apply plan.json >out 2>err
expect_eq "$?" 0 "the untampered plan still applies"

hub_stop
done_testing
