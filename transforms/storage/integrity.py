"""File integrity: every file a run writes is recorded with its size and sha256 when it is written, and
whatever vecpress loads later (a stage's input, a published shard) is checked against that record first.

sha256 rather than a cheaper checksum: the manifest already carries it for every file, and on this kind of
CPU (SHA extensions) it hashes faster than the bytes can be deserialized (see the README's integrity
section for the measured cost).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from transforms.storage import io, run_scope
from transforms.storage.errors import VecpressError

HINT = "the file is damaged or was replaced after it was written"


class IntegrityError(VecpressError):
    """A file differs from its record (size or sha256), or a file the record lists is missing."""


class FileDigest(NamedTuple):
    bytes: int
    sha256: str

    @classmethod
    def of(cls, record: Mapping[str, Any] | FileDigest) -> FileDigest:
        """From a manifest entry (``{"bytes": ..., "sha256": ...}``) or a digest."""
        if isinstance(record, FileDigest):
            return record
        return cls(int(record["bytes"]), str(record["sha256"]))

    def to_json(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "sha256": self.sha256}


def of_bytes(data: bytes | memoryview) -> FileDigest:
    return FileDigest(len(data), hashlib.sha256(data).hexdigest())


def of_file(url: str) -> FileDigest:
    """Size and sha256 of a stored file, streamed."""
    return FileDigest(io.size(url), io.sha256(url))


def compare(url: str, found: FileDigest, expected: FileDigest) -> None:
    """Raise IntegrityError naming ``url`` unless ``found`` is ``expected`` (an empty sha256 in ``found``
    compares the sizes only)."""
    if found.bytes != expected.bytes:
        raise IntegrityError(f"{url}: {found.bytes} bytes where {expected.bytes} were written; {HINT}")
    if found.sha256 and found.sha256 != expected.sha256:
        raise IntegrityError(
            f"{url}: content differs from what was written (sha256 {found.sha256[:12]}... instead of "
            f"{expected.sha256[:12]}...); {HINT}"
        )


def check_bytes(url: str, data: bytes | memoryview, expected: Mapping[str, Any] | FileDigest) -> None:
    """Raise IntegrityError unless ``data`` (read from ``url``) is what its record says."""
    expected = FileDigest.of(expected)
    if len(data) != expected.bytes:  # cheap first: no hashing of a truncated file
        compare(url, FileDigest(len(data), ""), expected)
    compare(url, of_bytes(data), expected)


def read_verified(url: str, expected: Mapping[str, Any] | FileDigest | None) -> bytes:
    """The bytes of ``url``, checked against its record when one is given."""
    try:
        data = io.read_bytes(url)
    except FileNotFoundError as err:
        raise IntegrityError(f"{url}: missing, although it was written and recorded") from err
    if expected is not None:
        check_bytes(url, data, expected)
    return data


def _identity(url: str) -> tuple[int, int, int, int] | None:
    """A local file's identity (device, inode, size, modification time in ns) while a run's scope is open:
    vecpress never rewrites a file in place, so a file with the same identity is the same bytes, and a run's
    later stages need not hash again what an earlier stage checked (any rewrite, copy over it or touch
    changes it). None outside a run and for object stores: those are hashed on every load."""
    if not run_scope.active():
        return None
    fs, path = io.filesystem(url)
    if not io.is_local(fs):
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def verify_file(url: str, expected: Mapping[str, Any] | FileDigest | None, name: str | None = None) -> None:
    """Check a stored file against its record without holding it in memory (for files read in batches);
    errors name ``name`` (a copy's origin) where given, else ``url``. Within a run (``run_scope``), a local
    file already checked against the same record and untouched since is not hashed again."""
    if expected is None:
        return
    expected, name = FileDigest.of(expected), name or url
    ident, key = _identity(url), ("verified", url, expected.sha256)
    if ident is not None and run_scope.get(key) == ident:
        return
    try:
        size = io.size(url)
    except FileNotFoundError as err:
        raise IntegrityError(f"{name}: missing, although it was written and recorded") from err
    if size != expected.bytes:
        compare(name, FileDigest(size, ""), expected)
    compare(name, FileDigest(size, io.sha256(url)), expected)
    if ident is not None:
        run_scope.put(key, ident)


def describe(root: str, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Records of every file under ``root``/name (a folder or a file) for each name, by path relative to
    ``root``: what a stage hands on so that the next stage, a reuse of the stage's files, and publish can
    check them."""
    prefix = root.rstrip("/") + "/"
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        for url in io.list_files(io.join(root, name) if name else root):
            rel = url[url.index(prefix) + len(prefix) :] if prefix in url else url
            out[rel] = of_file(url).to_json()
    return dict(sorted(out.items()))


def problems(root: str, records: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every recorded file under ``root`` that is missing or differs from its record, one line each."""
    out = []
    for rel, record in records.items():
        try:
            verify_file(io.locate(root, rel), record)
        except IntegrityError as err:
            out.append(str(err))
    return out


def under(records: Mapping[str, Any], folder: str) -> dict[str, Any]:
    """The records of the files in ``folder`` (paths relative to the run), by their path inside it."""
    prefix = folder.rstrip("/") + "/"
    return {rel.removeprefix(prefix): r for rel, r in records.items() if rel.startswith(prefix)}
