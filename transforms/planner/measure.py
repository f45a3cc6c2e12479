"""Measure one candidate codec on a split: train on learn, encode and build the base the way the run does,
answer the queries; in memory bytes that count the codec itself, and for two tiers, each re-rank pairing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from transforms.codec import codec, refine
from transforms.index import building, encoding
from transforms.planner.candidates import ID_BYTES, PLAN_SHARE, Candidate, real_bytes
from transforms.planner.split import K, Split
from transforms.search import search

LATENCY_QUERIES = 200
RERANK_FACTORS = (2, 4, 8, 16, 32)


@dataclass
class Measurement:
    codec: str
    factory: str
    family: str
    params: dict[str, int]
    nprobe: int | None
    code_bytes: int
    codec_bytes: int  # the trained codec itself; every index shard holds a copy
    bytes_per_vector: float  # in memory, real: code bytes + codec bytes / corpus rows
    compression: float  # float32 bytes / bytes_per_vector
    recall_at_10: float
    knn_accuracy: float | None
    knn_loss_points: float | None
    knn_loss_bound: float | None  # a one-sided 95% upper bound of the loss (what a loss goal is held to)
    train_s: float
    encode_vectors_per_s: float
    search_ms_per_query: float  # two tiers: the re-rank included
    unit_decode: bool = False
    candidate: str = ""  # the candidate measured (its name without nprobe, search mode or stored tier)
    refine: str | None = None  # two tiers: the stored tier's scalar code
    rerank: int = 1
    stored_bytes_per_vector: float = 0.0  # two tiers: fine code + row id, on disk

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    cand: Candidate,
    split: Split,
    corpus_rows: int,
    stored_budget: float | None = None,
    encode: Callable[[Any, np.ndarray], np.ndarray] | None = None,
) -> list[Measurement]:
    """Train, encode, build and search one candidate: one measurement per nprobe for IVF codecs; for flat
    codes of unit-norm embeddings, also searching by unit-length reconstructions; with a stored budget, also
    each stored tier that fits it at each re-rank factor (two tiers). ``encode`` (trained codec, vectors) ->
    codes is the run's unless a study swaps in another way of choosing the codes."""
    db, dim = split.base, split.base.shape[1]
    start = time.perf_counter()
    trained = codec.train(split.learn, cand.factory, dict(cand.params), share=PLAN_SHARE)
    train_s = time.perf_counter() - start
    codec_bytes = codec.serialized_size(trained)
    start = time.perf_counter()
    codes = (encode or encoding.encode_vectors)(trained, db)
    encode_rate = len(db) / max(time.perf_counter() - start, 1e-9)
    index = building.build_from_codes(trained, codes, np.arange(len(db), dtype=np.int64))
    ivf = codec.searchable_kind(trained) == "ivf"
    memory = real_bytes(int(codes.shape[1]), codec_bytes, corpus_rows, ivf)

    def row(name: str, nprobe: int | None, ids: np.ndarray, ms: float, **extra: Any) -> Measurement:
        knn = split.knn(ids)
        return Measurement(
            codec=name,
            factory=cand.factory,
            family=cand.family,
            params=dict(cand.params),
            nprobe=nprobe,
            code_bytes=int(codes.shape[1]),
            codec_bytes=codec_bytes,
            bytes_per_vector=memory,
            compression=round(4 * dim / memory, 2),
            recall_at_10=round(split.recall(ids), 4),
            knn_accuracy=None if knn is None else round(knn, 4),
            knn_loss_points=None if knn is None else round(100 * (split.float_knn - knn), 2),
            knn_loss_bound=None if knn is None else round(split.knn_loss_bound(ids), 2),
            train_s=round(train_s, 2),
            encode_vectors_per_s=round(encode_rate),
            search_ms_per_query=round(ms, 4),
            candidate=cand.name,
            **extra,
        )

    out: list[Measurement] = []
    for nprobe, unit, ids, latency in search_variants(
        index, trained, codes, split.searched, cand.nprobes, split.unit_norm
    ):
        out.append(row(cand.name + variant_suffix(nprobe, unit), nprobe, ids, latency, unit_decode=unit))
        if nprobe is not None and out[-1].recall_at_10 >= 0.999:
            break  # more probes cannot do better
    if stored_budget is not None:
        for nprobe, refine_name, factor, ids, ms, stored in two_tier(
            index, split, cand.nprobes, stored_budget
        ):
            name = f"{cand.name}{variant_suffix(nprobe, False)} + {refine_name} x{factor}"
            out.append(
                row(name, nprobe, ids, ms, refine=refine_name, rerank=factor, stored_bytes_per_vector=stored)
            )
    return out


