# `hfsync plan` and `hfsync show` against a local hub seeded with known content: a folder with
# every kind of difference gives the exact expected plan (golden files), plans are
# byte-identical, every limit refuses with exit 4, and missing repos, revisions, syncs,
# endpoint and token resolution behave as documented.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"

GOLDEN="$SRCDIR/tests/planner/golden"
W="$TEST_TMP/work"
mkdir -p "$W"

hub_start || { done_testing; exit 1; }
export HF_ENDPOINT="$HUB_URL" HF_TOKEN="$TOKEN" HF_HOME="$TEST_TMP/hf-home"
# In sanitizer builds, every report of the hfsync runs below lands in one place (checked last).
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$TEST_TMP/sanitizer" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$TEST_TMP/sanitizer"

# bytes SEED SIZE > FILE: deterministic binary content.
bytes() { python3 -c "import random,sys; r=random.Random($1); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range($2)))"; }

# seed_repo DIR ID FILE...: creates model repo ID and commits the files of DIR (paths relative
# to it); names ending in .bin or .safetensors go through LFS.
seed_repo() {
    local dir=$1 id=$2 f lines=""
    shift 2
    create_repo "$id"
    for f in "$@"; do
        case "$f" in
        *.bin | *.safetensors)
            lfs_upload "/$id" "$dir/$f"
            lines="$lines{\"key\":\"lfsFile\",\"value\":{\"path\":\"$f\",\"algo\":\"sha256\",\"oid\":\"$(sha256_of "$dir/$f")\",\"size\":$(stat -c %s "$dir/$f")}}
" ;;
        *)
            lines="$lines{\"key\":\"file\",\"value\":{\"path\":\"$f\",\"content\":\"$(base64 -w0 <"$dir/$f")\",\"encoding\":\"base64\"}}
" ;;
        esac
    done
    printf '{"key":"header","value":{"summary":"seed"}}\n%s' "$lines" | nd
    commit_post "/api/models/$id/commit/main"
}

# --- the hub side: known content ----------------------------------------------------------
S="$TEST_TMP/seed"
mkdir -p "$S/weights"
printf '# Golden v1\n' >"$S/README.md"
printf '{"a": 1}\n' >"$S/config.json"
printf 'stale\n' >"$S/stale.txt"
printf 'kept: no delete pattern matches\n' >"$S/keep.md"
bytes 1 3000 >"$S/weights/old.bin"
bytes 2 2000 >"$S/weights/same.bin"
bytes 3 1500 >"$S/shared.bin"
seed_repo "$S" alice/golden README.md config.json stale.txt keep.md weights/old.bin weights/same.bin shared.bin
expect_status 200 "seed the hub: one commit with regular and LFS files"

# --- the local side: every kind of difference ---------------------------------------------
D="$W/data"
mkdir -p "$D/weights" "$D/copy" "$D/data" "$D/sub/deep"
printf '# Golden v2\n' >"$D/README.md"                  # update (regular)
cp "$S/config.json" "$D/config.json"                     # unchanged (git sha1)
cp "$S/weights/same.bin" "$D/weights/same.bin"           # unchanged (sha256)
cp "$S/weights/old.bin" "$D/weights/new.bin"             # moved: copy + delete
cp "$S/shared.bin" "$D/shared.bin"                       # unchanged
cp "$S/shared.bin" "$D/copy/z-copy.bin"                  # server-side copy
bytes 4 2500 >"$D/data/a.bin"                            # add (LFS by rule)...
cp "$D/data/a.bin" "$D/data/b.bin"                       # ...same content: uploaded once
printf 'new notes\n' >"$D/notes.txt"                     # add (regular)
bytes 5 4000 >"$D/model.safetensors"                     # add (LFS by rule)
bytes 6 700 >"$D/blob.dat"                               # add (LFS: binary content)
: >"$D/empty.bin"                                        # add (regular: empty)
printf '{"deep": true}\n' >"$D/sub/deep/file.json"       # add (regular, nested)
find "$D" -exec touch -h -d @1700000000 {} +             # pinned mtimes are part of the plan
cat >"$W/hfsync.yaml" <<'EOF'
version: 1
syncs:
  golden:
    repo_id: alice/golden
    folder_path: ./data
    delete_patterns: ["*.txt", "*.bin"]
    commit:
      message: "Sync golden"
