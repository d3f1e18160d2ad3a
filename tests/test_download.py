"""Named IDX sets: cache, system folder, then a verified download, against a real local HTTP server."""

import gzip
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

import aekit
from aekit.data import named
from test_data import idx_bytes

IMAGES = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
LABELS = np.array([1, 0, 1], dtype=np.uint8)
FILES = {"train-images-idx3-ubyte": idx_bytes(IMAGES), "train-labels-idx1-ubyte": idx_bytes(LABELS),
         "t10k-images-idx3-ubyte": idx_bytes(IMAGES[:1]), "t10k-labels-idx1-ubyte": idx_bytes(LABELS[:1])}


class Server:
    """Serves ``routes[path] = (body, mode)``; mode "truncate" promises more bytes than it sends."""

    def __init__(self):
        self.routes, self.requests = {}, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path not in server.routes:
                    self.send_error(404)
                    return
                body, mode = server.routes[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if mode == "truncate" else body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, folder, files, mode="ok"):
        for stem, raw in files.items():
            self.routes[f"/{folder}/{stem}.gz"] = (gzip.compress(raw), mode)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def tiny(monkeypatch, server, tmp_path):
    """A named set 'tiny' with SHA-256 digests of the decompressed files, mirrored locally."""
    digests = named._digests("sha256-raw", *(hashlib.sha256(FILES[s]).hexdigest() for s in named.STEMS))
    spec = named.NamedSet((f"{server.url}/down", f"{server.url}/good"), digests)
    monkeypatch.setitem(named.NAMED_SETS, "tiny", spec)
    return {"cache": tmp_path / "cache", "system_dir": tmp_path / "system"}


def _no_files(folder):
    return not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


def test_good_download_is_verified_cached_and_reused(server, tiny):
    server.serve("good", FILES)
    ds = named.load_named("tiny", **tiny)
    assert np.array_equal(ds.X[:, 0], IMAGES) and ds.y.tolist() == [1, 0, 1]
    stem = "train-images-idx3-ubyte"
    assert (tiny["cache"] / "tiny" / stem).read_bytes() == FILES[stem]
    assert any(r.startswith("/down/") for r in server.requests)  # the dead mirror was tried first
    before = len(server.requests)
    named.load_named("tiny", **tiny)
    assert len(server.requests) == before  # the cache answers now
    assert named.load_named("tiny", split="test", **tiny).X.shape == (1, 1, 4, 4)


def test_bad_checksum_leaves_no_file(server, tiny):
    tampered = dict(FILES, **{"train-images-idx3-ubyte": idx_bytes(IMAGES + 1)})
    server.serve("good", tampered)
    with pytest.raises(aekit.InvalidInputError, match="checksum mismatch"):
        named.load_named("tiny", **tiny)
    assert _no_files(tiny["cache"])


def test_interrupted_transfer_leaves_no_file(server, tiny):
    server.serve("good", FILES, mode="truncate")
    with pytest.raises(aekit.InvalidInputError, match="interrupted|download failed|corrupt gzip"):
        named.load_named("tiny", **tiny)
    assert _no_files(tiny["cache"])


def test_md5_of_the_gz_file_is_checked_for_sets_that_publish_only_that(server, monkeypatch, tmp_path):
    server.serve("good", FILES)
    gz = {stem: gzip.compress(raw) for stem, raw in FILES.items()}
    server.routes.update({f"/good/{s}.gz": (gz[s], "ok") for s in gz})
    digests = named._digests("md5-gz", *(hashlib.md5(gz[s]).hexdigest() for s in named.STEMS))
    monkeypatch.setitem(named.NAMED_SETS, "tiny-md5", named.NamedSet((f"{server.url}/good",), digests))
    assert len(named.load_named("tiny-md5", cache=tmp_path / "c", system_dir=tmp_path / "s")) == 3
    wrong = named._digests("md5-gz", *["0" * 32] * 4)
    monkeypatch.setitem(named.NAMED_SETS, "tiny-md5", named.NamedSet((f"{server.url}/good",), wrong))
    with pytest.raises(aekit.InvalidInputError, match="checksum mismatch"):
        named.load_named("tiny-md5", cache=tmp_path / "c2", system_dir=tmp_path / "s")


def test_system_folder_copy_is_used_and_verified(server, tiny):
    folder = tiny["system_dir"] / "tiny"
    folder.mkdir(parents=True)
    for stem, raw in FILES.items():  # recompressed, as Debian does: the decompressed content counts
        (folder / f"{stem}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
    assert len(named.load_named("tiny", **tiny)) == 3 and server.requests == []
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(1 - LABELS)))
    with pytest.raises(aekit.InvalidInputError, match="checksum mismatch"):
        named.load_named("tiny", **tiny)


def test_no_copy_and_no_mirror_says_how_to_fix(tiny):
    with pytest.raises(aekit.InvalidInputError, match="no mirror delivered it.*put the IDX files in"):
        named.load_named("tiny", **tiny)
