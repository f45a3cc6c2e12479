"""Seeded, shard-order-free sampling of embeddings: a bottom-k sample over a hash of each row id."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from transforms import arrow_files
from transforms.ids import mix64


class Sample(NamedTuple):
    row_ids: np.ndarray  # int64, sorted
    vectors: np.ndarray  # float32 (n, d), aligned with row_ids
    labels: list[str | None]


RowFilter = Callable[[np.ndarray], np.ndarray]  # row ids -> a mask of the rows to keep


def bottom_k(
    batches: Iterable[pa.RecordBatch], size: int, seed: int, keep: RowFilter | None = None
) -> Sample:
    """The ``size`` rows with the smallest seeded hash of their row id among record batches with ``row_id``,
    ``embedding`` and ``label`` columns, streamed (only rows ``keep`` passes, when given).

    The result depends only on the set of rows and the seed, not on how they are split or read, and memory
    stays bounded by ``size`` plus one record batch.
    """
    keep_ids = np.zeros(0, np.int64)
    keep_pri = np.zeros(0, np.uint64)
    keep_vec: np.ndarray | None = None
    keep_lab = np.zeros(0, object)
    for batch in batches:
        ids = batch.column("row_id").to_numpy()
        vec = arrow_files.vectors(batch.column("embedding"))
        lab = np.array(batch.column("label").to_pylist(), dtype=object)
        if keep is not None:
            mask = keep(ids)
            ids, vec, lab = ids[mask], vec[mask], lab[mask]
        keep_ids = np.concatenate([keep_ids, ids])
        keep_pri = np.concatenate([keep_pri, mix64(ids, seed)])
        keep_vec = vec if keep_vec is None else np.concatenate([keep_vec, vec])
        keep_lab = np.concatenate([keep_lab, lab])
        if len(keep_ids) > size:
            top = np.argpartition(keep_pri, size - 1)[:size]
            keep_ids, keep_pri, keep_vec, keep_lab = (
                keep_ids[top],
                keep_pri[top],
                keep_vec[top],
                keep_lab[top],
            )
    if keep_vec is None:
        raise ValueError("no embeddings to sample from")
    order = np.argsort(keep_ids, kind="stable")
    return Sample(keep_ids[order], np.ascontiguousarray(keep_vec[order]), list(keep_lab[order]))


def cutoff(sample: Sample, seed: int) -> int:
    """The largest priority in a bottom-k sample: a row is in it exactly when its priority is at most this,
    so the sample's membership can be told from a row id alone (see ``unseen``)."""
    return int(mix64(sample.row_ids, seed).max()) if len(sample.row_ids) else -1


def unseen(seed: int, limit: int) -> RowFilter:
    """The rows a bottom-k sample with this seed and cutoff did not draw."""
    return lambda ids: mix64(ids, seed) > np.uint64(max(limit, 0))