EOF

cd "$W" || exit 1
# normalize FILE: the plan with what depends on this run (temp dir, port, commit time, and so
# the id) replaced by placeholders.
normalize() {
    python3 - "$1" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["endpoint"] = "<endpoint>"
p["plan_id"] = "<plan_id>"
p["tool"] = "<tool>"
for s in p["syncs"]:
    s["folder"] = "<folder>"
    if s["remote_head"]:
        s["remote_head"] = "<remote_head>"
print(json.dumps(p, indent=2, sort_keys=True))
EOF
}

"$HFSYNC" plan -f hfsync.yaml -o plan.json >plan.txt 2>plan.err
rc=$?
expect_eq "$rc" 0 "plan exits 0 without --detailed-exitcode"
[ -s plan.err ] && diag "stderr: $(cat plan.err)"
sed -E 's/remote [0-9a-f]{7}$/remote <head>/' plan.txt >plan.norm.txt
if diff -u "$GOLDEN/every-difference.txt" plan.norm.txt >diff.out; then ok 0 "text plan matches the golden file"; else
    ok 1 "text plan matches the golden file"; diag "$(cat diff.out)"; fi
normalize plan.json >plan.norm.json
if diff -u "$GOLDEN/every-difference.json" plan.norm.json >diff.out; then ok 0 "plan file matches the golden file"; else
    ok 1 "plan file matches the golden file"; diag "$(cat diff.out)"; fi
head=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/alice/golden/revision/main" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sha"])')
expect_eq "$(python3 -c 'import json; print(json.load(open("plan.json"))["syncs"][0]["remote_head"])')" "$head" \
    "the plan pins the remote head it was computed against"

"$HFSYNC" plan -f hfsync.yaml -o plan2.json >plan2.txt 2>/dev/null
cmp -s plan.json plan2.json
ok $? "determinism: a second plan (hash cache warm) is byte-identical"
cmp -s plan.txt plan2.txt
ok $? "and renders identically"
[ -s .hfsync/hashcache ]
ok $? "the hash cache lives in .hfsync/ beside the manifest"

"$HFSYNC" plan -f hfsync.yaml --format json >stdout.json 2>/dev/null
cmp -s stdout.json plan.json
ok $? "--format json: stdout is exactly the plan file"
"$HFSYNC" plan -f hfsync.yaml --detailed-exitcode >/dev/null 2>&1
expect_eq $? 2 "--detailed-exitcode: 2 when there are changes"

"$HFSYNC" show plan.json >show.txt
expect_eq "$?:$(cmp -s show.txt plan.txt && echo same)" "0:same" "show renders a saved plan as plan printed it"
"$HFSYNC" show plan.json --format markdown >show.md
expect_contains "$(cat show.md)" "<details>" "show --format markdown: collapsible sections"
expect_contains "$(cat show.md)" "| &gt; | <code>weights/new.bin</code> ← <code>weights/old.bin</code> (server-side copy) | lfs | 3.0 KB |" \
    "markdown lists the move as a server-side copy"
"$HFSYNC" show plan.json --format yaml >/dev/null 2>&1
expect_eq $? 64 "an unknown format is a usage error"
sed 's/"upload_bytes": \([0-9]*\)/"upload_bytes": 1\1/' plan.json >edited.json
err=$("$HFSYNC" show edited.json 2>&1 >/dev/null)
expect_eq "$?" 1 "show refuses an edited plan"
expect_contains "$err" "edited.json was modified after it was written (plan_id does not match its content)" \
    "naming what is wrong"

# --- a repo already in sync ----------------------------------------------------------------
mkdir -p "$TEST_TMP/seed2" && printf 'same\n' >"$TEST_TMP/seed2/a.txt"
seed_repo "$TEST_TMP/seed2" alice/insync a.txt
mkdir -p "$W/insync" && cp "$TEST_TMP/seed2/a.txt" "$W/insync/"
cat >"$W/insync.yaml" <<'EOF'
version: 1
syncs:
  same:
    repo_id: alice/insync
    folder_path: ./insync
