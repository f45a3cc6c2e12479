"""A shard's positions -> global row ids, from an Arrow file of the shard's rows in the order its index holds
them (its id map, or for two tiers its refine shard).

Flat code index shards keep no ids of their own: faiss numbers their vectors 0, 1, 2, ... in the order they
were added, which is the order of the shard's id map. So the 8 bytes a vector an ``IndexIDMap`` would hold in
memory stay on disk in the id map, and only the row ids of the results are read. On a local disk the file is
memory-mapped and nothing is copied; from an object store only the ``row_id`` column is fetched and held
(8 bytes a row; the id map's doc ids and places stay in the store).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from transforms import integrity, io
from transforms.errors import VecpressError


class PositionError(VecpressError, ValueError):
    """A search result that is not a row of its shard: the index and its id file do not match."""


class Rows:
    """The record batches of one shard file (with a ``row_id`` column), addressed by position; with
    ``columns``, those columns alone (from an object store, only their buffers are fetched)."""

    def __init__(
        self, url: str, expect: Mapping[str, Any] | None = None, columns: Sequence[str] | None = None
    ):
        integrity.verify_file(url, expect)
        fs, path = io.filesystem(url)
        if io.is_local(fs):
            batches = _batches(pa.memory_map(path), columns, url)
        elif columns is None:
            batches = _batches(pa.BufferReader(io.read_bytes(url)), None, url)
        else:  # ranged reads of the columns' buffers: no block cache pulling in the rest of the file
            with fs.open(path, "rb", cache_type="none") as f:
                batches = _batches(f, columns, url)
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
    """Every record batch of an Arrow IPC file, reading only ``columns`` (all when None)."""
    reader = ipc.open_file(source)
    if columns is not None:
        fields = [reader.schema.get_field_index(c) for c in columns]
        if -1 in fields:
            missing = [c for c, f in zip(columns, fields, strict=True) if f < 0]
            raise PositionError(
                f"{url}: no column {', '.join(missing)} (it has {', '.join(reader.schema.names)})"
            )
        reader = ipc.open_file(source, options=ipc.IpcReadOptions(included_fields=fields))
    return [reader.get_batch(i) for i in range(reader.num_record_batches)]


class Located:
    """An index shard whose ids are positions, answering with global row ids read from ``rows``."""

    def __init__(self, index: Any, rows: Rows):
        self.index, self.rows = index, rows
        self.ntotal = int(getattr(index, "ntotal", rows.rows))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        dist, positions = self.index.search(queries, k)
        return dist, self.rows.row_ids(positions)
