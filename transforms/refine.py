"""The stored tier of a two-tier index: finer codes kept on disk beside the index shards, read only to
re-rank the candidates that the in-memory codes found.

A two-tier codec pairs a compact in-memory code (what the index shards hold and search) with a finer scalar
code (SQ8, SQ4, SQ6, fp16, bf16) of every vector, written by the encode stage to ``refine/`` shards: Arrow IPC
files of (row_id, code) in the same order as the shard's codes, whose positions are the index shard's ids. A
search asks the index shard for ``rerank`` times more candidates than wanted, reads just those candidates'
fine codes (memory-mapped on a local disk), decodes them and keeps the best by exact distance to the query,
as faiss's IndexRefine does, but with the fine codes left on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from transforms import arrow_files, positions
from transforms.errors import VecpressError

REFINE_INDEX = "refine.faiss"
# the scalar codes a stored tier can use: cheap to train (per-dimension ranges), exact to decode
FACTORIES = ("SQ8", "SQ6", "SQ4", "SQfp16", "SQbf16")


class RefineError(VecpressError, ValueError):
    """A stored tier that cannot be used as asked."""


def check_factory(refine: str) -> None:
    if refine not in FACTORIES:
        raise RefineError(f"stored tier {refine!r} is not one of {', '.join(FACTORIES)}")


def train(sample: np.ndarray, refine: str) -> Any:
    """The trained, empty scalar quantizer of the stored tier."""
    import faiss

    check_factory(refine)
    index = faiss.index_factory(sample.shape[1], refine, faiss.METRIC_L2)
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    return index


def schema(code_size: int, fingerprint: str, refine: str) -> pa.Schema:
    """A refine shard: one fine code per vector, sorted by row id."""
    return pa.schema(
        [
            pa.field("row_id", pa.int64(), nullable=False),
            pa.field("code", pa.binary(code_size), nullable=False),
        ],
        metadata={
            "vecpress.kind": "refine",
            "vecpress.refine_fingerprint": fingerprint,
            "vecpress.refine_factory": refine,
        },
    )


class Store(positions.Rows):
    """The fine codes of one index shard, by position: a two-tier index shard's ids are positions in its
    refine shard, whose ``row_id`` column gives the global row id. On a local disk the file is
    memory-mapped and nothing is copied: a search reads the pages of the codes it gathers. From an object
    store it is copied to the local disk first, checked, and mapped from there (transforms.local_copy)."""

    def __init__(self, url: str, expect: Mapping[str, Any] | None = None):
        super().__init__(url, expect)
        self.codes = [arrow_files.code_view(b.column("code")) for b in self.batches]
        self.width = self.codes[0].shape[1] if self.codes else 0

    def gather(self, where: np.ndarray) -> np.ndarray:
        """The fine codes at the given positions, in order."""
        out = np.empty((len(where), self.width), np.uint8)
        for b, which, local in self.split(where):
            out[which] = self.codes[b][local]
        return out


BLOCK = 65536  # candidates decoded at once: 100 MB of float32 at 384 dimensions


def rerank(
    cand: np.ndarray,
    queries: np.ndarray,
    codes_of: Callable[[np.ndarray], np.ndarray],
    quantizer: Any,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The best k of each query's candidates (ids, -1 for none) by exact squared L2 to their decoded fine
    codes; ``codes_of`` gives the fine codes of a flat array of candidate ids. Returns (distances, ids)."""
    nq, width = cand.shape
    dist = np.full((nq, k), np.inf, np.float32)
    ids = np.full((nq, k), -1, np.int64)
    step = max(1, BLOCK // max(1, width))
    for lo in range(0, nq, step):
        block, q = cand[lo : lo + step], queries[lo : lo + step]
        valid = block >= 0
        full = np.full(block.shape, np.inf, np.float32)
        if valid.any():
            decoded = quantizer.sa_decode(codes_of(block[valid]))
            full[valid] = ((decoded - q[np.nonzero(valid)[0]]) ** 2).sum(axis=1)
        order = np.argsort(full, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(full, order, 1)
        dist[lo : lo + step, : order.shape[1]] = best
        ids[lo : lo + step, : order.shape[1]] = np.where(
            np.isfinite(best), np.take_along_axis(block, order, 1), -1
        )
    return dist, ids


class Reranked:
    """An index shard searched in two tiers: ``rerank`` x k candidates from the in-memory codes, then the
    best k of them by exact distance to their decoded fine codes."""

    def __init__(self, index: Any, store: Store, quantizer: Any, factor: int):
        self.index, self.store, self.quantizer, self.factor = index, store, quantizer, factor
        self.ntotal = int(getattr(index, "ntotal", store.rows))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and global row ids of the best k (the shard's own ids are positions)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        # never more candidates than the shard holds, whatever k x rerank asks
        _, cand = self.index.search(queries, max(1, min(k * self.factor, self.ntotal)))
        dist, where = rerank(cand, queries, self.store.gather, self.quantizer, k)
        return dist, self.store.row_ids(where)
