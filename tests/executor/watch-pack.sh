# schedule.pack: the new files matching the pack patterns go up as one zip per run; with
# remove_local they are removed once the commit has landed, without it they are remembered
# and not packed again; a run killed after its commit landed is settled by the next run
# (files removed, no second archive); an archive that never landed is packed again.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

W=$TEST_TMP/work
mkdir -p "$W/shots" "$W/kept" "$W/saved"
cd "$W" || exit 1
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
defaults:
  create: { private: false }
  schedule: { every: 1h, pack: { patterns: ["*.png", "raw/"] } }
syncs:
  shots:
    repo_id: user/shots
    folder_path: ./shots
    schedule:
      pack: { name: "images/batch-{timestamp}.zip", remove_local: true }
  kept:
    repo_id: user/kept
    folder_path: ./kept
YAML

restart_hub() {
    [ -n "$HUB_PID" ] && { kill -TERM "$HUB_PID"; wait "$HUB_PID"; HUB_PID=; }
    local args=()
    for f in "$@"; do args+=(--fault "$f"); done
    hub_start "${args[@]}" || { ok 1 "the hub starts"; done_testing; exit 1; }
    exec_env
}
# shots N FIRST: N new PNG-named files shot-FIRST.png…, copies kept in saved/.
shots() {
    for i in $(seq "$2" $(($2 + $1 - 1))); do
        head -c $((1000 + i * 37)) /dev/urandom >"$W/shots/shot-$i.png"
        cp "$W/shots/shot-$i.png" "$W/saved/"
    done
}
run() { "$HFSYNC" apply --yes -f hfsync.yaml --sync "$1" >"$W/run.out" 2>"$W/run.err"; }
# zips REPO: the archives on the hub's main, one per line.
zips() {
    curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/$1/tree/main?recursive=true" |
        python3 -c 'import json,sys; [print(e["path"]) for e in json.load(sys.stdin) if e["path"].endswith(".zip")]'
}
# unzipped REPO: "name sha256" of every member of every archive on the hub, sorted.
unzipped() {
    for z in $(zips "$1"); do
        curl -sL -H "Authorization: Bearer $TOKEN" "$HUB_URL/$1/resolve/main/$z" -o "$W/a.zip"
        python3 -c 'import hashlib,sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); [print(n, hashlib.sha256(z.read(n)).hexdigest()) for n in z.namelist()]' "$W/a.zip"
    done | sort
}
saved() { (cd "$W/saved" && for f in "$@"; do echo "$f $(sha256sum "$f" | cut -d' ' -f1)"; done) | sort; }

restart_hub
shots 5 1
printf 'notes\n' >"$W/shots/notes.txt"
run shots
expect_eq "$?" 0 "a run of the pack sync"
expect_contains "$(cat "$W/run.err")" "shots: packed 5 new file(s)" "it packs the five images"
expect_contains "$(cat "$W/run.err")" "shots: pushed 2 change(s) in 1 commit(s)" "one commit: the archive and notes.txt"
expect_eq "$(zips user/shots | sed -E 's/[0-9]{8}T[0-9]{6}Z/STAMP/')" "images/batch-STAMP.zip" "the archive is named after the run's time"
expect_eq "$(unzipped user/shots)" "$(saved shot-1.png shot-2.png shot-3.png shot-4.png shot-5.png)" \
    "it holds the five images, byte for byte"
expect_eq "$(ls "$W/shots")" "notes.txt" "the packed images were removed after the commit landed"
sleep 1
shots 2 6
run shots
expect_contains "$(cat "$W/run.err")" "shots: packed 2 new file(s)" "the next run packs only the new images"
expect_eq "$(zips user/shots | wc -l)" 2 "a second archive"
expect_eq "$(unzipped user/shots)" "$(saved shot-1.png shot-2.png shot-3.png shot-4.png shot-5.png shot-6.png shot-7.png)" \
    "each image is in exactly one archive"
before=$(commit_count models/user/shots)
run shots
expect_contains "$(cat "$W/run.err")" "shots: no changes" "nothing new: no archive, no commit"
expect_eq "$(commit_count models/user/shots)" "$before" "... the commit count stays"

# ---- without remove_local: packed files stay, remembered, and are not packed twice
mkdir -p "$W/kept/raw"
head -c 3000 /dev/urandom >"$W/kept/a.png"
head -c 3000 /dev/urandom >"$W/kept/raw/frame.bin"
printf 'x\n' >"$W/kept/log.txt"
run kept
expect_contains "$(cat "$W/run.err")" "kept: packed 2 new file(s)" "the kept sync packs a.png and raw/frame.bin"
expect_contains "$(cat "$W/run.err")" "stay, remembered as packed" "... and keeps them"
run kept
expect_contains "$(cat "$W/run.err")" "kept: no changes" "remembered files are not packed again"
printf 'more' >>"$W/kept/a.png"
run kept
expect_contains "$(cat "$W/run.err")" "kept: packed 1 new file(s)" "a packed file that changed is packed again"
expect_eq "$(zips user/kept | wc -l)" 2 "two archives in all"

# ---- killed after the commit landed: the next run removes the files, packs nothing twice
restart_hub 'commit:land_then_status=500' 'other:delay=5000'
shots 2 8
log_mark
"$HFSYNC" apply --yes -f hfsync.yaml --sync shots >"$W/run.out" 2>"$W/run.err" &
APPLY=$!
for _ in $(seq 1 100); do log_since | grep -q 'POST /api/models/user/shots/commit/main' && break; sleep 0.1; done
log_since | grep -q 'POST /api/models/user/shots/commit/main'
ok $? "the commit landed (and was answered 500)"
kill -KILL "$APPLY"
wait "$APPLY" 2>/dev/null
expect_eq "$(ls "$W/shots" | tr '\n' ' ')" "notes.txt shot-8.png shot-9.png " "killed before removing its files"
grep -q '"pending"' "$W/.hfsync/state/shots/pack.json"
ok $? "the pending archive is on record"
restart_hub
run shots
err=$(cat "$W/run.err")
expect_contains "$err" "landed; its 2 packed file(s) were removed" "the next run finds the archive landed"
expect_contains "$err" "shots: no changes" "... and has nothing to push"
expect_eq "$(ls "$W/shots")" "notes.txt" "the images are gone"
expect_eq "$(zips user/shots | wc -l)" 3 "one archive more, not two"

# ---- an archive whose commit never landed: its files are packed again
restart_hub 'commit:status=500,times=2'
shots 1 10
run shots
expect_eq "$?" 1 "a run whose commit fails: exit 1"
expect_eq "$(ls "$W/shots" | tr '\n' ' ')" "notes.txt shot-10.png " "the image stays"
restart_hub
run shots
expect_contains "$(cat "$W/run.err")" "shots: packed 1 new file(s)" "the next run packs it again"
expect_eq "$(zips user/shots | wc -l)" 4 "one archive for it"
expect_eq "$(unzipped user/shots)" "$(saved shot-1.png shot-2.png shot-3.png shot-4.png shot-5.png shot-6.png shot-7.png shot-8.png shot-9.png shot-10.png)" \
    "every image is on the hub exactly once"
ok "$(ls "$W/.hfsync/state/shots/pack" | wc -l)" "no staged archive is left behind"

expect_eq "$(cat "$W"/*.err 2>/dev/null | grep -c -E 'Sanitizer|runtime error')" 0 \
    "no sanitizer report from hfsync"
hub_stop
done_testing
