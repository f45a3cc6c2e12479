"""Evaluate: recall@k of the compressed index against exact float search, and kNN label accuracy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np
import pyarrow as pa

from transforms.embed.sampling import RowFilter, Sample, outside
from transforms.embed.sampling import unseen as unseen_rows
from transforms.search import neighbours, shared
from transforms.search.search import Hits, merge_topk
from transforms.storage import arrow_files

MAX_DEPTH = 1000  # results searched per query when the trained-on documents are left out


class Embedded(Protocol):
    """What evaluation reads a run's embeddings through (transforms.embed.embeddings.Embeddings)."""

    def batches(self, columns: list[str]) -> Iterable[pa.RecordBatch]: ...

    def vector_batches(self) -> Iterable[pa.RecordBatch]: ...

    def sample(self, size: int, seed: int, keep: RowFilter | None = None) -> Sample: ...


def exact_searches(
    batches: Iterable[pa.RecordBatch], asks: Sequence[tuple[np.ndarray, int, RowFilter | None]]
) -> list[Hits]:
    """Exact top-k by squared L2 for several query sets in one pass over record batches of ``row_id`` and
    ``embedding``: each ask is (queries, k, the rows it may find or None for all), one batch in memory at a
    time and one matrix product per batch and ask."""
    import faiss

    asks = [(np.ascontiguousarray(q, dtype=np.float32), k, keep) for q, k, keep in asks]
    best = [
        Hits(np.full((len(q), k), np.inf, np.float32), np.full((len(q), k), -1, np.int64)) for q, k, _ in asks
    ]
    for batch in batches:
        row_ids = batch.column("row_id").to_numpy()
        vectors = arrow_files.vectors(batch.column("embedding"))
        for a, (queries, k, keep) in enumerate(asks):
            mask = slice(None) if keep is None else keep(row_ids)
            ids, found = row_ids[mask], vectors[mask]
            if not len(ids) or not len(queries):
                continue
            dist, pos = faiss.knn(queries, np.ascontiguousarray(found), min(k, len(ids)))
            best[a] = merge_topk([best[a], Hits(dist, np.where(pos >= 0, ids[np.maximum(pos, 0)], -1))], k)
    return best


def evaluate_index(
    emb: Embedded, queries: Sample, exact: Hits, k: int, labels: bool, answers: tuple[Hits, float]
) -> tuple[dict[str, Any], np.ndarray]:
    """Recall@k of the index's ``answers`` (its hits k + 1 deep, and its search latency per query) against
    ``exact`` (float search over every embedding, k + 1 deep) for queries drawn from the corpus (without the
    query document itself), and with ``labels`` kNN-k accuracy before and after compression. Returns the
    figures and the per-query recall."""
    approx, latency_ms = answers
    qids = queries.row_ids
    exact_nn, approx_nn = drop_self(exact.ids, qids, k), drop_self(approx.ids, qids, k)
    per_query = recall_at_k(approx_nn, exact_nn, k)
    out: dict[str, Any] = {
        "k": k,
        "queries": len(qids),
        "recall_at_k": float(per_query.mean()),
        "search_ms_per_query": round(latency_ms, 4),
        "knn_accuracy_float": None,
        "knn_accuracy_index": None,
    }
    if labels:
        label_of = lookup_labels(
            emb.batches(["row_id", "label"]), np.concatenate([exact_nn.ravel(), approx_nn.ravel()])
        )
        out["knn_accuracy_float"] = knn_accuracy(exact_nn, queries.labels, label_of)
        out["knn_accuracy_index"] = knn_accuracy(approx_nn, queries.labels, label_of)
    return out, per_query


class Settings(NamedTuple):
    """How a run is evaluated: ``queries`` documents drawn with ``seed``, recall@``k``, and kNN-k label
    accuracy too when the corpus has ``labels``."""

    queries: int
    k: int
    seed: int
    labels: bool


