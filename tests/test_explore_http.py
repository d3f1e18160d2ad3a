"""The explorer's server speaks strict HTTP over a real socket: no request smuggled behind a
refused one, no body beyond the limit, JSON for every answer, no crash a client can cause."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from aekit import VAE, AutoEncoder, InvalidInputError
from aekit.data import load
from aekit.explorer import Explorer, serve
from aekit.explorer.server import MAX_BODY_BYTES, MAX_HEAVY_REQUESTS


@pytest.fixture(scope="module")
def server():
    X = load("digits").X[:200]
    model = VAE(latent_dim=2, network="mlp", epochs=2, random_state=0, verbose=0).fit(X)
    server = serve(Explorer(model, X, max_points=100))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def table_server():
    X = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    model = AutoEncoder(latent_dim=3, epochs=2, random_state=0, verbose=0).fit(X)
    server = serve(Explorer(model, X, max_points=100))
    server.start()
    yield server
    server.stop()


def _host(server) -> str:
    return server.url.split("/")[2]


def _connect(server) -> socket.socket:
    host, port = server.server_address[:2]
    return socket.create_connection((host, port), timeout=10)


def _request(method: str, path: str, host: str, body: bytes = b"", headers: dict | None = None,
             length: str | None = None, close: bool = True) -> bytes:
    """One HTTP/1.1 request; ``close=False`` leaves the connection open for another, as a
    browser does (so that whatever the server closes, it closed on its own)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"] + (["Connection: close"] if close else [])
    if body or length is not None:
        lines.append(f"Content-Length: {length if length is not None else len(body)}")
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _responses(sock: socket.socket, limit: int = 5) -> list[tuple[int, dict, bytes]]:
    """Every response the server sends before it closes the connection (or goes quiet)."""
    data, answers = b"", []
    sock.settimeout(3)
    try:
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    while data and len(answers) < limit:
        if not data.startswith(b"HTTP/1."):  # not an HTTP answer at all
            answers.append((0, {}, data))
            break
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", 0))
        answers.append((int(lines[0].split()[1]), headers, rest[:length]))
        data = rest[length:]
    return answers


def test_a_refused_requests_body_is_never_read_as_the_next_request(server):
    """A POST with a foreign Host carrying a smuggled GET, then a GET: the smuggled one is
    never answered; the connection closes after the refusal."""
    smuggled = _request("GET", "/api/item?index=7", _host(server), close=False)
    for method, host in (("POST", "attacker.example"), ("GET", "attacker.example"), ("GET", _host(server))):
        path = "/api/decode" if method == "POST" else "/nowhere"
        with _connect(server) as sock:
            sock.sendall(_request(method, path, host, body=smuggled, close=False)
                         + _request("GET", "/api/info", _host(server)))
            answers = _responses(sock)
        assert [a[0] for a in answers] == [403 if host != _host(server) else 404], answers
        assert answers[0][1].get("connection") == "close"
        assert b'"index"' not in b"".join(a[2] for a in answers)


def test_keep_alive_still_works_for_good_requests(server):
    with _connect(server) as sock:
        sock.sendall(_request("GET", "/api/info", _host(server), close=False)
                     + _request("GET", "/api/map", _host(server)))
        answers = _responses(sock)
    assert [a[0] for a in answers] == [200, 200]


@pytest.mark.parametrize("length", ["-1", "+5", "1e3", "0x10", "5, 5", " ", "١٢"])
def test_a_length_that_is_not_a_plain_number_is_refused_and_nothing_is_read(server, length):
    with _connect(server) as sock:
        sock.sendall(_request("POST", "/api/decode", _host(server), body=b'{"point": [0, 0]}', length=length))
        answers = _responses(sock)
    assert len(answers) == 1 and answers[0][0] == 400 and answers[0][1].get("connection") == "close"
    assert "Content-Length" in json.loads(answers[0][2])["error"]


def test_a_body_over_the_limit_is_refused_unread(server):
    with _connect(server) as sock:
        sock.sendall(_request("POST", "/api/decode", _host(server), length=str(MAX_BODY_BYTES + 1)))
        sock.sendall(b"x" * 4096)
        answers = _responses(sock)
    assert [a[0] for a in answers] == [413]


def test_chunked_bodies_are_refused(server):
    with _connect(server) as sock:
        chunked = {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}
        sock.sendall(_request("POST", "/api/decode", _host(server), headers=chunked)
                     + b"5\r\nhello\r\n0\r\n\r\n")
        answers = _responses(sock)
    assert [a[0] for a in answers] == [411]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "BREW"])
def test_other_methods_get_a_json_405(server, method):
    with _connect(server) as sock:
        sock.sendall(_request(method, "/api/info", _host(server)))
        answers = _responses(sock)
    assert answers[0][0] == 405 and answers[0][1]["allow"] == "GET, HEAD, POST"
    assert answers[0][1]["content-type"] == "application/json" and "error" in json.loads(answers[0][2])


def test_head_answers_without_a_body(server):
    with _connect(server) as sock:
        sock.sendall(_request("HEAD", "/api/info", _host(server)))
        answers = _responses(sock)
    assert answers[0][0] == 200 and int(answers[0][1]["content-length"]) > 0


@pytest.mark.parametrize("body, fragment", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"code": [' + b"9" * 5000 + b", 0]}", "not valid JSON"),
    (b'{"code": [' + b"9" * 401 + b", 0]}", "within"),
    (b'{"code": [1.7e308, -1.7e308]}', "within"),
    (b'{"point": [1e300, 0]}', "within"),
    (b'{"code": [1e30, 0]}', "within"),
])
def test_hostile_numbers_and_nesting_are_400_not_500(server, body, fragment):
    with _connect(server) as sock:
        sock.sendall(_request("POST", "/api/decode", _host(server), body=body))
        answers = _responses(sock)
    assert answers[0][0] == 400 and fragment in json.loads(answers[0][2])["error"]


