"""Quality per byte: float32, a sweep of faiss codecs and vecpress's own published index, measured alike.

The database is one ``vecpress run`` output (its embeddings, and for vecpress's row its own index shards);
the queries are the embeddings another run wrote. Every codec trains on the database, encodes it with
``sa_encode``, is made searchable from those codes, and answers the queries; recall@10 is against exact float
search over the database and kNN-10 accuracy is a majority vote of the database labels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from transforms import planner
from transforms.codec import codec
from transforms.index import building, encoding
from transforms.run import publish
from transforms.search import evaluation, search
from transforms.storage import arrow_files

K = 10


@dataclass(frozen=True)
class Vectors:
    row_ids: np.ndarray
    vectors: np.ndarray
    labels: list[str | None]


def load_vectors(output: str) -> Vectors:
    """All embeddings of an output's current run, ordered by row id."""
    from transforms.embed.embeddings import Embeddings

    layout, _ = publish.current(output)
    ids, vecs, labels = [], [], []
    for batch in Embeddings.load(layout).batches(["row_id", "embedding", "label"]):
        ids.append(batch.column("row_id").to_numpy())
        vecs.append(arrow_files.vectors(batch.column("embedding")))
        labels += batch.column("label").to_pylist()
    row_ids = np.concatenate(ids)
    order = np.argsort(row_ids)
    return Vectors(row_ids[order], np.concatenate(vecs)[order], [labels[i] for i in order])


@dataclass
class Truth:
    """Exact float neighbours of every query, and the numbers every codec is compared with."""

    ids: np.ndarray
    db_labels: list[str | None]
    q_labels: list[str | None]
    float_knn: float

    @classmethod
    def compute(cls, db: Vectors, queries: Vectors) -> Truth:
        import faiss

        flat = faiss.IndexFlatL2(db.vectors.shape[1])
        flat.add(db.vectors)
        _, ids = flat.search(queries.vectors, K)
        truth = cls(ids, db.labels, queries.labels, 0.0)
        truth.float_knn = truth.knn(ids)
        return truth

    def knn(self, ids: np.ndarray) -> float:
        return evaluation.knn_accuracy(ids, self.q_labels, dict(enumerate(self.db_labels)))


def row(
    name: str, code_bytes: float, dim: int, ids: np.ndarray, truth: Truth, **extra: Any
) -> dict[str, Any]:
    knn = truth.knn(ids)
    return {
        "codec": name,
        "bytes_per_vector": float(code_bytes),
        "compression": 4 * dim / code_bytes,
        "recall_at_10": float(evaluation.recall_at_k(ids, truth.ids, K).mean()),
        "knn_accuracy": knn,
        "knn_delta_points": 100 * (knn - truth.float_knn),
        **extra,
    }


def measure(
    factory: str,
    db: Vectors,
    queries: Vectors,
    truth: Truth,
    nprobes: tuple[int, ...] = (),
    params: dict[str, int] | None = None,
) -> list[dict]:
    """Train, encode, build from codes and search one codec; one row per nprobe for IVF codecs, and for flat
    codes of unit-norm embeddings a second row searched by unit-length reconstructions (as the planner)."""
    dim = db.vectors.shape[1]
    start = time.perf_counter()
    trained = codec.train(db.vectors, factory, params)  # exactly as vecpress's fit stage trains
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    codes = encoding.encode_vectors(trained, db.vectors)
    encode_s = time.perf_counter() - start
    index = building.build_from_codes(trained, codes, np.arange(len(codes), dtype=np.int64))
    rows = []
    # the planner's searches: additive quantizers are scored by one decode of the database (their exact
    # ranking) and timed on the built index, not decompressing every code for every query
    unit_norm = planner.is_unit_norm(db.vectors)
    for nprobe, unit, ids, latency_ms in planner.search_variants(
        index, trained, codes, queries.vectors, nprobes, unit_norm
    ):
        name = factory + "".join(f" {k}={v}" for k, v in (params or {}).items())
        name += planner.variant_suffix(nprobe, unit)
        rows.append(
            row(
                name,
                codes.shape[1],
                dim,
                ids[:, :K],  # the planner's searches find K + 1 (for its left-out probes)
                truth,
                train_s=round(train_s, 2),
                encode_vectors_per_s=round(len(codes) / encode_s),
                search_ms_per_query=round(latency_ms, 4),
                codec_bytes=codec.serialized_size(trained),
            )
        )
    return rows


def float_row(db: Vectors, queries: Vectors, truth: Truth) -> dict[str, Any]:
    import faiss

    flat = faiss.IndexFlatL2(db.vectors.shape[1])
    flat.add(db.vectors)
    start = time.perf_counter()
    _, ids = flat.search(queries.vectors, K)
    latency_ms = 1000 * (time.perf_counter() - start) / len(queries.vectors)
    return row(
        "float32 (exact)",
        4 * db.vectors.shape[1],
        db.vectors.shape[1],
        ids,
        truth,
        train_s=0.0,
        encode_vectors_per_s=None,
        search_ms_per_query=round(latency_ms, 4),
    )


def published_row(
    output: str, db: Vectors, queries: Vectors, truth: Truth, nprobe: int | None = None, label: str = ""
) -> dict:
    """vecpress's own published index shards (what `vecpress search` serves: verified, two tiers re-ranked),
    searched with the queries."""
    from transforms.search.query import PublishedIndex

    published = PublishedIndex(output, nprobe=nprobe)
    manifest = published.manifest
    info = manifest.codec
    nprobe = published.nprobe
    unit = info.unit_decode
    start = time.perf_counter()
    hits = search.search_shards(published.indexes, queries.vectors, K)
    latency_ms = 1000 * (time.perf_counter() - start) / len(queries.vectors)
    position = {int(r): i for i, r in enumerate(db.row_ids)}
    ids = np.vectorize(lambda r: position.get(int(r), -1))(hits.ids)
    params = "".join(f" {k}={v}" for k, v in info.params.items())
    probe = planner.variant_suffix(nprobe if "IVF" in info.factory else None, unit)
    probe += f" + {info.refine} x{info.rerank}" if info.refine else ""
    return row(
        f"vecpress{label} {info.factory}{params}{probe}",
        info.code_size,
        info.dim,
        ids,
        truth,
        train_s=None,
        encode_vectors_per_s=None,
        search_ms_per_query=round(latency_ms, 4),
        from_pipeline=True,
        codec_bytes=manifest.sizes["codec_bytes"],
    )
