"""The embed stage around its pipeline: which chunks are still to do (and what earlier work can be reused),
then, once they are done, the run's embeddings (duplicates resolved), its rejects and its counts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from transforms.embed import chunks
from transforms.embed.embeddings import Embeddings, chunk_rejects, find_duplicates, ids_and_hashes
from transforms.embedders.spec import EmbedderSpec
from transforms.read import reading
from transforms.storage import arrow_files, fingerprint, schemas
from transforms.storage.layout import RunLayout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedSettings:
    """How a run embeds (ReindexConfig's embed options, without Prefect or pydantic)."""

    spec: EmbedderSpec
    columns: reading.Columns
    on_bad_file: str = "fail"
    full: bool = False  # embed every chunk again, reusing nothing
    cache: str | None = None  # a shared embed cache the chunks live in, instead of the output

    @property
    def embedder_key(self) -> str:
        """The chunk store folder of these settings' chunks (transforms.embed.chunks.embedder_key)."""
        return chunks.embedder_key(self.spec, self.columns, self.on_bad_file)


@dataclass
class EmbedPlan:
    output: str
    settings: EmbedSettings
    chunks: list[chunks.Chunk]
    todo: list[chunks.Chunk]
    earlier: list[tuple[str, dict[str, Any]]]  # (URL, record) of the last run's chunks, reused by text

    @property
    def embedder_key(self) -> str:
        return self.settings.embedder_key

    @property
    def store(self) -> chunks.Store:
        return chunks.Store(self.output, self.embedder_key, cache=self.settings.cache)


def plan(
    output: str,
    files: list[reading.InputFile],
    versions: list[dict[str, Any]],
    settings: EmbedSettings,
    previous: Embeddings | None = None,
) -> EmbedPlan:
    """The input's chunks, and those not already done in the chunk store (all of them when ``full``);
    ``previous`` is the last published run's embeddings, whose chunks of this embedder are reused by text."""
    key = settings.embedder_key
    planned = chunks.plan_chunks(files, versions, key)
    store = chunks.Store(output, key, cache=settings.cache)
    todo = planned if settings.full else [c for c in planned if store.done(c.key) is None]
    earlier = []
    if (
        previous is not None and not settings.full
    ):  # the last run's chunks of this embedder, wherever they are kept
        earlier = [
            (previous.url(i), c)
            for i, c in enumerate(previous.chunks)
            if chunks.split_path(c["path"])[0] == key
        ]
    logger.info(
        "embed: %d chunks, %d done before (reused), %d to embed; %d earlier chunks to reuse texts from",
        len(planned), len(planned) - len(todo), len(todo), len(earlier),
    )  # fmt: skip
    return EmbedPlan(output, settings, planned, todo, earlier)


def check_unchanged(versions: list[dict[str, Any]]) -> None:
    """A file replaced while the run read it would mix two versions of the corpus."""
    for before in versions:
        after = fingerprint.file_version(before["url"])
        if after != before:
            raise reading.InputError(
                f"{before['url']}: changed while the run was reading it (size {before['size']} -> "
                f"{after['size']}); run again once it no longer changes"
            )


def finish(
    embed_plan: EmbedPlan, layout: RunLayout, previous: Embeddings | None
) -> tuple[Embeddings, dict[str, Any]]:
    """Write the run's embeddings index and rejects; return them and the stage's counts and reuse figures."""
    store = embed_plan.store
    records = []
    for c in embed_plan.chunks:
        record = store.record(c.key)
        if record is None:
            raise RuntimeError(f"chunk {c.key} of {c.url} row group {c.index} was not committed")
        records.append({"path": store.relative(c.key), **record})
    emb = Embeddings(layout.output, tuple(records))
    duplicates = find_duplicates(emb)
    emb = replace(emb, dropped=duplicates.dropped)
    emb.write(layout)
    rejects = sorted(chunk_rejects(emb) + duplicates.rejects, key=lambda r: (r[0], r[1]))
    columns = list(zip(*rejects, strict=True)) if rejects else [[], [], [], []]
    table = pa.table(dict(zip(schemas.REJECTS.names, columns, strict=True)), schema=schemas.REJECTS)
    arrow_files.write_table(layout.rejects, table, schemas.REJECTS)
    read = sum(c.rows for c in embed_plan.chunks)
    counts = {"read": read, "embedded": read - len(rejects), "rejected": len(rejects)}
    if counts["embedded"] == 0:
        raise reading.InputError(
            f"no documents to index: all {read} rows were rejected (see {layout.rejects})"
        )
    return emb, {**counts, "reuse": _reuse(embed_plan, records, emb, previous)}


def _reuse(
    embed_plan: EmbedPlan, records: list[dict[str, Any]], emb: Embeddings, previous: Embeddings | None
) -> dict[str, Any]:
    """Chunks reused and made; documents embedded by the model now, reused (from done chunks, or by text),
    and how the corpus changed since the last published run (new, changed, deleted documents)."""
    todo = {c.key for c in embed_plan.todo}
    made = [r for c, r in zip(embed_plan.chunks, records, strict=True) if c.key in todo]
    kept = [r for c, r in zip(embed_plan.chunks, records, strict=True) if c.key not in todo]
    out = {
        "chunks": len(records),
        "chunks_reused": len(kept),
        "documents_embedded": sum(r.get("embedded", 0) for r in made),
        "documents_reused": sum(r.get("reused", 0) for r in made)
        + sum(r.get("read", 0) - r.get("rejected", 0) for r in kept),
    }
    if previous is not None:
        before = ids_and_hashes(previous)
        now = ids_and_hashes(emb)
        common, i_now, i_before = np.intersect1d(now[0], before[0], assume_unique=True, return_indices=True)
        out["new"] = int(len(now[0]) - len(common))
        out["deleted"] = int(len(before[0]) - len(common))
        out["changed"] = int((now[1][i_now] != before[1][i_before]).sum())
    return out
