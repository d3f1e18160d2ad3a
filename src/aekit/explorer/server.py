"""The explorer's web server: Python's standard ``http.server``, a few JSON routes, the page.

Why the standard library: the explorer serves one user on one machine a page and a handful of
small JSON answers; a threading ``http.server`` does that with no dependency to install or
keep up to date, and every route fits in this file.

Safety: the model and data are loaded once, before the server starts, from what the command line
named; a request never names a file. The page's three files are read from the package when the
server starts and served from memory. Every request body is bounded, parsed as JSON and
validated (``session.py``); a refusal is a JSON ``{"error": message}`` with status 400, an
unexpected failure a JSON 500 whose traceback goes to the server's terminal, never to the page.
Requests whose Host header is not the server's own are refused, so that a web page elsewhere
cannot reach a loopback explorer through DNS rebinding.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from ..errors import InvalidInputError
from .session import Explorer

MAX_BODY_BYTES = 16 << 20  # an uploaded image in base64 and its JSON around it
PAGE_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
              "/explore.js": ("explore.js", "text/javascript; charset=utf-8"),
              "/explore.css": ("explore.css", "text/css; charset=utf-8")}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ExplorerServer(ThreadingHTTPServer):
    """Serves one :class:`Explorer` at ``url`` until ``shutdown``."""

    daemon_threads = True  # a request in flight does not keep the process alive on Ctrl-C

    def __init__(self, explorer: Explorer, host: str = "127.0.0.1", port: int = 0):
        self.explorer = explorer
        self.page = {route: (resources.files(__package__).joinpath("static", name).read_bytes(), kind)
                     for route, (name, kind) in PAGE_FILES.items()}
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            raise InvalidInputError(f"cannot serve on {host}:{port}: {exc.strerror or exc}; choose "
                                    "another --port (0 picks a free one)") from None
        self.host = host
        bound = self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{bound}/"
        named = {host, "localhost", "127.0.0.1", "[::1]"} if host not in ("0.0.0.0", "::", "") else None
        self.allowed_hosts = None if named is None else {f"{h}:{bound}" for h in named} | named

    def start(self) -> threading.Thread:
        """Serve in a background thread (tests, notebooks); ``stop()`` ends it."""
        thread = threading.Thread(target=self.serve_forever, name="aekit-explore", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """End a background ``start()``: no more requests, and the port is free again."""
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: ExplorerServer
    server_version = "aekit-explore"
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Small answers, sent at once: without this, Nagle's algorithm holds a response's last
        # segment until the browser's delayed acknowledgement, some 40 ms per slider move.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass  # one line per request would drown the terminal while a slider moves

    # ------------------------------------------------------------------ routes
    def do_GET(self):
        self._answer(self._get)

    def do_POST(self):
        self._answer(self._post)

    def _get(self, path: str, query: dict):
        explorer = self.server.explorer
        if path in self.server.page:
            return self.server.page[path]
        if path == "/api/info":
            return explorer.info()
        if path == "/api/map":
            return explorer.map()
        if path == "/api/item":
            return explorer.item(query.get("index", [None])[0])
        raise _NotFound(path)

    def _post(self, path: str, query: dict):
        routes = {"/api/decode": "decode", "/api/path": "path", "/api/attribute": "attribute",
                  "/api/encode": "encode"}
        if path not in routes:
            raise _NotFound(path)
        return getattr(self.server.explorer, routes[path])(self._json_body())

    # ------------------------------------------------------------------ plumbing
    def _answer(self, route) -> None:
        url = urlsplit(self.path)
        try:
            self._check_host()
            answer = route(url.path, parse_qs(url.query))
            if not isinstance(answer, tuple):  # a page file is (bytes, type); the rest is JSON
                answer = (json.dumps(answer, allow_nan=False).encode(), "application/json")
        except _Refused as exc:
            return self._send_json({"error": str(exc)}, exc.status)
        except InvalidInputError as exc:
            return self._send_json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)
        except Exception as exc:  # a bug: the page gets one line, the terminal the traceback
            traceback.print_exc(file=sys.stderr)
            return self._send_json({"error": f"internal error ({type(exc).__name__}); see the server's "
                                             "terminal"}, HTTPStatus.INTERNAL_SERVER_ERROR)
        self._send(HTTPStatus.OK, *answer)

    def _check_host(self) -> None:
        allowed = self.server.allowed_hosts
        if allowed is not None and self.headers.get("Host", "") not in allowed:
            raise _Refused(HTTPStatus.FORBIDDEN, "this explorer answers only requests addressed to "
                                                 f"{self.server.url}")

    def _json_body(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise _Refused(HTTPStatus.LENGTH_REQUIRED, "the request needs a Content-Length") from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body stays unread
            raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"the request has {length:,} bytes; the explorer takes at most {MAX_BODY_BYTES:,}")
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            self.close_connection = True
            raise _Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the request as application/json")
        body = self.rfile.read(length)
        try:
            request = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Refused(HTTPStatus.BAD_REQUEST, f"the request is not valid JSON: {exc}") from None
        if not isinstance(request, dict):
            raise _Refused(HTTPStatus.BAD_REQUEST, "the request must be a JSON object")
        return request

    def _send_json(self, payload: dict, status: HTTPStatus) -> None:
        self._send(status, json.dumps(payload, allow_nan=False).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Refused(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class _NotFound(_Refused):
    def __init__(self, path: str):
        super().__init__(HTTPStatus.NOT_FOUND, f"no such page or route: {path[:100]}")
