# strategy multi against a local hub: the plan's commits go to one pull request (a draft whose
# title carries the plan id and whose description is a checklist), ticked step by step, then
# opened and merged (or, with create_pr, left open), with a pull_request event at each state;
# applied again after the merge landed (killed before it could say so), the plan is "already
# applied", not stale; on a revision other than main the first step's commit opens the pull
# request against that revision (over git: refused); an apply killed with SIGKILL resumes on
# the same pull request without committing a step twice; main moving before the merge is a
# stale plan (exit 3) and nothing is merged.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"

# tree_listing REPO_API [REV]: "path<TAB>git blob sha1<TAB>size" of every file of the revision
# (but .gitattributes, which the hub keeps), from the recursive tree listing, page by page.
tree_listing() {
    python3 - "$HUB_URL/api/$1/tree/${2:-main}?recursive=true" "$TOKEN" <<'PY'
import json, re, sys, urllib.request
url, token, rows = sys.argv[1], sys.argv[2], []
while url:
    r = urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Bearer " + token}))
    rows += [(e["path"], e["oid"], e["size"]) for e in json.load(r) if e["type"] == "file" and e["path"] != ".gitattributes"]
    m = re.search(r'<([^>]+)>;\s*rel="next"', r.headers.get("Link") or "")
    url = m.group(1) if m else None
rows.sort(key=lambda r: r[0].encode())
for r in rows:
    print("%s\t%s\t%d" % r)
PY
}

# git_listing DIR: the same for a local folder (the git blob sha1 of each file).
git_listing() {
    python3 - "$1" <<'PY'
import hashlib, os, sys
root, rows = sys.argv[1], []
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if x != ".hfsync"]
    for f in files:
        data = open(os.path.join(d, f), "rb").read()
        sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        rows.append((os.path.relpath(os.path.join(d, f), root), sha, len(data)))
rows.sort(key=lambda r: r[0].encode())
for r in rows:
    print("%s\t%s\t%d" % r)
PY
}

# pr_json REPO_API NUM EXPR: a Python expression on the pull request's details, bound to `j`;
# `desc` is its description (the first comment).
pr_json() {
    curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/$1/discussions/$2" | python3 -c "
import json, sys
j = json.load(sys.stdin)
desc = [e for e in j['events'] if e['type'] == 'comment'][0]['data']['latest']['raw']
print($3)"
}

# pr_steps REPO_API NUM BASE: the hfsync-step trailers of the commits on refs/pr/NUM above
# BASE, newest first, one per line.
pr_steps() {
    curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/$1/commits/refs%2Fpr%2F$2" | python3 -c "
import json, sys
for c in json.load(sys.stdin):
    if c['id'] == '$3':
        break
    print(' '.join(l for l in c['message'].splitlines() if l.startswith('hfsync-step: ')) or 'NO STEP: ' + c['title'])"
}

# events FILE KIND FIELD: FIELD of every KIND event of a --json output, one per line.
events() {
    python3 -c "
import json, sys
for l in open('$1'):
    e = json.loads(l)
    if e['event'] == '$2':
        print(e.get('$3'))"
}

# files DIR N PER_DIR: N small text files in sub-folders of PER_DIR files each.
files() {
    python3 - "$1" "$2" "$3" <<'PY'
import os, sys
root, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // per))
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "f%05d.txt" % i), "w").write("file %d of %s\n" % (i, root))
PY
}

hub_start || { ok 1 "the hub starts"; done_testing; exit 1; }
exec_env
W=$TEST_TMP/work
mkdir -p "$W"
cd "$W" || exit 1

# ---- 3,000 files, max_files 500: six commits on a pull request, merged into main
files "$W/big" 3000 100
cat >"$W/hfsync.yaml" <<'YAML'
version: 1
defaults:
  create: { private: false }
