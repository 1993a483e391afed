#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

Seeds come from what real clients and the real hub exchanged (/work/shared/traces and
vectors, or --shared DIR), from the test data of the tree (manifests, golden plans), and from
a few hand-written inputs that reach the corners those miss (error shapes, RateLimit headers,
multipart answers). Run it again after the traces change; files are named by content, so a
re-run only adds.

    python3 tests/fuzz/seeds.py [--shared /work/shared]
"""
import argparse
import ast
import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

seeds = {}  # target -> {content bytes}


def add(target, data):
    if isinstance(data, str):
        data = data.encode()
    seeds.setdefault(target, set()).add(data)


# ---- traces ---------------------------------------------------------------------------

REQ = re.compile(r"^#\d+ \S+ (GET|HEAD|POST|PUT|DELETE|PATCH) (\S+)")


def py_string(text):
    """The body of a trace line: a Python repr, maybe cut with ...(+N bytes)."""
    if not text.startswith(("'", '"', "b'", 'b"')):
        return None, False
    cut = re.search(r"\.\.\.\(\+\d+ bytes\)$", text)
    if cut:
        text = text[: cut.start()]
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        return None, False
    return value, bool(cut)


def parse_trace(path):
    """Yields one dict per exchange: method, path, query, headers, body, status, reason,
    resp_headers, resp_body (bodies None when binary or cut)."""
    cur = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = REQ.match(line)
            if m:
                if cur:
                    yield cur
                cur = {"method": m.group(1), "path": m.group(2), "query": "", "headers": {},
                       "body": None, "status": None, "resp_headers": {}, "resp_body": None}
                continue
            if cur is None:
                continue
            if line.startswith("  query="):
                q = line[len("  query="):]
                cur["query"] = "" if q == "-" else q
            elif line.startswith("  headers="):
                try:
                    cur["headers"] = json.loads(line[len("  headers="):])
                except json.JSONDecodeError:
                    pass
            elif line.startswith("  body="):
                body, cut = py_string(line[len("  body="):])
                cur["body"] = None if cut else body
            elif line.startswith("  <- "):
                m2 = re.match(r"  <- (\d+) (.*?) headers=", line)
                if not m2:
                    continue
                cur["status"] = int(m2.group(1))
                cur["reason"] = m2.group(2)
                rest = line[m2.end():]
                try:
                    hdrs, end = json.JSONDecoder().raw_decode(rest)
                except json.JSONDecodeError:
                    continue
                cur["resp_headers"] = hdrs
                rest = rest[end:].lstrip()
                if rest.startswith("body="):
                    body, cut = py_string(rest[len("body="):])
                    cur["resp_body"] = None if cut else body
    if cur:
        yield cur


def raw_response(status, reason, headers, body):
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    lines += ["%s: %s" % (k, v) for k, v in headers.items()]
    return "\r\n".join(lines) + "\r\n\r\n" + (body or "")


def from_traces(shared):
    traces = os.path.join(shared, "traces")
    for name in sorted(os.listdir(traces)):
        if not name.endswith(".txt"):
            continue
        for ex in parse_trace(os.path.join(traces, name)):
            path, method = ex["path"], ex["method"]
            add("hubd_route", path)
            body = ex["body"]
            ctype = ex["headers"].get("Content-Type", ex["headers"].get("content-type", ""))
            if isinstance(body, str) and body:
                if "/commit/" in path and method == "POST":
                    add("hubd_commit", body)
                elif path.endswith("/info/lfs/objects/batch"):
                    add("hubd_lfs_batch", body)
                elif "/paths-info/" in path:
                    add("hubd_paths_json" if "json" in ctype else "hubd_paths_form", body)
                elif "/preupload/" in path:
                    add("hubd_preupload", body)
            rb = ex["resp_body"]
            status = ex["status"]
            if status is None:
                continue
            link = ex["resp_headers"].get("Link")
            if link:
                add("hub_link", link)
            if status >= 400:
                add("hub_error", raw_response(status, ex.get("reason", ""), ex["resp_headers"], rb))
            if not isinstance(rb, str) or not rb or status != 200:
                continue
            if "/tree/" in path or "/paths-info/" in path:
                add("hub_entries", rb)
            elif "/preupload/" in path:
                add("hub_preupload", rb)
            elif path.endswith("/info/lfs/objects/batch"):
                add("hub_lfs_batch", rb)
            elif "/commit/" in path and method == "POST":
                add("hub_commit", rb)


def from_vectors(shared):
    """The real hub's answers: every fenced block after 'response body:'."""
    text = open(os.path.join(shared, "vectors", "real-hub-responses.md"), encoding="utf-8").read()
    for section in text.split("\n## ")[1:]:
        title = section.splitlines()[0]
        m = re.search(r"→ (\d+) (.*)", title)
        status = int(m.group(1)) if m else 200
        blocks = re.findall(r"(response headers|response body|request body):\n```\n(.*?)```",
                            section, re.S)
        parts = {k: v for k, v in blocks}
        body = parts.get("response body", "").rstrip("\n")
        hdrs = {}
        for h in parts.get("response headers", "").splitlines():
            if ": " in h:
                k, v = h.split(": ", 1)
                hdrs[k] = v
        req = parts.get("request body", "")
        if "/preupload/" in title:
            add("hub_preupload", body)
        elif "/commit/" in title:
            add("hub_commit", body)
            add("hubd_commit", req)
        if status >= 400:
            add("hub_error", raw_response(status, m.group(2) if m else "", hdrs, body))


