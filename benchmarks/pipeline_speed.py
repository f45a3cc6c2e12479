"""The embed stage and a whole `vecpress run` against the same steps done by hand with the raw libraries.

vecpress runs as users start it (`vecpress run` in a fresh process, its own temporary Prefect server); the raw
baseline is one fresh process too, so both pay for their imports and the model load. The raw steps are what
a careful script would do: read the column with pyarrow, a plain ``SentenceTransformer.encode`` loop with
the same batch size and threads, train the codec vecpress chose on the same number of vectors, sa_encode,
add + write_index, then the same evaluation (exact search for the same number of queries).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from transforms.codec import codec
from transforms.embedders.embedder import load_embedder
from transforms.embedders.spec import FAKE_PREFIX, EmbedderSpec, resolve_model
from transforms.run import publish

RAW_STEPS = ("read", "load_model", "embed", "fit", "encode", "build", "evaluate")


def write_subset(source: str, target: Path, n: int, seed: int) -> Path:
    """A seeded random ``n`` rows of a Parquet file or folder, in their original order."""
    table = pq.read_table(source)
    keep = np.sort(np.random.default_rng(seed).permutation(table.num_rows)[:n])
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.take(keep), target)
    return target


def _raw_model(job: dict[str, Any]) -> Callable[[list[str]], np.ndarray]:
    """A plain sentence-transformers model, as a user's script would load it."""
    if job["model"].startswith(FAKE_PREFIX):  # the tests' deterministic fake: no model to load
        fake = load_embedder(EmbedderSpec(job["model"]))
        return fake.encode
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_model(job["model"]), device="cpu")
    if job["max_seq_length"]:
        model.max_seq_length = job["max_seq_length"]
    torch.set_num_threads(job["threads"])
    bs = job["batch_size"]
    return lambda texts: model.encode(
        texts, batch_size=bs, normalize_embeddings=True, show_progress_bar=False
    )


def _raw_child(job: dict[str, Any]) -> dict[str, float]:
    """Every raw step, timed, in this (fresh) process."""
    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[step] = now - clock
        clock = now

    table = pq.read_table(job["parquet"], columns=[job["text_column"]])
    texts = table.column(job["text_column"]).to_pylist()
    lap("read")
    encode = _raw_model(job)
    lap("load_model")
    bs = job["batch_size"]
    x = np.concatenate([encode(texts[i : i + bs]) for i in range(0, len(texts), bs)]).astype(np.float32)
    lap("embed")
    import faiss

    rng = np.random.default_rng(0)
    index = faiss.index_factory(x.shape[1], job["factory"], faiss.METRIC_L2)
    index.train(x[np.sort(rng.permutation(len(x))[: job["sample_size"]])])
    lap("fit")
    index.sa_encode(x)
    lap("encode")
    index.add(x)
    with tempfile.TemporaryDirectory() as tmp:
        faiss.write_index(index, os.path.join(tmp, "index.faiss"))
    lap("build")
    queries = x[np.sort(rng.permutation(len(x))[: job["eval_queries"]])]
    exact = faiss.IndexFlatL2(x.shape[1])
    exact.add(x)
    exact.search(queries, job["k"] + 1)
    codec.set_nprobe(index, job["nprobe"])
    index.search(queries, job["k"] + 1)
    lap("evaluate")
    return times


def raw_steps(job: dict[str, Any]) -> dict[str, float]:
    code = (
        "import json,sys; from benchmarks.pipeline_speed import _raw_child as f; "
        "print(json.dumps(f(json.loads(sys.argv[1]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(job)], check=True, capture_output=True, text=True
    )
    return {k: round(v, 3) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def vecpress_run(parquet: Path, output: str, model: str, max_seq_length: int | None) -> tuple[float, dict]:
    """`vecpress run` in a fresh process, as a user starts it; returns its wall time and manifest."""
    command = [
        sys.executable, "-m", "flows.cli", "run",
        "--input", str(parquet), "--output", output,
        "--id-column", "doc_id", "--text-column", "body", "--label-column", "topic",
        "--model", model,
        "--backend", "torch",  # the raw pass is plain torch: this measures vecpress, not a backend
    ]  # fmt: skip
    if max_seq_length:
        command += ["--max-seq-length", str(max_seq_length)]
    start = time.perf_counter()
    subprocess.run(
        command, check=True, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    wall = time.perf_counter() - start
    return wall, publish.current(output)[1]


def measure(parquet: Path, model: str, max_seq_length: int | None) -> dict[str, Any]:
    """Both ratios from one `vecpress run` and one raw pass over the same documents, same codec."""
    with tempfile.TemporaryDirectory() as tmp:
        wall, manifest = vecpress_run(parquet, os.path.join(tmp, "out"), model, max_seq_length)
    params = manifest.parameters
    job = {
        "parquet": str(parquet),
        "text_column": "body",
        "model": model,
        "max_seq_length": max_seq_length,
        "batch_size": params["batch_size"],
        "threads": len(os.sched_getaffinity(0)),
        "factory": manifest.codec.factory,
        "sample_size": manifest.codec.sample_size,
        "eval_queries": manifest.evaluation["queries"],
        "k": params["k"],
        "nprobe": params["nprobe"],
    }
    raw = raw_steps(job)
    docs = manifest.counts.embedded
    stages = manifest.timings_s
    raw_embed = raw["load_model"] + raw["embed"]  # vecpress's embed stage loads the model too
    return {
        "documents": docs,
        "model": model,
        "max_seq_length": max_seq_length,
        "batch_size": job["batch_size"],
        "threads": job["threads"],
        "codec": job["factory"],
        "vecpress_wall_s": round(wall, 2),
        "vecpress_stages_s": stages,
        "raw_steps_s": raw,
        "raw_sum_s": round(sum(raw.values()), 2),
        "embed_docs_per_s": {"vecpress": round(docs / stages["embed"], 2), "raw": round(docs / raw_embed, 2)},
        "embed_vs_raw": round(raw_embed / stages["embed"], 3),
        "run_vs_raw_sum": round(wall / sum(raw.values()), 3),
    }