EOF
out=$("$HFSYNC" plan -f insync.yaml --detailed-exitcode 2>&1)
expect_eq "$?" 0 "--detailed-exitcode: 0 when nothing changes"
expect_contains "$out" "No changes." "and the plan says so"

# --- limits: exit 4, naming the offending paths ---------------------------------------------
limit_case() { # NAME MANIFEST WANT-IN-STDERR
    local err
    err=$("$HFSYNC" plan -f "$2" 2>&1 >/dev/null)
    local rc=$?
    expect_eq "$rc" 4 "$1: refused with exit 4"
    expect_contains "$err" "$3" "$1: the message names it"
}
sed 's/commit:/max_delete: 1\n    commit:/' hfsync.yaml >maxdel.yaml
limit_case "max_delete" maxdel.yaml "the plan deletes 2 files, more than max_delete (1)"
expect_contains "$("$HFSYNC" plan -f maxdel.yaml 2>&1)" "    stale.txt" "max_delete: the paths are listed"

mkdir -p "$W/crowded/many"
python3 -c "
import os
for i in range(10001): open(os.path.join('crowded/many', 'f%05d' % i), 'w').close()"
cat >crowded.yaml <<'EOF'
version: 1
syncs:
  crowded:
    repo_id: alice/insync
    folder_path: ./crowded
EOF
limit_case "10,000 entries per folder" crowded.yaml "many (10001 entries)"

mkdir -p "$W/badpath/.cache/other" && printf 'x' >"$W/badpath/.cache/other/x.txt"
truncate -s 500000000001 "$W/badpath/huge.bin"
cat >badpath.yaml <<'EOF'
version: 1
syncs:
  bad:
    repo_id: alice/insync
    folder_path: ./badpath
EOF
start=$(date +%s)
limit_case "path rules" badpath.yaml "    .cache/other/x.txt"
expect_contains "$("$HFSYNC" plan -f badpath.yaml 2>&1)" "    huge.bin" "a file over 500 GB is refused"
[ $(($(date +%s) - start)) -lt 20 ]
ok $? "refused before hashing 500 GB"

mkdir -p "$W/clash/a.txt" && printf 'x' >"$W/clash/a.txt/inside"
sed 's/insync/insync/; s/same:/clash:/; s#\./insync#./clash#' insync.yaml >clash.yaml
limit_case "file/folder clash" clash.yaml "both a file and a folder"

# More than 100 MiB of regular files inline in one commit (strategy single): refused by the
# plan, not at apply; over git a commit is a push, and `large` groups them.
mkdir -p "$W/inline"
python3 -c "
for i in range(12): open('inline/t%02d.txt' % i, 'w').write(('line %02d of text\n' % i) * 590000)"
cat >inline.yaml <<'EOF'
version: 1
syncs:
  inline:
    repo_id: alice/inline
    create: {}
    folder_path: ./inline
EOF
limit_case "100 MiB inline per commit" inline.yaml \
    "sync inline: commit 1 of 1 carries 113.3 MB of regular files inline, more than the 104.9 MB"
expect_contains "$("$HFSYNC" plan -f inline.yaml 2>&1)" "strategy: large" "... saying what to set"
sed 's#folder_path: ./inline#folder_path: ./inline\n    transport: git#' inline.yaml >inline-git.yaml
"$HFSYNC" plan -q -f inline-git.yaml --detailed-exitcode >/dev/null 2>&1
expect_eq "$?" 2 "... over git the same files plan (one push)"
sed 's#folder_path: ./inline#folder_path: ./inline\n    commit: {strategy: large}#' inline.yaml >inline-large.yaml
"$HFSYNC" plan -f inline-large.yaml --detailed-exitcode >inline-large.txt 2>&1
expect_eq "$?" 2 "... and with strategy large they plan in commits of at most 100 MiB"
expect_contains "$(cat inline-large.txt)" "2 commits" "... two of them"
rm -rf "$W/inline"

