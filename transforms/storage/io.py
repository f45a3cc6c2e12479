"""The one place that touches storage: fsspec URLs for reading, writing, globbing, hashing and publishing."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from transforms.storage.errors import StorageError

logger = logging.getLogger(__name__)

# The optional dependency (``pip install 'vecpress[...]'``) that brings each object store's fsspec driver.
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """Return the filesystem for ``url`` and the path inside it; a scheme without its driver installed is
    a StorageError saying what to install."""
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as err:
        scheme = url.split("://", 1)[0]
        extra = EXTRAS.get(scheme)
        how = f"pip install 'vecpress[{extra}]'" if extra else str(err)
        raise StorageError(f"{url}: no driver for {scheme}:// URLs is installed ({how})") from err
    except ValueError as err:
        raise StorageError(f"{url}: not a URL vecpress can open ({err})") from err
    return fs, path


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    """A local disk: renames are atomic and files can be memory-mapped."""
    return isinstance(fs, LocalFileSystem)


def ensure_writable(url: str) -> None:
    """Create a local output folder and check it can be written to (a StorageError if not); object stores
    are checked by the first write, the output lock."""
    import errno
    import os

    fs, path = filesystem(url)
    if not is_local(fs):
        return
    try:
        fs.makedirs(path, exist_ok=True)
    except OSError as err:
        raise StorageError(f"{url}: cannot write to this output ({err.strerror})") from err
    if not os.access(path, os.W_OK):
        raise StorageError(f"{url}: cannot write to this output ({os.strerror(errno.EACCES)})")


def is_ephemeral(url: str) -> bool:
    """Whether ``url`` lives only inside this process (``memory://``): gone when the process exits."""
    return url.startswith("memory:")


def join(base: str, *parts: str) -> str:
    """Join URL parts with '/', keeping the protocol of ``base``."""
    out = base.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def locate(base: str, path: str) -> str:
    """``path`` as recorded beside ``base``: a full URL or absolute path as it is, else joined to ``base``
    (a run's manifest names its embed chunks from the output root, or by URL in a shared embed cache)."""
    if "://" in path or path.startswith("/"):
        return path
    return join(base, path)


def unstrip(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """Turn a path inside ``fs`` back into a full URL."""
    return fs.unstrip_protocol(path) if not isinstance(fs, LocalFileSystem) else path


def _hidden(path: str, base: str) -> bool:
    """Bookkeeping files and folders that writers leave beside data (``_SUCCESS``, ``_temporary/``,
    ``.part-0.crc``): any part of the path below ``base`` that starts with '_' or '.'."""
    rel = path[len(base) :] if path.startswith(base) else path.rsplit("/", 1)[-1]
    return any(part.startswith(("_", ".")) for part in rel.split("/") if part)


def expand(pattern: str) -> list[str]:
    """Expand a URL or glob to a sorted list of file URLs. A directory expands to every ``*.parquet`` file
    below it, at any depth (hive-style partitions such as ``year=2020/part-0.parquet``), leaving out
    bookkeeping files and folders whose names start with '_' or '.'."""
    fs, path = filesystem(pattern)
    base = ""
    if fs.isdir(path):
        base = path.rstrip("/") + "/"
        path = base + "**/*.parquet"
    matches = sorted(fs.glob(path)) if any(c in path for c in "*?[") else ([path] if fs.exists(path) else [])
    files = [m for m in matches if not fs.isdir(m) and not (base and _hidden(m, base))]
    return [unstrip(fs, f) for f in files]


def exists(url: str) -> bool:
    fs, path = filesystem(url)
    return fs.exists(path)


@contextmanager
def open_file(url: str, mode: str = "rb") -> Iterator[BinaryIO]:
    """Open ``url``; on write, create parent directories first (a no-op on object stores)."""
    fs, path = filesystem(url)
    if "w" in mode:
        parent = path.rsplit("/", 1)[0]
        if parent and parent != path:
            fs.makedirs(parent, exist_ok=True)
    with fs.open(path, mode) as handle:
        yield handle


def read_bytes(url: str) -> bytes:
    fs, path = filesystem(url)
    return fs.cat_file(path)


def write_bytes(url: str, data: bytes) -> None:
    with open_file(url, "wb") as handle:
        handle.write(data)


def read_json(url: str) -> Any:
    return json.loads(read_bytes(url))


def write_json(url: str, obj: Any) -> None:
    write_bytes(url, (json.dumps(obj, indent=2) + "\n").encode())


def size(url: str) -> int:
    fs, path = filesystem(url)
    return int(fs.size(path))


def sha256(url: str, chunk: int = 1 << 22) -> str:
    """Stream a file through sha256."""
    digest = hashlib.sha256()
    with open_file(url, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def list_files(url: str, suffix: str = "") -> list[str]:
    """All files under ``url`` (recursively) ending in ``suffix``, as sorted URLs."""
    fs, path = filesystem(url)
    if not fs.exists(path):
        return []
    return sorted(unstrip(fs, p) for p in fs.find(path) if p.endswith(suffix))


def atomic_write_bytes(url: str, data: bytes) -> None:
    """Replace ``url`` in one step, so a reader sees the old content or the new, never a mix.

    On a local disk this is write-to-temp then rename; on object stores a single PUT is already atomic.
    """
    fs, path = filesystem(url)
    if isinstance(fs, LocalFileSystem):
        parent = path.rsplit("/", 1)[0]
        fs.makedirs(parent, exist_ok=True)
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        with fs.open(tmp, "wb") as handle:
            handle.write(data)
        fs.mv(tmp, path)
    else:
        fs.pipe_file(path, data)


def move(src: str, dst: str) -> None:
    """Move a file into place: an atomic rename on a local disk; on object stores the destination appears
    in one PUT (server-side copy), then the source is deleted."""
    fs, src_path = filesystem(src)
    _, dst_path = filesystem(dst)
    fs.makedirs(dst_path.rsplit("/", 1)[0], exist_ok=True)
    fs.mv(src_path, dst_path)


def remove(url: str) -> None:
    """Delete a file or a folder and everything under it; nothing there is fine."""
    fs, path = filesystem(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def copy_tree(src: str, dst: str) -> int:
    """Copy every file under ``src`` to the same relative place under ``dst``: on a local disk as hard links
    (no bytes written: an unchanged stage's files are shared between runs, and vecpress never writes a file
    in place, so a link cannot change under the other run), elsewhere server-side copies where possible."""
    fs, src_path = filesystem(src)
    _, dst_path = filesystem(dst)
    if fs.isfile(src_path):
        pairs = [(src_path, dst_path)]
    else:
        base = src_path.rstrip("/")
        pairs = [(p, dst_path.rstrip("/") + p[len(base) :]) for p in fs.find(base)]
    for source, target in pairs:
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        if is_local(fs):
            try:
                os.link(source, target)
                continue
            except OSError:  # another filesystem, or one without hard links: copy
                pass
        fs.copy(source, target)
    return len(pairs)
