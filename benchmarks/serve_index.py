"""A published run of a million vectors of the real model for `vecpress serve` to be measured on, made in
minutes rather than the hours the model would take to embed a million documents on 2 cores.

Vectors fitted to real embeddings: each is a real MiniLM embedding of a 20 Newsgroups post plus Gaussian
noise shaped like the posts' own spread (their covariance), renormalised. Their documents (the source post's
first words) are written as Parquet, their chunks committed to the output's chunk store under the keys the
real model's run computes, and then a real `vecpress run` with the real model over that Parquet finds every
chunk done and fits, encodes, builds, evaluates and publishes as it would: queries to the server are
embedded by the real model and searched among vectors that sit where real posts do.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

ROW_GROUP = 50_000
NOISE = 0.5  # noise scale against the posts' spread: neighbours stay near their source post, not on it
RUN_ARGS = ("--id-column", "doc_id", "--text-column", "body", "--shards", "4", "--eval-queries", "500")


def fitted_vectors(real: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors around rows of ``real``; also each one's source row."""
    rng = np.random.default_rng(seed)
    source = rng.integers(0, len(real), n)
    centred = real - real.mean(axis=0)
    cov = centred.T @ centred / len(real)
    lower = np.linalg.cholesky(cov + 1e-6 * np.eye(real.shape[1], dtype=cov.dtype)).astype(np.float32)
    out = np.empty((n, real.shape[1]), np.float32)
    for lo in range(0, n, ROW_GROUP):
        hi = min(n, lo + ROW_GROUP)
        noise = rng.standard_normal((hi - lo, real.shape[1])).astype(np.float32) @ lower.T
        block = real[source[lo:hi]] + NOISE * noise
        out[lo:hi] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, source


def write_corpus(path: Path, posts: list[str], source: np.ndarray) -> Path:
    """One document a vector: id ``v<i>``, the first 12 words of its source post, in 50k-row groups."""
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("doc_id", pa.string()), ("body", pa.string())])
    heads = [" ".join(p.split()[:12]) for p in posts]
    with pq.ParquetWriter(path, schema) as writer:
        for lo in range(0, len(source), ROW_GROUP):
            rows = range(lo, min(len(source), lo + ROW_GROUP))
            columns = {"doc_id": [f"v{i}" for i in rows], "body": [f"{heads[source[i]]} #{i}" for i in rows]}
            writer.write_table(pa.table(columns, schema=schema))
    return path


def commit_chunks(corpus: Path, output: Path, vectors: np.ndarray, config: Any) -> int:
    """Commit every chunk of ``corpus`` to ``output``'s chunk store, as the run of ``config`` (a
    ReindexConfig) keys them."""
    from transforms.embed import chunks, embed_stage, ids
    from transforms.embed.reuse import text_hash
    from transforms.read import reading
    from transforms.storage import arrow_files, fingerprint, schemas

    files = reading.check_inputs(str(corpus), config.columns())
    versions = [fingerprint.file_version(f.url) for f in files]
    settings = embed_stage.EmbedSettings(config.embedder(), config.columns())
    plan = embed_stage.plan(str(output), files, versions, settings)
    store = chunks.Store(str(output), plan.embedder_key)
    schema = schemas.chunk(vectors.shape[1], config.model)
    for chunk in plan.todo:
        table = pq.ParquetFile(chunk.url).read_row_group(chunk.index)
        doc_ids, bodies = table.column("doc_id").to_pylist(), table.column("body").to_pylist()
        rows = np.arange(chunk.first, chunk.first + chunk.rows)
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array(doc_ids, pa.string()),
                pa.array([ids.row_id(d) for d in doc_ids], pa.int64()),
                pa.nulls(len(rows), pa.string()),
                pa.array([chunk.url] * len(rows), pa.string()),
                pa.array(rows, pa.int64()),  # the row in its file
                pa.array([text_hash(b) for b in bodies], schema.field("text_hash").type),
                pa.nulls(len(rows), pa.string()),
                arrow_files.vector_array(vectors[rows]),
            ],
            schema=schema,
        )
        tally = {"read": len(rows), "embedded": len(rows), "reused": 0, "rejected": 0}
        store.commit(chunk.key, [batch], schema, tally)
    return len(plan.todo)


def build(cache: Path, real: np.ndarray, posts: list[str], n: int, run_args: list[str]) -> tuple[Path, Path]:
    """The corpus and published output of ``n`` vectors fitted to ``real`` (the embeddings of ``posts``)
    under ``cache``, run with ``run_args`` (--model and --max-seq-length); made once, then reused."""
    from flows import cli_args
    from flows.config import ReindexConfig

    root = cache / f"serve-{n}"
    corpus, output = root / "corpus" / "docs.parquet", root / "index"
    if (output / "CURRENT").exists():
        return corpus.parent, output
    vectors, source = fitted_vectors(real, n)
    write_corpus(corpus, posts, source)
    parsed = cli_args.parser().parse_args(["run", "--input", str(corpus.parent), "--output", str(output),
                                           *RUN_ARGS, *run_args])  # fmt: skip
    config = ReindexConfig.build(**cli_args.config_values(parsed, ReindexConfig))
    logger.info("serve index: %d chunks committed", commit_chunks(corpus.parent, output, vectors, config))
    del vectors
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "-m",
        "flows.cli",
        "run",
        "--input",
        str(corpus.parent),
        "--output",
        str(output),
    ]
    with (root / "run.log").open("wb") as log:
        done = subprocess.run([*command, *RUN_ARGS, *run_args], env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(
            f"vecpress run over the fitted vectors failed: {(root / 'run.log').read_text()[-3000:]}"
        )
    return corpus.parent, output