def two_tier(
    index: Any, split: Split, nprobes: Sequence[int], stored_budget: float
) -> Iterator[tuple[int | None, str, int, np.ndarray, float, float]]:
    """(nprobe, stored tier, re-rank factor, ids, ms per query, stored bytes per vector) for each stored tier
    whose fine code and row id fit ``stored_budget``, each factor, and each nprobe (the largest factor only
    needs one search: its candidate lists start with every smaller factor's)."""
    tiers = []
    for name in refine.FACTORIES:
        quantizer = refine.train(split.learn, name)
        stored = quantizer.sa_code_size() + ID_BYTES  # a refine shard keeps each row id beside its code
        if stored <= stored_budget:
            tiers.append((name, quantizer, quantizer.sa_encode(split.base), float(stored)))
    if not tiers:
        return
    for nprobe in nprobes or (None,):
        if nprobe is not None:
            codec.set_nprobe(index, nprobe)
        queries = split.searched
        start = time.perf_counter()
        _, cand = index.search(queries, K * max(RERANK_FACTORS))
        base_ms = 1000 * (time.perf_counter() - start) / len(queries)
        for name, quantizer, fine, stored in tiers:
            for factor in RERANK_FACTORS:
                start = time.perf_counter()
                _, ids = refine.rerank(cand[:, : K * factor], queries, fine.__getitem__, quantizer, K + 1)
                rerank_ms = 1000 * (time.perf_counter() - start) / len(queries)
                # the in-memory search for K * factor candidates, as a share of the one for the most
                ms = base_ms * factor / max(RERANK_FACTORS) + rerank_ms
                yield nprobe, name, factor, ids, ms, stored


def search_variants(
    index: Any,
    trained: Any,
    codes: np.ndarray,
    queries: np.ndarray,
    nprobes: Sequence[int],
    unit_norm: bool,
) -> Iterator[tuple[int | None, bool, np.ndarray, float]]:
    """(nprobe, unit_decode, ids of the K + 1 nearest, ms per query) for each way the built index can be
    searched: once per nprobe for IVF codecs (once for others), and unit-decoded for flat codes of unit-norm
    vectors. K + 1: a kNN probe taken from the base finds itself, and is answered by the K others."""
    for nprobe in nprobes or (None,):
        if nprobe is not None:
            codec.set_nprobe(index, nprobe)
        yield (nprobe, False, *search_codes(index, trained, codes, queries))
    if unit_norm and codec.unit_decodable(trained):
        yield (None, True, *timed_search(search.UnitDecoded(index), queries))


def variant_suffix(nprobe: int | None, unit: bool) -> str:
    return ("" if nprobe is None else f" nprobe={nprobe}") + (" unit-decoded" if unit else "")


def timed_search(index: Any, queries: np.ndarray) -> tuple[np.ndarray, float]:
    """Ids of the K + 1 nearest of all queries, searched at once, and the time per query."""
    start = time.perf_counter()
    _, ids = index.search(queries, K + 1)
    return ids, 1000 * (time.perf_counter() - start) / len(queries)


def search_codes(
    index: Any, trained: Any, codes: np.ndarray, queries: np.ndarray
) -> tuple[np.ndarray, float]:
    """Ids of the K + 1 nearest and latency per query. Additive quantizers search by decompressing every
    code (their default, exact for the codes); the same ranking comes from one decode of the database and a
    flat search, so all queries are scored that way and latency is timed on the built index with a few
    queries."""
    import faiss

    if isinstance(codec.unwrap(trained), faiss.IndexAdditiveQuantizer):
        decoded = trained.sa_decode(codes)
        flat = faiss.IndexFlatL2(decoded.shape[1])
        flat.add(decoded)
        _, ids = flat.search(queries, K + 1)
        few = queries[:LATENCY_QUERIES]
        start = time.perf_counter()
        index.search(few, K + 1)
        return ids, 1000 * (time.perf_counter() - start) / len(few)
    return timed_search(index, queries)
