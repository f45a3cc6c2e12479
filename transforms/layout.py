"""Where a run's files live: ``<output>/runs/<run_id>/...`` plus the ``CURRENT`` pointer at the top."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from transforms import io, schemas

POINTER = "CURRENT"


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

    def shard(self, kind: str, index: int, total: int) -> str:
        suffix = ".faiss" if kind == "index" else ".arrow"
        return io.join(self.root, kind, schemas.shard_name(index, total, suffix))

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
