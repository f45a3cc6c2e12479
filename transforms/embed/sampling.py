"""Seeded, shard-order-free sampling of embeddings: a bottom-k sample over a hash of each row id."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from transforms.embed.ids import mix64


class Sample(NamedTuple):
    row_ids: np.ndarray  # int64, sorted
    vectors: np.ndarray  # float32 (n, d), aligned with row_ids
    labels: list[str | None]


RowFilter = Callable[[np.ndarray], np.ndarray]  # row ids -> a mask of the rows to keep


def outside(sorted_ids: np.ndarray) -> RowFilter:
    """The rows whose id is not in ``sorted_ids`` (a binary search per row: a filter over a large set of ids
    applied batch by batch, where ``np.isin`` would sort the whole set again for every batch)."""

    def keep(ids: np.ndarray) -> np.ndarray:
        if not len(sorted_ids):
            return np.ones(len(ids), bool)
        at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        return sorted_ids[at] != ids

    return keep


def bottom_ids(
    batches: Iterable[pa.RecordBatch], size: int, seed: int, keep: RowFilter | None = None
) -> np.ndarray:
    """The ``size`` row ids (sorted) with the smallest seeded hash among record batches of ``row_id`` (only
    rows ``keep`` passes, when given), streamed: a seeded bottom-k sample.

    The result depends only on the set of rows and the seed, not on how they are split or read, and memory
    stays bounded by ``size`` plus one record batch. It reads no vector: Embeddings.sample fetches the drawn
    rows' vectors after."""
    chosen, priority = np.zeros(0, np.int64), np.zeros(0, np.uint64)
    for batch in batches:
        ids = batch.column("row_id").to_numpy()
        if keep is not None:
            ids = ids[keep(ids)]
        chosen, priority = np.concatenate([chosen, ids]), np.concatenate([priority, mix64(ids, seed)])
        if len(chosen) > size:
            top = np.argpartition(priority, size - 1)[:size]
            chosen, priority = chosen[top], priority[top]
    return np.sort(chosen)


def cutoff(sample: Sample, seed: int) -> int:
    """The largest priority in a bottom-k sample: a row is in it exactly when its priority is at most this,
    so the sample's membership can be told from a row id alone (see ``unseen``)."""
    return int(mix64(sample.row_ids, seed).max()) if len(sample.row_ids) else -1


def unseen(seed: int, limit: int) -> RowFilter:
    """The rows a bottom-k sample with this seed and cutoff did not draw."""
    return lambda ids: mix64(ids, seed) > np.uint64(max(limit, 0))
