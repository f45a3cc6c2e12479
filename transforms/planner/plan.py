"""Make a plan: split the sample, measure the candidates within the time budget, keep the frontier, pick."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from transforms.codec import codec
from transforms.planner import candidates
from transforms.planner.frontier import frontier, pick
from transforms.planner.goal import Goal, PlanError, quality_key
from transforms.planner.measure import Measurement, measure
from transforms.planner.result import Plan, PlanSample, Skipped
from transforms.planner.split import Split

logger = logging.getLogger(__name__)

MAX_VECTORS = 20_000  # measuring scales with the sample: larger ones are sub-sampled, seeded


def out_of_sample(corpus_rows: int, run_sample: int, sample: int) -> bool:
    """In sample only when the run trains on its whole corpus and the plan's sample is that corpus."""
    return corpus_rows > min(run_sample, sample)


@dataclass(frozen=True)
class PlanOptions:
    """How to plan. ``corpus_rows``: the documents the index will hold (the sample's size if not given),
    over which the codec's own bytes are spread; ``run_sample``: how many of them the run trains its codec
    on (all if not given); ``codec_copies``: how many copies of the codec the index files hold (one per
    index shard), all counted in the bytes per vector, as written."""

    objective: str = "recall"  # or "knn" (needs labels)
    n_queries: int = 1000
    train_size: int = 20_000
    time_budget_s: float = 600.0
    seed: int = 0
    corpus_rows: int | None = None
    run_sample: int | None = None
    codec_copies: int = 1


def plan(
    vectors: np.ndarray, labels: Sequence[str | None] | None, goal: Goal, options: PlanOptions = PlanOptions()
) -> Plan:
    """Measure the candidates for ``goal`` on a sample of embeddings and pick one.

    Stays within the time budget by measuring cheap families first and skipping what is left once it is
    spent; costlier variants (beam search, LSQ, learned rotations) only where their plain base is on the
    frontier. Families the budget leaves out are listed in ``skipped`` with the bytes that rule them out.
    """
    o = options
    objective, n_queries, train_size, seed = o.objective, o.n_queries, o.train_size, o.seed
    time_budget_s, run_sample, codec_copies = o.time_budget_s, o.run_sample, o.codec_copies
    corpus_rows = int(o.corpus_rows or len(vectors))
    per_copy = max(1, corpus_rows // max(1, codec_copies))  # rows sharing one codec copy, as written
    whole = len(vectors)
    if len(vectors) > MAX_VECTORS:
        keep = np.sort(np.random.default_rng(seed).permutation(len(vectors))[:MAX_VECTORS])
        vectors, labels = vectors[keep], None if labels is None else [labels[i] for i in keep]
    oos = out_of_sample(corpus_rows, run_sample or corpus_rows, len(vectors))
    split = Split.make(vectors, labels, n_queries, seed, oos, train_size)
    goal.check(split.base_labels is not None)
    if objective == "knn" and split.base_labels is None:
        raise PlanError("--objective knn needs labels (--label-column)")
    key = quality_key(goal, objective)
    dim = vectors.shape[1]
    budget = None if goal.budget_bytes is None else int(goal.budget_bytes)
    run_train = min(run_sample or corpus_rows, corpus_rows)  # what the run will train its codec on
    n_learn = len(split.learn)
    cands = candidates.generate(dim, n_learn, budget, per_copy, run_train)
    # within the budget by their codes alone: what is over it as written, the codec's own bytes did
    by_code = [] if budget is None else candidates.generate(dim, n_learn, budget, None, run_train)
    if by_code and not cands:  # every codec's own bytes, spread over these rows, outweigh the budget
        least = min(by_code, key=lambda c: c.real_bytes(per_copy))
        raise PlanError(
            f"no candidate fits in {budget:g} bytes per vector over {corpus_rows:,} rows with {codec_copies} "
            f"codec copies (one per shard) included; the smallest was {least.name} at "
            f"{least.real_bytes(per_copy):g}"
        )
    skipped = _left_out(by_code, cands, budget, per_copy, corpus_rows, codec_copies)
    rows: list[Measurement] = []
    start = time.perf_counter()
    for cand in cands:
        elapsed = time.perf_counter() - start
        reason = _skip(cand, rows, key, elapsed, time_budget_s)
        if reason:
            skipped.append(Skipped(cand.name, reason))
            continue
        logger.info("plan: measuring %s (%.0f s spent)", cand.name, elapsed)
        try:
            rows += measure(cand, split, per_copy, goal.stored_budget_bytes)
        except RuntimeError as err:  # faiss refused this sample; the plan goes on without it, and says so
            skipped.append(Skipped(cand.name, f"faiss could not train it: {str(err).splitlines()[-1]}"))
    if not rows:
        raise PlanError("no candidate codec could be measured on this sample")
    best, why = pick(rows, goal, key)
    sample = PlanSample(
        vectors=len(vectors),
        **split.describe(),
        eight_bit_codebooks=candidates.trains_on(n_learn, run_train) >= codec.EIGHT_BIT_POINTS,
        corpus_rows=corpus_rows,
        codec_copies=codec_copies,
        sampled_from=whole,
        dim=int(dim),
        seed=seed,
    )
    return Plan(
        goal=goal,
        objective=key,
        sample=sample,
        float_knn_accuracy=split.float_knn,
        pick=best,
        why=why,
        frontier=[r.codec for r in frontier(rows, key)],
        candidates=rows,
        skipped=skipped,
        elapsed_s=round(time.perf_counter() - start, 1),
    )


def _left_out(
    by_code: list[candidates.Candidate],
    kept: list[candidates.Candidate],
    budget: int | None,
    per_copy: int,
    corpus_rows: int,
    copies: int,
) -> list[Skipped]:
    """Every family the budget leaves out, and why: its smallest codec within the budget by its code alone
    (``by_code``) is over it as written (e.g. "RQ16x8: 6.3 MB codebooks, 629.1 B a vector over 10,000
    rows")."""
    families = {c.family for c in kept}
    out, seen = [], set()
    for cand in sorted(by_code, key=lambda c: c.real_bytes(per_copy)):
        if cand.family in families or cand.family in seen:
            continue
        seen.add(cand.family)
        codec_mb = (4 * cand.codec_floats + candidates.CODEC_HEADER_BYTES) * copies / 1e6
        written = cand.real_bytes(per_copy)
        reason = f"{codec_mb:.1f} MB of codec in {copies} shard copies: {written:g} B a vector over"
        out.append(Skipped(cand.name, f"{reason} {corpus_rows:,} rows, over the budget of {budget:g}"))
    return out


def _skip(
    cand: candidates.Candidate, rows: list[Measurement], key: str, elapsed: float, budget_s: float
) -> str | None:
    """Why ``cand`` is not measured, or None when it is."""
    if rows and elapsed > budget_s:  # something is always measured
        return f"time budget of {budget_s:.0f} s spent"
    if cand.after is None:
        return None

    def plain(r: Measurement) -> bool:
        return r.family == cand.after and not r.params

    base = [r for r in frontier(rows, key) if plain(r)]
    if not base:
        return f"no plain {cand.after} codec is on the {key} frontier"
    base_s = max(r.train_s for r in rows if plain(r))
    if elapsed + cand.cost * base_s > budget_s:
        return (
            f"training would take about {cand.cost * base_s:.0f} s ({cand.cost:g}x {base[0].candidate}), "
            f"past the time budget of {budget_s:.0f} s"
        )
    return None
