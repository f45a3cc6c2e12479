"""Build pipeline: one IVF index shard and id map per code shard, from the codes alone."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms import building, codec


class BuildShard(beam.DoFn):
    """Loads the trained empty codec once per worker; adds each code shard's codes with their row ids."""

    def __init__(self, codec_url: str):
        self.codec_url = codec_url
        self.indexed = Metrics.counter("vecpress", "vectors_indexed")

    def setup(self) -> None:
        self.trained, self.info = codec.load(self.codec_url)

    def process(self, urls: tuple[str, str, str]) -> Iterator[tuple[str, int]]:
        codes_url, index_url, idmap_url = urls
        rows = building.build_shard(self.trained, self.info, codes_url, index_url, idmap_url)
        self.indexed.inc(rows)
        yield index_url, rows


def build(pipeline: beam.Pipeline, codec_url: str, jobs: list[tuple[str, str, str]]) -> None:
    (
        pipeline
        | "Shards" >> beam.Create(jobs)
        | "Spread" >> beam.Reshuffle()
        | "Build" >> beam.ParDo(BuildShard(codec_url))
    )
