"""Thirty simulated nights of `vecpress run` on one output, as a nightly deployment runs it (fake embedder,
about 20,000 short documents in 8 Parquet files): each night 1% of the documents change, 0.5% are new and 0.5%
are deleted, spread over every file; one night nothing changes, and one night (also with no change to the
data) runs a copy of vecpress with a module of the embed stage moved and a comment edited, as an upgrade
would. After every night the published index must hold exactly the corpus (its id maps list every current
document once, nothing else) and `vecpress verify` must pass. Measured: each night's wall time, documents
embedded and disk use (hard links counted once), and the ratios `disk_30_nights_vs_one_full` (disk after the
last night against the output after the first) and `reembedded_on_code_move`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
WORDS = (
    "nasa orbit shuttle launch rocket moon satellite engine car wheel drive brake tire dealer goal puck ice "
    "team season playoff skate coach score the a of and to in is it that for on with as was"
).split()
FILES, ROW_GROUP = 8, 500


class Corpus:
    """The documents by id, changed night after night with a seeded generator."""

    def __init__(self, n: int, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.next_id = 0
        self.docs: dict[str, str] = {}
        self.add(n)

    def _text(self) -> str:
        return " ".join(self.rng.choice(WORDS, 12))

    def add(self, n: int) -> None:
        for _ in range(n):
            self.docs[f"d{self.next_id:08d}"] = self._text()
            self.next_id += 1

    def churn(self, changed: float = 0.01, new: float = 0.005, deleted: float = 0.005) -> dict[str, int]:
        ids = sorted(self.docs)
        n = len(ids)
        picked = self.rng.choice(n, int(n * changed) + int(n * deleted), replace=False)
        edit, drop = picked[: int(n * changed)], picked[int(n * changed) :]
        for i in edit:
            self.docs[ids[i]] += " " + self._text()
        for i in drop:
            del self.docs[ids[i]]
        self.add(int(n * new))
        return {"changed": len(edit), "deleted": len(drop), "new": int(n * new)}

    def write(self, folder: Path) -> None:
        """Every file rewritten (as an export job does): documents spread over the files by id."""
        folder.mkdir(parents=True, exist_ok=True)
        ids = sorted(self.docs)
        schema = pa.schema([("doc_id", pa.string()), ("body", pa.string())])
        for f in range(FILES):
            part = ids[f::FILES]
            table = pa.table({"doc_id": part, "body": [self.docs[i] for i in part]}, schema=schema)
            pq.write_table(table, folder / f"part-{f}.parquet", row_group_size=ROW_GROUP)


def moved_code(target: Path) -> Path:
    """A copy of vecpress with transforms/embed/reuse.py moved to transforms/embed/text_reuse.py and a
    comment edited."""
    if target.exists():
        shutil.rmtree(target)
    for package in ("flows", "pipelines", "transforms"):
        shutil.copytree(ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    embed = target / "transforms" / "embed"
    (embed / "reuse.py").rename(embed / "text_reuse.py")
    for path in target.rglob("*.py"):  # every module that imports it
        text = path.read_text()
        if "embed.reuse import" in text:
            path.write_text(text.replace("embed.reuse import", "embed.text_reuse import"))
    module = embed / "chunks.py"
    module.write_text(module.read_text().replace('"""The chunk store:', '"""The chunk store (moved):', 1))
    return target


def disk_bytes(folder: Path) -> int:
    """Bytes on disk under ``folder``, each hard-linked file counted once (as `du` does)."""
    seen, total = set(), 0
    for path in folder.rglob("*"):
        if path.is_file():
            st = path.stat()
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def disk_parts(output: Path) -> dict[str, int]:
    """Where the bytes are: the runs, the embed chunks' rows, their vector files, the code files and the rest
    (the stage cache, hard links to the runs' files counted once, under whichever comes first)."""
    chunks = output / "chunks"
    vector_files = [p for p in chunks.rglob("*.vectors.arrow") if "codes" not in p.parts]
    codes = [p for p in chunks.rglob("*") if p.is_file() and "codes" in p.relative_to(chunks).parts]
    files = lambda paths: sum(p.stat().st_size for p in paths)  # noqa: E731
    parts = {
        "runs": disk_bytes(output / "runs"),
        "vector_files": files(vector_files),
        "code_files": files(codes),
        "chunk_rows": disk_bytes(chunks) - files(vector_files) - files(codes),
    }
    return {**parts, "other": disk_bytes(output) - sum(parts.values())}


def indexed_ids(output: Path) -> list[str]:
    run = json.loads((output / "CURRENT").read_text())["run_id"]
    ids: list[str] = []
    for path in sorted((output / "runs" / run / "idmap").glob("*.arrow")):
        with pa.memory_map(str(path)) as source:
            ids += pa.ipc.open_file(source).read_all().column("doc_id").to_pylist()
    return ids


def night(corpus: Path, output: Path, env: dict[str, str], code: Path, keep_runs: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "flows.cli", "run", "--input", str(corpus), "--output", str(output),
               "--id-column", "doc_id", "--text-column", "body", "--model", "fake:384", "--shards", "4",
               "--eval-queries", "200", "--keep-runs", str(keep_runs), "--gc-grace", "0"]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**env, "PYTHONPATH": str(code)},
                          cwd=code, timeout=1800)  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"night failed: {done.stderr[-3000:]}")
    run = json.loads((output / "CURRENT").read_text())["run_id"]
    manifest = json.loads((output / "runs" / run / "manifest.json").read_text())
    verified = subprocess.run([sys.executable, "-m", "flows.cli", "verify", str(output)], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
    return {
        "wall_s": round(wall, 1),
        "embedded": manifest["reuse"]["documents_embedded"],
        "indexed": manifest["counts"]["indexed"],
        "verified": verified.returncode == 0,
        "disk_bytes": disk_bytes(output),
        "disk_parts": disk_parts(output),
    }


def measure(cache: Path, docs: int = 20_000, nights: int = 30, keep_runs: int = 3) -> dict[str, Any]:
    root = cache / "nights"
    if root.exists():
        shutil.rmtree(root)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    corpus, data, output = Corpus(docs), root / "in", root / "index"
    moved = moved_code(root / "moved-code")
    # neither changes the data; a short soak (under 5 nights) has the moved-code night alone
    unchanged_night = nights // 3 if nights >= 5 else None
    moved_night = 2 * nights // 3 if nights >= 5 else 2
    rows = []
    for n in range(1, nights + 1):
        churn = corpus.churn() if n > 1 and n not in (unchanged_night, moved_night) else {}
        if n == 1 or churn:
            corpus.write(data)
        code = moved if n == moved_night else ROOT
        row = {"night": n, **churn, **night(data, output, env, code, keep_runs)}
        ids = indexed_ids(output)
        row["exact"] = len(ids) == len(set(ids)) == len(corpus.docs) and set(ids) == set(corpus.docs)
        kinds = {1: "first", unchanged_night: "unchanged", moved_night: "code moved"}
        row["kind"] = kinds.get(n, "churn")
        rows.append(row)
    first = rows[0]["disk_bytes"]
    return {
        "documents": docs,
        "nights": nights,
        "keep_runs": keep_runs,
        "rows": rows,
        "all_exact_and_verified": all(r["exact"] and r["verified"] for r in rows),
        "disk_30_nights_vs_one_full": round(rows[-1]["disk_bytes"] / first, 3),
        "reembedded_on_code_move": rows[moved_night - 1]["embedded"],
        "reembedded_unchanged": rows[unchanged_night - 1]["embedded"] if unchanged_night else None,
    }