syncs:
  multi:
    repo_id: user/multi
    folder_path: ./big
    commit: { message: "Add the dataset", description: "three thousand files", strategy: multi, max_files: 500 }
  review:
    repo_id: user/review
    folder_path: ./big
    commit: { message: "Add the dataset", strategy: multi, max_files: 500, create_pr: true }
YAML
"$HFSYNC" plan -o plan.json >/dev/null 2>plan.err
ok $? "plan -o plan.json"
plan_id=$(python3 -c 'import json; print(json.load(open("plan.json"))["plan_id"])')
"$HFSYNC" apply plan.json --sync multi --json >m.json 2>m.err
rc=$?
expect_eq "$rc" 0 "apply: strategy multi, 3,000 files"
[ "$rc" -eq 0 ] || diag "$(tail -5 m.err)" "$(tail -3 m.json)"
expect_eq "$(events m.json commit step | tr '\n' ' ')" "1 2 3 4 5 6 0 " "six step commits, then the merge"
expect_eq "$(events m.json commit pr_url | tr '\n' ' ')" "$(printf "$HUB_URL/user/multi/discussions/1 %.0s" 1 2 3 4 5 6)None " \
    "the six steps are on pull request 1; the merge is a commit on main"
base=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/multi/commits/main" | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
steps=$(pr_steps models/user/multi 1 "$base")
expect_eq "$(printf '%s\n' "$steps" | grep -c '^hfsync-step: [0-9a-f]\{64\}$')" 6 "refs/pr/1 holds six commits above main's first, each with its step id"
expect_eq "$(printf '%s\n' "$steps" | sort -u | wc -l)" 6 "... six different steps"
expect_eq "$(pr_json models/user/multi 1 'j["status"], j["title"]')" "merged Add the dataset" "the pull request is merged, renamed to the message"
expect_eq "$(pr_json models/user/multi 1 'desc.count("- [x] Upload 500 file(s) totalling "), desc.count("- [ ]")')" "6 0" "its checklist has six steps, all ticked"
expect_contains "$(pr_json models/user/multi 1 'desc')" "**hfsync plan:** $plan_id" "its description names the plan"
expect_contains "$(pr_json models/user/multi 1 'j["events"]')" "[hfsync] Add the dataset (plan ${plan_id:0:12})" "it was opened as \"[hfsync] <message> (plan <id>)\""
merge=$(pr_json models/user/multi 1 'j["changes"]["mergeCommitId"]')
expect_eq "$(head_of models/user/multi)" "$merge" "main is at the merge commit"
expect_eq "$(events m.json commit commit | tail -1)" "$merge" "... which the last commit event names"
expect_eq "$(commit_count models/user/multi)" 2 "main has one commit on top of the hub's first"
expect_eq "$(tree_listing models/user/multi)" "$(git_listing "$W/big")" "main's tree is the folder, file for file (3,000 paths and blob ids)"
"$HFSYNC" plan --sync multi --detailed-exitcode >again.txt 2>&1
expect_eq "$?" 0 "a second plan finds no changes"
expect_eq "$(events m.json pull_request state | tr '\n' ' ')" "draft open merged " \
    "pull_request events: opened as a draft, then open, then merged"
expect_eq "$(events m.json pull_request number | sort -u) $(events m.json pull_request url | sort -u)" \
    "1 $HUB_URL/user/multi/discussions/1" "... each naming pull request 1 and its URL"

# ---- killed after the merge landed, before its journal was removed: applied again, the
# plan is already applied (its merged pull request, found by the journal's number or by its
# title and description, is main's head or below it), not stale; the journal goes away.
printf '{"version": 1, "plan_id": "%s", "pr_num": 1, "uploaded": [], "commits": []}\n' "$plan_id" \
    >.hfsync/state/multi/journal.json
