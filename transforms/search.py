"""Search over index shards: every shard probes the same lists, results are merged into one top-k."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np


class Hits(NamedTuple):
    distances: np.ndarray  # (nq, k) float32, squared L2, ascending; +inf where fewer than k results
    ids: np.ndarray  # (nq, k) int64 row ids; -1 where fewer than k results


def merge_topk(parts: Sequence[Hits], k: int) -> Hits:
    """Merge per-shard top-k lists into one, by distance then id (deterministic on ties)."""
    dist = np.concatenate([p.distances for p in parts], axis=1)
    ids = np.concatenate([p.ids for p in parts], axis=1)
    dist = np.where(ids < 0, np.inf, dist)
    order = np.lexsort((ids, dist), axis=1)[:, :k]
    return Hits(np.take_along_axis(dist, order, 1), np.take_along_axis(ids, order, 1))


def search_shards(indexes: Sequence[Any], queries: np.ndarray, k: int) -> Hits:
    """Search every shard for the top-k of each query, then merge."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    parts = [Hits(*index.search(queries, k)) for index in indexes]
    return merge_topk(parts, k)


def cosine_from_l2(distances: np.ndarray) -> np.ndarray:
    """For unit-norm embeddings, squared L2 distance d maps to cosine similarity 1 - d/2."""
    return 1.0 - distances / 2.0


def load_index(url: str, nprobe: int) -> Any:
    """Read one index shard over fsspec (plain ``faiss.read_index`` also reads it from a local path)."""
    import faiss

    from transforms import codec, io

    index = faiss.deserialize_index(np.frombuffer(io.read_bytes(url), np.uint8))
    codec.set_nprobe(index, nprobe)
    return index


class IdMap:
    """Row id -> document id over all shards' id maps, kept as arrays sorted by row id."""

    def __init__(self, urls: Sequence[str]):
        from transforms import arrow_files

        tables = [arrow_files.read_table(u) for u in urls]
        row_ids = np.concatenate([np.zeros(0, np.int64)] + [t.column("row_id").to_numpy() for t in tables])
        doc_ids = np.concatenate(
            [np.zeros(0, object)] + [np.asarray(t.column("doc_id").to_pylist(), object) for t in tables]
        )
        order = np.argsort(row_ids, kind="stable")
        self.row_ids, self.doc_ids = row_ids[order].astype(np.int64), doc_ids[order]

    def __len__(self) -> int:
        return len(self.row_ids)

    def lookup(self, ids: np.ndarray) -> list[str | None]:
        if not len(self.row_ids):
            return [None] * len(ids)
        pos = np.clip(np.searchsorted(self.row_ids, ids), 0, len(self.row_ids) - 1)
        found = self.row_ids[pos] == ids
        return [self.doc_ids[p] if ok else None for p, ok in zip(pos.tolist(), found.tolist(), strict=True)]
