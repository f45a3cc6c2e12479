"""Encode pipelines: vector files into code files (committed to the chunk store one by one), then each
shard's code (and refine) file from the embed chunks and the code files of their vectors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.codec import codec_files
from transforms.index import encode_stage, encoding


@dataclass(frozen=True)
class EncodeJob:
    codec_url: str
    codec_records: dict[str, Any]
    output: str
    embedder_key: str
    todo: tuple[tuple[str, str], ...]  # (code key, vector file URL) still to encode


class EncodeFile(beam.DoFn):
    """Loads the codec once per worker; encodes each vector file and commits its code file."""

    def __init__(self, job: EncodeJob):
        self.job = job
        self.encoded = Metrics.counter("vecpress", "vectors_encoded")

    def setup(self) -> None:
        self.index, self.info = codec_files.load(self.job.codec_url, self.job.codec_records)
        self.quantizer = codec_files.load_refine(self.job.codec_url, self.info, self.job.codec_records)
        self.store = encode_stage.code_store(self.job.output, self.job.embedder_key, self.info)
        self.schema = encoding.code_file_schema(self.index, self.info)

    def process(self, item: tuple[str, str]) -> Iterator[dict[str, Any]]:
        key, url = item
        batches = encoding.encode_file(self.index, self.info, url, self.schema, self.quantizer)
        record = self.store.commit(key, batches, self.schema)
        self.encoded.inc(record["rows"])
        yield record


@dataclass(frozen=True)
class ShardJob:
    codec_url: str
    codec_records: dict[str, Any]
    sources: encoding.ShardSources


class WriteShard(beam.DoFn):
    """One shard's code file (and refine file) from every embed chunk and the code files of its vectors."""

    def __init__(self, job: ShardJob):
        self.job = job

    def setup(self) -> None:
        _, self.info = codec_files.load(self.job.codec_url, self.job.codec_records)

    def process(self, item: tuple[int, str, str]) -> Iterator[tuple[int, int]]:
        shard, codes_url, refine_url = item
        yield shard, encoding.write_shard(self.job.sources, shard, self.info, codes_url, refine_url)


def build_files(pipeline: beam.Pipeline, job: EncodeJob) -> None:
    (
        pipeline
        | "VectorFiles" >> beam.Create(list(job.todo))
        | "Spread" >> beam.Reshuffle()
        | "Encode" >> beam.ParDo(EncodeFile(job))
        | "Done" >> beam.combiners.Count.Globally()
    )


def build_shards(pipeline: beam.Pipeline, job: ShardJob, items: list[tuple[int, str, str]]) -> None:
    (
        pipeline
        | "Shards" >> beam.Create(items)
        | "Spread" >> beam.Reshuffle()
        | "Write" >> beam.ParDo(WriteShard(job))
        | "Done" >> beam.combiners.Count.Globally()
    )