def evaluate_run(
    emb: Embedded,
    indexes: Sequence[Any],
    info: Any,
    n_total: int,
    settings: Settings,
    before: neighbours.Before | None = None,
) -> tuple[dict[str, Any], np.ndarray, dict[str, neighbours.Lists]]:
    """A run's evaluation protocol (``settings``): its queries drawn from the corpus by a seeded bottom-k (not
    the codec's own sample seed), evaluated as evaluate_index does; and when the codec trained on a sample
    (``info``: its CodecInfo) smaller than the ``n_total`` embedded documents, recall among the documents it
    never saw as well (``unseen``). The queries are drawn from row ids alone and their exact neighbours
    found in one pass over the embeddings; with ``before`` (the last run's lists, and the documents
    unchanged since), an unchanged query's list is carried over and only the new and changed documents
    searched for it (transforms.search.neighbours). Returns the figures, the per-query recall and every
    query's exact list."""
    queries, k, seed, labels = settings
    drawn = emb.sample(min(queries, n_total), seed + 1)
    sets: list[tuple[str, Sample, RowFilter | None]] = [("all", drawn, None)]
    ukey = neighbours.unseen_key(info.seed, info.sample_cutoff)
    if info.sample_size < n_total and info.sample_cutoff is not None:
        keep = unseen_rows(info.seed, info.sample_cutoff)
        sets.append(("unseen", emb.sample(min(queries, n_total - info.sample_size), seed + 1, keep), keep))
    lists, carried = exact_lists(emb, sets, k + 1, before, ukey)
    exact = {name: Hits(*lists[name].top(k + 1)) for name in lists}
    if len(sets) == 1:
        out, per_query = evaluate_index(
            emb, drawn, exact["all"], k, labels, shared.timed(indexes, drawn.vectors, k + 1)
        )
    else:  # the two samples share most queries: one scan for those (transforms.search.shared)
        _, unseen, keep = sets[1]
        share = 1 - info.sample_size / n_total
        found = shared.search_both(
            indexes,
            shared.Ask(drawn.row_ids, drawn.vectors, k + 1),
            shared.Ask(unseen.row_ids, unseen.vectors, unseen_depth(k, share)),
        )
        out, per_query = evaluate_index(
            emb, drawn, exact["all"], k, labels, (found.shallow, found.latency_ms)
        )
        out["unseen"] = unseen_recall(unseen, exact["unseen"], k, keep, share, found.deep)
    out["exact_carried"] = carried
    return out, per_query, lists


def exact_lists(
    emb: Embedded,
    sets: Sequence[tuple[str, Sample, RowFilter | None]],
    need: int,
    before: neighbours.Before | None,
    unseen_key: str,
) -> tuple[dict[str, neighbours.Lists], int]:
    """Each query set's exact lists (``neighbours.depth`` deep, at least ``need`` exact), in one pass over
    the embeddings: a query whose last list carries over searches the new and changed documents alone.
    Returns the lists by set name and how many queries were carried over."""
    width = neighbours.depth(need - 1)
    same = before.same if before is not None else np.zeros(0, np.int64)
    changed = outside(same)
    plans, asks = [], []
    for name, sample, keep in sets:
        usable = before is not None and (name == "all" or before.kept.unseen == unseen_key)
        carry = neighbours.carry(before.kept.lists.get(name) if usable else None, sample.row_ids, same, need)
        delta = changed if keep is None else _both(changed, keep)
        asks += [(sample.vectors[~carry.reuse], width, keep), (sample.vectors[carry.reuse], width, delta)]
        plans.append(carry)
    found = exact_searches(emb.vector_batches(), asks)
    lists = {}
    for (name, sample, _), carry, full, fresh in zip(sets, plans, found[::2], found[1::2], strict=True):
        parts = [
            neighbours.from_search(sample.row_ids[~carry.reuse], full.distances, full.ids),
            neighbours.merge(carry, sample.row_ids, (fresh.distances, fresh.ids), width),
        ]
        order = np.argsort(np.concatenate([p.row_ids for p in parts]), kind="stable")
        lists[name] = neighbours.Lists(*(np.concatenate(f)[order] for f in zip(*parts, strict=True)))
    _search_short(emb, sets, lists, need, width)
    return lists, int(sum(c.reuse.sum() for c in plans))


def _search_short(
    emb: Embedded,
    sets: Sequence[tuple[str, Sample, RowFilter | None]],
    lists: dict[str, neighbours.Lists],
    need: int,
    width: int,
) -> None:
    """Search in full, in a second pass, the carried lists left with fewer than ``need`` exact entries (only
    where many rows tie at the distance they were cut at)."""
    short = {}
    for name, _, _ in sets:
        lst = lists[name]
        short[name] = np.flatnonzero(~lst.complete & ((lst.ids[:, :need] < 0).any(axis=1)))
    if not any(len(s) for s in short.values()):
        return
    asks = [(sample.vectors[short[name]], width, keep) for name, sample, keep in sets]
    for (name, sample, _), hits in zip(sets, exact_searches(emb.vector_batches(), asks), strict=True):
        redone = neighbours.from_search(sample.row_ids[short[name]], hits.distances, hits.ids)
        for field, values in zip(lists[name], redone, strict=True):
            field[short[name]] = values


def _both(a: RowFilter, b: RowFilter) -> RowFilter:
    return lambda ids: a(ids) & b(ids)


