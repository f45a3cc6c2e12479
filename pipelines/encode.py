"""Encode pipeline: each embedding shard through the codec into the code shard of the same number."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms import codec, encoding


class EncodeShard(beam.DoFn):
    """Loads the codec once per worker, then encodes whole shards, streaming their record batches."""

    def __init__(self, codec_url: str, codec_records: dict[str, Any] | None = None):
        self.codec_url = codec_url
        self.codec_records = codec_records
        self.encoded = Metrics.counter("vecpress", "vectors_encoded")

    def setup(self) -> None:
        self.index, self.info = codec.load(self.codec_url, self.codec_records)
        self.quantizer = codec.load_refine(self.codec_url, self.info, self.codec_records)

    def process(self, job: tuple[str, str, str, dict[str, Any] | None]) -> Iterator[tuple[str, int]]:
        src, dst, fine, record = job
        rows = encoding.encode_shard(self.index, self.info, src, dst, record, self.quantizer, fine)
        self.encoded.inc(rows)
        yield dst, rows


def build(
    pipeline: beam.Pipeline,
    codec_url: str,
    jobs: list[tuple[str, str, str, dict[str, Any] | None]],
    codec_records: dict[str, Any] | None = None,
) -> None:
    """Encode each (embeddings url, codes url, refine url, record of the embeddings) job; the records (size
    and sha256, of the embeddings and of the codec's files) are checked before anything is read. The refine
    shard is written only for a two-tier codec."""
    (
        pipeline
        | "Shards" >> beam.Create(jobs)
        | "Spread" >> beam.Reshuffle()
        | "Encode" >> beam.ParDo(EncodeShard(codec_url, codec_records))
    )
