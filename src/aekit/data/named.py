"""Named IDX data sets (fashion-mnist, mnist, kmnist): found locally, else downloaded and verified.

Each file is looked for, in order, in the user cache (``$AEKIT_CACHE``, else
``$XDG_CACHE_HOME/aekit``, else ``~/.cache/aekit``), in ``/usr/share/datasets/<name>/`` (where
Debian's ``dataset-fashion-mnist`` installs), and finally downloaded from the set's canonical
mirrors. A download is verified before anything is written, then stored in the cache with an
atomic rename: an interrupted or corrupt transfer leaves no file behind. Every copy, cached or
system-wide, is verified again each time it is used: a damaged or replaced file is refused.

Digests: Fashion-MNIST's are SHA-256 of the *decompressed* files, so Debian's recompressed
copies verify too, and the cache holds the decompressed file. For MNIST and KMNIST only the MD5
of the upstream ``.gz`` files is published (and used by torchvision): the cache holds that
``.gz`` as downloaded, so it can be verified against the published digest on every use.
"""

from __future__ import annotations

import gzip
import hashlib
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .._atomic import atomic_path
from ..errors import InvalidInputError
from .converted import cache_dir
from .dataset import Dataset
from .idx import open_idx, read_idx

SYSTEM_DIR = Path("/usr/share/datasets")
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@dataclass(frozen=True)
class Digest:
    kind: str  # "sha256-raw": of the decompressed file; "md5-gz": of the upstream .gz file
    value: str


@dataclass(frozen=True)
class NamedSet:
    mirrors: tuple[str, ...]
    digests: dict[str, Digest]


STEMS = (*SPLITS["train"], *SPLITS["test"])


def _digests(kind: str, *values: str) -> dict[str, Digest]:
    """Digests in the order of STEMS: train images, train labels, test images, test labels."""
    return {stem: Digest(kind, value) for stem, value in zip(STEMS, values, strict=True)}


NAMED_SETS = {
    "fashion-mnist": NamedSet(
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        _digests("sha256-raw",
                 "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                 "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                 "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                 "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34")),
    "mnist": NamedSet(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        _digests("md5-gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                 "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afc8b62a52d9c1d73c3e9c")),
    "kmnist": NamedSet(
        ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        _digests("md5-gz", "bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
                 "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134")),
}


def load_named(name: str, split: str = "train", cache: Path | None = None,
               system_dir: Path = SYSTEM_DIR, mirrors: tuple[str, ...] | None = None,
               stream: bool = False) -> Dataset:
    """Images ``(n, 1, 28, 28)`` uint8 and labels of one split of a named set (with ``stream``,
    images read from disk a batch at a time)."""
    if split not in SPLITS:
        raise InvalidInputError(f"split must be one of {tuple(SPLITS)}, got {split!r}")
    image_file, label_file = (locate(name, stem, cache, system_dir, mirrors) for stem in SPLITS[split])
    images, labels = open_idx(image_file) if stream else read_idx(image_file), read_idx(label_file)
    if len(images) != len(labels):
        raise InvalidInputError(f"{name} {split}: {len(images)} images but {len(labels)} labels")
    return Dataset(images, labels, name if split == "train" else f"{name}-{split}")


def locate(name: str, stem: str, cache: Path | None = None, system_dir: Path = SYSTEM_DIR,
           mirrors: tuple[str, ...] | None = None) -> Path:
    """The path of a verified, decompressed IDX file, downloading it if no copy is found."""
    spec = NAMED_SETS[name]
    digest = spec.digests[stem]
    packed_only = digest.kind == "md5-gz"  # verifiable only as the .gz that was published
    cached = (cache or cache_dir()) / name / (f"{stem}.gz" if packed_only else stem)
    if cached.is_file():
        _verify_copy(cached, digest)
        return cached
    for local in (system_dir / name / stem, system_dir / name / f"{stem}.gz"):
        if local.is_file():
            _verify_copy(local, digest)
            return local
    failures = []
    for mirror in mirrors or spec.mirrors:
        url = f"{mirror.rstrip('/')}/{stem}.gz"
        try:
            packed = _download(url)
            raw = _decompress(packed, url)
            _verify(raw, packed, digest, url)
        except InvalidInputError as exc:
            failures.append(str(exc))
            continue
        with atomic_path(cached) as tmp:
            tmp.write_bytes(packed if packed_only else raw)
        return cached
    debian = "apt-get install -y dataset-fashion-mnist, or " if name == "fashion-mnist" else ""
    raise InvalidInputError(
        f"{name}: {stem} is not in {cached.parent} or {system_dir / name}, and no mirror delivered "
        f"it ({'; '.join(failures)}). To fix: {debian}put the IDX files in {cached.parent}")


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            expected = int(response.headers.get("Content-Length") or 0)
            chunks, received = [], 0
            with tqdm(total=expected or None, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1],
                      leave=False, disable=None) as bar:
                while chunk := response.read(1 << 16):
                    chunks.append(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as exc:  # http.client errors are OSErrors
        raise InvalidInputError(f"{url}: download failed ({exc})") from exc
    if expected and received != expected:
        raise InvalidInputError(f"{url}: transfer interrupted ({received} of {expected} bytes)")
    return b"".join(chunks)


def _decompress(data: bytes, where: str) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise InvalidInputError(f"{where}: corrupt gzip data ({exc})") from exc


def _verify_copy(path: Path, digest: Digest) -> None:
    """Check a local copy against the published digest (what can be checked: a raw file of an
    MD5-of-gz set cannot, and is accepted as the system administrator's copy)."""
    data = path.read_bytes()
    packed = data if data[:2] == b"\x1f\x8b" else None
    _verify(_decompress(data, str(path)), packed, digest, str(path))


def _verify(raw: bytes, packed: bytes | None, digest: Digest, where: str) -> None:
    if digest.kind == "sha256-raw":
        actual = hashlib.sha256(raw).hexdigest()
    elif packed is None:
        return
    else:
        actual = hashlib.md5(packed, usedforsecurity=False).hexdigest()
    if actual != digest.value:
        raise InvalidInputError(f"{where}: checksum mismatch ({digest.kind} {actual[:12]}…, expected "
                                f"{digest.value[:12]}…)")