def test_a_spherical_path_far_out_and_a_huge_table_row_are_refused(server, table_server):
    body = json.dumps({"a": [1.7e308, 0], "b": [0, 1], "t": [0.5], "method": "spherical"}).encode()
    with _connect(server) as sock:
        sock.sendall(_request("POST", "/api/path", _host(server), body=body))
        assert _responses(sock)[0][0] == 400
    body = json.dumps({"values": [1e30, 0, 0, 0]}).encode()
    with _connect(table_server) as sock:
        sock.sendall(_request("POST", "/api/encode", _host(table_server), body=body))
        status, _, answer = _responses(sock)[0]
    assert status in (200, 400), answer
    if status == 400:
        assert "far outside" in json.loads(answer)["error"]
    else:  # a model whose code stays finite still answers with finite numbers only
        json.loads(answer, parse_constant=lambda c: pytest.fail(f"{c} in the answer"))


def test_a_client_that_disconnects_prints_nothing(server, capfd):
    """Requests pipelined on a connection the client then resets: the server's writes fail
    mid-answer, and that is the client's going, not an error to print."""
    for _ in range(5):
        with _connect(server) as sock:
            sock.sendall(_request("GET", "/", _host(server), close=False) * 200)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    time.sleep(1.0)
    assert "Traceback" not in capfd.readouterr().err
    with _connect(server) as sock:  # and it still serves
        sock.sendall(_request("GET", "/api/info", _host(server)))
        assert _responses(sock, limit=1)[0][0] == 200


def test_at_most_a_few_uploads_are_worked_on_at_once(server, monkeypatch):
    """Heavy requests (bodies read, images decoded) are bounded; the others wait their turn."""
    explorer = server.explorer
    running, most = [0], [0]
    lock = threading.Lock()
    real = type(explorer).decode

    def slow_decode(self, request):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return real(self, request)

    monkeypatch.setattr(type(explorer), "decode", slow_decode)
    results = []

    def call():
        with _connect(server) as sock:
            sock.sendall(_request("POST", "/api/decode", _host(server), body=b'{"point": [0, 0]}'))
            results.append(_responses(sock)[0][0])

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8 and most[0] == MAX_HEAVY_REQUESTS


def test_an_uploaded_image_is_decoded_towards_the_models_size():
    """A 4000x4000 JPEG for an 8x8 model is decoded at 1/8 of its size (Pillow's draft)."""
    from aekit.data.images import decode_reduced

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((4000, 4000, 3), np.uint8)).save(buffer, format="JPEG")
    with Image.open(io.BytesIO(buffer.getvalue())) as image:
        reduced = decode_reduced(image, (8, 8))
    assert max(reduced.size) <= 500
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((3000, 3000), np.uint8)).save(buffer, format="PNG")
    with Image.open(io.BytesIO(buffer.getvalue())) as image:
        assert max(decode_reduced(image, (8, 8)).size) < 32  # a PNG: reduced right after decoding


def test_a_port_out_of_range_is_one_clear_error(server):
    with pytest.raises(InvalidInputError, match="0 to 65535"):
        serve(server.explorer, port=70000)


# ---------------------------------------------------------------------------- a bounded fuzz run
# Longer run (docs/files.md): AEKIT_FUZZ_EXAMPLES=2000 python -m pytest tests/test_explore_http.py -k fuzz
FUZZ_EXAMPLES = int(os.environ.get("AEKIT_FUZZ_EXAMPLES", "100"))
_scalars = (st.none() | st.booleans() | st.integers(-10**500, 10**500) | st.floats(allow_nan=False)
            | st.text(max_size=20))
_json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=5),
    max_leaves=30)
_fields = st.sampled_from(["code", "point", "a", "b", "t", "method", "label", "values", "image", "to",
                           "from"])
_bodies = st.dictionaries(_fields, _json_values | st.lists(st.floats(-1e308, 1e308), min_size=1, max_size=4),
                          max_size=5)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(["/api/decode", "/api/path", "/api/attribute", "/api/encode", "/api/nope"]),
       body=_bodies)
def test_fuzzed_requests_never_crash_the_server(server, route, body):
    """Random JSON bodies on every route: each answer is 200, 400 or 404 with a JSON body of
    finite numbers; never a 500."""
    data = json.dumps(body).encode()
    with _connect(server) as sock:
        sock.sendall(_request("POST", route, _host(server), body=data))
        answers = _responses(sock, limit=1)
    status, headers, answer = answers[0]
    assert status in (200, 400, 404), (status, answer[:300])
    json.loads(answer, parse_constant=lambda c: pytest.fail(f"{c} in an answer"))


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(max_size=300), path=st.text(max_size=40))
def test_fuzzed_raw_bytes_never_crash_the_server(server, raw, path):
    request = b"GET /" + path.encode("utf-8", "replace") + b" HTTP/1.1\r\n" + raw + b"\r\n\r\n"
    with _connect(server) as sock:
        sock.sendall(request)
        answers = _responses(sock, limit=1)
    assert not answers or answers[0][0] not in (0, 500), answers  # no answer, or a proper one
    # The server still answers afterwards.
    with _connect(server) as sock:
        sock.sendall(_request("GET", "/api/info", _host(server)))
        assert _responses(sock, limit=1)[0][0] == 200
