"""Bad input: every bad file, row group and row is refused by name or rejected with its reason."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.config import ReindexConfig
from flows.reindex import reindex
from tests.conftest import make_corpus, small_config, write_parquet
from tests.faults.conftest import FAKE, error_line, vecpress
from transforms.embedders import failures
from transforms.read import reading
from transforms.storage import arrow_files, io


def _config(root, **kw) -> ReindexConfig:
    return small_config(root, label_column="topic", codec="IVF4,SQ8", shards=2, **kw)


def _rejects(root) -> list[dict]:
    from transforms.run import publish

    layout, _ = publish.current(str(root / "index"))
    return arrow_files.read_table(layout.rejects).to_pylist()


def _corrupt_row_group(path, group: int) -> None:
    """Scramble the middle of one row group's text column pages; the footer stays intact."""
    meta = pq.ParquetFile(path).metadata.row_group(group).column(1)
    data = bytearray(path.read_bytes())
    start = meta.data_page_offset + meta.total_compressed_size // 3
    for i in range(start, start + 64):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _paged_corpus(path, n: int = 900):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(make_corpus(n), path, row_group_size=300, compression="zstd", use_dictionary=False)
    return path


def test_a_corrupt_page_fails_the_run_naming_file_and_rows_and_is_not_retried(tmp_path, cli_env):
    path = _paged_corpus(tmp_path / "in" / "a.parquet")
    _corrupt_row_group(path, 1)
    res = vecpress(
        "run", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "index"), *FAKE, env=cli_env
    )
    assert res.returncode == 2
    line = error_line(res)
    assert f"{path}: rows 300-599 (row group 1) cannot be decoded" in line and "--on-bad-file skip" in line
    assert "Retry" not in res.stderr  # an expected error: the same again cannot succeed
    assert not (tmp_path / "index" / "CURRENT").exists() and not (tmp_path / "index" / "LOCK").exists()


def test_with_skip_the_rows_of_a_corrupt_page_are_rejected_and_the_rest_indexed(prefect_server, tmp_path):
    path = _paged_corpus(tmp_path / "in" / "a.parquet")
    _corrupt_row_group(path, 1)
    manifest = reindex(_config(tmp_path, on_bad_file="skip"))
    assert manifest["counts"]["read"] == 900 and manifest["counts"]["rejected"] == 300
    assert manifest["counts"]["indexed"] == 600
    rejects = _rejects(tmp_path)
    assert [r["row"] for r in rejects] == list(range(300, 600))
    assert all(r["file"] == str(path) and "(row group 1) cannot be decoded" in r["reason"] for r in rejects)


def test_invalid_utf8_rows_are_rejected_with_their_reason(prefect_server, tmp_path):
    good = make_corpus(300)
    raw = pa.array([b"fine words here", b"broken \xff\xfe bytes", b"more fine words"], pa.binary())
    text = pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())  # a string column, bytes unchecked
    bad = pa.table({"doc_id": ["u1", "u2", "u3"], "body": text, "topic": ["cars"] * 3})
    write_parquet(good, str(tmp_path / "in" / "a.parquet"))
    write_parquet(bad, str(tmp_path / "in" / "b.parquet"))
    manifest = reindex(_config(tmp_path))
    assert manifest["counts"] == {"read": 303, "embedded": 302, "rejected": 1, "indexed": 302, "encoded": 302}
    (reject,) = _rejects(tmp_path)
    assert reject["row"] == 1 and reject["doc_id"] == "u2" and reject["file"].endswith("b.parquet")
    assert reject["reason"] == "invalid UTF-8 in the text column 'body' (byte 0xff at 7)"


def test_unreadable_files_fail_by_name_or_with_skip_are_listed(prefect_server, tmp_path):
    write_parquet(make_corpus(300), str(tmp_path / "in" / "a.parquet"))
    whole = io.read_bytes(str(tmp_path / "in" / "a.parquet"))
    (tmp_path / "in" / "truncated.parquet").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "in" / "notes.parquet").write_bytes(b"this is not parquet at all")
    with pytest.raises(reading.InputError, match=r"notes\.parquet: not a readable Parquet file"):
        reindex(_config(tmp_path))
    manifest = reindex(_config(tmp_path, on_bad_file="skip"))
    assert manifest["counts"]["indexed"] == 300
    assert sorted(f["file"].rsplit("/", 1)[1] for f in manifest["skipped_files"]) == [
        "notes.parquet",
        "truncated.parquet",
    ]


