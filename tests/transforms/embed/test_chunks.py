"""Chunk keys carry what decides a text's vector, and nothing else."""

from __future__ import annotations

from dataclasses import replace

from transforms.embed import chunks
from transforms.embedders import packaged
from transforms.embedders.spec import EmbedderSpec
from transforms.read.reading import Columns

COLUMNS = Columns(id="doc_id", text="body", label=None)


def test_the_embedder_key_follows_what_the_vectors_mean():
    spec = EmbedderSpec(model="all-MiniLM-L6-v2", backend="openvino", precision="int8", max_seq_length=128)
    key = chunks.embedder_key(spec, COLUMNS, "fail")
    alias = "sentence-transformers/all-MiniLM-L6-v2"
    same = [replace(spec, device="cpu"), replace(spec, batch_size=7), replace(spec, model=alias)]
    assert all(chunks.embedder_key(s, COLUMNS, "fail") == key for s in same)
    different = [
        replace(spec, precision="fp32"),
        replace(spec, backend="onnx"),
        replace(spec, max_seq_length=256),
        replace(spec, normalize=False),
        replace(spec, model="fake:384"),
    ]
    keys = {chunks.embedder_key(s, COLUMNS, "fail") for s in different}
    assert key not in keys and len(keys) == len(different)
    assert chunks.embedder_key(spec, Columns("doc_id", "title", None), "fail") != key
    assert chunks.embedder_key(spec, COLUMNS, "skip") != key


def test_a_model_is_known_by_its_files_not_its_name(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(b"weights")
        (tmp_path / name / "README.md").write_text(f"model {name}")
    packaged.digest.cache_clear()
    assert packaged.digest(str(tmp_path / "a")) == packaged.digest(str(tmp_path / "b"))
    (tmp_path / "b" / "model.safetensors").write_bytes(b"other weights")
    packaged.digest.cache_clear()
    assert packaged.digest(str(tmp_path / "a")) != packaged.digest(str(tmp_path / "b"))
    assert packaged.digest("fake:16") == "fake:16"


def _store_with_two(root):
    import pyarrow as pa

    store = chunks.Store(str(root), "emb")
    schema = pa.schema([("x", pa.int64())])
    for key, values in (("k1", [1, 2]), ("k2", [3, 4, 5])):
        store.commit(key, [pa.record_batch([pa.array(values)], schema=schema)], schema)
    return store


def test_a_done_chunk_is_reused(tmp_path):
    store = _store_with_two(tmp_path)
    assert store.done("k1")["rows"] == 2 and store.done("k2")["rows"] == 3


def test_a_sidecar_of_the_wrong_shape_is_no_chunk(tmp_path, caplog):
    import json

    store = _store_with_two(tmp_path)
    (tmp_path / store.folder / "k1.json").write_text(json.dumps({"bytes": "12", "sha256": 5}))
    (tmp_path / store.folder / "k2.json").write_text("[1, 2]")
    assert store.done("k1") is None and store.done("k2") is None
    assert sum("not a chunk sidecar" in m for m in caplog.messages) == 2


def test_random_bytes_with_a_matching_sidecar_are_no_chunk(tmp_path, caplog):
    import json

    from transforms.storage import integrity

    store = _store_with_two(tmp_path)
    path = tmp_path / store.folder / "k1.arrow"
    path.write_bytes(b"\x00garbage" * 100)
    record = {**integrity.of_file(str(path)).to_json(), "rows": 2}
    (tmp_path / store.folder / "k1.json").write_text(json.dumps(record))
    assert store.done("k1") is None and any("unreadable chunk" in m for m in caplog.messages)


def test_swapped_chunks_are_no_chunks(tmp_path, caplog):
    store = _store_with_two(tmp_path)
    folder = tmp_path / store.folder
    for ext in ("arrow", "json"):
        (folder / f"k1.{ext}").rename(folder / f"tmp.{ext}")
        (folder / f"k2.{ext}").rename(folder / f"k1.{ext}")
        (folder / f"tmp.{ext}").rename(folder / f"k2.{ext}")
    assert store.done("k1") is None and store.done("k2") is None
    assert any("holds chunks/emb/k2, not this chunk" in m for m in caplog.messages)
