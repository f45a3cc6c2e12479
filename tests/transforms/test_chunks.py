"""Chunk keys carry what decides a text's vector, and nothing else."""

from __future__ import annotations

from dataclasses import replace

from transforms import chunks, models
from transforms.embedder import EmbedderSpec
from transforms.reading import Columns

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
    models.digest.cache_clear()
    assert models.digest(str(tmp_path / "a")) == models.digest(str(tmp_path / "b"))
    (tmp_path / "b" / "model.safetensors").write_bytes(b"other weights")
    models.digest.cache_clear()
    assert models.digest(str(tmp_path / "a")) != models.digest(str(tmp_path / "b"))
    assert models.digest("fake:16") == "fake:16"
