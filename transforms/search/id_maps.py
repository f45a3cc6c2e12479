"""Row id -> document id and its place in the input (file, row), over all shards' id maps.

The id maps stay in their files: on a local disk they are memory-mapped, and a lookup reads only the rows it
answers. What is held is each row id, sorted, with the row's position among the shards' id maps: 12 bytes a
row (16 past 2**31 rows). Held whole, the id maps' Arrow columns take about 117 bytes a row for 20
Newsgroups posts (the input's file path is repeated on every row), more than a 48-byte index holds for the
vector itself. An id map in an object store is copied to a temporary file on the local disk (removed with
the IdMap), checked there against its record, and mapped from there (transforms.storage.local_copy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from transforms.storage import positions


class IdMap:
    """The id maps of a run's shards, in shard order (``shards``: each a ``positions.Rows``), looked up by
    row id."""

    def __init__(self, urls: Sequence[str], expect: Sequence[Mapping[str, Any] | None] | None = None):
        records = expect if expect is not None else [None] * len(urls)
        self.shards = [positions.Rows(u, r) for u, r in zip(urls, records, strict=True)]
        self.starts = np.cumsum([0] + [s.rows for s in self.shards])
        ids = [i for s in self.shards for i in s.ids]
        every = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        order = np.argsort(every, kind="stable")
        self.row_ids = every[order]  # sorted: a lookup is a binary search
        self.where = order.astype(np.int32 if len(order) < 2**31 else np.int64)

    def __len__(self) -> int:
        return len(self.row_ids)

    def _found(self, ids: np.ndarray) -> list[int | None]:
        """The position among all shards' rows of each row id (None when it is not in the index)."""
        if not len(self.row_ids):
            return [None] * len(ids)
        at = np.clip(np.searchsorted(self.row_ids, ids), 0, len(self.row_ids) - 1)
        found = self.row_ids[at] == ids
        return [int(self.where[a]) if ok else None for a, ok in zip(at.tolist(), found.tolist(), strict=True)]

    def _values(self, ids: np.ndarray, columns: Sequence[str]) -> list[tuple[Any, ...] | None]:
        out: list[tuple[Any, ...] | None] = []
        for g in self._found(np.asarray(ids, dtype=np.int64)):
            if g is None:
                out.append(None)
                continue
            shard = int(np.searchsorted(self.starts, g, side="right") - 1)
            rows = self.shards[shard]
            ((b, _, local),) = rows.split(np.array([g - self.starts[shard]]))
            batch = rows.batches[b]
            out.append(tuple(batch.column(c)[int(local[0])].as_py() for c in columns))
        return out

    def lookup(self, ids: np.ndarray) -> list[str | None]:
        """The document id of each row id (None when it is not in the index)."""
        return [None if v is None else v[0] for v in self._values(ids, ("doc_id",))]

    def places(self, ids: np.ndarray) -> list[tuple[str, int] | None]:
        """Where each row id's document is in the input: (file, row)."""
        return [None if v is None else (v[0], v[1]) for v in self._values(ids, ("file", "row"))]
