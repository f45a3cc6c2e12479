"""A whole `vecpress run` at two corpus sizes ten times apart (short synthetic documents, the fake embedder):
peak memory of the run's process and its wall time per document, each as the ratio of the larger to the
smaller. Streaming stages keep the first near 1; the second stays near 1 when time grows linearly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

WORDS = (
    "nasa orbit shuttle launch rocket moon satellite engine car wheel drive brake tire dealer goal puck ice "
    "team season playoff skate coach score the a of and to in is it that for on with as was"
).split()


def write_corpus(path: Path, n: int, seed: int = 0, row_group: int = 50_000) -> Path:
    """n documents of 12 random words in row groups of ``row_group`` rows (the embed stage's chunks)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    schema = pa.schema([("doc_id", pa.string()), ("body", pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        for lo in range(0, n, row_group):
            hi = min(n, lo + row_group)
            words = rng.choice(WORDS, size=(hi - lo, 12))
            bodies = [" ".join(w) for w in words]
            writer.write_table(
                pa.table({"doc_id": [f"d{i}" for i in range(lo, hi)], "body": bodies}, schema=schema)
            )
    return path


def measure_run(corpus: Path, output: Path, env: dict[str, str]) -> dict[str, float]:
    """Wall time, the peak RSS (polled every 0.2 s) of one `vecpress run` process, and the peak of its
    anonymous part (RSS less file-backed pages: the memory-mapped stored tier and Arrow files that search
    and the stages read are page cache the kernel can drop, not memory the run holds)."""
    args = [
        sys.executable, "-m", "flows.cli", "run", "--input", str(corpus), "--output", str(output),
        "--id-column", "doc_id", "--text-column", "body", "--model", "fake:384", "--shards", "4",
        "--eval-queries", "500",
    ]  # fmt: skip
    log = output.parent / f"{output.name}.log"  # a pipe nobody reads while polling could fill and stall it
    start = time.perf_counter()
    with log.open("wb") as handle:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=handle)
        watched, peak, anonymous = psutil.Process(proc.pid), 0, 0
        while proc.poll() is None:
            try:
                info = watched.memory_info()
            except psutil.NoSuchProcess:
                break
            peak, anonymous = max(peak, info.rss), max(anonymous, info.rss - info.shared)
            time.sleep(0.2)
        proc.wait()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"vecpress run failed ({proc.returncode}): {log.read_text()[-2000:]}")
    return {
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(peak / 2**20, 1),
        "peak_anonymous_mib": round(anonymous / 2**20, 1),
    }


def measure(cache: Path, small: int, large: int) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PREFECT_HOME": str(cache / "scale-prefect")}
    env.pop("PREFECT_API_URL", None)
    figures: dict[str, Any] = {"model": "fake:384", "words_per_document": 12}
    for n in (small, large):
        corpus = write_corpus(cache / "scale" / f"corpus-{n}.parquet", n)
        output = cache / "scale" / f"index-{n}"
        if output.exists():  # measure a run from scratch, not a re-index
            import shutil

            shutil.rmtree(output)
        figures[str(n)] = {"documents": n, **measure_run(corpus, output, env)}
    a, b = figures[str(small)], figures[str(large)]
    figures["rss_growth"] = round(b["peak_rss_mib"] / a["peak_rss_mib"], 3)
    figures["anonymous_growth"] = round(b["peak_anonymous_mib"] / a["peak_anonymous_mib"], 3)
    figures["time_per_doc_growth"] = round((b["wall_s"] / large) / (a["wall_s"] / small), 3)
    return figures
