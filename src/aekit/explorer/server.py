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

Strict HTTP, so that no request can smuggle another: a body is read only by a route that takes
one, whole and within MAX_BODY_BYTES; any other request that announces a body (a GET with one,
a refused or unknown request), a length that is not a plain decimal number, or a chunked body
gets its answer and the connection is closed, so the unread bytes are never parsed as the next
request. At most MAX_HEAVY_REQUESTS bodies are read and worked on at once (an uploaded image is
decoded in memory); the others wait. Other methods get a JSON 405, malformed requests a JSON
400, and a client that goes away mid-answer is not an error.
"""

from __future__ import annotations

import html
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
MAX_HEAVY_REQUESTS = 2  # bodies read and answered at once: bounds the memory uploads can take
HEAVY_WAIT_SECONDS = 30  # a request that waits longer for its turn is answered 503
ALLOWED_METHODS = "GET, HEAD, POST"
PAGE_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
              "/explore.js": ("explore.js", "text/javascript; charset=utf-8"),
              "/explore.css": ("explore.css", "text/css; charset=utf-8")}
CONTENT_POLICY = "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'"
# Pages that may show the explorer in a frame: none, unless it was started for a notebook, whose
# page (Jupyter's, on this machine) then may; no other site can frame it (clickjacking).
NO_FRAMES = "'none'"
LOCAL_PAGES = "http://localhost:* http://127.0.0.1:* https://localhost:* https://127.0.0.1:*"
SECURITY_HEADERS = {
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
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise InvalidInputError(f"a port is an integer from 0 to 65535 (0 picks a free one), "
                                    f"got {port!r}")
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
        self.heavy = threading.BoundedSemaphore(MAX_HEAVY_REQUESTS)
        self.frame_ancestors = NO_FRAMES

    def _repr_html_(self) -> str:
        """A notebook cell's output: the page in a frame, and its address."""
        url = html.escape(self.url, quote=True)
        return (f'<iframe src="{url}" width="100%" height="760" style="border:1px solid #ddd" '
                f'title="aekit explorer"></iframe><p><a href="{url}" target="_blank">{url}</a> '
                "(<code>server.stop()</code> stops it)</p>")

    def handle_error(self, request, client_address):
        """A client that disconnects is not an error; anything else is a bug, printed once."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

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

    def parse_request(self) -> bool:
        """The standard library's parsing, less HTTP/0.9 (a bare "GET /" line), whose answers
        carry no status or headers: such a request is not answered, its connection closed."""
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            self.close_connection = True
            return False
        return True

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, TimeoutError):  # the client went away: nothing to answer
            self.close_connection = True

    # ------------------------------------------------------------------ routes
    def do_GET(self):
        self._answer(self._get)

    def do_HEAD(self):
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
        if not self.server.heavy.acquire(timeout=HEAVY_WAIT_SECONDS):
            raise _Refused(HTTPStatus.SERVICE_UNAVAILABLE, "the explorer is busy; try again")
        try:
            return getattr(self.server.explorer, routes[path])(self._json_body())
        finally:
            self.server.heavy.release()

    # ------------------------------------------------------------------ plumbing
    def _answer(self, route) -> None:
        url = urlsplit(self.path)
        self._body_read = False
        try:
            self._body_length = self._announced_length()
            self._check_host()
            answer = route(url.path, parse_qs(url.query))
            if not isinstance(answer, tuple):  # a page file is (bytes, type); the rest is JSON
                answer = (json.dumps(answer, allow_nan=False).encode(), "application/json")
        except _Refused as exc:
            self.close_connection = self.close_connection or exc.close
            return self._send_json({"error": str(exc)}, exc.status)
        except InvalidInputError as exc:
            return self._send_json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)
        except Exception as exc:  # a bug: the page gets one line, the terminal the traceback
            traceback.print_exc(file=sys.stderr)
            return self._send_json({"error": f"internal error ({type(exc).__name__}); see the server's "
                                             "terminal"}, HTTPStatus.INTERNAL_SERVER_ERROR)
        self._send(HTTPStatus.OK, *answer)

    def _announced_length(self) -> int:
        """The body's length as announced; a request whose length cannot be trusted is refused."""
        if "Transfer-Encoding" in self.headers:
            raise _Refused(HTTPStatus.LENGTH_REQUIRED, "send the request with a Content-Length, not chunked")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return 0
        if len(lengths) > 1 or not lengths[0].strip().isdigit() or not lengths[0].strip().isascii():
            raise _Refused(HTTPStatus.BAD_REQUEST, "Content-Length must be one non-negative whole number")
        return int(lengths[0])

    def _check_host(self) -> None:
        allowed = self.server.allowed_hosts
        if allowed is not None and self.headers.get("Host", "") not in allowed:
            raise _Refused(HTTPStatus.FORBIDDEN, "this explorer answers only requests addressed to "
                                                 f"{self.server.url}")

    def _json_body(self) -> dict:
        length = self._body_length
        if "Content-Length" not in self.headers:
            raise _Refused(HTTPStatus.LENGTH_REQUIRED, "the request needs a Content-Length")
        if length > MAX_BODY_BYTES:
            raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"the request has {length:,} bytes; the explorer takes at most {MAX_BODY_BYTES:,}")
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            raise _Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the request as application/json")
        body = self.rfile.read(length)
        if len(body) != length:
            raise _Refused(HTTPStatus.BAD_REQUEST, "the request's body ended before its Content-Length")
        self._body_read = True
        try:
            request = json.loads(body)
        except RecursionError:
            raise _Refused(HTTPStatus.BAD_REQUEST, "the request is nested too deeply") from None
        except (UnicodeDecodeError, ValueError) as exc:  # ValueError: also integers of 4,300+ digits
            raise _Refused(HTTPStatus.BAD_REQUEST, f"the request is not valid JSON: {exc}") from None
        if not isinstance(request, dict):
            raise _Refused(HTTPStatus.BAD_REQUEST, "the request must be a JSON object")
        return request

    def send_error(self, code, message=None, explain=None):
        """The standard library's own refusals (a malformed request line or headers, a method
        with no handler) as JSON, like every other answer; the connection is then closed."""
        self.close_connection = True
        if code == HTTPStatus.NOT_IMPLEMENTED:  # a method this server does not have
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, f"use {ALLOWED_METHODS}"
        if not hasattr(self, "command") or self.command is None or not hasattr(self, "request_version"):
            self.command = "GET"
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # refused before its version was read: a status line still
        try:
            self._send_json({"error": message or HTTPStatus(code).phrase}, HTTPStatus(code))
        except (ConnectionError, TimeoutError):
            pass

    def _send_json(self, payload: dict, status: HTTPStatus) -> None:
        self._send(status, json.dumps(payload, allow_nan=False).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        if getattr(self, "_body_length", 0) and not getattr(self, "_body_read", False):
            self.close_connection = True  # its body is unread: it must not be taken for a request
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", ALLOWED_METHODS)
        self.send_header("Content-Security-Policy",
                         f"{CONTENT_POLICY}; frame-ancestors {self.server.frame_ancestors}")
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Refused(Exception):
    """A request answered with ``status``; ``close``: then close the connection (the request
    itself is suspect, or where its body ends is not known)."""

    def __init__(self, status: HTTPStatus, message: str, close: bool = True):
        super().__init__(message)
        self.status, self.close = status, close


class _NotFound(_Refused):
    def __init__(self, path: str):
        super().__init__(HTTPStatus.NOT_FOUND, f"no such page or route: {path[:100]}", close=False)
