"""Where a run's files live: ``<output>/runs/<run_id>/...`` plus the ``CURRENT`` pointer at the top."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

from transforms import io, schemas

POINTER = "CURRENT"


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def valid_run_id(run_id: str) -> bool:
    """A run id names one folder under ``runs/``: letters, digits, '.', '_' and '-', no path separators."""
    return bool(RUN_ID.fullmatch(run_id)) and ".." not in run_id


def new_run_id() -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class RunLayout:
    output: str
    run_id: str

    @property
    def root(self) -> str:
        return io.join(self.output, "runs", self.run_id)

    def dir(self, name: str) -> str:
        return io.join(self.root, name)

    @staticmethod
    def shard_path(kind: str, index: int, total: int) -> str:
        """A shard's path inside the run directory, as the manifest and the stages' records name it."""
        suffix = ".faiss" if kind == "index" else ".arrow"
        return f"{kind}/{schemas.shard_name(index, total, suffix)}"

    def shard(self, kind: str, index: int, total: int) -> str:
        return io.join(self.root, self.shard_path(kind, index, total))

    def shards(self, kind: str, total: int) -> list[str]:
        return [self.shard(kind, i, total) for i in range(total)]

    @property
    def codec(self) -> str:
        return self.dir("codec")

    @property
    def rejects(self) -> str:
        return self.dir("rejects.arrow")

    @property
    def manifest(self) -> str:
        return self.dir("manifest.json")

    @property
    def pointer(self) -> str:
        return io.join(self.output, POINTER)
