#!/usr/bin/env python3
"""A loopback imitation of the Hugging Face Hub's download API, for anec's tests.

Serves the repositories found under --root: <root>/<org>/<name>/<files...>. Standard library only.

  GET /api/models/<org>/<name>/revision/<rev>  -> {"id", "sha", "siblings": [{"rfilename"}]}
  GET /<org>/<name>/resolve/<rev>/<path>       -> small files: 200 with ETag (git blob sha1);
        *.safetensors ("LFS"): 302 to /blobs/<sha256> with X-Linked-Etag (sha256), X-Linked-Size
        and X-Repo-Commit, like the Hub's redirect to its CDN
  GET /blobs/<sha256>                          -> the content, with its own ETag and Range support
        (the redirect names the other loopback host, 127.0.0.1 <-> localhost, as the CDN is another
        origin on the real Hub)
  GET /api/models/<org>/<name>/tree/<rev>      -> file entries, for huggingface_hub itself
  HEAD on any of these                          -> the same headers, no body

<rev> is "main" or the commit (a sha1 over the repository's files).

Behaviour knobs, chosen by the repository name:
  gated*    401 unless "Authorization: Bearer <--token>" is sent
  flaky*    the first /blobs/ answer of each file sends half the bytes, then drops the connection
  corrupt*  /blobs/ serves the content with one byte changed (the sha256 ETag stays the real one)
  broken*   every answer is HTTP 503

Control (not counted): GET /_control/count -> {"requests": N}; GET /_control/log -> [{"path",
"range", "auth"}]; GET /_control/reset clears the log (a flaky file drops only once per server).

Prints "PORT <n>" on stdout once listening on 127.0.0.1 (port 0 picks a free one).
"""

import argparse
import hashlib
import http.server
import json
import os
import socket
import sys
import threading
import urllib.parse


