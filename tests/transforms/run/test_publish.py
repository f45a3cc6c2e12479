import json

import pytest

from tests.conftest import COUNTS, make_manifest
from transforms.run import publish
from transforms.run.manifest import Counts
from transforms.storage import io
from transforms.storage.layout import CHUNK_LIST, RunLayout


def test_counts_must_add_up():
    publish.check_counts(COUNTS)
    with pytest.raises(publish.PublishError, match="read 10 != embedded 7"):
        publish.check_counts(Counts(read=10, embedded=7, rejected=2, indexed=7, encoded=7))
    with pytest.raises(publish.PublishError, match="embedded 8 != indexed 6"):
        publish.check_counts(Counts(read=10, embedded=8, rejected=2, indexed=6, encoded=8))


@pytest.mark.parametrize("root", ["local", "memory"])
def test_publish_lists_every_file_then_moves_the_pointer(root, tmp_path, memory_root):
    output = str(tmp_path) if root == "local" else memory_root
    with pytest.raises(publish.PublishError, match="no published run"):
        publish.current(output)
    first = RunLayout(output, "run-1", 1)
    io.write_bytes(first.shard("index", 0), b"abc")
    publish.publish(first, make_manifest(output, "run-1", 1))
    second = RunLayout(output, "run-2", 2)
    io.write_bytes(second.dir("codec/codec.json"), b"{}")
    published = publish.publish(second, make_manifest(output, "run-2", 2))
    layout, current = publish.current(output)
    assert layout == second and current == published  # the layout knows the run's shard count
    assert [f["path"] for f in published.files] == ["codec/codec.json"]
    assert published.records()["codec/codec.json"]["sha256"] == io.sha256(second.dir("codec/codec.json"))
    assert json.loads(io.read_bytes(io.join(output, "CURRENT")))["run_id"] == "run-2"
    # The earlier run is untouched and still complete.
    assert io.read_json(first.manifest)["files"][0]["path"] == "index/part-00000-of-00001.faiss"


def test_a_manifest_that_adds_up_to_nothing_is_not_published(tmp_path):
    layout = RunLayout(str(tmp_path), "run-1", 1)
    short = Counts(read=3, embedded=3, rejected=0, indexed=2, encoded=3)
    broken = make_manifest(str(tmp_path), "run-1", 1, short)
    with pytest.raises(publish.PublishError, match="embedded 3 != indexed 2"):
        publish.publish(layout, broken)
    with pytest.raises(publish.PublishError, match="cannot publish run run-1"):
        publish.publish(layout, make_manifest(str(tmp_path), "run-0", 1))
    assert not io.exists(io.join(str(tmp_path), "CURRENT"))


def test_a_manifest_that_is_not_vecpress_s_is_a_clear_error(tmp_path):
    layout = RunLayout(str(tmp_path), "run-1", 1)
    publish.publish(layout, make_manifest(str(tmp_path), "run-1", 1))
    io.write_json(layout.manifest, {"run_id": "run-1", "counts": {}})
    with pytest.raises(publish.PublishError, match=r"manifest.json: damaged, not a vecpress manifest"):
        publish.current(str(tmp_path))


def test_the_chunk_list_is_written_once_and_read_back_checked(tmp_path):
    """A manifest whose embed chunks are its run's chunk list names that file instead of repeating it."""
    import dataclasses

    layout = RunLayout(str(tmp_path), "run-1", 1)
    chunks = [{"path": "chunks/e/k.arrow", "bytes": 3, "sha256": "ab" * 32, "rows": 3}]
    io.write_json(layout.dir(CHUNK_LIST), {"chunks": chunks})
    manifest = dataclasses.replace(make_manifest(str(tmp_path), "run-1", 1), chunks=chunks)
    publish.publish(layout, manifest)
    stored = io.read_json(layout.manifest)
    assert "chunks" not in stored and stored["chunks_file"] == CHUNK_LIST
    assert publish.current(str(tmp_path))[1].chunks == chunks
    io.write_json(layout.dir(CHUNK_LIST), {"chunks": []})  # altered after publishing
    with pytest.raises(publish.PublishError, match="embed chunk list is damaged.*chunks.json"):
        publish.current(str(tmp_path))
    # a chunk list that is not the manifest's chunks is not referred to: they are written in full
    other = RunLayout(str(tmp_path), "run-2", 1)
    io.write_json(other.dir(CHUNK_LIST), {"chunks": []})
    publish.publish(other, dataclasses.replace(make_manifest(str(tmp_path), "run-2", 1), chunks=chunks))
    assert io.read_json(other.manifest)["chunks"] == chunks
    assert publish.published(str(tmp_path), "run-2")[1].chunks == chunks