log_mark
"$HFSYNC" apply plan.json --sync multi >aa.out 2>aa.err
rc=$?
expect_eq "$rc" 0 "the same plan applied again after its merge landed: exit 0, not stale"
[ "$rc" -eq 0 ] || diag "$(cat aa.err)"
expect_contains "$(cat aa.out)" "multi: already applied: user/multi@main holds pull request #1 of this plan, merged as ${merge:0:7}" \
    "... saying the plan is already applied, by which pull request"
expect_contains "$(cat aa.out)" "Nothing to do: already applied." "... and that there was nothing to do"
ok "$([ ! -e .hfsync/state/multi/journal.json ] && echo 0 || echo 1)" "... removing the journal the killed apply left"
expect_eq "$(log_since | grep -c -E '^[^ ]+ [^ ]+ POST ' || true)" 0 "... and changing nothing on the hub"
expect_eq "$(commit_count models/user/multi)" 2 "main still has the one merge commit on the hub's first"
printf '{"key":"header","value":{"summary":"later work"}}\n{"key":"file","value":{"path":"later.txt","content":"%s","encoding":"base64"}}\n' "$(b64 'later')" | nd
commit_post /api/models/user/multi/commit/main
expect_status 200 "someone commits on top of the merge"
"$HFSYNC" apply plan.json --sync multi --json >ab.json 2>ab.err
rc=$?
expect_eq "$rc" 0 "applied again with no journal, main past the merge: still already applied"
[ "$rc" -eq 0 ] || diag "$(cat ab.err)"
expect_eq "$(events ab.json already_applied commit) $(events ab.json already_applied pr_url)" \
    "$merge $HUB_URL/user/multi/discussions/1" "... an already_applied event naming the merge and the pull request"
expect_eq "$(events ab.json done changes)" False "... and a done event with no changes"

# ---- create_pr: the pull request is left open, main unchanged
"$HFSYNC" apply plan.json --sync review >r.out 2>r.err
rc=$?
expect_eq "$rc" 0 "apply: strategy multi with create_pr"
[ "$rc" -eq 0 ] || diag "$(tail -5 r.err)"
expect_eq "$(grep -c "^pull request with commit .* (commit [1-6]/6): $HUB_URL/user/review/discussions/1\$" r.out)" 6 "six commits, each line printing the pull request's URL"
expect_eq "$(grep -c '^committed ' r.out)" 0 "nothing is merged"
expect_eq "$(grep '^pull request #' r.out | tr '\n' '|')" \
    "pull request #1 (draft) on user/review@main: $HUB_URL/user/review/discussions/1|pull request #1 (open) on user/review@main: $HUB_URL/user/review/discussions/1|" \
    "plain lines say the pull request was opened as a draft, then opened for review"
expect_eq "$(commit_count models/user/review)" 1 "main did not move from the hub's first commit"
expect_eq "$(pr_json models/user/review 1 'j["status"], j["title"], desc.count("- [x]")')" "open Add the dataset 6" "the pull request is open for review, renamed, every step ticked"
expect_eq "$(tree_listing models/user/review refs%2Fpr%2F1)" "$(git_listing "$W/big")" "refs/pr/1 holds the folder"

# ---- a revision other than main: the discussions API opens pull requests against main only,
# so the first step's commit opens it against dev (create_pr); it is merged into dev, and
# main does not move.
mkdir -p "$W/small" "$W/gsmall"
for i in 1 2 3 4 5; do printf 'small %s\n' "$i" >"$W/small/s$i.txt"; printf 'git %s\n' "$i" >"$W/gsmall/g$i.txt"; done
cat >"$W/branch.yaml" <<'YAML'
version: 1
syncs:
  b:
    repo_id: user/onbranch
    revision: dev
    folder_path: ./small
    commit: { message: "On dev", strategy: multi, max_files: 2 }
  g:
    repo_id: user/onbranch
    revision: dev
    folder_path: ./gsmall
    transport: git
    commit: { message: "On dev over git", strategy: multi, max_files: 2 }
