"""The manifest of a run (``runs/<run_id>/manifest.json``), typed: what the flow writes at publish and what
search, inspect, verify, the report, the planner, a re-index and the benchmarks read back."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from transforms.codec.info import CodecInfo
from transforms.embed import vectors
from transforms.embed.chunks import store_key
from transforms.read.reading import Columns
from transforms.storage.layout import REJECTS

Record = dict[str, Any]  # {"bytes", "sha256"} of a file (integrity.describe)


@dataclass(frozen=True)
class Counts:
    """Rows through the run: read = embedded + rejected, and every embedded row indexed (publish checks)."""

    read: int
    embedded: int
    rejected: int
    indexed: int
    encoded: int


@dataclass(frozen=True)
class Manifest:
    run_id: str
    output: str
    parameters: dict[str, Any]  # the run's configuration (flows.config.ReindexConfig) as JSON
    counts: Counts
    codec: CodecInfo
    evaluation: dict[str, Any]  # transforms.search.evaluation's figures
    sizes: dict[str, Any]  # transforms.run.sizes.run_sizes
    timings_s: dict[str, float]  # seconds per stage
    shards: dict[str, list[str]]  # file names of each kind of shard: codes, index, idmap (, refine)
    chunks: list[dict[str, Any]] = field(default_factory=list)  # embed chunks: path from the output, record
    inputs: list[dict[str, Any]] = field(default_factory=list)  # each input file's version as read
    reuse: dict[str, Any] = field(default_factory=dict)  # what came from the previous run
    reused: dict[str, str] = field(default_factory=dict)  # stage -> run directory its cached files came from
    skipped_files: list[dict[str, str]] = field(default_factory=list)  # unreadable inputs left out
    rejects_file: str = REJECTS
    files: list[dict[str, Any]] = field(default_factory=list)  # every file of the run: path, bytes, sha256
    published_at: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """A manifest as read from JSON; keys this version does not know are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["counts"] = Counts(**data["counts"])
        values["codec"] = CodecInfo(**data["codec"])
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def shard_count(self) -> int:
        return len(self.shards["index"])

    def records(self) -> dict[str, Record]:
        """The run's files by path: ``{"index/part-00000-of-00004.faiss": {"bytes", "sha256"}}``."""
        return {f["path"]: {"bytes": f["bytes"], "sha256": f["sha256"]} for f in self.files}

    @property
    def embedder_key(self) -> str:
        """The chunk store folder (the embedder key) of the run's embed chunks; "" when there are none."""
        return store_key(self.chunks)

    def chunk_files(self) -> dict[str, Record]:
        """The embed chunk files and the vector files they read, by path from the output root (or URL)."""
        return vectors.chunk_files(self.chunks)

    def columns(self) -> Columns:
        p = self.parameters
        return Columns(id=p["id_column"], text=p["text_column"], label=p.get("label_column"))

    def published(self, files: list[dict[str, Any]], at: str) -> Manifest:
        return dataclasses.replace(self, files=files, published_at=at)