class Hub:
    def __init__(self, root, token):
        self.root = os.path.abspath(root)
        self.token = token
        self.lock = threading.Lock()
        self.log = []
        self.dropped = set()

    def repo_files(self, repo):
        base = os.path.join(self.root, repo)
        if not os.path.isdir(base) or repo.count("/") != 1 or ".." in repo:
            return None
        files = []
        for dirpath, _, names in os.walk(base):
            for n in names:
                files.append(os.path.relpath(os.path.join(dirpath, n), base).replace(os.sep, "/"))
        return sorted(files)

    def commit(self, repo, files):
        h = hashlib.sha1(repo.encode())
        for f in files:
            h.update(f.encode() + b"\0")
            h.update(self.read(repo, f))
        return h.hexdigest()

    def read(self, repo, path):
        with open(os.path.join(self.root, repo, path), "rb") as f:
            return f.read()

    def find_blob(self, sha):
        for dirpath, _, names in os.walk(self.root):
            for n in names:
                if not n.endswith(".safetensors"):
                    continue
                full = os.path.join(dirpath, n)
                with open(full, "rb") as f:
                    data = f.read()
                if hashlib.sha256(data).hexdigest() == sha:
                    return os.path.relpath(dirpath, self.root).replace(os.sep, "/"), n, data
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    hub = None  # set in main

    def log_message(self, fmt, *args):  # keep test output clean
        pass

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message):
        body = json.dumps({"error": message}).encode()
        self.send(status, body, {"Content-Type": "application/json", "X-Error-Code": code,
                                 "X-Error-Message": message})

    def do_GET(self):
        hub = self.hub
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        if path.startswith("/_control/"):
            return self.control(path)
        with hub.lock:
            hub.log.append({"path": path, "range": self.headers.get("Range"),
                            "auth": self.headers.get("Authorization") is not None})
        if path.startswith("/api/models/"):
            return self.listing(path[len("/api/models/"):])
        if path.startswith("/blobs/"):
            return self.blob(path[len("/blobs/"):])
        parts = path.lstrip("/").split("/", 4)
        if len(parts) == 5 and parts[2] == "resolve":
            return self.resolve("/".join(parts[:2]), parts[3], parts[4])
        return self.error(404, "NotFound", "no route for " + path)

    do_HEAD = do_GET

    def control(self, path):
        hub = self.hub
        with hub.lock:
            if path == "/_control/count":
                body = json.dumps({"requests": len(hub.log)})
            elif path == "/_control/log":
                body = json.dumps(hub.log)
            elif path == "/_control/reset":  # files already dropped once stay whole
                hub.log.clear()
                body = "{}"
            else:
                return self.send(404)
        self.send(200, body.encode(), {"Content-Type": "application/json"})

    def check_repo(self, repo, rev):
        """Returns (files, commit) or None after sending the error."""
        name = repo.split("/")[-1]
        if name.startswith("broken"):
            self.error(503, "Unavailable", "service unavailable")
            return None
        if name.startswith("gated"):
            if self.headers.get("Authorization") != "Bearer " + (self.hub.token or ""):
                self.error(401, "GatedRepo", "Access to model %s is restricted" % repo)
                return None
        files = self.hub.repo_files(repo)
        if files is None:
            self.error(404, "RepoNotFound", "Repository Not Found for url: " + self.path)
            return None
        commit = self.hub.commit(repo, files)
        if rev not in ("main", commit):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            return None
        return files, commit

    def listing(self, rest):
        repo, sep, rev = rest.partition("/revision/")
        if not sep:
            return self.tree(rest)
        found = self.check_repo(repo, rev)
        if found is None:
            return
        files, commit = found
        body = json.dumps({"id": repo, "sha": commit,
                           "siblings": [{"rfilename": f} for f in files]}).encode()
        self.send(200, body, {"Content-Type": "application/json"})

    def tree(self, rest):
        """/api/models/<org>/<name>/tree/<rev>[/<dir>]: the file entries (what huggingface_hub
        lists before a snapshot download)."""
        parts = rest.split("/", 4)
        if len(parts) < 4 or parts[2] != "tree":
            return self.error(404, "NotFound", "no route")
        repo, rev = "/".join(parts[:2]), parts[3]
        prefix = parts[4] + "/" if len(parts) == 5 else ""
        found = self.check_repo(repo, rev)
        if found is None:
            return
        entries = []
        for f in found[0]:
            if not f.startswith(prefix):
                continue
            data = self.hub.read(repo, f)
            entry = {"type": "file", "path": f, "size": len(data),
                     "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
            if f.endswith(".safetensors"):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                                "pointerSize": 134}
            entries.append(entry)
        self.send(200, json.dumps(entries).encode(), {"Content-Type": "application/json"})

    def resolve(self, repo, rev, path):
        found = self.check_repo(repo, rev)
        if found is None:
            return
        files, commit = found
        if path not in files:
            return self.error(404, "EntryNotFound", "Entry not found: " + path)
        data = self.hub.read(repo, path)
        common = {"X-Repo-Commit": commit}
        if path.endswith(".safetensors"):
            sha = hashlib.sha256(data).hexdigest()
            git_oid = hashlib.sha1(b"version https://git-lfs %s" % sha.encode()).hexdigest()
            # Like the Hub, redirect to another origin (the "CDN"): same server, other host name.
            host = "localhost" if self.headers.get("Host", "").startswith("127.") else "127.0.0.1"
            cdn = "http://%s:%d" % (host, self.server.server_address[1])
            headers = dict(common, **{"Location": "%s/blobs/%s?repo=%s" % (cdn, sha, repo),
                                      "ETag": '"%s"' % git_oid, "X-Linked-Etag": '"%s"' % sha,
                                      "X-Linked-Size": str(len(data))})
            return self.send(302, b"", headers)
        oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        self.send(200, data, dict(common, ETag='"%s"' % oid))

    def blob(self, rest):
        hub = self.hub
        sha = rest.split("?")[0]
        found = hub.find_blob(sha)
        if found is None:
            return self.error(404, "NotFound", "no blob " + sha)
        repo, _, data = found
        name = repo.split("/")[-1]
        if name.startswith("corrupt"):
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        headers = {"ETag": '"cdn-%s"' % sha[:8], "Accept-Ranges": "bytes"}
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                return self.send(416, b"", {"Content-Range": "bytes */%d" % len(data)})
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
        body = data[start:]
        if name.startswith("flaky"):
            with hub.lock:
                first = sha not in hub.dropped
                hub.dropped.add(sha)
            if first:
                self.send_response(206 if rng else 200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
        self.send(206 if rng else 200, body, headers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, help="directory of <org>/<name>/ repositories")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="", help="the token gated* repositories accept")
    args = parser.parse_args()
    Handler.hub = Hub(args.root, args.token)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
