"""A nightly re-index with the real model on real posts: a full `vecpress run`, then the corpus churns (1% of
the documents changed, 0.5% new, 0.5% deleted) and the same output is re-indexed. The ratios are the
incremental run's embed stage and whole wall time over the full run's, measured in the same run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FILES = 10


def split(table: pa.Table) -> list[pa.Table]:
    per = -(-table.num_rows // FILES)
    return [table.slice(f * per, per) for f in range(FILES)]


def write(folder: Path, parts: list[pa.Table], files: list[int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        pq.write_table(parts[f], folder / f"part-{f:02d}.parquet")


def churn(parts: list[pa.Table], seed: int = 0) -> tuple[list[pa.Table], dict[str, int], list[int]]:
    """1% of the documents changed (in files 2 and 3), 0.5% deleted (from file 5) and 0.5% new (in the
    last file); returns the new files, the counts, and which files changed."""
    n = sum(p.num_rows for p in parts)
    rng = np.random.default_rng(seed)
    out = [p.to_pylist() for p in parts]
    changed = 0
    for f in (2, 3):
        for i in rng.choice(len(out[f]), size=n // 200, replace=False):
            out[f][i]["body"] += " updated: this post was edited after it was first indexed"
            changed += 1
    gone = set(rng.choice(len(out[5]), size=n // 200, replace=False).tolist())
    out[5] = [r for i, r in enumerate(out[5]) if i not in gone]
    donors = rng.choice(len(out[0]), size=n // 200, replace=False)
    out[9] += [
        {**out[0][i], "doc_id": f"new-{j}", "body": out[0][i]["body"] + " (reposted)"}
        for j, i in enumerate(donors)
    ]
    counts = {"documents": n, "changed": changed, "deleted": len(gone), "new": len(donors)}
    schema = parts[0].schema
    return [pa.Table.from_pylist(rows, schema=schema) for rows in out], counts, [2, 3, 5, 9]


def run(
    corpus: Path, output: Path, env: dict[str, str], max_seq_length: int | None, model: str
) -> dict[str, Any]:
    args = [
        sys.executable, "-m", "flows.cli", "run", "--input", str(corpus), "--output", str(output),
        "--id-column", "doc_id", "--text-column", "body", "--label-column", "topic", "--shards", "4",
        "--eval-queries", "500", "--model", model,
    ]  # fmt: skip
    if max_seq_length:
        args += ["--max-seq-length", str(max_seq_length)]
    start = time.perf_counter()
    res = subprocess.run(args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if res.returncode != 0:
        raise RuntimeError(f"vecpress run failed: {res.stderr[-3000:]}")
    from transforms.run import publish

    _, manifest = publish.current(str(output))
    return {"wall_s": round(wall, 1), "stages_s": manifest.timings_s, "reuse": manifest.reuse}


def measure(
    source: Path, cache: Path, documents: int, max_seq_length: int | None, model: str
) -> dict[str, Any]:
    """``documents`` seeded posts of ``source`` (Parquet, a file or folder), indexed in full, churned,
    re-indexed."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PREFECT_HOME": str(cache / "incremental-prefect")}
    env.pop("PREFECT_API_URL", None)
    table = pq.read_table(source).select(["doc_id", "topic", "body"])
    keep = np.sort(np.random.default_rng(0).choice(table.num_rows, size=documents, replace=False))
    table = table.take(pa.array(keep))
    root = cache / "incremental"
    if root.exists():
        import shutil

        shutil.rmtree(root)
    parts = split(table)
    write(root / "corpus", parts, list(range(FILES)))
    full = run(root / "corpus", root / "index", env, max_seq_length, model)
    churned, counts, files = churn(parts)
    write(root / "corpus", churned, files)
    incremental = run(root / "corpus", root / "index", env, max_seq_length, model)
    return {
        "churn": counts,
        "files_changed": len(files),
        "full": full,
        "incremental": incremental,
        "embed_ratio": round(incremental["stages_s"]["embed"] / full["stages_s"]["embed"], 4),
        "run_ratio": round(incremental["wall_s"] / full["wall_s"], 4),
    }


if __name__ == "__main__":
    print(
        json.dumps(
            measure(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), None, sys.argv[4]), indent=2
        )
    )
