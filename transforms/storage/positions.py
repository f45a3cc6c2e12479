"""A shard's positions -> global row ids, from an Arrow file of the shard's rows in the order its index holds
them (its id map, or for two tiers its refine shard).

Flat code index shards keep no ids of their own: faiss numbers their vectors 0, 1, 2, ... in the order they
were added, which is the order of the shard's id map. So the 8 bytes a vector an ``IndexIDMap`` would hold in
memory stay on disk in the id map, and only the row ids of the results are read. On a local disk the file is
memory-mapped and nothing is copied; a file in an object store is copied to the local disk, checked, and
mapped from there (transforms.storage.local_copy): nothing of it is held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from transforms.storage import integrity, io, local_copy
from transforms.storage.errors import VecpressError


class PositionError(VecpressError, ValueError):
    """A search result that is not a row of its shard: the index and its id file do not match."""


class Rows:
    """The record batches of one shard file (with a ``row_id`` column), memory-mapped and addressed by
    position; with ``columns``, those columns alone."""

    def __init__(
        self, url: str, expect: Mapping[str, Any] | None = None, columns: Sequence[str] | None = None
    ):
        fs, path = io.filesystem(url)
        self.copy = None
        if io.is_local(fs):
            integrity.verify_file(url, expect)
        else:  # mapped from a checked local copy: the file's rows are never held in memory
            self.copy = local_copy.LocalCopy(url, expect)
            path = self.copy.path
        batches = _batches(pa.memory_map(path), columns, url)
        self.batches = [b for b in batches if b.num_rows]
        self.ids = [b.column("row_id").to_numpy() for b in self.batches]  # local: views of the mapped file
        self.starts = np.cumsum([0] + [len(i) for i in self.ids])
        self.rows = int(self.starts[-1])
        self.url = url

    def split(self, positions: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(batch, which of ``positions``, their offsets in that batch) for each batch they fall in."""
        if len(positions) and (positions.min() < 0 or positions.max() >= self.rows):
            raise PositionError(
                f"{self.url}: a search result is not one of its {self.rows} rows; the shards do not match"
            )
        batch = np.searchsorted(self.starts, positions, side="right") - 1
        for b in np.unique(batch):
            which = np.flatnonzero(batch == b)
            yield int(b), which, positions[which] - self.starts[b]

    def row_ids(self, positions: np.ndarray) -> np.ndarray:
        """The global row ids at the given positions (-1 stays -1)."""
        out = np.full(positions.shape, -1, np.int64)
        valid = positions >= 0
        flat = np.empty(int(valid.sum()), np.int64)
        for b, which, local in self.split(positions[valid]):
            flat[which] = self.ids[b][local]
        out[valid] = flat
        return out


def _batches(source: Any, columns: Sequence[str] | None, url: str) -> list[pa.RecordBatch]:
    """Every record batch of an Arrow IPC file, with ``columns`` alone (all when None). Selected after
    reading: on a memory map that stays zero-copy, where reading a subset of the fields copies them."""
    reader = ipc.open_file(source)
    batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
    if columns is None:
        return batches
    missing = [c for c in columns if reader.schema.get_field_index(c) < 0]
    if missing:
        has = ", ".join(reader.schema.names)
        raise PositionError(f"{url}: no column {', '.join(missing)} (it has {has})")
    return [b.select(list(columns)) for b in batches]


class Located:
    """An index shard whose ids are positions, answering with global row ids read from ``rows``."""

    def __init__(self, index: Any, rows: Rows):
        self.index, self.rows = index, rows
        self.ntotal = int(getattr(index, "ntotal", rows.rows))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        dist, positions = self.index.search(queries, k)
        return dist, self.rows.row_ids(positions)
