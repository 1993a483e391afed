#!/usr/bin/env python3
"""The raw-curl limit of bench/run's upload benchmark: the large files sent by curl itself to the
LFS upload hrefs the hub hands out (basic: the whole file in one PUT; multipart: every part PUT
from a file of its own, several at once, then the completion POST), so the hub does exactly
the work it does for hfsync. bench/run imports prepare() and complete(); the command line is
for trying it by hand.

usage: lfs_curl.py prepare HUB_URL TOKEN REPO LARGE_SHA256 PARTS_DIR OUT_DIR
         asks the LFS batch for the files in LARGE_SHA256 ("sha256 size path" lines), splits
         multipart files into PARTS_DIR/<chunk>/<oid>/ (once), writes OUT_DIR/transfers.curl
         (a curl config: one url/upload-file pair per PUT) and OUT_DIR/complete.json
       lfs_curl.py complete OUT_DIR CURL_OUTPUT
         POSTs each multipart completion with the ETags curl printed ("url<TAB>etag" lines)
"""
import json
import os
import sys
import urllib.request

LFS = "application/vnd.git-lfs+json"


def post(url, body, headers):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def split(path, chunk, out_dir):
    """The file's parts as files of their own (kept: the split is not part of the timing)."""
    done = os.path.join(out_dir, ".complete")
    if os.path.exists(done):
        return
    os.makedirs(out_dir, exist_ok=True)
    with open(path, "rb") as f:
        n = 0
        while True:
            data = f.read(chunk)
            if not data:
                break
            n += 1
            with open(os.path.join(out_dir, f"p{n:05d}"), "wb") as out:
                out.write(data)
    open(done, "w").close()


def prepare(hub_url, token, repo, listing, parts_dir, out_dir):
    files = [line.split(None, 2) for line in open(listing) if line.strip()]
    objects = [{"oid": sha, "size": int(size)} for sha, size, _ in files]
    answer = post(f"{hub_url}/{repo}.git/info/lfs/objects/batch",
                  {"operation": "upload", "transfers": ["basic", "multipart"],
                   "hash_algo": "sha256", "objects": objects},
                  {"Authorization": f"Bearer {token}", "Accept": LFS, "Content-Type": LFS})
    paths = {sha: path.strip() for sha, _, path in files}
    config, complete = [], []
    for obj in answer["objects"]:
        upload = obj["actions"]["upload"]
        header = upload.get("header") or {}
        if "chunk_size" in header:
            chunk = int(header["chunk_size"])
            numbers = sorted(int(k) for k in header if k.isdigit())
            urls = [header[k] for k in sorted((k for k in header if k.isdigit()), key=int)]
            where = os.path.join(parts_dir, str(chunk), obj["oid"])
            split(paths[obj["oid"]], chunk, where)
            for n, url in zip(numbers, urls):
                config.append((url, os.path.join(where, f"p{n:05d}")))
            complete.append({"oid": obj["oid"], "href": upload["href"], "parts": urls})
        else:
            config.append((upload["href"], paths[obj["oid"]]))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "transfers.curl"), "w") as f:
        for url, path in config:
            f.write(f'url = "{url}"\nupload-file = "{path}"\noutput = "/dev/null"\n')
    with open(os.path.join(out_dir, "complete.json"), "w") as f:
        json.dump(complete, f)


def complete(out_dir, curl_output):
    etags = {}
    for line in open(curl_output):
        url, _, etag = line.rstrip("\n").partition("\t")
        etags[url] = etag
    for obj in json.load(open(os.path.join(out_dir, "complete.json"))):
        parts = [{"partNumber": i + 1, "etag": etags[url]} for i, url in enumerate(obj["parts"])]
        post(obj["href"], {"oid": obj["oid"], "parts": parts}, {"Accept": LFS, "Content-Type": LFS})


def main():
    if len(sys.argv) == 8 and sys.argv[1] == "prepare":
        prepare(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "complete":
        complete(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