def unseen_depth(k: int, unseen_share: float) -> int:
    """How deep the index is searched for the documents the codec did not train on: deeper by the share of
    those, so that k others remain once the trained-on ones are left out."""
    return min(MAX_DEPTH, int(np.ceil(2 * (k + 1) / max(unseen_share, 1e-3))))


def unseen_recall(
    queries: Sample, exact: Hits, k: int, keep: RowFilter, unseen_share: float, searched: Hits
) -> dict[str, Any]:
    """Recall@k restricted to the documents the codec did not train on: queries among them, their exact
    neighbours among them (``exact``), and the index's answers with the trained-on documents left out
    (``searched``: its hits ``unseen_depth`` deep)."""
    found = searched.ids
    valid = found >= 0
    valid[valid] = keep(found[valid])
    approx = np.full((len(found), k + 1), -1, np.int64)
    for i, (row, ok) in enumerate(zip(found, valid, strict=True)):
        kept = row[ok][: k + 1]
        approx[i, : len(kept)] = kept
    qids = queries.row_ids
    per_query = recall_at_k(drop_self(approx, qids, k), drop_self(exact.ids, qids, k), k)
    return {"queries": len(qids), "recall_at_k": float(per_query.mean()), "share": round(unseen_share, 4)}


def recall_at_k(approx: np.ndarray, exact: np.ndarray, k: int) -> np.ndarray:
    """Per-query fraction of the exact top-k ids that the approximate top-k also returns."""
    out = np.empty(len(exact), np.float64)
    for i, (a, e) in enumerate(zip(approx[:, :k], exact[:, :k], strict=True)):
        truth = set(e[e >= 0].tolist())
        out[i] = len(truth.intersection(a.tolist())) / max(1, len(truth))
    return out


def drop_self(ids: np.ndarray, query_ids: np.ndarray, k: int) -> np.ndarray:
    """Neighbour lists without the query document itself, cut to k."""
    out = np.full((len(ids), k), -1, np.int64)
    for i, (row, q) in enumerate(zip(ids, query_ids, strict=True)):
        kept = row[(row != q) & (row >= 0)][:k]
        out[i, : len(kept)] = kept
    return out


def knn_predict(neighbour_labels: Sequence[Sequence[str | None]]) -> list[str | None]:
    """Majority vote; ties go to the label whose first vote came from the nearest neighbour."""
    preds: list[str | None] = []
    for labels in neighbour_labels:
        votes = Counter(lab for lab in labels if lab is not None)
        if not votes:
            preds.append(None)
            continue
        top = max(votes.values())
        preds.append(next(lab for lab in labels if lab is not None and votes[lab] == top))
    return preds


def knn_correct(
    neighbours: np.ndarray, truth: Sequence[str | None], label_of: dict[int, str | None]
) -> np.ndarray:
    """Per query with a label: whether the majority vote of its neighbours (row ids) predicts it."""
    preds = knn_predict([[label_of.get(int(i)) for i in row if i >= 0] for row in neighbours])
    return np.array([p == t for p, t in zip(preds, truth, strict=True) if t is not None], dtype=bool)


def knn_accuracy(
    neighbours: np.ndarray, truth: Sequence[str | None], label_of: dict[int, str | None]
) -> float:
    """kNN label accuracy over queries with a label, neighbours given as row ids."""
    correct = knn_correct(neighbours, truth, label_of)
    return float(correct.mean()) if len(correct) else float("nan")


def loss_upper_bound(float_correct: np.ndarray, index_correct: np.ndarray, z: float = 1.645) -> float:
    """A one-sided 95% upper bound, in points, of the kNN accuracy lost by compression: the mean of the
    paired per-query differences plus z standard errors. With a few hundred queries the loss itself moves by
    a point or more from one sample to the next; a loss target is met only when this bound is within it."""
    diff = float_correct.astype(np.float64) - index_correct.astype(np.float64)
    if not len(diff):
        return float("nan")
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    return float(100 * (diff.mean() + z * se))


def lookup_labels(batches: Iterable[pa.RecordBatch], row_ids: np.ndarray) -> dict[int, str | None]:
    """Labels of just the given row ids, from record batches of ``row_id`` and ``label``."""
    wanted = np.unique(row_ids[row_ids >= 0])
    found: dict[int, str | None] = {}
    for batch in batches:
        ids = batch.column("row_id").to_numpy()
        hit = np.nonzero(np.isin(ids, wanted))[0]
        if len(hit):
            labels = batch.column("label").take(hit).to_pylist()
            found.update(zip(ids[hit].tolist(), labels, strict=True))
    return found
