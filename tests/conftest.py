"""Shared fixtures: small corpora built inline, and an isolated Prefect test server."""

from __future__ import annotations

import os
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

TOPICS = {
    "space": "nasa orbit shuttle launch rocket moon satellite astronaut mission",
    "cars": "engine car wheel drive brake tire dealer sedan gearbox",
    "hockey": "goal puck ice team season playoff skate coach score",
}


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
    from transforms import io

    with io.open_file(url, "wb") as handle:
        pq.write_table(table, handle)
    return url


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
