import dataclasses

from tests.conftest import make_manifest
from transforms.read.reading import Columns
from transforms.run.manifest import Counts, Manifest


def test_json_round_trip_keeps_every_field_and_ignores_keys_it_does_not_know():
    m = dataclasses.replace(
        make_manifest("out", "run-1", 2),
        parameters={"id_column": "doc_id", "text_column": "body", "label_column": None},
        files=[{"path": "index/part-00000-of-00002.faiss", "bytes": 3, "sha256": "ab"}],
        inputs=[{"url": "in/a.parquet", "size": 10}],
    )
    data = m.to_json()
    assert Manifest.from_json(data) == m
    assert Manifest.from_json({**data, "written_by_a_later_version": 1}) == m
    assert isinstance(Manifest.from_json(data).counts, Counts)


def test_what_readers_ask_of_a_manifest():
    m = dataclasses.replace(
        make_manifest("out", "run-1", 2),
        parameters={"id_column": "doc_id", "text_column": "body", "label_column": "topic"},
        files=[{"path": "codec/codec.faiss", "bytes": 3, "sha256": "ab", "mtime": 1}],
    )
    assert m.shard_count == 2
    assert m.records() == {"codec/codec.faiss": {"bytes": 3, "sha256": "ab"}}
    assert m.columns() == Columns(id="doc_id", text="body", label="topic")
    later = m.published([{"path": "x", "bytes": 1, "sha256": "c"}], "2026-01-01T00:00:00+00:00")
    assert later.published_at and later.files[0]["path"] == "x" and m.files[0]["path"] == "codec/codec.faiss"


def test_the_embedder_key_is_the_chunk_store_folder_of_the_run_s_chunks():
    chunk = {"path": "chunks/embedder-ab12/c0.arrow", "bytes": 1, "sha256": "x", "rows": 1}
    m = dataclasses.replace(make_manifest("out", "run-1", 2), chunks=[chunk])
    assert m.embedder_key == "embedder-ab12"
    assert make_manifest("out", "run-1", 2).embedder_key == ""  # a run with no chunks
