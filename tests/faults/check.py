"""The invariants the fault suite checks after every case, in one process (the box is small):
the remote tree against a local folder, every file downloaded back, commits made twice, and
the state folder. Writes OUT_DIR/tree, resolve, dups and state (one problem a line, empty
when sound), commits (how many the revision has) and head (its newest commit).

usage: check.py HUB_URL TOKEN REPO_ID DIR STATE_DIR OUT_DIR [REV]
"""
import hashlib
import json
import os
import re
import struct
import sys
import urllib.parse
import urllib.request

hub, token, repo, folder, state_dir, out_dir = sys.argv[1:7]
rev = sys.argv[7] if len(sys.argv) > 7 else "main"
auth = {"Authorization": "Bearer " + token}


def get(url):
    return urllib.request.urlopen(urllib.request.Request(url, headers=auth), timeout=30)


def pages(url):
    """Every item of a paginated hub listing (Link: <…>; rel="next")."""
    while url:
        r = get(url)
        yield from json.load(r)
        m = re.search(r'<([^>]+)>;\s*rel="next"', r.headers.get("Link") or "")
        url = m.group(1) if m else None


def hashes(path):
    sha1, sha256, size = hashlib.sha1(), hashlib.sha256(), os.path.getsize(path)
    sha1.update(b"blob %d\0" % size)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha1.update(chunk)
            sha256.update(chunk)
    return sha1.hexdigest(), sha256.hexdigest(), size


local = {}
for d, dirs, files in os.walk(folder):
    dirs[:] = [x for x in dirs if x not in (".git", ".hfsync")]
    for f in files:
        p = os.path.join(d, f)
        local[os.path.relpath(p, folder)] = hashes(p)

quoted_rev = urllib.parse.quote(rev, safe="")
out = {"tree": [], "resolve": [], "dups": [], "state": []}

# The tree, page by page: the same paths, each regular file by its git blob id, each LFS
# file by its sha256 and size.
remote = {}
for e in pages("%s/api/models/%s/tree/%s?recursive=true" % (hub, repo, quoted_rev)):
    if e["type"] == "file" and e["path"] != ".gitattributes":
        remote[e["path"]] = e
for p in sorted(set(local) | set(remote)):
    if p not in remote:
        out["tree"].append("missing remotely: " + p)
    elif p not in local:
        out["tree"].append("extra remotely: " + p)
    else:
        sha1, sha256, size = local[p]
        e = remote[p]
        lfs = e.get("lfs")
        if (lfs and (lfs["oid"] != sha256 or lfs["size"] != size)) or (not lfs and e["oid"] != sha1):
            out["tree"].append("differs: " + p)

# Every local file downloaded through resolve (redirects to the LFS store followed), by sha256.
for p in sorted(local):
    url = "%s/%s/resolve/%s/%s" % (hub, repo, quoted_rev, urllib.parse.quote(p))
    try:
        h = hashlib.sha256()
        with get(url) as r:
            for chunk in iter(lambda: r.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != local[p][1]:
            out["resolve"].append("differs: " + p)
    except Exception as e:  # a 404 or a broken connection: say which file
        out["resolve"].append("cannot download %s: %s" % (p, e))

# Commits: the same plan (and step) twice is a commit made twice.
seen, commits = set(), list(pages("%s/api/models/%s/commits/%s" % (hub, repo, quoted_rev)))
for c in commits:
    lines = (c.get("message") or "").splitlines()
    trailer = tuple(l for l in lines if l.startswith(("hfsync-plan: ", "hfsync-step: ")))
    if not trailer:
        continue
    if trailer in seen:
        out["dups"].append("%s %s (%s)" % (c["id"][:7], c["title"], " ".join(trailer)[:60]))
    seen.add(trailer)
out["commits"] = len(commits)
out["head"] = commits[0]["id"] if commits else ""

# .hfsync: journals are JSON of a plan, the hash cache's and the listing cache's checksums
# hold, no temp file of an interrupted save is left (the git path's cache repos are git's own).
for d, dirs, files in os.walk(state_dir):
    dirs[:] = [x for x in dirs if not x.endswith(".git")]
    for f in files:
        p = os.path.join(d, f)
        rel = os.path.relpath(p, state_dir)
        if ".tmp." in f:
            out["state"].append("temp file left: " + rel)
        elif f == "journal.json":
            try:
                if len(json.load(open(p)).get("plan_id", "")) != 64:
                    out["state"].append("journal without a plan id: " + rel)
            except ValueError as e:
                out["state"].append("journal is not JSON: %s (%s)" % (rel, e))
        elif f.endswith(".tree") and os.path.basename(d) == "remote":
            # the planner's listing cache: a magic line, the head, ..., the sha256 of the rest
            b = open(p, "rb").read()
            if not b.startswith(b"hfsync remote tree ") or hashlib.sha256(b[:-32]).digest() != b[-32:]:
                out["state"].append("listing cache damaged: " + rel)
        elif f == "hashcache":
            b = open(p, "rb").read()
            if len(b) < 64 or b[:8] != b"HFSHASHC":
                out["state"].append("hash cache header broken: " + rel)
                continue
            (version,) = struct.unpack_from("<I", b, 8)
            (payload,) = struct.unpack_from("<Q", b, 24)
            if version != 2 or payload != len(b) - 64 or hashlib.sha256(b[64:]).digest() != b[32:64]:
                out["state"].append("hash cache damaged: " + rel)
os.makedirs(out_dir, exist_ok=True)
for key, value in out.items():
    with open(os.path.join(out_dir, key), "w") as f:
        f.write("\n".join(value) if isinstance(value, list) else str(value))
