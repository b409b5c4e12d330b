"""A real HTTP server on 127.0.0.1:<random port> that plays a platform's API in tests.

Threaded (one thread per connection, HTTP/1.1 keep-alive), it serves scripted
replies, records every request (method, path, query, headers, body) and can
inject faults: 429 with any header, 5xx, a connection reset, a read timeout
(a reply slower than the client's timeout), truncated JSON, an HTML error page.

    with LocalServer() as srv:
        srv.route("/api/v1/search_by_date", lambda req: {"hits": []})
        srv.fault("/api/v1/search_by_date", "503", times=2)   # the next two requests fail
        srv.script("/api/v3/site", Reply(404))                # one scripted reply
        ... srv.url ... srv.requests ... srv.max_in_flight ...

A route handler gets a `Request` and returns a `Reply`, or a dict/list (sent as
JSON), str or bytes. Scripted replies and faults for a path are consumed
first, in order; `"*"` scripts apply to any path. `AlgoliaFake` is a small
in-memory Hacker News search (the fault, crash and bench code use it).
"""

from __future__ import annotations

import json
import math
import re
import socket
import struct
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (read timeouts)
    reset: bool = False  # abort the connection with a TCP RST instead of answering
    truncate: int | None = None  # send only the first N body bytes (valid HTTP, broken JSON)
    cut: int | None = None  # declare the full length, send N bytes, close (protocol error)

    def encoded(self) -> tuple[bytes, str]:
        b = self.body
        if isinstance(b, bytes):
            return b, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(b, str):
            return b.encode(), self.headers.get("Content-Type", "text/plain; charset=utf-8")
        return json.dumps(b).encode(), self.headers.get("Content-Type", "application/json")


def as_reply(value: Any) -> Reply:
    if isinstance(value, Reply):
        return value
    if value is None:
        return Reply(204)
    return Reply(200, value)


HTML_403 = (
    "<!DOCTYPE html><html><head><title>Blocked</title></head>"
    "<body><h1>whoa there, pardner!</h1><p>Your request has been blocked.</p></body></html>"
)
HTML_500 = "<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"


