# `hfsync plan` end to end against a local hub, for what the planner reads: each file is hashed
# for the one hash its final mode needs (content-sniffed files are sampled before hashing; a
# changed file whose mode flips gets the other hash in a second pass), cold and warm plans
# agree, and the remote root .gitignore is matched against repo paths under path_in_repo. The
# folder is scanned while the hub is asked, so a remote .gitignore, known only after, must
# still decide: what it ignores cannot fail the plan, and a local one makes it moot.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh" # log_mark, log_since

W="$TEST_TMP/work"
mkdir -p "$W"
hub_start || { done_testing; exit 1; }
export HF_ENDPOINT="$HUB_URL" HF_TOKEN="$TOKEN" HF_HOME="$TEST_TMP/hf-home"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$TEST_TMP/sanitizer" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$TEST_TMP/sanitizer"

# text SIZE CHAR > FILE and binary SEED SIZE > FILE: deterministic content of a given size.
text() { python3 -c "import sys; sys.stdout.write('$2' * ($1 - 1) + '\n')"; }
binary() { python3 -c "import random,sys; r=random.Random($1); sys.stdout.buffer.write(bytes([0]) + bytes(r.getrandbits(8) for _ in range($2 - 1)))"; }

# commit REPO PATH=FILE...: one commit of regular files (inline, base64).
commit() {
    local id=$1 spec lines=""
    shift
    for spec in "$@"; do
        lines="$lines{\"key\":\"file\",\"value\":{\"path\":\"${spec%%=*}\",\"content\":\"$(base64 -w0 <"${spec#*=}")\",\"encoding\":\"base64\"}}
"
    done
    printf '{"key":"header","value":{"summary":"seed"}}\n%s' "$lines" | nd
    commit_post "/api/models/$id/commit/main"
}

# --- which hashes a plan takes -------------------------------------------------------------
S="$TEST_TMP/seed" D="$W/data"
mkdir -p "$S" "$D"
text 700 a >"$S/text.txt"
text 700 b >"$S/flip.dat"
text 300 c >"$S/same.txt"
create_repo alice/modes
commit alice/modes text.txt="$S/text.txt" flip.dat="$S/flip.dat" same.txt="$S/same.txt"
expect_status 200 "seed the hub: text files, regular"

text 700 z >"$D/text.txt"      # changed, same size, still text: regular
binary 1 700 >"$D/flip.dat"    # changed, same size, now binary: the hub will want LFS
cp "$S/same.txt" "$D/same.txt" # unchanged
text 50 n >"$D/new.txt"        # new text: regular
binary 2 900 >"$D/new.dat"     # new binary: LFS by its sample
binary 3 400 >"$D/w.bin"       # LFS by the hub's default rules: no sample needed
cat >"$W/hfsync.yaml" <<'EOF'
version: 1
syncs:
  modes:
    repo_id: alice/modes
    folder_path: ./data
EOF
cd "$W" || exit 1

# ops: "path op mode hashes-present sha-ok" per operation, sorted.
ops() {
    python3 - "$1" "$D" <<'EOF'
import hashlib, json, os, sys
plan, root = json.load(open(sys.argv[1])), sys.argv[2]
for s in plan["syncs"]:
    for c in s["commits"]:
        for op in c["operations"]:
            data = open(os.path.join(root, op["local"]), "rb").read()
            want = {"sha1": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
                    "sha256": hashlib.sha256(data).hexdigest()}
            has = [k for k in ("sha1", "sha256") if k in op]
            good = all(op[k] == want[k] for k in has)
            print(op["path"], op["op"], op["mode"], "+".join(has), "ok" if good else "WRONG")
EOF
}
"$HFSYNC" plan -q -o cold.json >/dev/null 2>plan.err
expect_eq "$?" 0 "plan with a cold hash cache"
[ -s plan.err ] && diag "$(cat plan.err)"
expect_eq "$(ops cold.json)" "flip.dat update lfs sha256 ok
new.dat add lfs sha256 ok
new.txt add regular sha1 ok
text.txt update regular sha1 ok
w.bin add lfs sha256 ok" \
    "one hash per file, from its mode; a mode flip also gets the hash it now needs"
expect_eq "$(python3 -c 'import json; print(json.load(open("cold.json"))["syncs"][0]["summary"]["unchanged"])' 2>&1)" 1 \
    "the unchanged file is recognised by the remote mode's hash alone"

"$HFSYNC" plan -q -o warm.json >/dev/null 2>&1
cmp -s cold.json warm.json
ok $? "a warm plan (every hash from the cache) is byte-identical"
rm -rf .hfsync
"$HFSYNC" plan -q -o cold2.json >/dev/null 2>&1
cmp -s cold.json cold2.json
ok $? "so is a second cold plan"

# --- the remote root .gitignore under path_in_repo ---------------------------------------------
printf '/sub/a.log\n/b.log\n' >"$S/gitignore"
create_repo alice/prefixed
commit alice/prefixed .gitignore="$S/gitignore"
expect_status 200 "seed the hub: a root .gitignore with anchored rules"
mkdir -p "$W/logs"
text 10 a >"$W/logs/a.log"
text 10 b >"$W/logs/b.log"
text 10 c >"$W/logs/c.txt"
cat >"$W/prefixed.yaml" <<'EOF'
version: 1
syncs:
  logs:
    repo_id: alice/prefixed
    folder_path: ./logs
    path_in_repo: sub
EOF
"$HFSYNC" plan -q -f prefixed.yaml -o prefixed.json >/dev/null 2>plan.err
expect_eq "$?" 0 "plan a folder under path_in_repo with a remote root .gitignore"
[ -s plan.err ] && diag "$(cat plan.err)"
expect_eq "$(python3 -c 'import json; print(" ".join(o["path"] for s in json.load(open("prefixed.json"))["syncs"] for c in s["commits"] for o in c["operations"]))' 2>&1)" \
    "sub/b.log sub/c.txt" \
    "the hub's rules see repo paths: /sub/a.log leaves a.log out, /b.log keeps sub/b.log"

# --- the scan runs before the remote .gitignore is known ------------------------------------
# A name that is not UTF-8 fails a scan, unless a .gitignore leaves it out: here the remote's.
printf 'junk/\n' >"$S/gitignore-junk"
create_repo alice/ignored
commit alice/ignored .gitignore="$S/gitignore-junk"
expect_status 200 "seed the hub: a root .gitignore that ignores junk/"
mkdir -p "$W/ign/junk"
text 10 k >"$W/ign/keep.txt"
text 10 j >"$W/ign/junk/$(printf 'bad\xff').txt"
cat >"$W/ignored.yaml" <<'EOF'
version: 1
syncs:
  ign:
    repo_id: alice/ignored
    folder_path: ./ign
EOF
ops() { python3 -c 'import json,sys; print(" ".join(o["path"] for s in json.load(open(sys.argv[1]))["syncs"] for c in s["commits"] for o in c["operations"]))' "$1" 2>&1; }
gitignore_reads() { log_since | grep -c '/resolve/[^ ]*/\.gitignore' || true; }
log_mark
"$HFSYNC" plan -q -f ignored.yaml -o ignored.json >/dev/null 2>plan.err
expect_eq "$?" 0 "a name that is not UTF-8, in a folder the remote .gitignore ignores, plans"
[ -s plan.err ] && diag "$(cat plan.err)"
expect_eq "$(ops ignored.json)" "keep.txt" "... and leaves junk/ out"
expect_eq "$(gitignore_reads)" 1 "... having read the remote .gitignore once"

# With a root .gitignore of its own the folder ignores the remote one: it is not even read.
printf 'nothing-here\n' >"$W/ign/.gitignore"
"$HFSYNC" plan -q -f ignored.yaml -o ignored.json >/dev/null 2>plan.err
expect_eq "$?" 1 "with a local root .gitignore, the remote one does not hide junk/"
expect_contains "$(cat plan.err)" "not valid UTF-8" "... so the odd name is an error"
rm -rf "$W/ign/junk"
log_mark
"$HFSYNC" plan -q -f ignored.yaml -o ignored.json >/dev/null 2>plan.err
expect_eq "$(ops ignored.json)" ".gitignore keep.txt" "without the odd name it plans, its .gitignore a file like any"
expect_eq "$(gitignore_reads)" 0 "... and the remote .gitignore is not downloaded"

reports=$(cat "$TEST_TMP"/sanitizer.* 2>/dev/null | head -40)
expect_eq "$reports" "" "no sanitizer reports from any hfsync run"
hub_stop
done_testing
