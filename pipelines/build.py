"""Build pipeline: one index shard (IVF or flat, as the codec is) and id map per code shard, from the codes
alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.codec import codec_files
from transforms.index import building


class BuildShard(beam.DoFn):
    """Loads the trained empty codec once per worker; adds each code shard's codes with their row ids."""

    def __init__(self, codec_url: str, codec_records: dict[str, Any] | None = None):
        self.codec_url = codec_url
        self.codec_records = codec_records
        self.indexed = Metrics.counter("vecpress", "vectors_indexed")

    def setup(self) -> None:
        self.trained, self.info = codec_files.load(self.codec_url, self.codec_records)

    def process(self, job: tuple[str, str, str, dict[str, Any] | None]) -> Iterator[tuple[str, int]]:
        codes_url, index_url, idmap_url, record = job
        rows = building.build_shard(self.trained, self.info, codes_url, index_url, idmap_url, record)
        self.indexed.inc(rows)
        yield index_url, rows


def build(
    pipeline: beam.Pipeline,
    codec_url: str,
    jobs: list[tuple[str, str, str, dict[str, Any] | None]],
    codec_records: dict[str, Any] | None = None,
) -> None:
    """Build each (codes url, index url, idmap url, record of the codes) job; the records (size and sha256,
    of the codes and of the codec's files) are checked before anything is read."""
    (
        pipeline
        | "Shards" >> beam.Create(jobs)
        | "Spread" >> beam.Reshuffle()
        | "Build" >> beam.ParDo(BuildShard(codec_url, codec_records))
    )
