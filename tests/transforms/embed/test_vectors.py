"""Vector files: a chunk's rows read with their vectors wherever they are kept, the same as inline."""

import numpy as np
import pyarrow as pa

from transforms.embed import chunks, vectors
from transforms.storage import arrow_files, io, schemas


def _rows(n: int, where: np.ndarray, rows: np.ndarray, bad: set[int]) -> pa.RecordBatch:
    ok = np.array([i not in bad for i in range(n)])
    return pa.RecordBatch.from_arrays(
        [
            pa.array([f"d{i}" for i in range(n)]),
            pa.array(np.arange(n), pa.int64()),
            pa.nulls(n, pa.string()),
            pa.array(["in.parquet"] * n),
            pa.array(np.arange(n), pa.int64()),
            pa.array([int(i).to_bytes(16, "big") for i in range(n)], schemas.TEXT_HASH),
            pa.array([None if k else "empty text" for k in ok], pa.string()),
            pa.array(where, pa.int32(), mask=~ok),
            pa.array(rows, pa.int64(), mask=~ok),
        ],
        schema=schemas.chunk_rows(4, "fake"),
    )


def test_a_chunk_reads_its_own_and_earlier_vectors_in_row_order(memory_root):
    store = chunks.Store(memory_root, "e")
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    first = vectors.Refs(store.root, "a", 4)
    f, at = first.own(x[:3])
    one = store.commit(
        "a", [_rows(3, np.full(3, f), at, set())], schemas.chunk_rows(4, "fake"), None, first.finish
    )
    # the second chunk: row 0 is the first chunk's row 2, row 1 is rejected, rows 2-4 are new
    second = vectors.Refs(store.root, "b", 4)
    earlier = second.refer(one["vectors"][0]["name"], one["vectors"][0])
    mine, at = second.own(x[3:6])
    where, rows = np.array([earlier, 0, mine, mine, mine]), np.array([2, 0, *at])
    two = store.commit("b", [_rows(5, where, rows, {1})], schemas.chunk_rows(4, "fake"), None, second.finish)
    assert [v["rows"] for v in two["vectors"]] == [3, 3]
    reader = vectors.ChunkReader.of(store.url("b"), two)
    batch = next(reader.batches(["doc_id", "embedding", "reason"]))
    got = batch.column("embedding")
    assert got.null_count == 1 and not got.is_valid()[1].as_py()
    assert np.array_equal(arrow_files.vectors(got.filter(got.is_valid())), np.stack([x[2], x[3], x[4], x[5]]))
    files = vectors.chunk_files([{"path": store.relative("b"), **two}])
    assert sorted(files) == sorted(
        [store.relative("b"), f"{store.folder}/a{vectors.SUFFIX}", f"{store.folder}/b{vectors.SUFFIX}"]
    )


def test_an_inline_chunk_reads_as_it_was_written(memory_root):
    store = chunks.Store(memory_root, "e")
    schema = schemas.chunk(4, "fake")
    x = np.ones((2, 4), np.float32)
    batch = pa.RecordBatch.from_arrays(
        [pa.array(["d0", "d1"]), pa.array([0, 1], pa.int64()), pa.nulls(2, pa.string()), pa.array(["f", "f"]),
         pa.array([0, 1], pa.int64()), pa.array([b"0" * 16, b"1" * 16], schemas.TEXT_HASH),
         pa.nulls(2, pa.string()), arrow_files.vector_array(x)],
        schema=schema,
    )  # fmt: skip
    record = store.commit("old", [batch], schema)
    reader = vectors.ChunkReader.of(store.url("old"), record)
    assert not reader.split and reader.sources == ()
    assert np.array_equal(arrow_files.vectors(next(reader.batches(["embedding"])).column("embedding")), x)


def test_an_aborted_chunk_leaves_no_vector_file(memory_root):
    refs = vectors.Refs(io.join(memory_root, "s"), "k", 4)
    refs.own(np.zeros((2, 4), np.float32))
    refs.abort()
    assert not io.exists(io.join(memory_root, "s", f"k{vectors.SUFFIX}"))
    import fsspec

    assert fsspec.filesystem("memory").glob(f"{memory_root}/s/*") == []


def test_a_killed_writer_leaves_a_temporary_gc_collects(memory_root):
    import fsspec

    refs = vectors.Refs(io.join(memory_root, "s"), "k", 4)
    refs.own(np.zeros((2, 4), np.float32))  # killed here: neither finish nor abort
    (left,) = fsspec.filesystem("memory").glob(f"{memory_root}/s/*")
    name = left.rsplit("/", 1)[-1]
    assert name.startswith(".tmp-k-") and name.endswith(".arrow")  # gc's rule for a chunk's temporaries


def test_a_vector_file_or_an_inline_chunk_is_usable_only_under_its_own_name(tmp_path):
    from tests.conftest import write_chunk_files

    emb = write_chunk_files(str(tmp_path / "out"), np.ones((10, 4), np.float32), per_chunk=5)
    first, second = (emb.url(i) for i in range(2))  # chunks with their vectors inline, as runs wrote them
    record = {"name": first.rsplit("/", 1)[-1], **emb.chunks[0]}
    assert vectors.problem(first, record) is None
    swapped = {"name": second.rsplit("/", 1)[-1], **emb.chunks[0]}  # another chunk's name and record
    assert "holds" in vectors.problem(first, swapped)
    assert "missing" in vectors.problem(first + ".gone", record)
