"""Shared fixtures: small corpora built inline, and an isolated Prefect test server."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.codec.info import CodecInfo
from transforms.run.manifest import Counts, Manifest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

TOPICS = {
    "space": "nasa orbit shuttle launch rocket moon satellite astronaut mission",
    "cars": "engine car wheel drive brake tire dealer sedan gearbox",
    "hockey": "goal puck ice team season playoff skate coach score",
}


COUNTS = Counts(read=10, embedded=8, rejected=2, indexed=8, encoded=8)


def make_manifest(output: str, run_id: str, shards: int, counts: Counts = COUNTS) -> Manifest:
    """A minimal manifest of a run with ``shards`` index shards (no files yet)."""
    from transforms.storage.layout import RunLayout

    info = CodecInfo("fake:4", 4, True, None, "SQ8", "L2", 8, 0, 1, 4, "f")
    names = RunLayout(output, run_id, shards).shard_names("index")
    return Manifest(
        run_id=run_id, output=output, parameters={}, counts=counts, codec=info, evaluation={}, sizes={},
        timings_s={}, shards={"index": names},
    )  # fmt: skip


def clustered(n: int, dim: int, clusters: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """n unit vectors around ``clusters`` random centres, and each one's cluster as its label."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype("float32") * 2
    labels = rng.integers(0, clusters, n)
    x = centres[labels] + rng.standard_normal((n, dim)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype("float32"), [f"c{v}" for v in labels]


def make_corpus(n: int, seed: int = 0) -> pa.Table:
    """n short labelled documents: words drawn mostly from the topic's vocabulary plus shared noise."""
    rng = np.random.default_rng(seed)
    noise = "the a of and to in is it that for on with as was".split()
    names = list(TOPICS)
    rows = {"doc_id": [], "body": [], "topic": []}
    for i in range(n):
        topic = names[i % len(names)]
        words = rng.choice(TOPICS[topic].split(), 8).tolist() + rng.choice(noise, 4).tolist()
        rng.shuffle(words)
        rows["doc_id"].append(f"doc-{i:05d}")
        rows["body"].append(" ".join(words))
        rows["topic"].append(topic)
    return pa.table(rows)


def write_parquet(table: pa.Table, url: str) -> str:
    from transforms.storage import io

    with io.open_file(url, "wb") as handle:
        pq.write_table(table, handle)
    return url


def write_embedding_shards(urls: list[str], x: np.ndarray, labels: list | None = None) -> list[str]:
    """Embedding shards in vecpress's schema; row i of ``x`` gets row id i, in ``urls[i % len(urls)]``."""
    from transforms.storage import arrow_files, schemas

    for s, url in enumerate(urls):
        rows = np.arange(s, len(x), len(urls))
        table = pa.table(
            {
                "doc_id": [f"d{i}" for i in rows],
                "row_id": rows.astype(np.int64),
                "label": [labels[i] for i in rows] if labels is not None else [None] * len(rows),
                "embedding": arrow_files.vector_array(x[rows]),
            }
        )
        arrow_files.write_table(url, table, schemas.embeddings(x.shape[1], "fake"))
    return urls


def small_config(root, **options):
    """A small run's configuration (fake embedder) reading ``root``/in and writing ``root``/index; any option
    (codec, shards, model, eval_queries, ...) as ``options``."""
    from flows.config import ReindexConfig

    values = {"input": f"{root}/in", "output": f"{root}/index", "id_column": "doc_id", "text_column": "body",
              "model": "fake:16", "eval_queries": 50}  # fmt: skip
    return ReindexConfig(**{**values, **options})


def write_chunk_files(
    output: str,
    x: np.ndarray,
    labels: list | None = None,
    per_chunk: int = 250,
    ids: np.ndarray | None = None,
):
    """Embed chunks in vecpress's chunk schema (row i of ``x``: document d{i}, row id i, or id ``ids[i]``),
    committed to the chunk store of ``output``; returns their Embeddings."""
    from transforms.embed import chunks
    from transforms.embed.embeddings import Embeddings
    from transforms.storage import arrow_files, schemas

    schema = schemas.chunk(x.shape[1], "fake")
    store = chunks.Store(output, "test")
    records = []
    row_ids = np.arange(len(x)) if ids is None else np.asarray(ids)
    for c, lo in enumerate(range(0, len(x), per_chunk)):
        rows = np.arange(lo, min(len(x), lo + per_chunk))
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array([f"d{i}" for i in row_ids[rows]]),
                pa.array(row_ids[rows].astype(np.int64)),
                pa.array(
                    [labels[i] for i in rows] if labels is not None else [None] * len(rows), pa.string()
                ),
                pa.array(["in.parquet"] * len(rows)),
                pa.array(rows.astype(np.int64)),
                pa.array([int(i).to_bytes(16, "big") for i in rows], schemas.TEXT_HASH),
                pa.nulls(len(rows), pa.string()),
                arrow_files.vector_array(x[rows]),
            ],
            schema=schema,
        )
        record = store.commit(f"c{c:04d}", [batch], schema)
        records.append(
            {"path": store.relative(f"c{c:04d}"), **{k: record[k] for k in ("bytes", "sha256", "rows")}}
        )
    return Embeddings(output, tuple(records))


def batches_of(urls: list[str], columns: list[str] | None = None):
    """The record batches of Arrow files, one file after another."""
    from transforms.storage import arrow_files

    for url in urls:
        yield from arrow_files.iter_batches(url, columns)


def shard_urls(folder, n: int, tag: str = "part") -> list[str]:
    return [f"{folder}/{tag}-{s}.arrow" for s in range(n)]


@pytest.fixture
def memory_root():
    """A fresh memory:// folder, removed afterwards."""
    import fsspec

    root = f"memory:///vecpress-test-{uuid.uuid4().hex[:8]}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server and database for the whole test session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory) -> dict[str, str]:
    """One PREFECT_HOME for the catalogue's CLI runs (its database migrates once); no PREFECT_API_URL, so
    each `vecpress run` starts its own temporary server, as users get."""
    home = tmp_path_factory.mktemp("prefect-home")
    base = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return {**base, "HF_HUB_OFFLINE": "1", "PREFECT_HOME": str(home)}


@pytest.fixture(scope="session")
def published(tmp_path_factory, prefect_server) -> Path:
    """A small published run (fake embedder, 2 shards): copy it before damaging it (see ``damageable``)."""
    from flows.reindex import reindex

    root = tmp_path_factory.mktemp("published")
    write_parquet(make_corpus(600), str(root / "in" / "a.parquet"))
    reindex(
        small_config(
            root, label_column="topic", model="fake:32", codec="IVF4,SQ8", shards=2, eval_queries=100
        )
    )
    return root / "index"