def fault_reply(kind: str, *, body: Any = None, timeout_delay: float = 1.0) -> Reply:
    """A canned fault: '429', '429-date', '500', '502', '503', 'reset', 'timeout',
    'truncated', 'cut', 'html403', 'html500', 'json401', 'json403'."""
    full = json.dumps(body if body is not None else {"hits": [], "nbPages": 1, "page": 0})
    if kind == "429":
        return Reply(429, {"error": "Too Many Requests"}, {"Retry-After": "2"})
    if kind == "429-date":
        return Reply(429, {"error": "slow down"}, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})
    if kind in ("500", "502", "503"):
        return Reply(int(kind), {"error": "server error"})
    if kind == "reset":
        return Reply(reset=True)
    if kind == "timeout":
        return Reply(200, full, {"Content-Type": "application/json"}, delay=timeout_delay)
    if kind == "truncated":
        return Reply(
            200, full, {"Content-Type": "application/json"}, truncate=max(1, len(full) // 2)
        )
    if kind == "cut":
        return Reply(200, full, {"Content-Type": "application/json"}, cut=max(1, len(full) // 2))
    if kind == "html403":
        return Reply(403, HTML_403, {"Content-Type": "text/html; charset=utf-8"})
    if kind == "html500":
        return Reply(500, HTML_500, {"Content-Type": "text/html"})
    if kind == "json401":
        return Reply(401, {"error": "unauthorized"})
    if kind == "json403":
        return Reply(403, {"error": "forbidden"})
    raise ValueError(f"unknown fault {kind!r}")


class _Abort(Exception):
    pass


class LocalServer:
    """A scripted, recording, fault-injecting HTTP server on 127.0.0.1:0."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[Request], Any]] = {}
        self.scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.requests: list[Request] = []
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight: dict[str, int] = defaultdict(int)
        self.on_request: Callable[[Request], None] | None = None
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- configuration ----------------------------------------------------------
    def route(self, path: str, handler: Callable[[Request], Any] | Any) -> None:
        """Serve `path` with `handler(request)`; a non-callable is served as is."""
        self.routes[path] = handler if callable(handler) else (lambda _req, v=handler: v)

    def script(self, path: str, *replies: Reply | Any) -> None:
        """Queue replies for `path` ("*" for any path), served before the route."""
        with self.lock:
            self.scripts[path].extend(as_reply(r) for r in replies)

    def fault(self, path: str, kind: str, times: int = 1, **kw: Any) -> None:
        self.script(path, *[fault_reply(kind, **kw) for _ in range(times)])

    # -- lifecycle --------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inspection -------------------------------------------------------------
    def served(self, path: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    # -- dispatch ---------------------------------------------------------------
    def _reply_for(self, req: Request) -> Reply:
        with self.lock:
            for key in (req.path, "*"):
                if self.scripts.get(key):
                    return self.scripts[key].popleft()
        handler = self.routes.get(req.path) or self.routes.get("*")
        if handler is None:
            return Reply(404, {"error": f"no route for {req.path}"})
        try:
            return as_reply(handler(req))
        except Exception as exc:  # a bug in a test handler shows up as a 500 with the reason
            return Reply(500, {"error": f"handler raised {exc!r}"})


class _Handler(BaseHTTPRequestHandler):
    owner: LocalServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (_Abort, OSError):
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(
            self.command,
            parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
            time.monotonic(),
        )
        srv = self.owner
        with srv.lock:
            srv.requests.append(req)
            srv.in_flight[req.path] += 1
            srv.max_in_flight[req.path] = max(srv.max_in_flight[req.path], srv.in_flight[req.path])
        try:
            if srv.on_request is not None:
                srv.on_request(req)
            reply = srv._reply_for(req)
            self._send(reply)
        finally:
            with srv.lock:
                srv.in_flight[req.path] -= 1

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def _send(self, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            raise _Abort()
        data, ctype = reply.encoded()
        declared = len(data)
        if reply.truncate is not None:
            data = data[: reply.truncate]
            declared = len(data)
        self.send_response(reply.status)
        headers = {"Content-Type": ctype, **reply.headers}
        for k, v in headers.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(declared))
        if reply.cut is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data[: reply.cut] if reply.cut is not None else data)
        self.wfile.flush()
        if reply.cut is not None:
            self.connection.shutdown(socket.SHUT_RDWR)
            raise _Abort()


# -- a fake Hacker News search (Algolia) -----------------------------------------
def hn_hit(
    object_id: int | str, created_at_i: int, text: str, *, story: bool = False, author: str = ""
) -> dict[str, Any]:
    """One Algolia `search_by_date` hit, shaped like the real API's."""
    base: dict[str, Any] = {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(created_at_i)),
        "created_at_i": created_at_i,
        "author": author or f"user{object_id}",
        "objectID": str(object_id),
        "story_text": None,
        "comment_text": None,
        "title": None,
        "url": None,
        "points": None,
        "num_comments": None,
        "story_id": None,
        "parent_id": None,
    }
    if story:
        base.update(title=text, points=3, num_comments=0, _tags=["story", f"story_{object_id}"])
    else:
        base.update(
            comment_text=text,
            story_id=1,
            parent_id=1,
            story_title="A story",
            _tags=["comment", f"author_{base['author']}", "story_1"],
        )
    return base


_NUMERIC = re.compile(r"^\s*created_at_i\s*(<=|>=|<|>|=)\s*(\d+)\s*$")


class AlgoliaFake:
    """In-memory `search_by_date`: query (case-insensitive words/phrases), numericFilters
    on created_at_i, page/hitsPerPage, newest first, results capped like the real API."""

    def __init__(self, hits: Iterable[dict[str, Any]] = (), *, cap: int = 1000) -> None:
        self.hits: list[dict[str, Any]] = list(hits)
        self.cap = cap
        self.page_hook: Callable[[Request, list[dict[str, Any]]], list[dict[str, Any]]] | None = (
            None
        )

    def add(self, *hits: dict[str, Any]) -> None:
        self.hits.extend(hits)

    @staticmethod
    def _text(h: dict[str, Any]) -> str:
        return " ".join(str(h.get(k) or "") for k in ("title", "story_text", "comment_text"))

    def matching(self, req: Request) -> list[dict[str, Any]]:
        q = (req.arg("query") or "").lower()
        needles = re.findall(r'"([^"]+)"|(\S+)', q)
        words = [a or b for a, b in needles]
        filters = [f for f in (req.arg("numericFilters") or "").split(",") if f.strip()]
        out = []
        for h in self.hits:
            low = self._text(h).lower()
            if any(w not in low for w in words):
                continue
            ok = True
            for f in filters:
                m = _NUMERIC.match(f)
                if not m:
                    raise ValueError(f"bad numericFilters {f!r}")
                op, n, v = m.group(1), int(m.group(2)), int(h["created_at_i"])
                ok = (
                    ok
                    and {
                        ">": v > n,
                        ">=": v >= n,
                        "<": v < n,
                        "<=": v <= n,
                        "=": v == n,
                    }[op]
                )
            if ok:
                out.append(h)
        out.sort(key=lambda h: (-int(h["created_at_i"]), h["objectID"]))
        return out

    def __call__(self, req: Request) -> dict[str, Any]:
        found = self.matching(req)
        per = max(1, min(1000, int(req.arg("hitsPerPage") or 20)))
        page = int(req.arg("page") or 0)
        reachable = found[: self.cap]
        nb_pages = max(1, math.ceil(len(reachable) / per)) if reachable else 0
        hits = reachable[page * per : (page + 1) * per]
        if self.page_hook is not None:
            hits = self.page_hook(req, hits)
        return {
            "hits": hits,
            "nbHits": len(found),
            "page": page,
            "nbPages": nb_pages,
            "hitsPerPage": per,
            "processingTimeMS": 1,
            "exhaustiveNbHits": True,
            "query": req.arg("query") or "",
            "params": "advancedSyntax=true&analytics=false",
        }


__all__ = [
    "LocalServer",
    "Request",
    "Reply",
    "fault_reply",
    "as_reply",
    "AlgoliaFake",
    "hn_hit",
    "HTML_403",
    "HTML_500",
]
