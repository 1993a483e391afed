# Helpers for the strategy-large tests (source after exec.sh; not a test itself): the remote
# tree against a folder, and what each commit of a repo changed, read from the hub's git store.

# tree_check DIR GIT_DIR: compares main in the hub's git store with DIR: the same paths,
# each regular file with its git blob sha1, each LFS file (a pointer in git) with its
# sha256. Prints one line per difference; nothing when they match. .gitattributes (the
# hub's own) is left out. (The store rather than the tree API: exact, and no listing cache.)
tree_check() {
    python3 - "$1" "$2" <<'PY'
import hashlib, os, re, subprocess, sys
root, g = sys.argv[1], sys.argv[2]
local = {}
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if x not in (".git", ".hfsync")]
    for f in files:
        p = os.path.join(d, f)
        data = open(p, "rb").read()
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        local[os.path.relpath(p, root)] = (blob, hashlib.sha256(data).hexdigest())
listing = subprocess.run(["git", "--git-dir", g, "ls-tree", "-r", "-z", "-l", "main"],
                         check=True, capture_output=True).stdout.decode().split("\0")
remote, small = {}, []
for row in filter(None, listing):
    meta, path = row.split("\t", 1)
    mode, kind, oid, size = meta.split()
    if kind == "blob" and path != ".gitattributes":
        remote[path] = (oid, None)
        if int(size) < 1024:
            small.append(path)
cat = subprocess.run(["git", "--git-dir", g, "cat-file", "--batch"], check=True,
                     capture_output=True, input="".join(remote[p][0] + "\n" for p in small).encode()).stdout
at = 0
for p in small:
    header_end = cat.index(b"\n", at)
    size = int(cat[at:header_end].split()[2])
    body = cat[header_end + 1 : header_end + 1 + size]
    at = header_end + 1 + size + 1
    m = re.match(rb"version https://git-lfs.github.com/spec/v1\noid sha256:([0-9a-f]{64})\n", body)
    if m:
        remote[p] = (remote[p][0], m.group(1).decode())
for p in sorted(set(local) | set(remote)):
    if p not in remote:
        print("missing remotely: " + p)
    elif p not in local:
        print("extra remotely: " + p)
    else:
        oid, lfs = remote[p]
        blob, sha = local[p]
        if (lfs or oid) != (sha if lfs else blob):
            print("differs: %s (%s %s)" % (p, "lfs" if lfs else "regular", lfs or oid))
PY
}

# commit_report GIT_DIR [PLAN_ID]: one JSON object about the commits after the root of
# main: per commit its changed paths count, deletions and trailers; among the commits of
# PLAN_ID (all when not given), paths changed by more than one commit ("twice") and step
# trailers that appear more than once ("dup_steps").
commit_report() {
    python3 - "$1" "${2:-}" <<'PY'
import collections, json, subprocess, sys
g, plan = sys.argv[1], sys.argv[2]
def git(*a):
    return subprocess.run(["git", "--git-dir", g] + list(a), check=True, capture_output=True,
                          text=True).stdout
revs = git("rev-list", "--reverse", "main").split()
commits, seen, steps = [], collections.Counter(), collections.Counter()
for c in revs[1:]:
    changes = [l.split("\t", 1) for l in git("diff-tree", "-r", "--no-commit-id", "--name-status",
                                              c).splitlines() if l]
    changes = [(s, p) for s, p in changes if p != ".gitattributes"]
    body = git("log", "-1", "--format=%B", c)
    trailer = dict(l.split(": ", 1) for l in body.splitlines()
                   if l.startswith(("hfsync-plan: ", "hfsync-step: ")))
    if not plan or trailer.get("hfsync-plan") == plan:
        for _, p in changes:
            seen[p] += 1
        steps[trailer.get("hfsync-step")] += 1
    commits.append({"files": sum(1 for s, _ in changes if s != "D"),
                    "deleted": sum(1 for s, _ in changes if s == "D"),
                    "plan": trailer.get("hfsync-plan"), "step": trailer.get("hfsync-step"),
                    "title": body.splitlines()[0] if body else ""})
print(json.dumps({"commits": commits, "twice": sorted(p for p, n in seen.items() if n > 1),
                  "dup_steps": sorted(str(s) for s, n in steps.items() if n > 1)}))
PY
}

# report_get EXPR: a Python expression over the last commit_report, bound to `r`.
report_get() { printf '%s' "$REPORT" | python3 -c "import json,sys; r=json.load(sys.stdin); print($1)"; }

# hub_git REPO_ID: the hub's git store of a model repo.
hub_git() { echo "$HUB_ROOT/repos/models/$1.git"; }