YAML
create_repo user/onbranch
curl -s -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{}' "$HUB_URL/api/models/user/onbranch/branch/dev"
main_before=$(head_of models/user/onbranch)
"$HFSYNC" plan -f branch.yaml --sync b -o branch.json >/dev/null 2>&1
"$HFSYNC" apply branch.json --json >b.json 2>b.err
rc=$?
expect_eq "$rc" 0 "strategy multi on revision dev: applied"
[ "$rc" -eq 0 ] || diag "$(tail -5 b.err)" "$(tail -3 b.json)"
expect_eq "$(events b.json commit step | tr '\n' ' ')" "1 2 3 0 " "three step commits, then the merge"
expect_eq "$(events b.json pull_request state | tr '\n' ' ')" "open merged " "the first step's commit opened the pull request (open), then it was merged"
expect_eq "$(pr_json models/user/onbranch 1 'j["changes"]["base"], j["status"], j["title"], desc.count("- [x]")')" \
    "refs/heads/dev merged On dev 3" "pull request 1 went into dev: merged, renamed, three steps ticked"
expect_contains "$(pr_json models/user/onbranch 1 'desc')" "**hfsync plan:** $(python3 -c 'import json; print(json.load(open("branch.json"))["plan_id"])')" \
    "... its description names the plan"
expect_eq "$(head_of models/user/onbranch dev)" "$(pr_json models/user/onbranch 1 'j["changes"]["mergeCommitId"]')" "dev is at the merge commit"
expect_eq "$(tree_listing models/user/onbranch dev)" "$(git_listing "$W/small")" "dev's tree is the folder"
expect_eq "$(head_of models/user/onbranch)" "$main_before" "main did not move"
"$HFSYNC" apply branch.json >b2.out 2>b2.err
expect_eq "$?" 0 "applied again: already applied"
expect_contains "$(cat b2.out)" "b: already applied: user/onbranch@dev holds pull request #1 of this plan" "... naming the pull request merged into dev"
# Over git every commit is a push: a pull request can only come from the discussions API.
log_mark
"$HFSYNC" apply -f branch.yaml --sync g --yes >g.out 2>g.err
expect_eq "$?" 1 "strategy multi over git on revision dev: exit 1"
expect_contains "$(cat g.err)" 'over git opens its pull request through the hub'"'"'s discussions API, which bases it on main only, but the sync'"'"'s revision is "dev"' "... saying why"
expect_eq "$(log_since | grep -c -E 'discussions|preupload|/commit/|git-' || true)" 0 "... before anything was sent"

# ---- killed (SIGKILL) after two steps, applied again: the same pull request, no step twice
hub_stop
hub_start --fault 'commit:delay=700,times=0' || { ok 1 "the hub starts again"; done_testing; exit 1; }
exec_env
files "$W/res" 60 20
cat >"$W/resume.yaml" <<'YAML'
version: 1
syncs:
  res:
    repo_id: user/resume
    create: { private: false }
    folder_path: ./res
    commit: { message: "Resumable", strategy: multi, max_files: 10 }
YAML
"$HFSYNC" plan -f resume.yaml -o resume.json >/dev/null 2>&1
"$HFSYNC" apply resume.json --json >k1.json 2>k1.err &
apid=$!
for _ in $(seq 1 1500); do
    [ "$(grep -c '"event":"commit"' k1.json)" -ge 2 ] && break
    kill -0 "$apid" 2>/dev/null || break
    sleep 0.02
done
kill -9 "$apid" 2>/dev/null
wait "$apid" 2>/dev/null
expect_eq "$(grep -c '"event":"commit"' k1.json)" 2 "the first apply is killed after its second step"
ok "$([ -s .hfsync/state/res/journal.json ] && echo 0 || echo 1)" "... leaving a journal behind"
expect_eq "$(python3 -c 'import json; print(json.load(open(".hfsync/state/res/journal.json"))["pr_num"])' 2>&1)" 1 "... that names pull request 1"
expect_eq "$(pr_json models/user/resume 1 'j["status"], desc.count("- [x]") >= 1')" "draft True" \
    "the pull request is still a draft, its checklist ticked as the steps went in"
