"""Embed pipeline: Parquet rows -> checks and de-duplication -> RunInference -> embedding shards + rejects."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from pipelines.model_handler import SentenceEmbeddingHandler
from transforms import arrow_files, ids, reading, schemas
from transforms.embedder import EmbedderSpec
from transforms.layout import RunLayout

REJECTED = "rejected"


@dataclass(frozen=True)
class EmbedJob:
    files: tuple[str, ...]
    columns: reading.Columns
    spec: EmbedderSpec
    layout: RunLayout
    shards: int
    dim: int
    expected_rows: int | None = None


class ReadDocuments(beam.DoFn):
    """One Parquet file in, its rows out; empty or null texts and ids go to the rejected output."""

    def __init__(self, columns: reading.Columns):
        self.columns = columns
        self.read = Metrics.counter("vecpress", "rows_read")

    def process(self, url: str) -> Iterator[Any]:
        for doc in reading.read_documents(url, self.columns):
            self.read.inc()
            reason = reading.rejection(doc)
            if reason:
                yield beam.pvalue.TaggedOutput(REJECTED, (doc.file, doc.row, doc.doc_id, reason))
            else:
                yield doc


def keep_first(item: tuple[str, Iterable[reading.Document]]) -> Iterator[Any]:
    """Of several rows with one id, keep the first by (file, row); reject the others, saying where it was."""
    _, docs = item
    first, *others = sorted(docs, key=lambda d: (d.file, d.row))
    yield first
    for dup in others:
        reason = f"duplicate id (first seen in {first.file} row {first.row})"
        yield beam.pvalue.TaggedOutput(REJECTED, (dup.file, dup.row, dup.doc_id, reason))


def to_shard_row(item: tuple[tuple[str, str | None], Any], shards: int) -> tuple[int, tuple]:
    (doc_id, label), prediction = item
    row = ids.row_id(doc_id)
    return ids.shard_of(row, shards), (row, doc_id, label, np.asarray(prediction.inference, np.float32))


class WriteEmbeddingShard(beam.DoFn):
    """Write one shard, rows sorted by row id so the same input always gives the same bytes."""

    def __init__(self, job: EmbedJob):
        self.job = job

    def process(self, item: tuple[int, dict[str, list]]) -> Iterator[tuple[int, int]]:
        shard, groups = item
        rows = sorted(groups["rows"], key=lambda r: r[0])
        for prev, cur in zip(rows, rows[1:], strict=False):
            if prev[0] == cur[0]:
                raise ValueError(f"row id collision: documents {prev[1]!r} and {cur[1]!r} hash to {cur[0]}")
        schema = schemas.embeddings(self.job.dim, self.job.spec.model)
        matrix = np.stack([r[3] for r in rows]) if rows else np.zeros((0, self.job.dim), np.float32)
        table = pa.table(
            {
                "doc_id": pa.array([r[1] for r in rows], pa.string()),
                "row_id": pa.array([r[0] for r in rows], pa.int64()),
                "label": pa.array([r[2] for r in rows], pa.string()),
                "embedding": arrow_files.vector_array(matrix.reshape(-1, self.job.dim)),
            }
        )
        arrow_files.write_table(self.job.layout.shard("embeddings", shard, self.job.shards), table, schema)
        yield shard, len(rows)


def write_rejects(rejects: list[tuple], url: str) -> int:
    rejects = sorted(rejects, key=lambda r: (r[0], r[1]))
    columns = list(zip(*rejects, strict=True)) if rejects else [[], [], [], []]
    table = pa.table(dict(zip(schemas.REJECTS.names, columns, strict=True)), schema=schemas.REJECTS)
    arrow_files.write_table(url, table, schemas.REJECTS)
    return len(rejects)


def build(pipeline: beam.Pipeline, job: EmbedJob) -> None:
    """The embed graph; all I/O goes through fsspec URLs so workers need no shared disk."""
    read = (
        pipeline
        | "Files" >> beam.Create(list(job.files))
        | "Spread" >> beam.Reshuffle()
        | "Read" >> beam.ParDo(ReadDocuments(job.columns)).with_outputs(REJECTED, main="docs")
    )
    unique = (
        read.docs
        | "ById" >> beam.Map(lambda d: (d.doc_id, d))
        | "GroupById" >> beam.GroupByKey()
        | "Dedupe" >> beam.FlatMap(keep_first).with_outputs(REJECTED, main="docs")
    )
    handler = KeyedModelHandler(SentenceEmbeddingHandler(job.spec, job.expected_rows))
    rows = (
        unique.docs
        | "KeyText" >> beam.Map(lambda d: ((d.doc_id, d.label), d.text))
        | "Embed" >> RunInference(handler)
        | "Place" >> beam.Map(to_shard_row, job.shards)
    )
    all_shards = pipeline | "ShardKeys" >> beam.Create([(s, None) for s in range(job.shards)])
    (
        {"rows": rows, "shard": all_shards}
        | "GroupByShard" >> beam.CoGroupByKey()
        | "WriteShards" >> beam.ParDo(WriteEmbeddingShard(job))
    )
    (
        (read[REJECTED], unique[REJECTED])
        | "AllRejects" >> beam.Flatten()
        | "CollectRejects" >> beam.combiners.ToList()
        | "WriteRejects" >> beam.Map(write_rejects, job.layout.rejects)
    )
