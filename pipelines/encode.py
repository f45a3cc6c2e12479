"""Encode pipeline: each embedding shard through the codec into the code shard of the same number."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms import codec, encoding


class EncodeShard(beam.DoFn):
    """Loads the codec once per worker, then encodes whole shards, streaming their record batches."""

    def __init__(self, codec_url: str):
        self.codec_url = codec_url
        self.encoded = Metrics.counter("vecpress", "vectors_encoded")

    def setup(self) -> None:
        self.index, self.info = codec.load(self.codec_url)

    def process(self, pair: tuple[str, str]) -> Iterator[tuple[str, int]]:
        src, dst = pair
        rows = encoding.encode_shard(self.index, self.info, src, dst)
        self.encoded.inc(rows)
        yield dst, rows


def build(pipeline: beam.Pipeline, codec_url: str, pairs: list[tuple[str, str]]) -> None:
    (
        pipeline
        | "Shards" >> beam.Create(pairs)
        | "Spread" >> beam.Reshuffle()
        | "Encode" >> beam.ParDo(EncodeShard(codec_url))
    )
