import json

import pytest

from transforms import io, publish
from transforms.layout import RunLayout

COUNTS = {"read": 10, "embedded": 8, "rejected": 2, "indexed": 8}


def test_counts_must_add_up():
    publish.check_counts(COUNTS)
    with pytest.raises(publish.PublishError, match="read 10 != embedded 7"):
        publish.check_counts({**COUNTS, "embedded": 7, "indexed": 7})
    with pytest.raises(publish.PublishError, match="embedded 8 != indexed 6"):
        publish.check_counts({**COUNTS, "indexed": 6})


@pytest.mark.parametrize("root", ["local", "memory"])
def test_publish_lists_every_file_then_moves_the_pointer(root, tmp_path, memory_root):
    output = str(tmp_path) if root == "local" else memory_root
    with pytest.raises(publish.PublishError, match="no published run"):
        publish.current(output)
    first = RunLayout(output, "run-1")
    io.write_bytes(first.shard("index", 0, 1), b"abc")
    publish.publish(first, {"counts": COUNTS})
    second = RunLayout(output, "run-2")
    io.write_bytes(second.dir("codec/codec.json"), b"{}")
    manifest = publish.publish(second, {"counts": COUNTS})
    layout, current = publish.current(output)
    assert layout.run_id == "run-2" and current == manifest
    assert [f["path"] for f in manifest["files"]] == ["codec/codec.json"]
    assert manifest["files"][0]["sha256"] == io.sha256(second.dir("codec/codec.json"))
    assert json.loads(io.read_bytes(io.join(output, "CURRENT")))["run_id"] == "run-2"
    # The earlier run is untouched and still complete.
    assert io.read_json(first.manifest)["files"][0]["path"] == "index/part-00000-of-00001.faiss"
