"""The evaluation's exact neighbours, kept with the run and carried over to the next one.

Evaluation compares the index's answers with each query's exact nearest neighbours among every embedding: a
pass over the whole corpus whose cost grows with it. Most of a nightly's queries are the same documents with
the same vectors as the night before, and most of their neighbours are too, so each run keeps its queries'
exact lists (``DEPTH`` deep, with distances) in ``evaluation/exact.arrow``, and the next run searches only the
rows that are new or changed since (``changed``) for a query that is itself unchanged:

- the kept list less the rows deleted or changed since (``R``) holds the nearest unchanged rows, in order, up
  to the kept list's last distance ``t`` (a row not on the list is no nearer than that);
- the search of the changed rows holds their nearest, up to its last distance ``u`` when it is full;
- so the merged list is exact below ``min(t, u)``, and a query is answered from it when at least ``need``
  entries lie below; the others (new or changed queries, or lists worn too short by deletions) are searched
  in full in the same pass. A list that held every row a query may find (``complete``) has no ``t``.

The same holds for the queries among the documents the codec never saw, as long as that set is the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.embed import sampling
from transforms.storage import arrow_files, integrity

RowFilter = Callable[[np.ndarray], np.ndarray]


def depth(k: int) -> int:
    """How deep a query's list is kept: twice what evaluation reads (k and the query itself), so that a
    night's deletions rarely leave fewer than that."""
    return 2 * (k + 1)