sleep 1 # a commit the kill cut off may still land: the hub is the truth
rbase=$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/resume/commits/main" | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
had=$(pr_steps models/user/resume 1 "$rbase" | wc -l)
ok "$([ "$had" -ge 2 ] && [ "$had" -le 3 ] && echo 0 || echo 1)" "two (or three, if the kill came mid-commit) steps are on the pull request ($had)"

# Without the journal the pull request is found by the plan id in its title; killed again.
rm -f .hfsync/state/res/journal.json
"$HFSYNC" apply resume.json --json >k2.json 2>k2.err &
apid=$!
for _ in $(seq 1 1500); do
    [ "$(grep -c '"event":"commit"' k2.json)" -ge 1 ] && break
    kill -0 "$apid" 2>/dev/null || break
    sleep 0.02
done
kill -9 "$apid" 2>/dev/null
wait "$apid" 2>/dev/null
expect_eq "$(events k2.json commit step | head -1)" "$((had + 1))" "applied again without a journal, it goes on from step $((had + 1))"
expect_eq "$(events k2.json commit pr_url | sort -u)" "$HUB_URL/user/resume/discussions/1" "... on the same pull request"
sleep 1
had=$(pr_steps models/user/resume 1 "$rbase" | wc -l)

"$HFSYNC" apply resume.json --json >k3.json 2>k3.err
rc=$?
expect_eq "$rc" 0 "applied a third time, it runs to the end"
[ "$rc" -eq 0 ] || diag "$(tail -5 k3.err)" "$(tail -3 k3.json)"
expect_eq "$(events k3.json commit step | tr '\n' ' ')" "$(seq -s ' ' $((had + 1)) 6) 0 " "... committing only the steps left ($((had + 1))–6), then merging"
rsteps=$(pr_steps models/user/resume 1 "$rbase")
expect_eq "$(printf '%s\n' "$rsteps" | grep -c '^hfsync-step: ')" 6 "refs/pr/1 holds exactly six step commits"
expect_eq "$(printf '%s\n' "$rsteps" | sort -u | wc -l)" 6 "... no step committed twice"
expect_eq "$(curl -s -H "Authorization: Bearer $TOKEN" "$HUB_URL/api/models/user/resume/discussions?type=pull_request" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')" 1 "one pull request was opened in all"
expect_eq "$(pr_json models/user/resume 1 'j["status"], desc.count("- [x]")')" "merged 6" "it is merged with six steps ticked"
expect_eq "$(tree_listing models/user/resume)" "$(git_listing "$W/res")" "main's tree is the folder"
ok "$([ ! -e .hfsync/state/res/journal.json ] && echo 0 || echo 1)" "the finished apply removed its journal"

# ---- main moves while the steps go in: stale (exit 3) before merging; nothing merged
files "$W/conf" 30 10
cat >"$W/conflict.yaml" <<'YAML'
version: 1
syncs:
  conf:
    repo_id: user/conflict
    create: { private: false }
    folder_path: ./conf
    commit: { message: "Conflicting", strategy: multi, max_files: 10 }
YAML
"$HFSYNC" plan -f conflict.yaml -o conflict.json >/dev/null 2>&1
"$HFSYNC" apply conflict.json --json >c.json 2>c.err &
apid=$!
for _ in $(seq 1 1500); do
    [ "$(grep -c '"event":"commit"' c.json)" -ge 1 ] && break
    kill -0 "$apid" 2>/dev/null || break
    sleep 0.02