def test_schema_drift_in_one_file_names_that_file(prefect_server, tmp_path):
    write_parquet(make_corpus(300), str(tmp_path / "in" / "a.parquet"))
    drifted = pa.table({"doc_id": ["x"], "body": [3.5], "topic": ["cars"]})
    write_parquet(drifted, str(tmp_path / "in" / "b.parquet"))
    with pytest.raises(reading.InputError, match=r"b\.parquet: the text column 'body' has type double"):
        reindex(_config(tmp_path))
    assert not io.exists(str(tmp_path / "index" / "runs"))


def test_nulls_blanks_duplicates_and_odd_texts_add_up(prefect_server, tmp_path):
    odd = [
        "x" * 2_000_000,  # a 2 MB text
        "emoji 🚀🛰️ and accents é ü ñ",
        "control\x00chars\x07and\ttabs",
        "עברית right to left",
        "\u200b\u200bzero width",
        "ok",
    ]
    table = pa.table(
        {
            "doc_id": [f"odd-{i}" for i in range(len(odd))] + ["dup", "dup", None, "blank", "null"],
            "body": odd + ["first", "second", "no id", "   \n\t", None],
            "topic": ["cars"] * (len(odd) + 5),
        }
    )
    write_parquet(make_corpus(300), str(tmp_path / "in" / "a.parquet"))
    write_parquet(table, str(tmp_path / "in" / "b.parquet"))
    manifest = reindex(_config(tmp_path))
    counts = manifest["counts"]
    assert counts == {"read": 311, "embedded": 307, "rejected": 4, "indexed": 307, "encoded": 307}
    reasons = sorted(r["reason"] for r in _rejects(tmp_path))
    assert reasons[1:] == ["empty text", "null id", "null text"]
    assert reasons[0] == f"duplicate id (first seen in {tmp_path / 'in' / 'b.parquet'} row 6)"


def test_empty_inputs(prefect_server, tmp_path):
    with pytest.raises(reading.InputError, match="no Parquet files match"):
        reindex(_config(tmp_path).model_copy(update={"input": str(tmp_path / "in" / "*.parquet")}))
    write_parquet(make_corpus(1).slice(0, 0), str(tmp_path / "in" / "empty.parquet"))
    with pytest.raises(reading.InputError, match="no documents to index: all 0 rows"):
        reindex(_config(tmp_path))
    write_parquet(make_corpus(300), str(tmp_path / "in" / "a.parquet"))  # a zero-row file beside it is fine
    assert reindex(_config(tmp_path))["counts"]["indexed"] == 300


def test_hive_partitioned_directories_are_read_recursively(prefect_server, tmp_path):
    corpus = make_corpus(400)
    write_parquet(corpus.slice(0, 200), str(tmp_path / "in" / "year=2020" / "part-0.parquet"))
    write_parquet(corpus.slice(200), str(tmp_path / "in" / "year=2021" / "month=1" / "part-0.parquet"))
    (tmp_path / "in" / "_SUCCESS").write_text("")
    assert reindex(_config(tmp_path))["counts"]["indexed"] == 400


def test_a_file_that_changes_during_the_run_is_named(prefect_server, tmp_path):
    """The run records each file's version when it checks the inputs; the embed stage reads the file later
    and compares. Here the file is rewritten between the two, as a producer appending to it would."""
    from flows import tasks
    from transforms.storage.layout import RunLayout

    path = str(tmp_path / "in" / "a.parquet")
    write_parquet(make_corpus(300), path)
    config = _config(tmp_path)
    files, versions, _ = tasks.check_inputs.fn(config)
    write_parquet(make_corpus(310), path)
    layout = RunLayout(config.output, "changing")
    with pytest.raises(reading.InputError, match=rf"{path}: changed while the run was reading it"):
        tasks.embed.fn(config, layout, files, versions, 16, None)


class _Refuses:
    """An embedder that fails on texts containing a marker, as a model fails on input it cannot take."""

    dim = 4

    def encode(self, texts: list[str]) -> np.ndarray:
        if any("\ufffe" in t for t in texts):
            raise ValueError("token out of range")
        return np.ones((len(texts), self.dim), np.float32)


def test_a_text_the_model_cannot_take_is_rejected_alone():
    out = failures.encode_or_explain(_Refuses(), ["fine", "bad \ufffe", "also fine"])
    assert [isinstance(v, np.ndarray) for v in out] == [True, False, True]
    assert out[1] == "the model cannot embed this text: ValueError: token out of range"
    nan = failures.encode_or_explain(
        type("NaN", (), {"encode": lambda self, t: np.full((len(t), 2), np.nan)})(), ["x"]
    )
    assert nan == ["the model returned a non-finite vector (NaN or inf)"]
