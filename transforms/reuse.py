"""Embeddings a run already has, by content: a document whose text an earlier run of the same embedder
embedded is not embedded again, whatever its id, file or row now."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from transforms import io


def text_hash(text: str) -> bytes:
    """The key of a text's embedding (with the embedder's settings, which the chunk store is keyed by)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _prefix(hashes: Sequence[bytes]) -> np.ndarray:
    """The first 8 bytes of each hash as an unsigned integer: the sort key (the full hash is compared)."""
    joined = b"".join(hashes)
    return np.frombuffer(joined, dtype=">u8")[::2].astype(np.uint64) if hashes else np.zeros(0, np.uint64)


class Previous:
    """The embedded rows of earlier chunk files, looked up by text hash; vectors are read from the chunk
    files only for the rows found (memory-mapped on a local disk)."""

    def __init__(self, chunk_urls: Sequence[str]):
        self.urls = list(chunk_urls)
        keys, full, where, pos = [], [], [], []
        for i, url in enumerate(self.urls):
            with io.open_file(url) as handle:
                table = ipc.open_file(handle).read_all().select(["text_hash", "reason"])
            ok = np.asarray(table.column("reason").is_null().to_numpy(zero_copy_only=False))
            hashes = [h for h, good in zip(table.column("text_hash").to_pylist(), ok, strict=True) if good]
            keys.append(_prefix(hashes))
            full += hashes
            where.append(np.full(len(hashes), i, np.int32))
            pos.append(np.flatnonzero(ok).astype(np.int64))
        key = np.concatenate([np.zeros(0, np.uint64), *keys])
        order = np.argsort(key, kind="stable")
        self.keys = key[order]
        self.full = [full[i] for i in order]
        self.chunk = np.concatenate([np.zeros(0, np.int32), *where])[order]
        self.position = np.concatenate([np.zeros(0, np.int64), *pos])[order]
        self._open: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, hashes: Sequence[bytes]) -> np.ndarray:
        """For each hash, the index of an earlier row with that text, or -1."""
        out = np.full(len(hashes), -1, np.int64)
        if not len(self.keys) or not hashes:
            return out
        pos = np.searchsorted(self.keys, _prefix(hashes))
        for i, (p, h) in enumerate(zip(pos.tolist(), hashes, strict=True)):
            while p < len(self.keys) and self.full[p][:8] == h[:8]:
                if self.full[p] == h:
                    out[i] = p
                    break
                p += 1
        return out

    def vectors(self, found: np.ndarray, dim: int) -> np.ndarray:
        """The embeddings of rows ``find`` returned (all >= 0), in order."""
        out = np.empty((len(found), dim), np.float32)
        chunks = self.chunk[found]
        for c in np.unique(chunks):
            rows = np.flatnonzero(chunks == c)
            out[rows] = self._matrix(int(c), dim)[self.position[found[rows]]]
        return out

    def _matrix(self, i: int, dim: int) -> np.ndarray:
        if i not in self._open:
            if len(self._open) > 8:  # a handful of earlier chunks at a time
                self._open.clear()
            fs, path = io.filesystem(self.urls[i])
            source = pa.memory_map(path) if io.is_local(fs) else pa.BufferReader(io.read_bytes(self.urls[i]))
            column = ipc.open_file(source).read_all().column("embedding").combine_chunks()
            self._open[i] = column.values.to_numpy(zero_copy_only=False).reshape(-1, dim)
        return self._open[i]