done
cbefore=$(head_of models/user/conflict)
printf '{"key":"header","value":{"summary":"someone else"}}\n{"key":"file","value":{"path":"d000/f00000.txt","content":"%s","encoding":"base64"}}\n' "$(b64 'theirs')" | nd
commit_post /api/models/user/conflict/commit/main
expect_status 200 "meanwhile another client commits a conflicting change to main"
cafter=$(head_of models/user/conflict)
wait "$apid"
expect_eq "$?" 3 "the apply says the plan is stale (exit 3)"
expect_contains "$(events c.json stale message)" "plan is stale: user/conflict@main moved from ${cbefore:0:7} to ${cafter:0:7} while the steps went to pull request #1, so it was not merged" "... saying main moved and nothing was merged"
expect_eq "$(events c.json commit step | tr '\n' ' ')" "1 2 3 " "... after its three steps, with no merge"
expect_eq "$(head_of models/user/conflict)" "$cafter" "main holds only the other client's change"
expect_eq "$(pr_json models/user/conflict 1 'j["status"], desc.count("- [x]")')" "draft 3" "the pull request is left as a draft, every step in, for review"
"$HFSYNC" apply conflict.json >c2.out 2>c2.err
expect_eq "$?" 3 "applying the plan again: still stale"

# ---- the merge fails (503): the pull request stays open with every step in; applied again,
# the apply finds it (no journal: by its title and description) and merges it, nothing redone.
# A fresh repo with two steps asks the discussions API: list, open, read, tick, tick, rename,
# set status, then merges (the 8th request).
hub_stop
hub_start --fault 'discussions:status=503,nth=8' || { ok 1 "the hub starts again"; done_testing; exit 1; }
exec_env
files "$W/late" 4 4
cat >"$W/late.yaml" <<'YAML'
version: 1
syncs:
  late:
    repo_id: user/late
    create: { private: false }
    folder_path: ./late
    commit: { message: "Late merge", strategy: multi, max_files: 2 }
YAML
"$HFSYNC" plan -f late.yaml -o late.json >/dev/null 2>&1
"$HFSYNC" apply late.json >l1.out 2>l1.err
expect_eq "$?" 1 "the merge answered 503: the apply fails"
expect_contains "$(cat l1.err)" "pull request #1 ($HUB_URL/user/late/discussions/1) is not merged: apply the plan again to merge it" "... saying the pull request is not merged"
expect_eq "$(pr_json models/user/late 1 'j["status"], j["title"], desc.count("- [x]")')" "open Late merge 2" "it is open, renamed, both steps ticked"
rm -f .hfsync/state/late/journal.json
"$HFSYNC" apply late.json >l2.out 2>l2.err
rc=$?
expect_eq "$rc" 0 "applied again, it merges"
[ "$rc" -eq 0 ] || diag "$(tail -5 l2.err)"
expect_eq "$(grep -c '^pull request with commit' l2.out)" 0 "... committing no step again"
expect_eq "$(grep '^committed ' l2.out | cut -d' ' -f2)" "$(head_of models/user/late | cut -c1-7)" "... printing the merge commit, now main's head"
expect_eq "$(pr_json models/user/late 1 'j["status"]')" merged "the pull request is merged"
expect_eq "$(tree_listing models/user/late)" "$(git_listing "$W/late")" "main's tree is the folder"

# A message under the 3 characters the hub wants of a title: the pull request is titled
# "hfsync: <message>" rather than refused at the very end, after every upload.
files "$W/short" 3 3
cat >"$W/short.yaml" <<'YAML'
version: 1
syncs:
  short:
    repo_id: user/short
    create: { private: false }
    folder_path: ./short
    commit: { message: "x", strategy: multi, max_files: 2 }
YAML
"$HFSYNC" apply -f short.yaml --yes >s.out 2>s.err
rc=$?
expect_eq "$rc" 0 "strategy multi with a one-character message: applied"
[ "$rc" -eq 0 ] || diag "$(tail -5 s.err)"
expect_eq "$(pr_json models/user/short 1 'j["status"], j["title"]')" "merged hfsync: x" "... its pull request titled \"hfsync: x\""

hub_stop
done_testing
