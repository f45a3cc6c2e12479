"""The plan's sample cut the way ANN benchmarks cut one: learn / base / queries, disjoint.

A run trains its codec on a sample of the corpus and indexes all of it, and codecs encode the vectors they
were trained on far better than others. So whenever the corpus is bigger than what the run trains on, the
plan measures what most of the index will hold: vectors the codec never saw. Codecs train on the learn part,
encode the base part, and the queries (never trained on nor indexed) are answered from the base. Only when the
run trains on its whole corpus and the sample is that corpus does the plan train on the base itself
(in-sample), since then that is what the index holds.

Recall is measured on the queries. kNN accuracy, which a loss goal is held to, is measured on more: the
queries and, leaving each one out, up to MAX_PROBES base vectors, each classified by its K nearest others
in the base. A loss bound from a few hundred queries is a few points wide, and the cheapest of many
candidates within it is most often one whose loss the queries happened to flatter; the base's own vectors
narrow it without taking a vector from learning.

Learning and the base get equal shares of what the queries leave. A coarse code loses more kNN accuracy the
more vectors it is searched among, as true neighbours crowd closer than it resolves, so a base far smaller
than the corpus measures it optimistically; a codec's training set matters far less. Where half the sample
is short of what 8-bit codebooks train on but the run will train them on enough, the plan trains them on
what it has (candidates.PLAN_SHARE), which can only make them look worse than the run will make them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from transforms.planner.goal import PlanError
from transforms.search import evaluation

K = 10
LEARN_SHARE = 0.5  # of the non-query sample, out of sample: as many to learn as to search
MAX_PROBES = 3000  # kNN probes (queries, then base vectors left out in turn): the cost of each search


@dataclass(frozen=True)
class Split:
    learn: np.ndarray  # what codecs train on
    base: np.ndarray  # what they encode and the queries search
    queries: np.ndarray
    base_labels: list[str | None] | None
    query_labels: list[str | None] | None
    truth: np.ndarray  # exact top-K of each query in the base
    float_knn: float | None
    unit_norm: bool
    out_of_sample: bool
    # kNN probes: the queries, then base vectors (leave one out); None: the queries alone
    probes: np.ndarray | None = None
    probe_self: np.ndarray | None = None  # each probe's own position in the base; -1 for a query
    probe_labels: list[str | None] | None = None
    knn_truth: np.ndarray | None = None  # each probe's exact K nearest others in the base

    @classmethod
    def make(
        cls,
        vectors: np.ndarray,
        labels: list[str | None] | None,
        n_queries: int,
        seed: int,
        out_of_sample: bool = True,
        train_size: int | None = None,
    ) -> Split:
        """Seeded queries first; out of sample, ``LEARN_SHARE`` of the rest to learn (at most
        ``train_size``) and the rest of it to the base; in sample, the rest is the base and codecs train on it
        (on a seeded sub-sample of ``train_size`` when smaller)."""
        import faiss

        if train_size is not None and train_size < 1:
            raise PlanError(f"the training sub-sample must hold at least 1 vector, got {train_size}")
        if len(vectors) < 2 * n_queries:
            n_queries = max(1, len(vectors) // 10)
        order = np.random.default_rng(seed).permutation(len(vectors))
        q_idx, rest = np.sort(order[:n_queries]), order[n_queries:]
        if out_of_sample:
            n_learn = max(1, int(round(LEARN_SHARE * len(rest))))
            learn_idx, b_idx = np.sort(rest[:n_learn][: train_size or None]), np.sort(rest[n_learn:])
        else:
            b_idx = np.sort(rest)
            learn_idx = np.sort(rest[: train_size or None])
        if not len(b_idx):
            raise PlanError(f"a sample of {len(vectors)} vectors is too small to plan on")
        base = np.ascontiguousarray(vectors[b_idx], dtype=np.float32)
        queries = np.ascontiguousarray(vectors[q_idx], dtype=np.float32)
        flat = faiss.IndexFlatL2(base.shape[1])
        flat.add(base)
        _, truth = flat.search(queries, K)
        has = labels is not None and any(v is not None for v in labels)
        learn = np.ascontiguousarray(vectors[learn_idx], dtype=np.float32)
        if not has:
            return cls(learn, base, queries, None, None, truth, None, is_unit_norm(vectors), out_of_sample)
        base_labels, query_labels = [labels[i] for i in b_idx], [labels[i] for i in q_idx]
        float_knn = evaluation.knn_accuracy(truth, query_labels, dict(enumerate(base_labels)))
        split = cls(
            learn, base, queries, base_labels, query_labels, truth, float_knn, is_unit_norm(vectors),
            out_of_sample,
        )  # fmt: skip
        return split.leaving_out(MAX_PROBES - len(queries), seed + 1)

    def leaving_out(self, n: int, seed: int) -> Split:
        """The same split with kNN accuracy measured on the queries and up to ``n`` seeded base vectors,
        each left out in turn: classified by its K nearest others in the base."""
        import faiss

        if self.base_labels is None or self.query_labels is None:
            raise PlanError("kNN accuracy needs labels")
        left_out = np.sort(np.random.default_rng(seed).permutation(len(self.base))[: max(0, n)])
        probes = np.ascontiguousarray(np.vstack([self.queries, self.base[left_out]]))
        probe_self = np.concatenate([np.full(len(self.queries), -1, np.int64), left_out.astype(np.int64)])
        _, nearest = faiss.knn(probes, self.base, K + 1)
        knn_truth = others(nearest, probe_self)
        probe_labels = list(self.query_labels) + [self.base_labels[i] for i in left_out]
        float_knn = evaluation.knn_accuracy(knn_truth, probe_labels, dict(enumerate(self.base_labels)))
        return replace(
            self, probes=probes, probe_self=probe_self, probe_labels=probe_labels, knn_truth=knn_truth,
            float_knn=float_knn,
        )  # fmt: skip

    @property
    def searched(self) -> np.ndarray:
        """What each candidate is asked for its K + 1 nearest: the queries, then the other kNN probes."""
        return self.queries if self.probes is None else self.probes

    def neighbours(self, ids: np.ndarray) -> np.ndarray:
        """Each kNN probe's K nearest others, from the K + 1 nearest found for ``searched``."""
        own = np.full(len(ids), -1, np.int64) if self.probe_self is None else self.probe_self
        return others(ids, own)

    def _knn(self) -> tuple[np.ndarray, list[str | None]]:
        if self.knn_truth is None:
            return self.truth, self.query_labels
        return self.knn_truth, self.probe_labels

    def recall(self, ids: np.ndarray) -> float:
        """Recall@K of the queries, from the K + 1 nearest found for ``searched``."""
        return float(evaluation.recall_at_k(ids[: len(self.queries), :K], self.truth, K).mean())

    def knn(self, ids: np.ndarray) -> float | None:
        """kNN-K accuracy of the probes, from the K + 1 nearest found for ``searched``."""
        if self.base_labels is None:
            return None
        _, labels = self._knn()
        return evaluation.knn_accuracy(self.neighbours(ids), labels, dict(enumerate(self.base_labels)))

    def knn_loss_bound(self, ids: np.ndarray) -> float | None:
        """The kNN-K loss's upper bound in points over the probes (evaluation.loss_upper_bound); None
        without labels."""
        if self.base_labels is None:
            return None
        truth, labels = self._knn()
        label_of = dict(enumerate(self.base_labels))
        exact = evaluation.knn_correct(truth, labels, label_of)
        found = evaluation.knn_correct(self.neighbours(ids), labels, label_of)
        return evaluation.loss_upper_bound(exact, found)

    def describe(self) -> dict[str, Any]:
        return {
            "learn": len(self.learn),
            "base": len(self.base),
            "queries": len(self.queries),
            "knn_probes": len(self.searched) if self.base_labels is not None else 0,
            "out_of_sample": self.out_of_sample,
        }


def others(ids: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Each row's first K ids other than its own (``own``: -1 for none), from K + 1 or more."""
    is_own = ids == own[:, None]
    order = np.argsort(is_own, axis=1, kind="stable")[:, :K]
    return np.take_along_axis(ids, order, 1)


def is_unit_norm(vectors: np.ndarray) -> bool:
    """Every vector has length 1: reconstructions may be scaled back to the sphere."""
    return bool(np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3))
