import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms.read import reading, rows

COLUMNS = reading.Columns(id="doc_id", text="body", label="topic")


def _group(path, table):
    pq.write_table(table, path)
    return reading.row_groups(str(path))[0]


def test_blank_is_exactly_what_str_strip_leaves_empty():
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    blank = pc.match_substring_regex(pa.array(chars, pa.string()), rows.BLANK).to_pylist()
    assert [c for c, b in zip(chars, blank, strict=True) if b] == [c for c in chars if not c.strip()]


def test_a_batch_rejects_the_rows_a_document_at_a_time_would(tmp_path):
    texts = ["a b", None, "", " \t\n", "\u3000\x1c", "x\u200b", "ok", "\xa0y\xa0"]
    table = pa.table(
        {
            "doc_id": ["1", "2", "3", None, "5", "6", "7", "8"],
            "body": texts,
            "topic": pa.array([True, False, None, True, True, False, True, False]),
        }
    )
    group = _group(tmp_path / "f.parquet", table)
    (batch,) = list(rows.read_rows(group, COLUMNS))
    docs = list(rows.read_row_group(group, COLUMNS))
    assert batch.rejections() == [reading.rejection(d) for d in docs]
    assert batch.rejections() == [None, "null text", "empty text", "null id", "empty text", None, None, None]
    assert batch.labels.to_pylist()[:3] == ["True", "False", None]  # as str() writes them


def test_integer_and_dictionary_columns_become_canonical_strings(tmp_path):
    table = pa.table(
        {
            "doc_id": pa.array([7, -8, None], pa.int64()),
            "body": pa.array(["a", "b", "c"], pa.large_string()),
            "topic": pa.array(["x", "y", "x"]).dictionary_encode(),
        }
    )
    (batch,) = list(rows.read_rows(_group(tmp_path / "f.parquet", table), COLUMNS))
    assert batch.ids.to_pylist() == ["7", "-8", None]
    assert batch.labels.to_pylist() == ["x", "y", "x"]
    assert batch.texts.type == pa.string()


def test_invalid_utf8_rejects_its_row_alone(tmp_path):
    body = pa.array([b"fine", b"bad \xff", b"also fine"], pa.binary()).cast(pa.string(), safe=False)
    table = pa.table({"doc_id": ["a", "b", "c"], "body": body, "topic": ["t", "t", "t"]})
    (batch,) = list(rows.read_rows(_group(tmp_path / "f.parquet", table), COLUMNS))
    assert batch.rejections() == [None, "invalid UTF-8 in the text column 'body' (byte 0xff at 4)", None]
    assert batch.texts.to_pylist() == ["fine", None, "also fine"]


def test_batches_cover_the_row_group_in_order(tmp_path):
    table = pa.table({"doc_id": [str(i) for i in range(10)], "body": ["t"] * 10, "topic": ["x"] * 10})
    found = list(rows.read_rows(_group(tmp_path / "f.parquet", table), COLUMNS, batch_size=4))
    assert [(b.first, len(b)) for b in found] == [(0, 4), (4, 4), (8, 2)]
    assert sum((b.ids.to_pylist() for b in found), []) == [str(i) for i in range(10)]