class Lists(NamedTuple):
    """Exact neighbour lists of some queries: ``ids`` (n, depth) row ids and ``dist`` squared L2, ascending,
    -1 and +inf past the entries known to be exact; ``complete``: the list holds every row the query may
    find."""

    row_ids: np.ndarray
    ids: np.ndarray
    dist: np.ndarray
    complete: np.ndarray

    def top(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self.dist[:, :n], self.ids[:, :n]


class Kept(NamedTuple):
    """A run's lists by ask ("all", "unseen"), and what they were measured over: the embedder (vectors are
    only comparable under one) and, for "unseen", which rows the codec never saw."""

    lists: dict[str, Lists]
    embedder: str
    unseen: str


def schema(width: int, embedder: str, unseen: str) -> pa.Schema:
    return pa.schema(
        [
            pa.field("ask", pa.string(), nullable=False),
            pa.field("row_id", pa.int64(), nullable=False),
            pa.field("complete", pa.bool_(), nullable=False),
            pa.field("ids", pa.list_(pa.int64(), width), nullable=False),
            pa.field("dist", pa.list_(pa.float32(), width), nullable=False),
        ],
        metadata={
            "vecpress.kind": "exact_neighbours",
            "vecpress.embedder": embedder,
            "vecpress.unseen": unseen,
        },
    )


def write(url: str, kept: Kept) -> None:
    width = max([lst.ids.shape[1] for lst in kept.lists.values()] + [1])
    out = schema(width, kept.embedder, kept.unseen)
    columns: dict[str, list[Any]] = {name: [] for name in out.names}
    for ask, lst in kept.lists.items():
        ids = np.full((len(lst.row_ids), width), -1, np.int64)
        dist = np.full((len(lst.row_ids), width), np.inf, np.float32)
        ids[:, : lst.ids.shape[1]], dist[:, : lst.dist.shape[1]] = lst.ids, lst.dist
        columns["ask"].append(pa.array([ask] * len(lst.row_ids), pa.string()))
        columns["row_id"].append(pa.array(lst.row_ids, pa.int64()))
        columns["complete"].append(pa.array(lst.complete, pa.bool_()))
        columns["ids"].append(pa.FixedSizeListArray.from_arrays(pa.array(ids.ravel()), width))
        columns["dist"].append(pa.FixedSizeListArray.from_arrays(pa.array(dist.ravel()), width))
    arrays = [
        pa.concat_arrays(columns[n]) if columns[n] else pa.array([], out.field(n).type) for n in out.names
    ]
    arrow_files.write_table(url, pa.Table.from_arrays(arrays, schema=out), out)


def read(url: str, record: Mapping[str, Any]) -> Kept:
    """A run's kept lists, checked against the run's record of the file."""
    integrity.verify_file(url, record)
    table = arrow_files.read_table(url)
    meta = table.schema.metadata or {}
    width = table.schema.field("ids").type.list_size
    lists = {}
    for ask in set(table.column("ask").to_pylist()):
        part = table.filter(pc.equal(table.column("ask"), ask))
        lists[ask] = Lists(
            part.column("row_id").to_numpy(),
            part.column("ids").combine_chunks().flatten().to_numpy().reshape(-1, width),
            part.column("dist").combine_chunks().flatten().to_numpy().reshape(-1, width),
            part.column("complete").to_numpy(zero_copy_only=False),
        )
    return Kept(
        lists, meta.get(b"vecpress.embedder", b"").decode(), meta.get(b"vecpress.unseen", b"").decode()
    )


def unseen_key(seed: int, cutoff: int | None) -> str:
    return json.dumps({"seed": seed, "cutoff": cutoff})


class Before(NamedTuple):
    """What the last run left to carry over: its lists, and the documents unchanged since (sorted row ids)."""

    kept: Kept
    same: np.ndarray


class Carry(NamedTuple):
    """For each query of an ask (in its order): whether its kept list is carried over (``reuse``), and the
    carried entries (deleted and changed rows left out) with the distance below which they are exact."""

    reuse: np.ndarray
    ids: np.ndarray
    dist: np.ndarray
    limit: np.ndarray


def carry(kept: Lists | None, query_ids: np.ndarray, same: np.ndarray, need: int) -> Carry:
    """Which of ``query_ids`` (sorted) can be answered from ``kept`` given ``same`` (sorted row ids of the
    documents unchanged since, same text, same vector): the query itself unchanged and at least ``need``
    entries of its list unchanged and below its last distance."""
    n = len(query_ids)
    width = kept.ids.shape[1] if kept is not None else need
    out = Carry(
        np.zeros(n, bool), np.full((n, width), -1, np.int64), np.full((n, width), np.inf, np.float32),
        np.full(n, -np.inf, np.float32),
    )  # fmt: skip
    if kept is None or not n or not len(kept.row_ids):
        return out
    order = np.argsort(kept.row_ids)
    at = np.minimum(np.searchsorted(kept.row_ids[order], query_ids), len(order) - 1)
    found = kept.row_ids[order][at] == query_ids
    candidates = np.flatnonzero(found & ~sampling.outside(same)(query_ids))
    for q in candidates:
        k_ids, k_dist = kept.ids[order[at[q]]], kept.dist[order[at[q]]]
        valid = k_ids >= 0
        limit = np.inf if kept.complete[order[at[q]]] else (k_dist[valid][-1] if valid.any() else -np.inf)
        keep = valid & ~sampling.outside(same)(k_ids) & (k_dist < limit)
        if keep.sum() < need:
            continue
        out.reuse[q] = True
        out.ids[q, : keep.sum()], out.dist[q, : keep.sum()] = k_ids[keep], k_dist[keep]
        out.limit[q] = limit
    return out


def merge(carried: Carry, query_ids: np.ndarray, fresh: tuple[np.ndarray, np.ndarray], width: int) -> Lists:
    """The carried queries' lists merged with their search among the changed rows (``fresh``: distances and
    ids, ``width`` deep, in the carried queries' order), cut where they stop being exact."""
    rows = np.flatnonzero(carried.reuse)
    f_dist, f_ids = fresh
    dist = np.concatenate([carried.dist[rows], f_dist], axis=1)
    ids = np.concatenate([carried.ids[rows], f_ids], axis=1)
    dist = np.where(ids < 0, np.inf, dist)
    order = np.lexsort((ids, dist), axis=1)[:, :width]
    dist, ids = np.take_along_axis(dist, order, 1), np.take_along_axis(ids, order, 1)
    full = (f_ids >= 0).sum(axis=1) >= f_ids.shape[1]  # the changed rows' search stopped at its depth
    fresh_limit = np.where(full, f_dist[:, -1], np.inf)
    limit = np.minimum(carried.limit[rows], fresh_limit)
    exact = dist < limit[:, None]
    return Lists(
        query_ids[rows], np.where(exact, ids, -1), np.where(exact, dist, np.inf).astype(np.float32),
        np.isinf(limit),
    )  # fmt: skip


def from_search(row_ids: np.ndarray, dist: np.ndarray, ids: np.ndarray) -> Lists:
    """Lists of a full search ``width`` deep: complete when it found fewer rows than that."""
    complete = (ids >= 0).sum(axis=1) < ids.shape[1]
    return Lists(row_ids, ids, np.where(ids < 0, np.inf, dist).astype(np.float32), complete)
