"""A loopback fake Hugging Face hub (and its CDN) for the Python binding's tests.

It mirrors ``tests/support/server.rs`` (the Rust tests' hub), speaking what wharf's client needs:

- ``HEAD``/``GET /{org}/{repo}/resolve/{rev}/{path}``: a small file (under :data:`LFS_THRESHOLD`
  bytes) is answered directly, with its git blob id (``sha1("blob {len}\\0" + bytes)``) as
  ``ETag`` and the commit as ``X-Repo-Commit``; an LFS file is redirected (``302``) to the CDN
  server's ``/blobs/{sha256}``, with ``X-Repo-Commit``, ``X-Linked-Etag: "<sha256>"``,
  ``X-Linked-Size`` and the ``ETag`` of a pointer file. An unknown repo or revision is ``404``
  with ``X-Error-Code: RepoNotFound``, an unknown file ``404`` with ``X-Error-Code: EntryNotFound``.
- ``GET /api/models/{org}/{repo}/revision/{rev}``: ``{"id", "sha", "siblings": [{"rfilename",
  "size", "blobId", "lfs"?: {"sha256", "size", "pointerSize"}}]}``.
- plain files under ``/files/NAME`` (on the hub server) and LFS blobs under ``/blobs/SHA256`` (on
  the CDN server), with ``Range: bytes=A-`` / ``bytes=A-B`` (``206`` + ``Content-Range``, ``416``
  past the end) and ``Accept-Ranges: bytes``.

Every answer has ``Content-Length`` and ``Connection: close``; one thread per connection. Both
servers listen on 127.0.0.1, port 0 — nothing here ever talks to another host.

It counts, thread-safely: every request (server, method, path, headers, time), the body bytes
written per path, and each body transfer (a ``GET`` answered with a body: start and end time,
``Range`` asked, bytes sent, whether it completed). ``rate`` (bytes a second, per connection) sends
bodies in small chunks with a sleep between, so a few MiB take seconds; it is read at each chunk, so
setting it to ``None`` speeds up a transfer under way.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

#: Files at or above this size are LFS files (redirected to the CDN, etag = SHA-256), as server.rs.
LFS_THRESHOLD = 1024

MIB = 1024 * 1024


def sha256_hex(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def git_blob_id(b: bytes) -> str:
    h = hashlib.sha1()
    h.update(b"blob %d\0" % len(b))
    h.update(b)
    return h.hexdigest()


def pattern(length: int, seed: int) -> bytes:
    """Deterministic bytes that do not repeat in short periods (fast: built from SHA-256 blocks)."""
    out = bytearray()
    counter = 0
    base = b"wharf-pattern-%d-" % seed
    while len(out) < length:
        # 32 blocks of 32 bytes per round keeps this quick for several MiB.
        for _ in range(32):
            out += hashlib.sha256(base + counter.to_bytes(8, "little")).digest()
            counter += 1
    return bytes(out[:length])


@dataclass
class Logged:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: Dict[str, str]
    at: float


@dataclass
class Transfer:
    """One body sent (a GET answered 200 or 206)."""

    server: str
    path: str
    range: Optional[str]
    size: int  # bytes this answer's body has
    started: float
    sent: int = 0
    ended: Optional[float] = None
    completed: bool = False


@dataclass
class Repo:
    commit: str
    files: Dict[str, bytes] = field(default_factory=dict)


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: Dict[str, bytes] = {}  # "/files/NAME" (hub) and "/blobs/SHA" (cdn) -> body
        self.repos: Dict[str, Repo] = {}
        self.log: List[Logged] = []
        self.transfers: List[Transfer] = []
        self.body_bytes: Dict[str, int] = {}
        self.rate: Optional[float] = None
        self.stop = threading.Event()
        self.cdn_url = ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakehub/1"
    state: _State  # set on the subclass made per server
    role: str

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    # -- plumbing -------------------------------------------------------------------------------

    def _simple(self, status: int, reason: str, headers: Optional[List[Tuple[str, str]]] = None) -> None:
        self.send_response(status, reason)
        for k, v in headers or []:
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def _serve(self, head: bool) -> None:
        self.close_connection = True
        st = self.state
        path = urllib.parse.urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        with st.lock:
            st.log.append(Logged(self.role, self.command, path, headers, time.time()))
        try:
            if st.stop.is_set():
                return
            if self.role == "hub" and path.startswith("/api/models/"):
                return self._listing(path[len("/api/models/") :])
            if self.role == "hub" and "/resolve/" in path:
                idx = path.index("/resolve/")
                return self._resolve(path[1:idx], path[idx + len("/resolve/") :], head)
            with st.lock:
                body = st.files.get(path)
            if body is None:
                return self._simple(404, "Not Found")
            self._send_body(path, body, headers.get("range"), head, [])
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            pass

    def _listing(self, rest: str) -> None:
        repo, _, rev = rest.partition("/revision/")
        rev = urllib.parse.unquote(rev or "main")
        with self.state.lock:
            r = self.state.repos.get(repo)
        if r is None or rev not in ("main", r.commit):
            return self._simple(404, "Not Found")
        siblings = []
        for name, b in sorted(r.files.items()):
            s: Dict[str, object] = {"rfilename": name, "size": len(b), "blobId": git_blob_id(b)}
            if len(b) >= LFS_THRESHOLD:
                s["lfs"] = {"sha256": sha256_hex(b), "size": len(b), "pointerSize": 134}
            siblings.append(s)
        doc = json.dumps({"id": repo, "sha": r.commit, "siblings": siblings}).encode()
        self.send_response(200, "OK")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(doc)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(doc)

    def _resolve(self, repo: str, rest: str, head: bool) -> None:
        rev, _, file = rest.partition("/")
        rev, file = urllib.parse.unquote(rev), urllib.parse.unquote(file)
        with self.state.lock:
            r = self.state.repos.get(repo)
        if r is None or rev not in ("main", r.commit):
            return self._simple(404, "Not Found", [("X-Error-Code", "RepoNotFound")])
        body = r.files.get(file)
        if body is None:
            return self._simple(404, "Not Found", [("X-Error-Code", "EntryNotFound")])
        if len(body) >= LFS_THRESHOLD:
            sha = sha256_hex(body)
            return self._simple(
                302,
                "Found",
                [
                    ("Location", f"{self.state.cdn_url}/blobs/{sha}"),
                    ("X-Repo-Commit", r.commit),
                    ("X-Linked-Etag", f'"{sha}"'),
                    ("X-Linked-Size", str(len(body))),
                    ("ETag", f'"{git_blob_id(b"pointer")}"'),
                ],
            )
        extra = [("X-Repo-Commit", r.commit), ("ETag", f'"{git_blob_id(body)}"')]
        self._send_body(f"/{repo}/resolve/{rev}/{file}", body, None, head, extra)

    def _send_body(
        self, path: str, body: bytes, range_h: Optional[str], head: bool, extra: List[Tuple[str, str]]
    ) -> None:
        st = self.state
        span: Optional[Tuple[int, Optional[int]]] = None
        if range_h and range_h.startswith("bytes="):
            first, sep, last_asked = range_h[len("bytes=") :].partition("-")
            try:
                if sep:
                    span = (int(first.strip()), int(last_asked.strip()) if last_asked.strip() else None)
            except ValueError:
                span = None
        status, reason, data = 200, "OK", body
        headers = list(extra)
        if span is not None:
            start, stop = span
            if start >= len(body):
                return self._simple(416, "Range Not Satisfiable", [("Content-Range", f"bytes */{len(body)}")])
            last = len(body) - 1
            end = last if stop is None else min(stop, last)
            headers.append(("Content-Range", f"bytes {start}-{end}/{len(body)}"))
            status, reason, data = 206, "Partial Content", body[start : end + 1]
        self.send_response(status, reason)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        t = Transfer(self.role, path, range_h, len(data), time.time())
        with st.lock:
            st.transfers.append(t)
        started = time.monotonic()
        sent = 0
        view = memoryview(data)
        try:
            while sent < len(data) and not st.stop.is_set():
                rate = st.rate
                chunk = 16 * 1024 if rate else 256 * 1024
                if rate:
                    # Keep to the rate over the whole answer (so a faster setting catches up).
                    due = sent / rate - (time.monotonic() - started)
                    if due > 0:
                        time.sleep(min(due, 0.25))
                        continue
                piece = view[sent : sent + chunk]
                self.wfile.write(piece)
                sent += len(piece)
                with st.lock:
                    t.sent = sent
                    st.body_bytes[path] = st.body_bytes.get(path, 0) + len(piece)
            self.wfile.flush()
        finally:
            with st.lock:
                t.ended = time.time()
                t.completed = sent == len(data)


class FakeHub:
    """A hub server and its CDN server on 127.0.0.1 (port 0), sharing one state."""

    def __init__(self) -> None:
        self._st = _State()
        self._servers: List[ThreadingHTTPServer] = []
        self._threads: List[threading.Thread] = []
        self.hub_addr = self._start("hub")
        self.cdn_addr = self._start("cdn")
        self._st.cdn_url = f"http://{self.cdn_addr[0]}:{self.cdn_addr[1]}"

    def _start(self, role: str) -> Tuple[str, int]:
        handler = type(f"_{role}Handler", (_Handler,), {"state": self._st, "role": role})
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        srv.daemon_threads = True
        th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        th.start()
        self._servers.append(srv)
        self._threads.append(th)
        host, port = srv.server_address[:2]
        return str(host), int(port)

    # -- setup ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The hub's endpoint (what ``HF_ENDPOINT`` is set to)."""
        return f"http://{self.hub_addr[0]}:{self.hub_addr[1]}"

    def put_file(self, name: str, body: bytes) -> str:
        """Serve ``body`` at ``/files/NAME`` on the hub server; returns its URL."""
        with self._st.lock:
            self._st.files[f"/files/{name}"] = body
        return f"{self.url}/files/{name}"

    def put_repo(self, repo: str, files: Dict[str, bytes], commit: Optional[str] = None) -> str:
        """Publish ``repo`` ("org/name") with these files; returns its commit (40 hex, derived from
        the content unless given). LFS files are also put on the CDN."""
        if commit is None:
            h = hashlib.sha1(repo.encode() + b"\0")
            for name in sorted(files):
                h.update(name.encode() + b"\0" + sha256_hex(files[name]).encode() + b"\0")
            commit = h.hexdigest()
        with self._st.lock:
            for body in files.values():
                if len(body) >= LFS_THRESHOLD:
                    self._st.files[f"/blobs/{sha256_hex(body)}"] = body
            self._st.repos[repo] = Repo(commit, dict(files))
        return commit

    @property
    def rate(self) -> Optional[float]:
        return self._st.rate

    @rate.setter
    def rate(self, value: Optional[float]) -> None:
        """Bytes a second per answer, or None for full speed."""
        self._st.rate = value

    # -- counters -------------------------------------------------------------------------------

    def requests(self, method: Optional[str] = None, path: Optional[str] = None) -> List[Logged]:
        with self._st.lock:
            return [
                r
                for r in self._st.log
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    def request_count(self) -> int:
        with self._st.lock:
            return len(self._st.log)

    def transfers(self, path: Optional[str] = None) -> List[Transfer]:
        """Every body answer (GET 200/206), optionally of one path, in order."""
        with self._st.lock:
            return [
                Transfer(**vars(t)) for t in self._st.transfers if path is None or t.path == path
            ]

    def full_transfers(self, path: str) -> int:
        """How many GETs of ``path`` were answered with the whole body (no ``Range``)."""
        return sum(1 for t in self.transfers(path) if t.range is None)

    def body_bytes(self, path: Optional[str] = None) -> int:
        """Body bytes written, for one path or in all."""
        with self._st.lock:
            if path is None:
                return sum(self._st.body_bytes.values())
            return self._st.body_bytes.get(path, 0)

    def reset_counters(self) -> None:
        with self._st.lock:
            self._st.log.clear()
            self._st.transfers.clear()
            self._st.body_bytes.clear()

    def blob_path(self, body: bytes) -> str:
        """Where an LFS file's bytes are served on the CDN."""
        return f"/blobs/{sha256_hex(body)}"

    # -- teardown -------------------------------------------------------------------------------

    def close(self) -> None:
        self._st.stop.set()
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        for th in self._threads:
            th.join(timeout=5)

    def __enter__(self) -> "FakeHub":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
