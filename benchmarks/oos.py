"""The headline: quality per byte on documents the codec never saw, in real bytes.

Protocol (as ANN benchmarks): the train split is what codecs learn on; the test split, less a seeded set of
queries, is the base they encode and index; the queries are answered from the base. Bytes per vector are
real: code bytes plus the codec's own bytes spread over CORPUS_ROWS documents, the corpus size a codec
trained on a sample of this size would serve. Every codec, vecpress's picks included, is measured by the
planner's own code (transforms.planner.measure) on this protocol, so rows compare alike.

vecpress's picks come from the planner run the way a user runs it (`vecpress plan`): on the train split
alone, planning for CORPUS_ROWS documents; the pick is then trained on the whole train split and measured
here. Nothing about the test split reaches the planner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from benchmarks import quality
from transforms import planner
from transforms.codec.codec import CodecError
from transforms.codec.info import CodecInfo
from transforms.planner.candidates import Candidate
from transforms.search import evaluation

logger = logging.getLogger(__name__)

CORPUS_ROWS = 1_000_000
STORED_BUDGET = 400.0  # SQ8 of 384-d (384 B) and its row id
K = 10


@dataclass
class Protocol:
    corpus: str
    split: planner.Split
    learn_labels: list[str | None]

    def describe(self) -> dict[str, Any]:
        return {
            "corpus": self.corpus,
            "learn": len(self.split.learn),
            "base": len(self.split.base),
            "queries": len(self.split.queries),
            "knn_probes": len(self.split.searched),
            "corpus_rows": CORPUS_ROWS,
            "float_knn": self.split.float_knn,
        }


def protocol(
    corpus: str, learn: quality.Vectors, test: quality.Vectors, n_queries: int, seed: int = 0
) -> Protocol:
    """Learn = the train split; queries = ``n_queries`` seeded test documents; base = the other test ones.

    Recall is measured on the queries; kNN-10 accuracy on every test document: the queries, and each base
    document left out in turn, classified by its 10 nearest others (the planner's own method). A loss from
    1,000 queries alone is about a point wide, as wide as the goals it is held to."""
    import faiss

    order = np.random.default_rng(seed).permutation(len(test.row_ids))
    q_idx, b_idx = np.sort(order[:n_queries]), np.sort(order[n_queries:])
    base, queries = test.vectors[b_idx], test.vectors[q_idx]
    flat = faiss.IndexFlatL2(base.shape[1])
    flat.add(base)
    _, truth = flat.search(queries, K)
    base_labels = [test.labels[i] for i in b_idx]
    query_labels = [test.labels[i] for i in q_idx]
    float_knn = evaluation.knn_accuracy(truth, query_labels, dict(enumerate(base_labels)))
    split = planner.Split(
        learn.vectors, np.ascontiguousarray(base), np.ascontiguousarray(queries), base_labels, query_labels,
        truth, float_knn, planner.is_unit_norm(learn.vectors), out_of_sample=True,
    )  # fmt: skip
    if all(label is None for label in base_labels):
        return Protocol(corpus, split, learn.labels)
    return Protocol(corpus, split.leaving_out(len(base), seed + 1), learn.labels)


def _family(factory: str) -> str:
    return "rabitq" if "RaBitQ" in factory else factory.split(",")[-1].rstrip("0123456789xnpfs")


def measure(
    proto: Protocol,
    factory: str,
    nprobes: tuple[int, ...] = (),
    stored: float | None = None,
    params: tuple[tuple[str, int], ...] = (),
    split: planner.Split | None = None,
    encode: Callable[[Any, np.ndarray], np.ndarray] | None = None,
) -> list[dict]:
    """Every way of searching one codec (each nprobe, unit-decoded, and with ``stored`` every stored tier and
    re-rank factor within it), as the planner measures it (on ``split``, the protocol's by default; its
    codes chosen by ``encode``, the run's way by default)."""
    logger.info("%s: measuring %s", proto.corpus, factory)
    cand = Candidate(factory, _family(factory), params, nprobes=nprobes)
    return [r.to_json() for r in planner.measure(cand, split or proto.split, CORPUS_ROWS, stored, encode)]


PRESETS = ("SQ8", "SQ4", "PQ48", "OPQ48,PQ48", "PQ24", "PQ16", "OPQ16,PQ16", "PQ12", "RQ24x8", "RQ16x8")


def presets(proto: Protocol, factories: tuple[str, ...]) -> list[dict]:
    """Plain faiss codecs at the sizes of the goals (each searched plainly: what faiss users get), and the
    two-tier design other engines ship (1-bit RaBitQ candidates re-ranked from SQ8)."""
    rows: list[dict] = []
    for factory in factories:
        try:
            rows += [r for r in measure(proto, factory) if not r["unit_decode"]]
        except CodecError as err:  # a preset the learn split cannot train is left out, said
            logger.warning("%s: %s left out: %s", proto.corpus, factory, err)
    rows += measure(proto, "RaBitQ", stored=STORED_BUDGET)
    return rows


def pick(proto: Protocol, goal: planner.Goal, time_budget_s: float) -> dict[str, Any]:
    """The planner's pick for ``goal``, planned on the learn split alone, then measured on the protocol."""
    start = time.perf_counter()
    plan = planner.plan(
        proto.split.learn,
        proto.learn_labels,
        goal,
        planner.PlanOptions(
            time_budget_s=time_budget_s, corpus_rows=CORPUS_ROWS, run_sample=len(proto.split.learn)
        ),
    )
    plan_s = time.perf_counter() - start
    p = plan.pick
    cand = Candidate(p.factory, p.family, tuple(p.params.items()), (p.nprobe,) if p.nprobe else ())
    rows = planner.measure(cand, proto.split, CORPUS_ROWS, p.stored_bytes_per_vector or None)
    same = [
        r for r in rows if r.unit_decode == p.unit_decode and r.refine == p.refine and r.rerank == p.rerank
    ]
    return {
        **same[0].to_json(),
        "goal": {k: v for k, v in asdict(plan.goal).items() if v is not None},
        "plan_s": round(plan_s, 1),
        "planned": {"recall_at_10": p.recall_at_10, "knn_loss_points": p.knn_loss_points,
                    "bytes_per_vector": p.bytes_per_vector},
        "plan_sample": asdict(plan.sample),
    }  # fmt: skip


def goals_table(rows: list[dict], picks: list[dict]) -> list[dict[str, Any]]:
    """The issue's goals, each with the pick that answers it and the plain baseline it is held against."""

    def best(candidates: list[dict], limit: float) -> dict | None:
        fits = [r for r in candidates if r["code_bytes"] <= limit]  # baselines: code bytes, in their favour
        return max(fits, key=lambda r: r["recall_at_10"]) if fits else None

    plain = [
        r for r in rows if not r.get("refine") and not r.get("unit_decode") and "RaBitQ" not in r["codec"]
    ]
    out = []
    for p in picks:
        g = p["goal"]
        budget = g.get("budget_bytes")
        base = best(plain, budget) if budget else None
        out.append(
            {
                "goal": g,
                "pick": p["codec"],
                "memory_bytes": p["bytes_per_vector"],
                "stored_bytes": p["stored_bytes_per_vector"],
                "recall_at_10": p["recall_at_10"],
                "knn_loss_points": p["knn_loss_points"],
                "baseline": None if base is None else base["codec"],
                "baseline_recall_at_10": None if base is None else base["recall_at_10"],
                "baseline_knn_loss_points": None if base is None else base["knn_loss_points"],
            }
        )
    return out


def size_at_scale(pick: dict[str, Any], learn: np.ndarray, n: int, shards: int = 4) -> dict[str, Any]:
    """The pick's index built the run's way (encode stage, then build stage from the codes) over ``n``
    synthetic vectors drawn from a Gaussian fitted to the learn split: every byte of its files."""
    import tempfile

    from benchmarks import speed
    from transforms.codec import choice, codec
    from transforms.run import sizes
    from transforms.storage import io
    from transforms.storage.layout import RunLayout

    chosen = choice.Chosen(
        pick["factory"], pick["nprobe"] or 1, dict(pick["params"]), pick["unit_decode"], pick["refine"],
        pick["rerank"],
    )  # fmt: skip
    trained, quantizer = choice.train(learn, chosen)
    info = CodecInfo(
        model="synthetic", dim=learn.shape[1], normalize=True, max_seq_length=None, factory=chosen.factory,
        metric="L2", sample_size=len(learn), seed=0, nprobe=chosen.nprobe, code_size=trained.sa_code_size(),
        fingerprint=codec.fingerprint(trained), params=chosen.params, unit_decode=chosen.unit_decode,
        refine=chosen.refine, rerank=chosen.rerank,
        refine_code_size=0 if quantizer is None else quantizer.sa_code_size(),
        refine_fingerprint="" if quantizer is None else codec.fingerprint(quantizer),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        emb = speed.write_synthetic(tmp, n, learn.mean(axis=0), np.cov(learn, rowvar=False))
        layout = RunLayout(tmp, "synthetic", shards)
        speed.encode_and_build(trained, info, emb, layout, quantizer)
        index = sum(io.size(u) for u in layout.shard_urls("index"))
        stored = sizes.stored_bytes(layout, info, n)
    float_bytes = 4 * learn.shape[1]
    return {
        "vectors": n,
        "shards": shards,
        "index_bytes_per_vector": round(index / n, 2),
        "stored_bytes_per_vector": round(stored / n, 2),
        "compression_all_told": round(float_bytes * n / (index + stored), 2),
    }


# What each corpus is planned for: one tier at several budgets, two tiers, and the fewest bytes within the
# reference's kNN loss (its size then measured at scale).
GOALS = {
    "20newsgroups": [
        planner.Goal(budget_bytes=48),
        planner.Goal(budget_bytes=24),
        planner.Goal(budget_bytes=16),
        planner.Goal(budget_bytes=12),
        planner.Goal(budget_bytes=48, stored_budget_bytes=STORED_BUDGET),
        planner.Goal(budget_bytes=16, stored_budget_bytes=STORED_BUDGET),
        planner.Goal(max_loss_points=1.05),
    ],
    "reuters-r8": [
        planner.Goal(budget_bytes=48),
        planner.Goal(budget_bytes=16),
        planner.Goal(budget_bytes=16, stored_budget_bytes=STORED_BUDGET),
        planner.Goal(max_loss_points=1.05),
    ],
}
DEFAULT_GOALS = GOALS["reuters-r8"]  # any other corpus (--corpus)
QUICK_GOALS = [planner.Goal(budget_bytes=8), planner.Goal(budget_bytes=8, stored_budget_bytes=STORED_BUDGET)]
QUERIES = {"20newsgroups": 1000, "reuters-r8": 500}
SCALE_ROWS = 1_000_000


def run_corpus(
    corpus: str,
    learn: quality.Vectors,
    test: quality.Vectors,
    goals: list[planner.Goal],
    n_queries: int,
    time_budget_s: float,
    scale_rows: int,
    preset_factories: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The protocol on one corpus: presets, the planner's picks for each goal, the goals table, and the
    size at ``scale_rows`` vectors of the pick within the reference's kNN loss."""
    proto = protocol(corpus, learn, test, n_queries)
    rows = presets(proto, preset_factories or PRESETS)
    picks = []
    for goal in goals:
        logger.info("%s: planning %s", corpus, goal)
        try:
            picks.append(pick(proto, goal, time_budget_s))
        except planner.PlanError as err:  # a goal no codec meets on this corpus: said in the results
            picks.append({"goal": {k: v for k, v in vars(goal).items() if v is not None}, "error": str(err)})
    found = [p for p in picks if "error" not in p]
    out = {
        "protocol": {**proto.describe(), "plan_time_budget_s": time_budget_s},
        "rows": rows,
        "picks": picks,
        "goals": goals_table(rows, found),
    }
    loss = next((p for p in found if p["goal"].get("max_loss_points") is not None), None)
    if loss is not None and scale_rows:
        out["at_scale"] = {"pick": loss["codec"], **size_at_scale(loss, learn.vectors, scale_rows)}
    return out
