"""Embed pipeline: Parquet rows -> checks and de-duplication -> RunInference -> embedding shards + rejects."""

from __future__ import annotations

import math
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

KEPT, REJECTED = "kept", "rejected"


@dataclass(frozen=True)
class EmbedJob:
    files: tuple[reading.InputFile, ...]  # with the rows each held when the run checked it
    columns: reading.Columns
    spec: EmbedderSpec
    layout: RunLayout
    shards: int
    dim: int
    expected_rows: int | None = None
    on_bad_file: str = "fail"


class ReadDocuments(beam.DoFn):
    """One row group in, its rows out as (KEPT, Document) or (REJECTED, reject row)."""

    def __init__(self, columns: reading.Columns, on_bad_file: str = "fail"):
        self.columns = columns
        self.on_bad_file = on_bad_file
        self.read = Metrics.counter("vecpress", "rows_read")

    def process(self, group: reading.RowGroup) -> Iterator[Any]:
        for doc in reading.read_row_group(reading.RowGroup(*group), self.columns, self.on_bad_file):
            self.read.inc()
            reason = reading.rejection(doc)
            if reason:
                yield REJECTED, (doc.file, doc.row, doc.doc_id, reason)
            else:
                yield KEPT, doc


def keep_first(item: tuple[str, Iterable[reading.Document]]) -> Iterator[Any]:
    """Of several rows with one id, keep the first by (file, row); reject the others, saying where it was."""
    _, docs = item
    first, *others = sorted(docs, key=lambda d: (d.file, d.row))
    yield KEPT, first
    for dup in others:
        reason = f"duplicate id (first seen in {first.file} row {first.row})"
        yield REJECTED, (dup.file, dup.row, dup.doc_id, reason)


def split(tagged: beam.PCollection, label: str) -> tuple[beam.PCollection, beam.PCollection]:
    """(KEPT, x) / (REJECTED, y) pairs into two collections.

    Plain pairs and filters instead of a multi-output ParDo: Beam's DaskRunner merges all the tagged outputs
    of a ParDo into one collection.
    """
    kept = (
        tagged
        | f"{label}Kept" >> beam.Filter(lambda kv: kv[0] == KEPT)
        | f"{label}KeptValues" >> beam.Values()
    )
    rejected = (
        tagged
        | f"{label}Rejected" >> beam.Filter(lambda kv: kv[0] == REJECTED)
        | f"{label}RejectedValues" >> beam.Values()
    )
    return kept, rejected


def to_shard_row(item: tuple[tuple[str, str | None, str, int], np.ndarray | str], shards: int) -> tuple:
    """(KEPT, (shard, row)) for an embedded document, (REJECTED, reject row) for one the model refused."""
    (doc_id, label, file, row_number), vector = item
    if isinstance(vector, str):
        return REJECTED, (file, row_number, doc_id, vector)
    row = ids.row_id(doc_id)
    return KEPT, (ids.shard_of(row, shards), (row, doc_id, label, np.asarray(vector, np.float32)))


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
    docs, empty = split(
        pipeline
        | "Files" >> beam.Create([tuple(f) for f in job.files])
        | "RowGroups" >> beam.FlatMap(lambda f: [tuple(g) for g in reading.row_groups(f[0], f[1])])
        | "Spread" >> beam.Reshuffle()
        | "Read" >> beam.ParDo(ReadDocuments(job.columns, job.on_bad_file)),
        "Read",
    )
    unique, duplicates = split(
        docs
        | "ById" >> beam.Map(lambda d: (d.doc_id, d))
        | "GroupById" >> beam.GroupByKey()
        | "Dedupe" >> beam.FlatMap(keep_first),
        "Dedupe",
    )
    # Batches are formed by a GroupByKey on a hash of the id instead of RunInference's BatchElements, whose
    # last partial batch per bundle is emitted from finish_bundle, which Beam's DaskRunner drops.
    # sentence-transformers sorts each call's texts by length, so 4 model batches per call pad less.
    n_batches = max(1, math.ceil((job.expected_rows or 1) / (4 * job.spec.batch_size)))
    handler = KeyedModelHandler(SentenceEmbeddingHandler(job.spec, job.expected_rows)).with_no_batching()
    rows, refused = split(
        unique
        | "BatchKey"
        >> beam.Map(
            lambda d: (ids.row_id(d.doc_id) % n_batches, ((d.doc_id, d.label, d.file, d.row), d.text))
        )
        | "GroupBatches" >> beam.GroupByKey()
        | "Batch" >> beam.MapTuple(lambda _, items: sorted(items))
        | "Embed" >> RunInference(handler)
        | "Place" >> beam.Map(to_shard_row, job.shards),
        "Place",
    )
    all_shards = pipeline | "ShardKeys" >> beam.Create([(s, None) for s in range(job.shards)])
    written = (
        {"rows": rows, "shard": all_shards}
        | "GroupByShard" >> beam.CoGroupByKey()
        | "WriteShards" >> beam.ParDo(WriteEmbeddingShard(job))
        | "ShardRows" >> beam.Map(lambda kv: kv[1])
    )
    rejected = (
        (empty, duplicates, refused)
        | "AllRejects" >> beam.Flatten()
        | "CollectRejects" >> beam.combiners.ToList()
        | "WriteRejects" >> beam.Map(write_rejects, job.layout.rejects)
    )
    # One final sink that depends on both branches: Beam's DaskRunner computes only the graph's last
    # transform, so a branch that nothing downstream depends on would silently not run there.
    (written, rejected) | "BothWritten" >> beam.Flatten() | "Rows" >> beam.combiners.Count.Globally()