# ---- the tree's own test data ------------------------------------------------------------

def from_tree():
    for sub in ("tests/manifest/good", "tests/manifest/bad"):
        d = os.path.join(SRC, sub)
        for name in sorted(os.listdir(d)):
            if name.endswith(".yaml"):
                add("manifest", open(os.path.join(d, name), "rb").read())
    ex = os.path.join(SRC, "examples")
    for name in sorted(os.listdir(ex)):
        p = os.path.join(ex, name, "hfsync.yaml")
        if os.path.exists(p):
            add("manifest", open(p, "rb").read())
    golden = os.path.join(SRC, "tests/planner/golden")
    for name in sorted(os.listdir(golden)):
        if name.endswith(".json"):
            text = open(os.path.join(golden, name), encoding="utf-8").read()
            add("plan", text)
            for plan in golden_plans(text):
                add("plan", plan)


def seal(plan):
    """A plan file with its plan_id: the sha256 of the compact, key-sorted rest."""
    plan.pop("plan_id", None)
    canonical = json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    plan["plan_id"] = hashlib.sha256(canonical.encode()).hexdigest()
    return json.dumps(plan, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def golden_plans(text):
    """The golden plan with its placeholders filled in, so it reads; and as a repo to create."""
    for k, v in {"<endpoint>": "http://127.0.0.1:9", "<folder>": "/tmp/golden",
                 "<remote_head>": "0123456789abcdef0123456789abcdef01234567",
                 "<tool>": "hfsync 0.1.0"}.items():
        text = text.replace(k, v)
    plan = json.loads(text)
    yield seal(plan)
    for sync in plan.get("syncs", []):
        sync["create"] = {"private": True, "sdk": "gradio"}
        sync["remote_head"] = None
    yield seal(plan)


# ---- hand-written ---------------------------------------------------------------------

OID = "c8b4861a4e99879f1dff33697ca49db2937e2e7b272f5760bfb0aa41e974a410"


def handwritten():
    # Error bodies in every shape PROTOCOL.md §12 lists, with the headers that steer them.
    for status, reason, hdrs, body in [
        (404, "Not Found", {"X-Error-Code": "RepoNotFound", "X-Request-Id": "r1"},
         '{"error":"Repository not found"}'),
        (404, "Not Found", {"X-Error-Code": "RevisionNotFound"}, '{"error":["Invalid rev id: x"]}'),
        (404, "Not Found", {"X-Error-Code": "EntryNotFound"}, "Entry not found"),
        (401, "Unauthorized", {"X-Error-Message": "Invalid credentials in Authorization header"},
         '{"error":"Invalid credentials in Authorization header"}'),
        (403, "Forbidden", {"X-Error-Code": "GatedRepo"}, '{"error":"gated"}'),
        (403, "Forbidden", {"X-Error-Message": "Access to this resource is disabled."}, ""),
        (400, "Bad Request", {}, '{"error":"invalid_request","error_description":"bad"}'),
        (422, "Unprocessable Entity", {}, '{"errors":[{"message":"one"},"two",{"x":1}]}'),
        (409, "Conflict", {}, '{"message":"exists"}'),
        (412, "Precondition Failed", {}, '{"error":"A commit has happened since"}'),
        (413, "Payload Too Large", {}, "<!DOCTYPE html><html>too large</html>"),
        (429, "Too Many Requests",
         {"RateLimit": '"api";r=0;t=55', "RateLimit-Policy": '"fixed window";"api";q=1000;w=300'},
         '{"error":"rate limited"}'),
        (503, "Service Unavailable", {"Retry-After": "7"}, "upstream down\n\nretry"),
    ]:
        add("hub_error", raw_response(status, reason, hdrs, body))
    add("hub_error", b"HTTP/1.1 500 Internal Server Error\r\n\r\n\xff\xfe not UTF-8")
    for rl, ra in [('"api";r=0;t=55', ""), ('"resolvers";r=3;t=12', "4"), ("r=0;t=", "x"),
                   ('"api";r=0;t=99999999999999999999', "99999999999999999999"),
                   ("t=1, r=0", "-1"), ("", "Wed, 21 Oct 2015 07:28:00 GMT")]:
        add("hub_ratelimit", "%s\n%s\n" % (rl, ra))
    for link in ['<https://huggingface.co/api/models/a/b/tree/main?cursor=abc>; rel="next"',
                 '</api/models/a/b/tree/main?cursor=2>; rel="prev", </x?cursor=3>; rel="next"',
                 '<https://hub/x>; rel="first next"', "<a>;rel=next", "<>; rel=\"next\"",
                 "<http://h/p>; title=\"rel=next\""]:
        add("hub_link", link)
    # Answers the client must take apart: multipart, present, per-object errors, verify.
    add("hub_lfs_batch", json.dumps({"transfer": "multipart", "objects": [
        {"oid": OID, "size": 12582912, "actions": {
            "upload": {"href": "https://huggingface.co/x/complete", "header": {
                "chunk_size": "5242880", "00001": "https://s3/p1", "00002": "https://s3/p2",
                "00003": "https://s3/p3"}},
            "verify": {"href": "https://huggingface.co/x.git/info/lfs/objects/verify",
                       "header": {"Authorization": "Basic x"}}}}]}))
    add("hub_lfs_batch", json.dumps({"objects": [{"oid": OID, "size": 12582912}]}))
    add("hub_lfs_batch", json.dumps({"objects": [
        {"oid": OID, "size": 12582912, "error": {"code": 422, "message": "too big"}}]}))
    add("hub_preupload", json.dumps({"files": [
        {"path": "small.txt", "uploadMode": "regular", "shouldIgnore": False, "oid": None},
        {"path": "data/big.bin", "uploadMode": "lfs", "shouldIgnore": True, "oid": OID},
        {"path": "README.md", "uploadMode": "lfs", "shouldIgnore": False}]}))
    add("hub_commit", json.dumps({"success": True, "commitOid": "a" * 40,
                                  "commitUrl": "https://huggingface.co/a/b/commit/" + "a" * 40,
                                  "pullRequestUrl": "https://huggingface.co/a/b/discussions/7"}))
    add("hub_entries", json.dumps([
        {"type": "directory", "oid": "b" * 40, "size": 0, "path": "data"},
        {"type": "file", "oid": "c" * 40, "size": 3, "path": "data/x", "xetHash": "d" * 64},
        {"type": "file", "oid": "e" * 40, "size": 12, "path": "w.bin",
         "lfs": {"oid": OID, "size": 12, "pointerSize": 130}},
        {"type": "unknown", "path": "odd"}]))
    add("hub_entries", "[]")
    add("hub_entries", json.dumps([
        {"type": "file", "oid": "73fc39c717117a4da12e62562edfe9fdcaabb8fe", "size": 18,
         "path": "small.txt"},
        {"type": "file", "oid": "7acf2a1fe20244ca2df7abaf2167a0f3f3be4a6f", "size": 12582912,
         "path": "data/big.bin", "lfs": {"oid": OID, "size": 12582912, "pointerSize": 133}}]))
    # Local hub requests beyond the traces: renames, folders, header fields, JS variants.
    add("hubd_commit", "\n".join(json.dumps(x) for x in [
        {"key": "header", "value": {"summary": "s", "description": "d", "parentCommit": "abcdef1"}},
        {"key": "file", "value": {"path": "a.txt", "content": "aGk=", "encoding": "base64"}},
        {"key": "file", "value": {"path": "b.txt", "content": "hi", "encoding": "utf-8"}},
        {"key": "file", "value": {"path": "new.txt", "oldPath": "old.txt"}},
        {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": OID,
                                     "size": 12582912, "oldPath": "v.bin"}},
        {"key": "deletedFile", "value": {"path": "gone.txt"}},
        {"key": "deletedFolder", "value": {"path": "logs/"}}]))
    # Long base64 contents, lifted out of their lines before jansson (and shapes that are not).
    b64 = "QUJD" * 1500
    add("hubd_commit", "\n".join(json.dumps(x) for x in [
        {"key": "header", "value": {"summary": "s"}},
        {"key": "file", "value": {"path": "a.bin", "content": b64, "encoding": "base64"}},
        {"value": {"content": b64, "path": "b.bin"}, "key": "file"},
        {"key": "file", "value": {"content": b64, "path": "c.bin", "content": "aGk="}},
        {"key": "file", "other": {"content": b64}, "value": {"path": "d.txt", "content": b64,
                                                             "encoding": "utf-8"}}]))
    add("hubd_lfs_batch", json.dumps({"operation": "download", "objects": [
        {"oid": OID, "size": 1}, {"oid": "XYZ", "size": -1}, {"size": 3}]}))
    add("hubd_lfs_batch", json.dumps({"operation": "upload", "transfers": ["basic", "multipart",
                                     "xet"], "hash_algo": "sha_256", "objects": [],
                                      "ref": {"name": "refs/pr/3"}}))
    add("hubd_preupload", json.dumps({"files": [
        {"path": "a b/c.txt", "size": 5, "sample": "aGVsbG8="},
        {"path": "w.bin", "size": 12582912, "sample": ""}],
        "gitAttributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n", "gitIgnore": None}))
    add("hubd_paths_form", "paths=a%20b&paths%5B%5D=c+d&expand=True&other=1&&=x")
    add("hubd_paths_json", '{"paths":["a","b/c","\\u00e9"],"expand":true}')
    for p in ["/api/models/a/b/tree/refs%2Fpr%2F1/sub/dir", "/datasets/a/b.git/info/refs",
              "/api/spaces/a/b/discussions/3/comment", "/lfs-upload/" + OID,
              "/a/b/resolve/refs/pr/1/x%2Fy", "/api/whoami-v2", "/api/repos/create",
              "/api/models/a/b/revision/main", "/a/b.git/git-receive-pack", "/api/models/%E9/b"]:
        add("hubd_route", p)
    # Patterns and ignore rules, with the syntax corners of fnmatch, wildmatch and git.
    add("pattern", "*.safetensors\n**/logs/*.txt\ndata/\n[!a-c]?.bin\n\\\\x\n[]]\n*")
    add("pattern", "checkpoints/*.pt\n[a-\n*.json")
    add("wildmatch", "**/foo/**\nfoo/bar/baz\na/foo\nfoo")
    add("wildmatch", "a[!b-d]c\\*\naec*\nabc*\n[[:alpha:]]/*.txt")
    add("wildmatch", "*/[[:digit:][:upper:]]?**\nx/1ab\n")
    add("gitignore", "*.log\n!keep.log\n/build/\ndocs/**/*.pdf\n\\#notacomment\n# comment\n"
                     "foo\\ \n**/tmp\na/**/b\n[abc].txt\n")
    add("gitignore", "*\n!*/\n!*.py\n")


def write():
    total = 0
    for target, items in sorted(seeds.items()):
        d = os.path.join(CORPUS, target)
        os.makedirs(d, exist_ok=True)
        for data in items:
            name = hashlib.sha1(data).hexdigest()
            path = os.path.join(d, name)
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(data)
                total += 1
    print("wrote %d new seed file(s) into %s" % (total, CORPUS))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(SRC), "shared"),
                    help="the folder holding traces/ and vectors/ (default: ../shared)")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.shared, "traces")):
        sys.exit("seeds.py: %s has no traces/ folder; pass --shared" % args.shared)
    from_traces(args.shared)
    from_vectors(args.shared)
    from_tree()
    handwritten()
    write()


if __name__ == "__main__":
    main()
