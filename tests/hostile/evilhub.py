#!/usr/bin/env python3
"""A hostile hub for the hostile suite: answers the planner's two calls (repo info, then the
tree listing) in one of several abusive ways, and logs every request it gets.

usage: evilhub.py MODE PORT_FILE LOG_FILE [--tls CERT KEY]

Modes:
  traversal     tree entries that climb out of the repo (../../etc/passwd, /abs, a/../../b)
  huge-body     the tree listing is an endless JSON array, sent as fast as it is read
  slow-body     the tree listing's body comes one byte every 0.3 s, forever
  huge-headers  the repo info answer sends header after header, forever
  slow-headers  the repo info answer sends one header byte every 0.3 s, forever
  redirect      requests to host 127.0.0.1 are redirected (307) to the same path on
                host localhost: the same server under another name
  git-redirect  as ok, but git's first request (info/refs) is redirected to localhost,
                which asks for credentials (401 with a Basic challenge)
  ok            a well-behaved tiny hub with one file (for the TLS case)

Each request appends "METHOD PATH host=HOST auth=yes|no" to LOG_FILE (never the token).
"""
import json
import socketserver
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = sys.argv[1]
PORT_FILE = sys.argv[2]
LOG_FILE = sys.argv[3]
HEAD = "1" * 40
FILE_OID = "2" * 40


def log(line):
    with open(LOG_FILE, "a") as f:
        f.write(line + "\n")


def entry(path, oid=FILE_OID, size=5):
    return {"type": "file", "oid": oid, "size": size, "path": path}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep stderr quiet; the log file has what matters
        pass

    def send_json(self, status, value, extra=()):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def drain(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(n) if n else b""

    def handle_any(self):
        self.drain()
        host = self.headers.get("Host", "")
        log("%s %s host=%s auth=%s" % (self.command, self.path, host,
                                       "yes" if self.headers.get("Authorization") else "no"))
        path = self.path.split("?")[0]
        is_info = "/revision/" in path or path.rstrip("/").count("/") == 4
        is_tree = "/tree/" in path
        try:
            getattr(self, "mode_" + MODE.replace("-", "_"))(path, host, is_info, is_tree)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    do_GET = do_POST = do_HEAD = do_PUT = handle_any

    def info(self):
        self.send_json(200, {"id": "user/evil", "sha": HEAD, "private": False, "siblings": []})

    def mode_traversal(self, path, host, is_info, is_tree):
        if is_info:
            return self.info()
        if is_tree:
            return self.send_json(200, [entry(".gitattributes"), entry("../../etc/passwd"),
                                        entry("a/../../b"), entry("/abs")])
        self.send_json(404, {"error": "nothing here"})

    def mode_huge_body(self, path, host, is_info, is_tree):
        if is_info:
            return self.info()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()  # no length: the body ends when the connection does (never)
        self.wfile.write(b"[")
        chunk = (json.dumps(entry("x" * 200)) + ",").encode() * 2000
        while True:
            self.wfile.write(chunk)

    def mode_slow_body(self, path, host, is_info, is_tree):
        if is_info:
            return self.info()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.flush()
        while True:
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(0.3)

    def mode_huge_headers(self, path, host, is_info, is_tree):
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        line = b"X-Filler: " + b"f" * 1000 + b"\r\n"
        while True:
            self.wfile.write(line * 100)

    def mode_slow_headers(self, path, host, is_info, is_tree):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        self.wfile.flush()
        while True:
            self.wfile.write(b"s")
            self.wfile.flush()
            time.sleep(0.3)

    def mode_redirect(self, path, host, is_info, is_tree):
        if host.startswith("127.0.0.1"):
            port = host.split(":")[1]
            self.send_response(307)
            self.send_header("Location", "http://localhost:%s%s" % (port, self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.mode_ok(path, host, is_info, is_tree)

    def mode_git_redirect(self, path, host, is_info, is_tree):
        if "/info/refs" not in path:
            return self.mode_ok(path, host, is_info, is_tree)
        if host.startswith("127.0.0.1"):
            port = host.split(":")[1]
            self.send_response(307)
            self.send_header("Location", "http://localhost:%s%s" % (port, self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="evil"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def mode_ok(self, path, host, is_info, is_tree):
        if is_info:
            return self.info()
        if is_tree:
            return self.send_json(200, [entry("hello.txt")])
        if path == "/api/whoami-v2":
            return self.send_json(200, {"type": "user", "name": "user", "fullname": "A User",
                                        "email": "user@example.invalid", "orgs": []})
        if "/preupload/" in path:
            files = json.loads(self.body or b"{}").get("files", [])
            return self.send_json(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                   "shouldIgnore": False} for f in files]})
        self.send_json(404, {"error": "nothing here"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) > 4 and sys.argv[4] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[5], sys.argv[6])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(PORT_FILE + ".tmp", PORT_FILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
