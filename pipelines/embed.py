"""Embed pipeline: each chunk not yet done (a row group of an input file) is read, embedded and committed to
the chunk store on its own; a worker holds one batch of one chunk at a time."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.embed import chunks, embed_chunk, vectors
from transforms.embed.embed_stage import EmbedPlan, EmbedSettings
from transforms.storage import schemas

logger = logging.getLogger(__name__)

ATTEMPTS = 3  # a chunk whose model runtime fails is embedded again this many times in all, then fails
RETRY_DELAY_S = 1.0


@dataclass(frozen=True)
class EmbedJob:
    """The chunks still to embed and how (embed_stage.EmbedPlan as the workers need it)."""

    todo: tuple[chunks.Chunk, ...]
    settings: EmbedSettings
    dim: int
    output: str
    earlier: tuple[tuple[str, dict[str, Any]], ...] = ()  # (URL, record) of earlier chunks, reused by text

    @classmethod
    def of(cls, work: EmbedPlan, dim: int) -> EmbedJob:
        return cls(tuple(work.todo), work.settings, dim, work.output, tuple(work.earlier))


class EmbedChunk(beam.DoFn):
    """Loads the model (and the earlier run's text index) once per worker; embeds and commits each chunk."""

    def __init__(self, job: EmbedJob):
        self.job = job
        self.embedded = Metrics.counter("vecpress", "documents_embedded")
        self.reused = Metrics.counter("vecpress", "documents_reused")

    def setup(self) -> None:
        from tqdm.auto import tqdm

        from transforms.embed.reuse import EarlierVectors
        from transforms.embedders.embedder import load_embedder

        self.embedder = load_embedder(self.job.settings.spec)
        self.earlier = EarlierVectors(self.job.earlier) if self.job.earlier else None
        self.store = chunks.Store(
            self.job.output, self.job.settings.embedder_key, cache=self.job.settings.cache
        )
        self.schema = schemas.chunk_rows(self.job.dim, self.job.settings.spec.model)
        total = sum(c.rows for c in self.job.todo)
        self.bar = tqdm(total=total, desc="embedding", unit="doc", mininterval=2.0)

    def process(self, chunk: chunks.Chunk) -> Iterator[dict[str, Any]]:
        from transforms.embedders.failures import ModelRuntimeError

        for attempt in range(1, ATTEMPTS + 1):
            tally = embed_chunk.Tally()
            try:
                record = self._commit(chunk, tally)
                break
            except ModelRuntimeError as err:  # the runtime's fault, not the texts': nothing was committed
                if attempt == ATTEMPTS:
                    raise ModelRuntimeError(
                        f"chunk {chunk.key} ({chunk.url} row group {chunk.index}) failed {ATTEMPTS} times, "
                        f"not committed: {err}"
                    ) from err
                logger.warning("chunk %s: %s; embedding it again (try %d of %d)", chunk.key, err,
                               attempt + 1, ATTEMPTS)  # fmt: skip
                time.sleep(RETRY_DELAY_S * attempt)
        self.embedded.inc(tally.embedded)
        self.reused.inc(tally.reused)
        yield record

    def _commit(self, chunk: chunks.Chunk, tally: embed_chunk.Tally) -> dict[str, Any]:
        refs = vectors.Refs(self.store.root, chunk.key, self.job.dim)
        settings = self.job.settings
        writer = embed_chunk.Writer(
            self.embedder, self.schema, refs, self.earlier, 4 * settings.spec.batch_size, tally
        )
        batches = embed_chunk.embed_chunk(chunk.group, settings.columns, settings.on_bad_file, writer)
        try:
            # the rows are streamed, never mapped: compressed (the file name repeats on every row)
            return self.store.commit(
                chunk.key, self._counted(batches), self.schema, vars(tally), refs.finish, "zstd"
            )
        except BaseException:
            refs.abort()
            raise

    def _counted(self, batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            self.bar.update(batch.num_rows)
            yield batch

    def teardown(self) -> None:
        bar = getattr(self, "bar", None)
        if bar is not None:
            bar.close()


def build(pipeline: beam.Pipeline, job: EmbedJob) -> None:
    """One work item per chunk still to do; all I/O through fsspec URLs, so workers share no disk."""
    (
        pipeline
        | "Chunks" >> beam.Create(list(job.todo))
        | "Spread" >> beam.Reshuffle()
        | "Embed" >> beam.ParDo(EmbedChunk(job))
        | "Done" >> beam.combiners.Count.Globally()
    )
