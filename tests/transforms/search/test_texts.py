import pyarrow as pa
import pyarrow.parquet as pq

from transforms.read.reading import Columns
from transforms.search import texts
from transforms.storage import fingerprint

COLUMNS = Columns(id="doc_id", text="body", label="topic")


def _write(path, bodies, row_group_size=2):
    table = pa.table(
        {"doc_id": [f"d{i}" for i in range(len(bodies))], "body": bodies, "topic": [1] * len(bodies)}
    )
    pq.write_table(table, path, row_group_size=row_group_size)
    return str(path)


def test_texts_are_read_by_file_and_row_across_row_groups(tmp_path):
    a = _write(tmp_path / "a.parquet", ["zero", "one", "two", "three", "four"])
    b = _write(tmp_path / "b.parquet", ["bee"])
    found = texts.fetch([(a, 4), (a, 1), (b, 0), (a, 1)], COLUMNS)
    assert found == {
        (a, 4): texts.Text("four", "1"),
        (a, 1): texts.Text("one", "1"),
        (b, 0): texts.Text("bee", "1"),
    }
    assert texts.fetch([(a, 0)], Columns(id="doc_id", text="body"))[(a, 0)] == texts.Text("zero", None)


def test_a_gone_or_changed_file_gives_a_note_not_a_possibly_wrong_text(tmp_path):
    a = _write(tmp_path / "a.parquet", ["zero", "one"])
    b = _write(tmp_path / "b.parquet", ["bee"])
    versions = {a: fingerprint.file_version(a), b: fingerprint.file_version(b)}
    _write(tmp_path / "a.parquet", ["other", "texts", "now"])  # rewritten after the run read it
    (tmp_path / "b.parquet").unlink()
    found = texts.fetch([(a, 0), (b, 0)], COLUMNS, versions)
    assert found[(a, 0)] == texts.Text(None, None, "the input file changed since this run read it")
    assert found[(b, 0)] == texts.Text(None, None, "the input file is gone")
