"""Speed of the encode and build stages against raw faiss, measured in the same run, and synthetic corpora
of embeddings for measurements at scale.

The raw baseline gets the vectors already in memory; vecpress's stages read embed chunks and write code
chunks, code shards and index shards, as a real run does.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import numpy as np
import pyarrow as pa

from transforms.codec import codec, codec_files, refine
from transforms.codec.info import CodecInfo
from transforms.embed import chunks, ids
from transforms.embed.embeddings import Embeddings
from transforms.index import building, encode_stage, encoding
from transforms.storage import arrow_files, schemas
from transforms.storage.layout import RunLayout


def encode_and_build(
    trained: Any,
    info: CodecInfo,
    emb: Embeddings,
    layout: RunLayout,
    quantizer: Any = None,
) -> None:
    """vecpress's encode stage (code files, then each shard's codes and, for two tiers, fine codes) and its
    build stage over every shard, as the pipelines run them."""
    work = encode_stage.plan(emb, info)
    encode_stage.encode_here(work, trained, info, quantizer)
    code_files = encode_stage.code_files(work)
    fine = encode_stage.fine_files(work) if info.refine else []
    if fine:
        refine.write_listing(layout.code_files, fine)
    for s in range(layout.shards):
        codes_url, refine_url = layout.shard("codes", s), layout.shard("refine", s)
        sources = encoding.ShardSources(code_files, emb.dropped, layout.shards, fine)
        encoding.write_shard(sources, s, info, codes_url, refine_url)
        building.build_shard(
            trained, info, layout.shard("codes", s), layout.shard("index", s), layout.shard("idmap", s)
        )


def encode_build_ratio(codec_url: str, emb: Embeddings, shards: int) -> dict[str, float]:
    """vectors/s of vecpress's encode + build stages, divided by raw sa_encode + add."""
    import faiss

    trained, info = codec_files.load(codec_url)
    quantizer = codec_files.load_refine(codec_url, info)
    x, row_ids = [], []
    for batch in emb.batches(["row_id", "embedding"]):
        x.append(arrow_files.vectors(batch.column("embedding")))
        row_ids.append(batch.column("row_id").to_numpy())
    x, row_ids = np.concatenate(x), np.concatenate(row_ids)
    start = time.perf_counter()
    trained.sa_encode(x)
    if quantizer is not None:
        quantizer.sa_encode(x)
    raw_index = faiss.clone_index(trained)
    if codec.searchable_kind(trained) != "ivf":  # flat codes keep global ids under an id map
        raw_index = faiss.IndexIDMap(raw_index)
    raw_index.add_with_ids(x, row_ids)
    raw_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        layout = RunLayout(tmp, "bench", shards)
        start = time.perf_counter()
        encode_and_build(trained, info, emb, layout, quantizer)
        vecpress_s = time.perf_counter() - start
    return {
        "vectors": len(x),
        "raw_s": round(raw_s, 3),
        "vecpress_s": round(vecpress_s, 3),
        "ratio": round(raw_s / vecpress_s, 3),
    }


def write_synthetic(
    folder: str, n: int, mean: np.ndarray, cov: np.ndarray, seed: int = 0, per_chunk: int = 50_000
) -> Embeddings:
    """n unit-norm vectors from N(mean, cov), written as embed chunks of ``per_chunk`` rows."""
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(cov + 1e-6 * np.eye(len(mean)))
    schema = schemas.chunk(len(mean), "synthetic")
    store = chunks.Store(folder, "synthetic")
    records = []
    for c, lo in enumerate(range(0, n, per_chunk)):
        hi = min(n, lo + per_chunk)
        v = (mean + rng.standard_normal((hi - lo, len(mean))) @ chol.T).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        doc_ids = [f"s{r}" for r in range(lo, hi)]
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array(doc_ids),
                pa.array([ids.row_id(d) for d in doc_ids], pa.int64()),
                pa.nulls(hi - lo, pa.string()),
                pa.array(["synthetic"] * (hi - lo)),
                pa.array(np.arange(lo, hi, dtype=np.int64)),
                pa.nulls(hi - lo, schemas.TEXT_HASH),
                pa.nulls(hi - lo, pa.string()),
                arrow_files.vector_array(v),
            ],
            schema=schema,
        )
        key = f"s{c:06d}"
        record = store.commit(key, [batch], schema)
        records.append({"path": store.relative(key), **{k: record[k] for k in ("bytes", "sha256", "rows")}})
    return Embeddings(folder, tuple(records))
