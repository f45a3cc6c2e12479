import dataclasses

import pyarrow as pa
import pytest

from tests.conftest import write_parquet
from transforms.read import reading, rows

COLUMNS = reading.Columns(id="doc_id", text="body", label="topic")


def test_missing_column_names_the_file_and_the_columns(tmp_path):
    write_parquet(pa.table({"doc_id": ["a"], "text": ["x"]}), str(tmp_path / "bad.parquet"))
    with pytest.raises(reading.InputError, match=r"bad\.parquet: the text column 'body' is missing"):
        reading.check_inputs(str(tmp_path), COLUMNS)


def test_mistyped_column_is_an_error(tmp_path):
    write_parquet(pa.table({"doc_id": [1.5], "body": ["x"], "topic": ["t"]}), str(tmp_path / "f.parquet"))
    with pytest.raises(reading.InputError, match="id column 'doc_id' has type double"):
        reading.check_inputs(str(tmp_path), COLUMNS)


def test_no_matching_files_is_an_error(tmp_path):
    with pytest.raises(reading.InputError, match="no Parquet files match"):
        reading.check_inputs(f"{tmp_path}/*.parquet", COLUMNS)


def test_unreadable_file_is_an_error(tmp_path):
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(reading.InputError, match="junk.parquet: not a readable Parquet file"):
        reading.check_inputs(str(tmp_path), COLUMNS)


def test_rows_carry_provenance_and_integer_ids_become_strings(memory_root):
    table = pa.table({"doc_id": [7, 8, None], "body": ["a b", None, "c"], "topic": [1, 2, 3]})
    url = write_parquet(table, f"{memory_root}/in.parquet")
    files = reading.check_inputs(f"{memory_root}/*.parquet", COLUMNS)
    assert files == [reading.InputFile(url, 3)]
    docs = list(rows.read_documents(url, COLUMNS))
    assert docs[0] == reading.Document("7", "a b", "1", url, 0)
    assert [d.row for d in docs] == [0, 1, 2]
    assert [reading.rejection(d) for d in docs] == [None, "null text", "null id"]
    assert reading.rejection(dataclasses.replace(docs[0], text="  \n")) == "empty text"
