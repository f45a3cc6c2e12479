"""What a nightly re-index costs at millions of documents (fake:384 embedder, 4 shards): at each size, a full
run, then a nightly run in which a fixed number of documents changed text (spread over every input file,
which is rewritten, as an export job does), then a re-run of the same input with nothing changed. Each run's
wall time, stage seconds (the manifest's ``timings_s``), peak RSS and its anonymous part, and the bytes the
output grew by. A nightly should cost what changed, not what the corpus holds."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.nights import disk_bytes, disk_parts
from benchmarks.scale import WORDS, measure_run

FILES = 8
ROW_GROUP = 50_000


def write_files(folder: Path, n: int, seed: int = 0) -> None:
    """n documents of 12 random words in FILES Parquet files (row groups of ROW_GROUP rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    schema = pa.schema([("doc_id", pa.string()), ("body", pa.string())])
    for f, ids in enumerate(np.array_split(np.arange(n), FILES)):
        bodies = [" ".join(w) for w in rng.choice(WORDS, size=(len(ids), 12))]
        table = pa.table({"doc_id": [f"d{i}" for i in ids], "body": bodies}, schema=schema)
        pq.write_table(table, folder / f"part-{f}.parquet", row_group_size=ROW_GROUP)


def change(folder: Path, changed: int, seed: int = 1) -> None:
    """``changed`` documents get a new text (12 other random words), as many in every file, and every file
    is rewritten."""
    rng = np.random.default_rng(seed)
    for f, path in enumerate(sorted(folder.glob("*.parquet"))):
        table = pq.read_table(path)
        count = changed // FILES + (f < changed % FILES)
        rows = np.sort(rng.choice(table.num_rows, count, replace=False))
        bodies = table.column("body").to_pylist()
        for r in rows:
            bodies[r] = " ".join(rng.choice(WORDS, 12))  # drawn as the corpus was: the codec still fits
        table = table.set_column(1, "body", pa.array(bodies, pa.string()))
        pq.write_table(table, path, row_group_size=ROW_GROUP)


def one_run(data: Path, output: Path, env: dict[str, str]) -> dict[str, Any]:
    before = disk_bytes(output) if output.exists() else 0
    figures = measure_run(data, output, env)
    run = json.loads((output / "CURRENT").read_text())["run_id"]
    manifest = json.loads((output / "runs" / run / "manifest.json").read_text())
    return {
        **figures,
        "stages_s": manifest["timings_s"],
        "embedded": manifest["reuse"]["documents_embedded"],
        "disk_added_bytes": disk_bytes(output) - before,
        "disk_parts": disk_parts(output),
        "bytes_per_changed_doc": manifest["codec"]["dim"] * 4
        + manifest["codec"]["code_size"]
        + manifest["codec"].get("refine_code_size", 0),
    }


def at_size(cache: Path, n: int, changed: int, env: dict[str, str]) -> dict[str, Any]:
    root = cache / "nightly-scale" / str(n)
    if root.exists():
        shutil.rmtree(root)
    data, output = root / "in", root / "index"
    write_files(data, n)
    full = one_run(data, output, env)
    change(data, changed)
    nightly = one_run(data, output, env)
    unchanged = one_run(data, output, env)
    shutil.rmtree(root)
    return {"documents": n, "changed": changed, "full": full, "nightly": nightly, "unchanged": unchanged}


def measure(
    cache: Path, small: int = 1_000_000, large: int = 4_000_000, changed: int = 10_000
) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PREFECT_HOME": str(cache / "nightly-scale-prefect")}
    env.pop("PREFECT_API_URL", None)
    a, b = at_size(cache, small, changed, env), at_size(cache, large, changed, env)
    nightly = a["nightly"]
    anonymous = lambda s: max(s[k]["peak_anonymous_mib"] for k in ("full", "nightly", "unchanged"))  # noqa: E731
    return {
        "model": "fake:384",
        "shards": 4,
        "sizes": [a, b],
        "small": small,
        "large": large,
        "nightly_small_vs_full_small": round(nightly["wall_s"] / a["full"]["wall_s"], 3),
        "nochange_small_vs_full_small": round(a["unchanged"]["wall_s"] / a["full"]["wall_s"], 3),
        "nightly_large_vs_nightly_small": round(b["nightly"]["wall_s"] / nightly["wall_s"], 3),
        "anonymous_rss_large_vs_small": round(anonymous(b) / anonymous(a), 3),
        "disk_added_per_nightly_vs_changed_bytes": round(
            nightly["disk_added_bytes"] / (changed * nightly["bytes_per_changed_doc"]), 3
        ),
    }


KINDS = ("full", "nightly", "unchanged")
STAGES = ("read", "embed", "fit", "encode", "build", "evaluate")  # in the order a run goes through them


def _stages(ns: dict[str, Any]) -> list[str]:
    found = {s for size in ns["sizes"] for k in KINDS for s in size[k]["stages_s"]}
    return [s for s in STAGES if s in found] + sorted(found - set(STAGES))


def section(ns: dict[str, Any]) -> str:
    """One row per size and run kind: wall time, stage seconds, memory, bytes added; then the ratios."""
    stages = _stages(ns)
    lines = [
        f"\nNightly cost at scale (`{ns['model']}`, {ns['shards']} shards, 12-word documents in 8 "
        f"files): a full run, a nightly with {ns['sizes'][0]['changed']:,} documents changed across every "
        "file (each file rewritten), then the same input again.\n\n"
        f"| documents | run | wall s | {' | '.join(stages)} | embedded | peak RSS MiB | anonymous MiB | "
        f"disk added MB |\n|{'---|' * (7 + len(stages))}\n"
    ]
    for size in ns["sizes"]:
        for kind in KINDS:
            r = size[kind]
            cells = " | ".join(str(r["stages_s"].get(s, "")) for s in stages)
            lines.append(
                f"| {size['documents']:,} | {kind} | {r['wall_s']} | {cells} | {r['embedded']:,} | "
                f"{r['peak_rss_mib']} | {r['peak_anonymous_mib']} | {r['disk_added_bytes'] / 1e6:.1f} |\n"
            )
    return "".join(lines)


def plot(ns: dict[str, Any], path: Path) -> None:
    """Stage seconds per run kind and size, stacked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = _stages(ns)
    labels = [f"{size['documents'] / 1e6:g}M {kind}" for size in ns["sizes"] for kind in KINDS]
    runs = [size[kind] for size in ns["sizes"] for kind in KINDS]
    fig, ax = plt.subplots(figsize=(10, 5))
    bottom = np.zeros(len(runs))
    for stage in stages:
        values = np.array([r["stages_s"].get(stage, 0.0) for r in runs])
        ax.bar(labels, values, bottom=bottom, label=stage)
        bottom += values
    ax.scatter(
        labels, [r["wall_s"] for r in runs], color="black", marker="_", s=400, label="whole run (wall)"
    )
    ax.set_ylabel("seconds")
    ax.set_title("vecpress run: stage seconds per run kind and corpus size (fake:384, 4 shards)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
