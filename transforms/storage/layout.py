"""Where a run's files live: ``<output>/runs/<run_id>/...`` plus the ``CURRENT`` pointer at the top."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

from transforms.storage import io, schemas

POINTER = "CURRENT"
RUNS = "runs"  # <output>/runs/<run_id>/: one folder a run
# The files of a run, by path inside its folder. Nothing else names them.
MANIFEST = "manifest.json"
REJECTS = "rejects.arrow"
REPORT = "report"  # report.md and report.png: the run's figures for people
CODEC = "codec"  # the trained codec (transforms.codec.codec_files) and, when planned, plan/
CHUNK_LIST = "embeddings/chunks.json"  # the run's embed chunks with their records (transforms.embed)
DUPLICATES = "embeddings/duplicates.arrow"  # rows whose id repeats an earlier row's (transforms.embed)
CODE_FILES = "refine/code_files.json"  # two tiers: the code files the refine shards read fine codes from
EXACT_NEIGHBOURS = "evaluation/exact.arrow"  # the evaluation queries' exact lists (transforms.search)
SHARD_KINDS = ("codes", "index", "idmap", "refine")  # refine: two-tier codecs only
# The folders and files each stage writes: what a cached stage copies from the run that computed it.
STAGE_FILES = {
    "embed": ("embeddings", REJECTS),  # not cached: the chunk store is its cache
    "fit": (CODEC,),
    "encode": ("codes", "refine"),  # refine/: two-tier codecs only
    "build": ("index", "idmap"),
    "evaluate": ("evaluation",),  # the queries' exact neighbours, carried over by the next run
}


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def valid_run_id(run_id: str) -> bool:
    """A run id names one folder under ``runs/``: letters, digits, '.', '_' and '-', no path separators."""
    return bool(RUN_ID.fullmatch(run_id)) and ".." not in run_id


def new_run_id() -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class RunLayout:
    """Every folder and file name of one run. ``shards``: how many index shards (and code, id map and
    refine shards) the run has; a layout made only to read embeddings or the manifest may leave it 0."""

    output: str
    run_id: str
    shards: int = 0

    @property
    def root(self) -> str:
        return io.join(self.output, RUNS, self.run_id)

    def dir(self, name: str) -> str:
        return io.join(self.root, name)

    def relative(self, url: str) -> str:
        """A file of the run by its path inside the run folder, as the manifest records it."""
        return url.removeprefix(self.root.rstrip("/") + "/")

    def shard_path(self, kind: str, index: int) -> str:
        """A shard's path inside the run directory, as the manifest and the stages' records name it."""
        if not 0 <= index < self.shards:
            raise ValueError(f"run {self.run_id} has {self.shards} shards, not shard {index}")
        suffix = ".faiss" if kind == "index" else ".arrow"
        return f"{kind}/{schemas.shard_name(index, self.shards, suffix)}"

    def shard(self, kind: str, index: int) -> str:
        return io.join(self.root, self.shard_path(kind, index))

    def shard_urls(self, kind: str) -> list[str]:
        return [self.shard(kind, i) for i in range(self.shards)]

    def shard_names(self, kind: str) -> list[str]:
        return [self.shard_path(kind, i).split("/", 1)[1] for i in range(self.shards)]

    @staticmethod
    def shard_kinds(two_tier: bool) -> tuple[str, ...]:
        """The kinds of shard a run has: codes, index and id maps, and refine shards for two tiers."""
        return SHARD_KINDS if two_tier else SHARD_KINDS[:-1]

    @staticmethod
    def codec_path(name: str) -> str:
        """A codec file's path inside the run folder."""
        return f"{CODEC}/{name}"

    @property
    def codec(self) -> str:
        return self.dir(CODEC)

    @property
    def plan(self) -> str:
        """When the planner chose the codec: its plan.json, plan.md and plan.png."""
        return self.dir(f"{CODEC}/plan")

    @property
    def code_files(self) -> str:
        return self.dir(CODE_FILES)

    @property
    def exact_neighbours(self) -> str:
        return self.dir(EXACT_NEIGHBOURS)

    @property
    def duplicates(self) -> str:
        return self.dir(DUPLICATES)

    def report(self, suffix: str) -> str:
        """The run's report as ``.md`` or ``.png``."""
        return self.dir(f"{REPORT}{suffix}")

    @property
    def rejects(self) -> str:
        return self.dir(REJECTS)

    @property
    def manifest(self) -> str:
        return self.dir(MANIFEST)

    @property
    def pointer(self) -> str:
        return io.join(self.output, POINTER)
