"""Retention: what an output keeps after many nights, and removing the rest.

Kept: the ``keep`` most recently published runs, always the current one, and any run that stopped being
current less than ``grace_s`` ago (a running `vecpress serve` may still map its files until it has swapped);
the embed chunks those runs list with the vector files those read, and the code files of their codecs for
those vector files (the next nightly encodes only the vectors it makes; a two-tier run's refine shards read
their fine codes from the code files its ``refine/code_files.json`` lists). Removed, once older than the grace
period: every other run folder (published runs beyond the kept ones, and folders of runs that never
published), every other embed or code chunk with its sidecar, and every vector file no kept chunk reads.
Files shared between runs as hard links free their bytes only with their last name. Callers hold the
output's lock, so no run writes meanwhile.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from transforms.codec import refine
from transforms.embed import chunks, vectors
from transforms.index import encode_stage
from transforms.run import publish
from transforms.storage import io
from transforms.storage.layout import RUNS, RunLayout

logger = logging.getLogger(__name__)

KEEP_RUNS = 3
GRACE_S = 3600.0  # a run replaced less than an hour ago is kept for the servers still swapping off it


@dataclass
class Collected:
    kept_runs: list[str] = field(default_factory=list)
    removed_runs: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)  # chunk files and sidecars, from the output root
    freed_bytes: int = 0

    def summary(self, dry_run: bool) -> str:
        verb = "would free" if dry_run else "freed"
        runs, files = len(self.removed_runs), len(self.removed_files)
        return (
            f"kept {len(self.kept_runs)} runs ({', '.join(self.kept_runs) or 'none'}); {verb} "
            f"{self.freed_bytes / 1e6:.2f} MB: {runs} runs, {files} chunk files"
        )


def _age_s(stamp: str | None, now: dt.datetime) -> float:
    if not stamp:
        return float("inf")
    return (now - dt.datetime.fromisoformat(stamp)).total_seconds()


def kept_runs(output: str, keep: int, grace_s: float, now: dt.datetime) -> list[str]:
    """The published runs to keep, oldest first (see the module's docstring)."""
    runs = publish.published_runs(output)  # (published_at, run id), oldest first
    current = publish.current(output)[0].run_id
    kept = {run_id for _, run_id in runs[-keep:]} | {current}
    for (_, run_id), (replaced_at, _) in zip(runs, runs[1:], strict=False):
        if _age_s(replaced_at, now) < grace_s:  # the run after it was published within the grace period
            kept.add(run_id)
    return [run_id for _, run_id in runs if run_id in kept]


def _size(fs, paths: list[str]) -> int:
    """Bytes that removing ``paths`` frees: a hard-linked file frees nothing while another name remains."""
    total = 0
    for path in paths:
        info = fs.info(path)
        if info.get("nlink", 1) <= 1 or info.get("type") == "directory":
            total += int(info.get("size") or 0)
    return total


def collect(output: str, keep: int = KEEP_RUNS, grace_s: float = GRACE_S, dry_run: bool = False) -> Collected:
    """Remove what no kept run uses (nothing when ``dry_run``); returns what was (or would be) removed."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (the current run), got {keep}")
    now = dt.datetime.now(dt.UTC)
    result = Collected(kept_runs=kept_runs(output, keep, grace_s, now))
    fs, root = io.filesystem(output)
    root = root.rstrip("/")
    doomed: list[str] = []
    for folder in fs.glob(f"{root}/{RUNS}/*"):
        run_id = folder.rstrip("/").rsplit("/", 1)[-1]
        if run_id in result.kept_runs:
            continue
        layout = RunLayout(output, run_id)
        if not io.exists(layout.manifest) and _age_s(_modified(fs, folder), now) < grace_s:
            continue  # a run still being written, or one killed moments ago
        result.removed_runs.append(run_id)
        doomed.append(folder)
    wanted = _wanted_chunks(output, result.kept_runs)
    for path in fs.glob(f"{root}/{chunks.STORE}/**"):
        rel = path[len(root) + 1 :]
        if fs.isdir(path) or rel in wanted or not rel.endswith((".arrow", ".json")):
            continue
        if _age_s(_modified(fs, path), now) < grace_s:
            continue  # fresh work of a run that has not published (yet): the next run reuses it
        result.removed_files.append(rel)
    for folder in doomed:
        result.freed_bytes += _size(fs, [p for p in fs.find(folder)])
    result.freed_bytes += _size(fs, [f"{root}/{rel}" for rel in result.removed_files])
    if not dry_run:
        for folder in doomed:
            fs.rm(folder, recursive=True)
        for rel in result.removed_files:
            fs.rm(f"{root}/{rel}")
    logger.info("gc %s: %s", output, result.summary(dry_run))
    return result


def _modified(fs, path: str) -> str | None:
    try:
        stamp = fs.info(path).get("mtime")
    except FileNotFoundError:
        return None
    if stamp is None:
        return None
    return dt.datetime.fromtimestamp(float(stamp), dt.UTC).isoformat()


def _wanted_chunks(output: str, runs: list[str]) -> set[str]:
    """Every chunk file and sidecar (from the output root) a kept run uses: its embed chunks, the vector
    files they read, and its codec's code files of those (which a two-tier run's refine shards read)."""
    wanted: set[str] = set()
    for run_id in runs:
        layout, manifest = publish.published(output, run_id)
        for c in manifest.chunks:
            wanted.update({c["path"], c["path"].removesuffix(".arrow") + ".json"})
        wanted.update(manifest.chunk_files())  # the vector files they read, made by them or earlier
        for listed in refine.read_listing(layout, manifest.records()):
            wanted.update({listed["path"], listed["path"].removesuffix(".arrow") + ".json"})
        if not manifest.chunks:
            continue
        store = encode_stage.code_store(output, manifest.embedder_key, manifest.codec)
        for c in manifest.chunks:
            for source in vectors.sources(c["path"], c):
                key = encode_stage.code_key(source)
                wanted.update({store.relative(key), store.relative(key).removesuffix(".arrow") + ".json"})
    return wanted
