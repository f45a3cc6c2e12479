import numpy as np
import pyarrow as pa
import pytest

from transforms.codec import refine
from transforms.storage import arrow_files, integrity, schemas
from transforms.storage.errors import VecpressError
from transforms.storage.layout import RunLayout


def _code_file(root, name, fine):
    """A code file under ``root`` holding ``fine`` as its fine codes; returns its listing."""
    path = f"chunks/e/codes/c/{name}.arrow"
    url = f"{root}/{path}"
    (root / "chunks/e/codes/c").mkdir(parents=True, exist_ok=True)
    schema = schemas.code_file(2, fine.shape[1], "fp")
    coarse = np.zeros((len(fine), 2), np.uint8)
    table = pa.table([arrow_files.code_array(coarse), arrow_files.code_array(fine)], schema=schema)
    arrow_files.write_table(url, table, schema)
    return {"url": url, "path": path, **integrity.of_file(url).to_json()}


def _run(root, listed, row_ids, files, rows, width):
    """A run with one refine shard over ``listed`` code files; returns its layout and records."""
    layout = RunLayout(str(root), "r", 1)
    (root / "runs/r/refine").mkdir(parents=True)
    refine.write_listing(layout.code_files, listed)
    schema = refine.schema(width, "fp", "SQ8")
    arrays = [pa.array(row_ids, pa.int64()), pa.array(files, pa.int32()), pa.array(rows, pa.int32())]
    arrow_files.write_table(layout.shard("refine", 0), pa.table(arrays, schema=schema), schema)
    return layout, integrity.describe(layout.root, ["refine"])


def _open(layout, records):
    files = refine.CodeFiles(layout.output, refine.read_listing(layout, records))
    rel = layout.shard_path("refine", 0)
    return refine.Store(layout.shard("refine", 0), records[rel], files), files


def test_fine_codes_are_read_from_the_code_files_the_run_lists(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 255, (5, 4), dtype=np.uint8), rng.integers(0, 255, (3, 4), dtype=np.uint8)
    listed = [_code_file(tmp_path, "a", a), _code_file(tmp_path, "b", b)]
    layout, records = _run(tmp_path, listed, [10, 11, 12, 13], [1, 0, 0, 1], [2, 4, 0, 0], 4)
    store, files = _open(layout, records)
    assert np.array_equal(store.gather(np.array([0, 1, 2, 3])), np.stack([b[2], a[4], a[0], b[0]]))
    assert np.array_equal(store.gather(np.array([3, 0])), np.stack([b[0], b[2]]))
    assert list(store.row_ids(np.array([2, -1]))) == [12, -1]
    assert [f["path"] for f in refine.read_listing(layout, records)] == [f["path"] for f in listed]
    # a second shard over the same code files opens nothing again
    other = refine.Store(layout.shard("refine", 0), None, files)
    assert other.code_files.fine(0, 4) is store.code_files.fine(0, 4)


def test_an_altered_code_file_or_list_is_refused_when_opened(tmp_path):
    fine = np.arange(12, dtype=np.uint8).reshape(3, 4)
    layout, records = _run(tmp_path, [_code_file(tmp_path, "a", fine)], [0, 1], [0, 0], [0, 1], 4)
    _code_file(tmp_path, "a", fine[::-1].copy())  # rewritten after the run listed it
    with pytest.raises(integrity.IntegrityError, match="chunks/e/codes/c/a.arrow"):
        _open(layout, records)
    refine.write_listing(layout.code_files, [_code_file(tmp_path, "a", fine[::-1].copy())])
    with pytest.raises(integrity.IntegrityError, match="code_files.json"):
        _open(layout, records)


def test_a_refine_shard_with_its_fine_codes_inline_is_still_read(tmp_path):
    """Runs published before the fine codes moved to the code files hold them in a ``code`` column."""
    fine = np.arange(12, dtype=np.uint8).reshape(3, 4)
    schema = pa.schema([("row_id", pa.int64()), ("code", pa.binary(4))], metadata={"vecpress.kind": "refine"})
    table = pa.table([pa.array([5, 6, 7], pa.int64()), arrow_files.code_array(fine)], schema=schema)
    arrow_files.write_table(f"{tmp_path}/old.arrow", table, schema)
    store = refine.Store(f"{tmp_path}/old.arrow")
    assert np.array_equal(store.gather(np.array([2, 0])), fine[[2, 0]])
    assert refine.read_listing(RunLayout(str(tmp_path), "old"), {}) == []


def test_a_shard_of_references_needs_its_code_files(tmp_path):
    listed = [_code_file(tmp_path, "a", np.zeros((2, 4), np.uint8))]
    layout, records = _run(tmp_path, listed, [0], [0], [1], 4)
    with pytest.raises(VecpressError, match="code files"):
        refine.Store(layout.shard("refine", 0), records[layout.shard_path("refine", 0)])
