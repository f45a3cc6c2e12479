"""positions.Rows: a shard's row ids by position, from a local file or an object store (both mapped)."""

import tracemalloc

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from transforms.storage import positions


def _id_map(n: int, batch_rows: int) -> bytes:
    """An id map's shape: row ids with the doc ids and places an object store should not send."""
    table = pa.table(
        {
            "row_id": pa.array(10**12 + 7 * np.arange(n), pa.int64()),
            "doc_id": [f"doc-{i:012d}" for i in range(n)],
            "place": pa.array(np.arange(n), pa.int64()),
        }
    )
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


@pytest.fixture
def remote():
    fs = fsspec.filesystem("memory")
    url = "memory://positions-test/idmap.arrow"
    fs.pipe(url, _id_map(20_000, 3_000))
    yield fs, url
    fs.rm("memory://positions-test", recursive=True)


@pytest.mark.parametrize("columns", [None, ("row_id",)])
def test_an_object_store_file_is_mapped_from_a_local_copy_holding_nothing(remote, columns):
    fs, url = remote
    tracemalloc.start()
    before = pa.total_allocated_bytes()
    rows = positions.Rows(url, columns=columns)
    held = tracemalloc.get_traced_memory()[0] + pa.total_allocated_bytes() - before
    tracemalloc.stop()
    assert held < fs.size(url) / 20  # its batches are views of the mapped copy, not bytes read
    assert rows.rows == 20_000 and rows.copy is not None
    assert all(b.schema.names == list(columns or ["row_id", "doc_id", "place"]) for b in rows.batches)
    where = np.array([[0, 2_999, 3_000], [19_999, -1, 12_345]])
    assert (rows.row_ids(where) == np.where(where >= 0, 10**12 + 7 * where, -1)).all()


def test_without_columns_every_column_is_there(remote):
    fs, url = remote
    rows = positions.Rows(url)
    assert rows.batches[0].schema.names == ["row_id", "doc_id", "place"] and rows.rows == 20_000


def test_a_local_id_map_reads_the_same_row_ids(remote, tmp_path):
    fs, url = remote
    local = tmp_path / "idmap.arrow"
    local.write_bytes(fs.cat(url))
    here, there = positions.Rows(str(local), columns=("row_id",)), positions.Rows(url, columns=("row_id",))
    where = np.arange(0, 20_000, 997)
    assert (here.row_ids(where) == there.row_ids(where)).all()


def test_a_file_without_the_column_is_one_clear_error(remote):
    _, url = remote
    with pytest.raises(
        positions.PositionError, match=r"idmap\.arrow: no column code \(it has row_id, doc_id"
    ):
        positions.Rows(url, columns=("row_id", "code"))