# --- missing repo, missing revision, sync selection ---------------------------------------
mkdir -p "$W/fresh/w" && printf 'hello\n' >"$W/fresh/hello.txt" && bytes 7 100 >"$W/fresh/w/x.bin"
cat >missing.yaml <<'EOF'
version: 1
syncs:
  fresh:
    repo_id: alice/not-yet
    folder_path: ./fresh
EOF
err=$("$HFSYNC" plan -f missing.yaml 2>&1)
expect_eq "$?" 1 "a missing repo without create: is an error"
expect_contains "$err" "model repo alice/not-yet does not exist" "naming the repo"
sed 's#folder_path: ./fresh#folder_path: ./fresh\n    create: { private: true }#' missing.yaml >create.yaml
"$HFSYNC" plan -f create.yaml -o create.json --detailed-exitcode >create.txt 2>&1
expect_eq "$?" 2 "with create: the plan creates the repo (changes present)"
expect_eq "$(python3 -c 'import json; s=json.load(open("create.json"))["syncs"][0]; print(s["create"], s["remote_head"], [o["mode"] for c in s["commits"] for o in c["operations"]])')" \
    "{'private': True} None ['regular', 'lfs']" \
    "create {private}, no remote head, the hub's default LFS rules for a new repo"
expect_contains "$(cat create.txt)" "new private repo (created by apply)" "the text says so"

sed 's/    folder_path: .\/insync/    folder_path: .\/insync\n    revision: no-such-branch/' insync.yaml >rev.yaml
err=$("$HFSYNC" plan -f rev.yaml 2>&1)
expect_eq "$?" 1 "a missing revision is an error"
expect_contains "$err" 'revision "no-such-branch" does not exist in model alice/insync' "naming the revision"

cat >two.yaml <<'EOF'
version: 1
syncs:
  first:
    repo_id: alice/golden
    folder_path: ./data
  second:
    repo_id: alice/insync
    folder_path: ./insync
EOF
"$HFSYNC" plan -f two.yaml --sync second -o two.json >/dev/null 2>&1
expect_eq "$(python3 -c 'import json; print([s["name"] for s in json.load(open("two.json"))["syncs"]])')" \
    "['second']" "--sync plans only the named syncs"
"$HFSYNC" plan -f two.yaml --sync nope >/dev/null 2>&1
expect_eq "$?" 64 "an unknown --sync is a usage error"

# --- endpoint and token resolution --------------------------------------------------------
sed "s#^syncs:#endpoint: $HUB_URL\nsyncs:#" insync.yaml >endpoint.yaml
HF_ENDPOINT= "$HFSYNC" plan -f endpoint.yaml >/dev/null 2>&1
expect_eq "$?" 0 "the manifest's endpoint is used when HF_ENDPOINT is unset"
sed "s#^syncs:#endpoint: http://127.0.0.1:9\nsyncs:#" insync.yaml >wrong-endpoint.yaml
"$HFSYNC" plan -f wrong-endpoint.yaml -o ep.json >/dev/null 2>&1
expect_eq "$?:$(python3 -c 'import json; print(json.load(open("ep.json"))["endpoint"])')" "0:$HUB_URL" \
    "HF_ENDPOINT wins over the manifest's endpoint"

create_repo alice/private '"private":true'
mkdir -p "$W/priv" && printf 'p\n' >"$W/priv/p.txt"
sed 's#alice/insync#alice/private#; s#./insync#./priv#' insync.yaml >private.yaml
HF_TOKEN= "$HFSYNC" plan -f private.yaml >/dev/null 2>&1
expect_eq "$?" 1 "a private repo cannot be planned without a token"
mkdir -p "$HF_HOME" && printf '%s\n' "$TOKEN" >"$HF_HOME/token"
HF_TOKEN= "$HFSYNC" plan -f private.yaml -o private.json >priv.out 2>priv.err
expect_eq "$?" 0 "the token file under HF_HOME is used when HF_TOKEN is unset"
! grep -q "$TOKEN" priv.out priv.err private.json plan.txt plan.json plan.err
ok $? "the token appears in no output and no plan file"

reports=$(cat "$TEST_TMP"/sanitizer.* 2>/dev/null | head -40)
expect_eq "$reports" "" "no sanitizer reports from any hfsync run"
hub_stop
done_testing
