"""Stage keys follow parameters and format versions, and file versions see a rewrite."""

import time

from transforms.storage import fingerprint


def test_stage_key_changes_with_parameters_and_format_not_with_dict_order(monkeypatch):
    from transforms.storage import formats

    a = fingerprint.stage_key("fit", {"a": 1, "b": 2})
    assert a == fingerprint.stage_key("fit", {"b": 2, "a": 1})
    assert a != fingerprint.stage_key("fit", {"a": 1, "b": 3})
    assert a != fingerprint.stage_key("encode", {"a": 1, "b": 2})
    monkeypatch.setitem(formats.STAGES, "fit", formats.FIT + 1)  # what fit writes changed: redone
    assert a != fingerprint.stage_key("fit", {"a": 1, "b": 2})


def test_file_version_changes_when_a_file_is_rewritten(tmp_path):
    path = tmp_path / "a.parquet"
    path.write_bytes(b"one")
    before = fingerprint.file_version(str(path))
    time.sleep(0.01)
    path.write_bytes(b"two!")
    assert fingerprint.file_version(str(path)) != before
