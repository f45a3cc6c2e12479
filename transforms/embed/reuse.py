"""Embeddings a run already has, by content: a document whose text an earlier run of the same embedder
embedded is not embedded again, whatever its id, file or row now."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from transforms.embed import vectors
from transforms.storage import arrow_files, integrity, io

logger = logging.getLogger(__name__)


def text_hash(text: str) -> bytes:
    """The key of a text's embedding (with the embedder's settings, which the chunk store is keyed by)."""
    return text_hash_bytes(text.encode("utf-8", "surrogatepass"))


def text_hash_bytes(utf8: bytes) -> bytes:
    """``text_hash`` of a text given as its UTF-8 bytes."""
    return hashlib.blake2b(utf8, digest_size=16).digest()


HASH = np.dtype("S16")  # a text hash as NumPy holds it: 16 raw bytes, compared and sorted bytewise


def hash_values(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A column of text hashes (no nulls) as an array of HASH, read from its buffer: no Python object each."""
    if column.null_count:
        raise ValueError("text hashes with nulls: filter the rejected rows out first")
    if not len(column):
        return np.zeros(0, HASH)
    return np.ascontiguousarray(arrow_files.code_view(column)).view(HASH).reshape(-1)


def hash_prefix(hashes: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each hash (HASH values) as an unsigned integer."""
    return np.ascontiguousarray(hashes, HASH).view(">u8")[::2].astype(np.uint64)


LIVE_SHARE = 0.75  # a vector file fewer of whose rows the earlier chunks use is copied from, not referred to
SMALL_PARTS = 8  # ... and so is one holding fewer rows than a typical chunk / SMALL_PARTS


class EarlierVectors:
    """The embedded rows of earlier chunks, looked up by text hash, each with where its vector is kept (a
    vector file and a row of it, see transforms.embed.vectors); vectors are read only for the rows found.

    ``absorb`` marks the vector files a new chunk should copy what it reuses from instead of referring to
    them: those the earlier chunks use less than LIVE_SHARE of (largely dead vectors, which a reference
    would keep on disk) and small ones (a night's few new vectors; referring to each would spread a chunk
    over a file per night). Their vectors go to the new chunk's own file, so the vectors on disk that no
    chunk uses any more stay under a third of those in use (besides what older kept runs still use), and a
    chunk reads a few files whatever the number of nights."""

    def __init__(self, earlier: Sequence[tuple[str, dict[str, Any]]]):
        """``earlier``: (chunk URL, chunk record) of each earlier chunk."""
        self.files: list[str] = []  # every vector file the earlier chunks read, by URL
        self.records: list[dict[str, Any]] = []  # ... with its name and integrity record
        known: dict[str, int] = {}
        keys, where, pos = [], [], []
        for url, record in earlier:
            split = "vectors" in record
            columns = ["text_hash", "reason", *(vectors.REFS if split else [])]
            try:  # a damaged earlier chunk is no source of texts (its documents are embedded again)
                integrity.verify_file(url, record)
                with io.open_file(url) as handle:
                    table = ipc.open_file(handle).read_all().select(columns)
            except (integrity.IntegrityError, OSError, pa.ArrowException, KeyError) as err:
                logger.warning("not reusing the texts of the earlier chunk %s: %s", url, err)
                continue
            sources = vectors.urls(url, record) if split else [url]
            named = record["vectors"] if split else [{"name": url.rsplit("/", 1)[-1], **record}]
            for u, r in zip(sources, named, strict=True):
                if u not in known:
                    known[u] = len(self.files)
                    self.files.append(u)
                    self.records.append({k: r[k] for k in ("name", "bytes", "sha256", "rows")})
            index = np.array([known[u] for u in sources], np.int32)
            ok = np.asarray(table.column("reason").is_null().to_numpy(zero_copy_only=False))
            hashes = hash_values(table.column("text_hash").filter(pa.array(ok)))
            keys.append(hashes)
            if split:
                where.append(
                    index[table.column("vector_file").to_numpy(zero_copy_only=False)[ok].astype(int)]
                )
                pos.append(table.column("vector_row").to_numpy(zero_copy_only=False)[ok].astype(np.int64))
            else:
                where.append(np.full(len(hashes), index[0], np.int32))
                pos.append(np.flatnonzero(ok).astype(np.int64))
        key = np.concatenate([np.zeros(0, HASH), *keys])
        order = np.argsort(key, kind="stable")  # of rows with the same text, the first kept first
        self.keys = key[order]
        self.prefixes = hash_prefix(self.keys)  # sorted too: a bytewise order is its prefix's order
        self.file = np.concatenate([np.zeros(0, np.int32), *where])[order]
        self.row = np.concatenate([np.zeros(0, np.int64), *pos])[order]
        self.matrices = vectors.Matrices()
        self._usable: dict[int, bool] = {}
        self.absorb = _absorb(self.file, self.row, self.records, [record["rows"] for _, record in earlier])

    def usable(self, file: int) -> bool:
        """Whether ``files[file]`` is still what was written and names itself (checked once per file; one
        that is not is said, and its vectors are embedded again)."""
        if file not in self._usable:
            url = self.files[file]  # an inline chunk (no vector file) was checked as it was read
            problem = vectors.problem(url, self.records[file]) if url.endswith(vectors.SUFFIX) else None
            if problem is not None:
                logger.warning("not reusing the vectors of a file that cannot be used: %s", problem)
            self._usable[file] = problem is None
        return self._usable[file]

    def referable(self, file: int, root: str) -> bool:
        """Whether a vector of ``files[file]`` is referred to from a new chunk in the store folder ``root``
        (else copied into its own file)."""
        return vectors.folder(self.files[file]) == root and not self.absorb[file]

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, hashes: Sequence[bytes] | np.ndarray) -> np.ndarray:
        """For each hash, the index of an earlier row with that text, or -1."""
        wanted = np.asarray(hashes, HASH)
        out = np.full(len(wanted), -1, np.int64)
        if not len(self.keys) or not len(wanted):
            return out
        # by the first 8 bytes (integers), then the whole hash of just the rows found; where two earlier
        # hashes share those 8 bytes, by the whole hash
        prefix = hash_prefix(wanted)
        pos = np.minimum(np.searchsorted(self.prefixes, prefix), len(self.keys) - 1)
        hit = self.keys[pos] == wanted
        shared = ~hit & (self.prefixes[pos] == prefix)
        if shared.any():
            pos[shared] = np.minimum(np.searchsorted(self.keys, wanted[shared]), len(self.keys) - 1)
            hit[shared] = self.keys[pos[shared]] == wanted[shared]
        out[hit] = pos[hit]
        return out

    def usable_rows(self, found: np.ndarray) -> np.ndarray:
        """``found`` (from ``find``) less the rows whose vector file cannot be used (-1 for those)."""
        hit = np.flatnonzero(found >= 0)
        files = self.file[found[hit]]
        good = np.zeros(len(self.files), bool)
        for f in np.unique(files).tolist():
            good[f] = self.usable(f)
        out = found.copy()
        out[hit[~good[files]]] = -1
        return out

    def vectors(self, found: np.ndarray) -> np.ndarray:
        """The embeddings of rows ``find`` returned (all >= 0), in order."""
        return self.matrices.gather(self.files, self.file[found], self.row[found])


def _absorb(
    file: np.ndarray, row: np.ndarray, records: Sequence[dict[str, Any]], chunk_rows: Sequence[int]
) -> np.ndarray:
    """Per vector file: whether it is largely dead (its distinct rows the chunks use < LIVE_SHARE of its rows)
    or small (fewer rows than the median chunk's / SMALL_PARTS)."""
    size = np.array([r["rows"] for r in records], np.int64)
    pairs = np.unique(file.astype(np.int64) << 40 | row) if len(file) else np.zeros(0, np.int64)
    live = np.bincount((pairs >> 40).astype(np.int64), minlength=len(size))
    small = max(1, int(np.median(chunk_rows)) // SMALL_PARTS) if len(chunk_rows) else 1
    return (live < LIVE_SHARE * size) | (size < small)
