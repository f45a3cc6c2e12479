"""Stage code versions follow each stage's own imports, and file versions see a rewrite."""

import time

from transforms import fingerprint


def test_code_version_covers_a_stages_imports_and_nothing_else(tmp_path, monkeypatch):
    pkg = tmp_path / "transforms"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "embedder.py").write_text("def lazy():\n    from transforms import models\n")
    (pkg / "models.py").write_text("X = 1\n")
    (pkg / "codec.py").write_text("Y = 1\n")
    monkeypatch.setattr(fingerprint, "__file__", str(pkg / "fingerprint.py"))

    def version(*modules):
        fingerprint.code_version.cache_clear()
        return fingerprint.code_version(*modules)

    embed, fit, everything = version("transforms.embedder"), version("transforms.codec"), version()
    (pkg / "codec.py").write_text("Y = 2\n")
    assert version("transforms.embedder") == embed  # the codec is not part of the embed stage's code
    assert version("transforms.codec") != fit
    assert version() != everything
    (pkg / "models.py").write_text("X = 2\n")  # imported lazily, inside a function: still followed
    assert version("transforms.embedder") != embed
    fingerprint.code_version.cache_clear()


def test_stage_key_changes_with_parameters_not_with_dict_order():
    code = ("transforms.codec",)
    a = fingerprint.stage_key("fit", code, {"a": 1, "b": 2})
    assert a == fingerprint.stage_key("fit", code, {"b": 2, "a": 1})
    assert a != fingerprint.stage_key("fit", code, {"a": 1, "b": 3})
    assert a != fingerprint.stage_key("encode", code, {"a": 1, "b": 2})


def test_file_version_changes_when_a_file_is_rewritten(tmp_path):
    path = tmp_path / "a.parquet"
    path.write_bytes(b"one")
    before = fingerprint.file_version(str(path))
    time.sleep(0.01)
    path.write_bytes(b"two!")
    assert fingerprint.file_version(str(path)) != before
