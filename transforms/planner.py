"""The compression planner's numeric core: measure candidate codecs on a sample, keep the frontier, pick.

Protocol: seeded held-out queries are drawn from the sample and never trained on nor indexed; the rest is
the database. Each candidate trains on (a seeded sub-sample of) the database, less any held-out part, encodes
the database with ``sa_encode``, is built into an index shard by the build stage's own code, and answers the
queries. Recall@10 is against exact float search over the same database; kNN-10 accuracy is a majority vote
of database labels.

A run trains its codec on a sample of the corpus and encodes all of it, and codecs encode the vectors they
were trained on far better than new ones (RQ24x8 trained on 9,000 20 Newsgroups posts, unit-decoded:
recall@10 0.86 searching those posts, 0.73 searching others). So when the run will train on a share of the
corpus below 1 (``trained_share``), part of the database is held out of training, and recall weighs the true
neighbours found among trained-on and held-out vectors by that share (Split.recall).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import numpy as np

from transforms import building, candidates, codec, encoding, evaluation, search
from transforms.errors import VecpressError

logger = logging.getLogger(__name__)

K = 10
LATENCY_QUERIES = 200
MAX_HELD_OUT = 0.25  # of the non-query sample: training keeps at least three quarters of it


class PlanError(VecpressError, ValueError):
    """A goal no candidate can meet, or a plan that cannot be made as asked."""


@dataclass(frozen=True)
class Goal:
    """What to optimise: the best quality within ``budget_bytes``, or the fewest bytes that reach
    ``target_recall`` / stay within ``max_loss_points`` of float32 kNN accuracy; optionally under a
    latency limit."""

    budget_bytes: int | None = None
    target_recall: float | None = None
    max_loss_points: float | None = None
    max_latency_ms: float | None = None

    def check(self, has_labels: bool) -> None:
        chosen = [v is not None for v in (self.budget_bytes, self.target_recall, self.max_loss_points)]
        if sum(chosen) != 1:
            raise PlanError("give exactly one of --budget-bytes, --target-recall, --max-loss-points")
        if self.max_loss_points is not None and not has_labels:
            raise PlanError(
                "--max-loss-points needs labels (--label-column): kNN accuracy is measured on them"
            )


@dataclass
class Measurement:
    codec: str
    factory: str
    family: str
    params: dict[str, int]
    nprobe: int | None
    bytes_per_vector: int
    compression: float
    recall_at_10: float
    knn_accuracy: float | None
    knn_loss_points: float | None
    train_s: float
    encode_vectors_per_s: float
    search_ms_per_query: float
    unit_decode: bool = False  # searched by unit-length reconstructions (search.UnitDecoded)
    candidate: str = ""  # the candidate measured (its name without nprobe or search mode)
    # the trained codec itself (codebooks, rotation, coarse quantizer): every index shard holds a copy
    codec_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Split:
    """The sample cut into a database, held-out queries and the exact answers they are scored against."""

    database: np.ndarray
    queries: np.ndarray
    db_labels: list[str | None] | None
    q_labels: list[str | None] | None
    truth: np.ndarray
    float_knn: float | None
    unit_norm: bool  # see is_unit_norm
    held: np.ndarray | None  # database rows held out of training to match the run's share (bool), or None
    trained_share: float
    trained: np.ndarray | None = None  # database rows codecs train on (bool), or None for all of them

    @classmethod
    def make(
        cls,
        vectors: np.ndarray,
        labels: Sequence[str | None] | None,
        n_queries: int,
        seed: int,
        trained_share: float = 1.0,
        train_size: int | None = None,
    ) -> Split:
        """Queries, then every other vector is the database. Codecs train on all of it when
        ``trained_share`` is 1; below 1, part of it is held out of training (1 - trained_share of it, at
        most a quarter, and never so much that fewer vectors remain than 8-bit codebooks need). With
        ``train_size`` below what is left, they train on a seeded sub-sample of it."""
        import faiss

        if not 0.0 < trained_share <= 1.0:
            raise PlanError(f"trained share must be in (0, 1], got {trained_share}")
        if train_size is not None and train_size < 1:
            raise PlanError(f"the training sub-sample must hold at least 1 vector, got {train_size}")
        if len(vectors) < 2 * n_queries:
            n_queries = max(1, len(vectors) // 10)
        order = np.random.default_rng(seed).permutation(len(vectors))
        q_idx, db_idx = np.sort(order[:n_queries]), np.sort(order[n_queries:])
        n_held = round(len(db_idx) * min(1.0 - trained_share, MAX_HELD_OUT))
        if len(db_idx) >= codec.EIGHT_BIT_POINTS:  # never cost the candidates their 8-bit codebooks
            n_held = min(n_held, len(db_idx) - codec.EIGHT_BIT_POINTS)
        database = np.ascontiguousarray(vectors[db_idx], dtype=np.float32)
        held, trained = None, np.ones(len(db_idx), bool)
        if n_held > 0:  # the last of the seeded order
            held = np.isin(db_idx, order[len(order) - n_held :])
            trained = ~held
        pool = np.flatnonzero(trained)
        if train_size is not None and len(pool) > train_size:
            trained = np.zeros(len(db_idx), bool)
            trained[pool[np.random.default_rng(seed).permutation(len(pool))[:train_size]]] = True
        queries = np.ascontiguousarray(vectors[q_idx], dtype=np.float32)
        flat = faiss.IndexFlatL2(database.shape[1])
        flat.add(database)
        _, truth = flat.search(queries, K)
        has = labels is not None and any(v is not None for v in labels)
        db_labels = [labels[i] for i in db_idx] if has else None
        q_labels = [labels[i] for i in q_idx] if has else None
        float_knn = evaluation.knn_accuracy(truth, q_labels, dict(enumerate(db_labels))) if has else None
        unit = is_unit_norm(vectors)
        return cls(
            database, queries, db_labels, q_labels, truth, float_knn, unit, held, trained_share,
            trained=None if trained.all() else trained,
        )  # fmt: skip

    @cached_property
    def train(self) -> np.ndarray:
        """The vectors codecs train on: the database, or its rows in ``trained`` (gathered once)."""
        return self.database if self.trained is None else np.ascontiguousarray(self.database[self.trained])

    @property
    def held_out(self) -> int:
        return 0 if self.held is None else int(self.held.sum())

    def recall(self, ids: np.ndarray) -> float:
        """Mean recall@10. When codecs are not trained on every database row, the share of true neighbours
        found is measured separately for trained-on and other neighbours and weighted by ``trained_share``:
        the database keeps its size, and the estimate is for a corpus the codec was trained on that share
        of (rows left out of a training sub-sample count with the held-out ones)."""
        if self.trained is None:
            return float(evaluation.recall_at_k(ids, self.truth, K).mean())
        hits = evaluation.neighbour_hits(ids, self.truth, K)
        valid = self.truth >= 0
        unseen = ~self.trained[np.where(valid, self.truth, 0)]
        seen_hits, unseen_hits = hits[valid & ~unseen], hits[valid & unseen]
        if len(seen_hits) == 0 or len(unseen_hits) == 0:
            return float(hits[valid].mean())
        share = self.trained_share
        return float(share * seen_hits.mean() + (1.0 - share) * unseen_hits.mean())

    def knn(self, ids: np.ndarray) -> float | None:
        if self.db_labels is None:
            return None
        return evaluation.knn_accuracy(ids, self.q_labels, dict(enumerate(self.db_labels)))


def measure(cand: candidates.Candidate, split: Split) -> list[Measurement]:
    """Train (on ``split.train``), encode, build and search one candidate: one measurement per nprobe for
    IVF codecs; for flat codes of unit-norm embeddings, a second one searching by unit-length
    reconstructions (same codes)."""
    db, dim = split.database, split.database.shape[1]
    start = time.perf_counter()
    trained = codec.train(split.train, cand.factory, dict(cand.params))
    train_s = time.perf_counter() - start
    codec_bytes = codec.serialized_size(trained)
    start = time.perf_counter()
    codes = encoding.encode_vectors(trained, db)
    encode_rate = len(db) / max(time.perf_counter() - start, 1e-9)
    index = building.build_from_codes(trained, codes, np.arange(len(db), dtype=np.int64))
    out: list[Measurement] = []
    searches = search_variants(index, trained, codes, split.queries, cand.nprobes, split.unit_norm)
    for nprobe, unit, ids, latency in searches:
        knn = split.knn(ids)
        out.append(
            Measurement(
                codec=cand.name + variant_suffix(nprobe, unit),
                factory=cand.factory,
                family=cand.family,
                params=dict(cand.params),
                nprobe=nprobe,
                bytes_per_vector=int(codes.shape[1]),
                compression=round(4 * dim / codes.shape[1], 2),
                recall_at_10=round(split.recall(ids), 4),
                knn_accuracy=None if knn is None else round(knn, 4),
                knn_loss_points=None if knn is None else round(100 * (split.float_knn - knn), 2),
                train_s=round(train_s, 2),
                encode_vectors_per_s=round(encode_rate),
                search_ms_per_query=round(latency, 4),
                unit_decode=unit,
                candidate=cand.name,
                codec_bytes=codec_bytes,
            )
        )
        if nprobe is not None and out[-1].recall_at_10 >= 0.999:
            break  # more probes cannot do better
    return out


def is_unit_norm(vectors: np.ndarray) -> bool:
    """Every vector has length 1: reconstructions may be scaled back to the sphere."""
    return bool(np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3))


def search_variants(
    index: Any,
    trained: Any,
    codes: np.ndarray,
    queries: np.ndarray,
    nprobes: Sequence[int],
    unit_norm: bool,
) -> Iterator[tuple[int | None, bool, np.ndarray, float]]:
    """(nprobe, unit_decode, neighbour ids, ms per query) for each way the built index can be searched: once
    per nprobe for IVF codecs (once for others), and unit-decoded for flat codes of unit-norm vectors."""
    for nprobe in nprobes or (None,):
        if nprobe is not None:
            codec.set_nprobe(index, nprobe)
        yield (nprobe, False, *search_codes(index, trained, codes, queries))
    if unit_norm and codec.unit_decodable(trained):
        yield (None, True, *timed_search(search.UnitDecoded(index), queries))


def variant_suffix(nprobe: int | None, unit: bool) -> str:
    return ("" if nprobe is None else f" nprobe={nprobe}") + (" unit-decoded" if unit else "")


def timed_search(index: Any, queries: np.ndarray) -> tuple[np.ndarray, float]:
    """Neighbour ids of all queries, searched at once, and the time per query."""
    start = time.perf_counter()
    _, ids = index.search(queries, K)
    return ids, 1000 * (time.perf_counter() - start) / len(queries)


def search_codes(
    index: Any, trained: Any, codes: np.ndarray, queries: np.ndarray
) -> tuple[np.ndarray, float]:
    """Neighbour ids and latency per query. Additive quantizers search by decompressing every code (their
    default, exact for the codes); the same ranking comes from one decode of the database and a flat search,
    so all queries are scored that way and latency is timed on the built index with a few queries."""
    import faiss

    if isinstance(codec.unwrap(trained), faiss.IndexAdditiveQuantizer):
        decoded = trained.sa_decode(codes)
        flat = faiss.IndexFlatL2(decoded.shape[1])
        flat.add(decoded)
        _, ids = flat.search(queries, K)
        few = queries[:LATENCY_QUERIES]
        start = time.perf_counter()
        index.search(few, K)
        return ids, 1000 * (time.perf_counter() - start) / len(few)
    return timed_search(index, queries)


def frontier(rows: Sequence[Measurement], key: str) -> list[Measurement]:
    """Rows no other row beats on both bytes (fewer or equal) and ``key`` (higher or equal)."""
    best: list[Measurement] = []
    for r in sorted(rows, key=lambda r: (r.bytes_per_vector, -getattr(r, key))):
        if not best or getattr(r, key) > getattr(best[-1], key):
            best.append(r)
    return best


def quality_key(goal: Goal, objective: str) -> str:
    """kNN accuracy for a loss target; otherwise what the user asked to maximise (recall@10 by default)."""
    if goal.max_loss_points is not None or objective == "knn":
        return "knn_accuracy"
    return "recall_at_10"


def pick(rows: Sequence[Measurement], goal: Goal, key: str) -> tuple[Measurement, str]:
    """The chosen row and a sentence saying why."""
    fast = [r for r in rows if goal.max_latency_ms is None or r.search_ms_per_query <= goal.max_latency_ms]
    if not fast:
        raise PlanError(f"no candidate searched within {goal.max_latency_ms} ms per query")
    lat = "" if goal.max_latency_ms is None else f", searching within {goal.max_latency_ms} ms/query"
    if goal.budget_bytes is not None:
        fits = [r for r in fast if r.bytes_per_vector <= goal.budget_bytes]
        if not fits:
            raise PlanError(f"no candidate fits in {goal.budget_bytes} bytes per vector{lat}")
        best = max(fits, key=lambda r: (getattr(r, key), r.knn_accuracy or 0.0, -r.search_ms_per_query))
        return best, (
            f"highest {key} of {len(fits)} measured codecs within {goal.budget_bytes} bytes/vector{lat}"
        )
    if goal.target_recall is not None:
        ok = [r for r in fast if r.recall_at_10 >= goal.target_recall]
        what = f"recall@10 >= {goal.target_recall}"
    else:
        ok = [r for r in fast if r.knn_loss_points is not None and r.knn_loss_points <= goal.max_loss_points]
        what = f"kNN-10 loss <= {goal.max_loss_points} points"
    if not ok:
        best = max(fast, key=lambda r: getattr(r, key))
        raise PlanError(
            f"no candidate reached {what}{lat}; the best was {best.codec} ({key} {getattr(best, key)})"
        )
    best = min(ok, key=lambda r: (r.bytes_per_vector, -getattr(r, key), r.search_ms_per_query))
    return best, f"fewest bytes/vector of {len(ok)} measured codecs with {what}{lat}"


def _why_not_wide(split: Split, n_train: int, corpus_rows: int | None) -> str:
    """Why the wide-first-codebook candidates are not measured on this split."""
    if split.held_out:
        why = f"the run trains on {100 * split.trained_share:.1f}% of the corpus"
    elif split.trained is not None:
        why = f"the plan trains on a sub-sample of {n_train:,} (--train-size)"
    else:
        why = f"the plan's sample is not the whole corpus of {corpus_rows:,} documents"
    return (
        f"a wide first codebook memorises its training vectors, and {why}: it is only measured when the "
        "plan's sample is the corpus the run trains on and indexes"
    )


def plan(
    vectors: np.ndarray,
    labels: Sequence[str | None] | None,
    goal: Goal,
    *,
    objective: str = "recall",
    n_queries: int = 1000,
    train_size: int = 20_000,
    time_budget_s: float = 600.0,
    seed: int = 0,
    max_vectors: int = 20_000,
    trained_share: float = 1.0,
    corpus_rows: int | None = None,
) -> dict[str, Any]:
    """Measure the candidates for ``goal`` on a sample of embeddings and pick one; returns the plan (JSON).

    Stays within ``time_budget_s`` by measuring cheap families first and skipping what is left once it is
    spent, and drops costlier variants (beam search, LSQ, learned rotations) whose plain base is dominated.
    ``trained_share``: the share of the corpus the run's codec will be trained on (see Split.make);
    ``corpus_rows``: the documents the run will index (the sample's size if not given), which the codec's own
    bytes are spread over in the report.
    """
    whole = corpus_rows is None or corpus_rows <= min(len(vectors), max_vectors)
    if len(vectors) > max_vectors:  # measuring scales with the database: plan on a seeded sub-sample
        keep = np.sort(np.random.default_rng(seed).permutation(len(vectors))[:max_vectors])
        vectors, labels = vectors[keep], None if labels is None else [labels[i] for i in keep]
    split = Split.make(vectors, labels, n_queries, seed, trained_share, train_size)
    goal.check(split.db_labels is not None)
    if objective == "knn" and split.db_labels is None:
        raise PlanError("--objective knn needs labels (--label-column)")
    key = quality_key(goal, objective)
    n_train = len(split.train)
    # wide first codebooks memorise their training vectors: only measured where those are the run's corpus
    wide = whole and split.trained is None
    every = candidates.generate(vectors.shape[1], n_train, goal.budget_bytes, wide=True)
    cands = [c for c in every if wide or c.family != "rq-wide"]
    rows: list[Measurement] = []
    reason = "" if wide else _why_not_wide(split, n_train, corpus_rows)
    skipped = [{"codec": c.name, "reason": reason} for c in every if c not in cands]
    start = time.perf_counter()
    for cand in cands:
        elapsed = time.perf_counter() - start
        if rows and elapsed > time_budget_s:  # something is always measured
            skipped.append({"codec": cand.name, "reason": f"time budget of {time_budget_s:.0f} s spent"})
            continue
        if cand.after is not None:
            front = {r.candidate for r in frontier(rows, key)}
            if cand.after not in front:
                skipped.append({"codec": cand.name, "reason": f"{cand.after} is not on the {key} frontier"})
                continue
            base_s = max(r.train_s for r in rows if r.candidate == cand.after)
            if elapsed + cand.cost * base_s > time_budget_s:
                skipped.append(
                    {
                        "codec": cand.name,
                        "reason": f"training would take about {cand.cost * base_s:.0f} s ({cand.cost:g}x "
                        f"{cand.after}), past the time budget of {time_budget_s:.0f} s",
                    }
                )
                continue
        logger.info("plan: measuring %s (%.0f s spent)", cand.name, elapsed)
        rows += measure(cand, split)
    if not rows:
        raise PlanError("no candidate codec could be measured on this sample")
    best, why = pick(rows, goal, key)
    front = frontier(rows, key)
    chosen = {**best.to_json(), "float_knn_accuracy": split.float_knn, "why": why}
    return {
        "goal": asdict(goal),
        "objective": key,
        "sample": {
            "vectors": len(vectors),
            "database": len(split.database),
            "queries": len(split.queries),
            "train": n_train,
            "trained_share": round(trained_share, 4),
            "held_out": split.held_out,
            "corpus_rows": int(corpus_rows or len(vectors)),
            "dim": int(vectors.shape[1]),
            "seed": seed,
        },
        "float_knn_accuracy": split.float_knn,
        "pick": chosen,
        "frontier": [r.codec for r in front],
        "candidates": [{**r.to_json(), "float_knn_accuracy": split.float_knn} for r in rows],
        "skipped": skipped,
        "elapsed_s": round(time.perf_counter() - start, 1),
    }
