"""Two query sets searched with one scan of the index for the queries they share.

A run is evaluated with two samples of queries: every document (at k + 1) and the documents the codec never
saw (deeper, so that k of them remain once the trained-on ones are left out). Both are bottom-k samples by the
same priority, so when the codec trained on a small part of the corpus most queries are in both. A shard's
nearest k by its codes are the first k of its nearest K > k (its search keeps the best K by the same
distances), and a two-tier shard's candidates for k results are the first of its candidates for K: so a
shared query is scanned once, at the deeper set's depth, and its shallow answer is taken from that scan.
Only the shallow set's other queries, and a few shared ones timed for the search latency, are searched on
their own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from transforms.search.search import Hits, merge_topk, search_shards

TIMED = 64  # queries of the shallow set searched on their own at least: its latency is timed on them


class Ask(NamedTuple):
    """Queries (``row_ids`` sorted, each once, with their ``vectors``) and how many results each wants."""

    row_ids: np.ndarray
    vectors: np.ndarray
    k: int


class Answers(NamedTuple):
    shallow: Hits
    deep: Hits
    latency_ms: float  # per query of the shallow set searched on its own


def search_both(indexes: Sequence[Any], shallow: Ask, deep: Ask) -> Answers:
    """Both sets' merged top-k over ``indexes`` (``deep.k`` >= ``shallow.k``), with the queries of
    ``shallow`` also in ``deep`` answered from ``deep``'s scan, but for at least ``TIMED`` searched alone."""
    if deep.k < shallow.k:
        raise ValueError(f"the deeper set asks {deep.k} results, fewer than the other's {shallow.k}")
    n = len(shallow.row_ids)
    at, shared = np.zeros(n, np.int64), np.zeros(n, bool)
    if len(deep.row_ids):
        at = np.minimum(np.searchsorted(deep.row_ids, shallow.row_ids), len(deep.row_ids) - 1)
        shared = deep.row_ids[at] == shallow.row_ids
        shared[shared] = (shallow.vectors[shared] == deep.vectors[at[shared]]).all(axis=1)  # same vector
    alone = ~shared
    if alone.sum() < TIMED:  # top up the timed set with shared queries, the first ones
        alone[np.flatnonzero(shared)[: TIMED - int(alone.sum())]] = True
    taken = ~alone
    first, latency_ms = timed(indexes, shallow.vectors[alone], shallow.k)
    deep_parts, from_deep = [], []
    for index in indexes:
        deep_hits, prefix = _search_deep(index, deep.vectors, deep.k, at[taken], shallow.k)
        deep_parts.append(deep_hits)
        from_deep.append(prefix)
    dist = np.full((n, shallow.k), np.inf, np.float32)
    ids = np.full((n, shallow.k), -1, np.int64)
    dist[alone], ids[alone] = first
    dist[taken], ids[taken] = merge_topk(from_deep, shallow.k)
    return Answers(Hits(dist, ids), merge_topk(deep_parts, deep.k), latency_ms)


def timed(indexes: Sequence[Any], queries: np.ndarray, k: int) -> tuple[Hits, float]:
    """Every shard searched for the top-k of each query, merged, and the milliseconds it took per query."""
    start = time.perf_counter()
    hits = search_shards(indexes, queries, k)
    return hits, 1000 * (time.perf_counter() - start) / max(1, len(queries))


def _search_deep(
    index: Any, queries: np.ndarray, k: int, rows: np.ndarray, k_shallow: int
) -> tuple[Hits, Hits]:
    """One shard's answers to the deep queries, and to ``rows`` of them at ``k_shallow``: the first of the
    same scan's candidates (a two-tier shard's, re-ranked to ``k_shallow``) or results (any other shard)."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if hasattr(index, "candidates"):
        cand = index.candidates(queries, k)
        shallow = index.finish(queries[rows], cand[rows], k_shallow)
        return Hits(*index.finish(queries, cand, k)), Hits(*shallow)
    hits = Hits(*index.search(queries, k))
    return hits, Hits(hits.distances[rows, :k_shallow], hits.ids[rows, :k_shallow])
