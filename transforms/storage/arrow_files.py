"""Arrow IPC shard files over fsspec: streaming readers and writers with explicit schemas."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from transforms.storage import io


def write_table(url: str, table: pa.Table, schema: pa.Schema) -> None:
    """Write ``table`` as one Arrow IPC file with exactly ``schema`` (cast, never inferred)."""
    table = table.cast(schema) if table.schema != schema else table
    with io.open_file(url, "wb") as handle, ipc.new_file(handle, schema) as writer:
        writer.write_table(table, max_chunksize=65536)


class BatchWriter:
    """Incremental Arrow IPC file writer: append record batches, close once. With ``compression`` ("zstd"),
    each batch's buffers are compressed: for files only ever streamed (a memory-mapped file is then read
    into memory, so files searched in place are never compressed)."""

    def __init__(self, url: str, schema: pa.Schema, compression: str | None = None):
        self._ctx = io.open_file(url, "wb")
        options = ipc.IpcWriteOptions(compression=compression)
        self._writer = ipc.new_file(self._ctx.__enter__(), schema, options=options)
        self.schema = schema
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def close(self) -> None:
        self._writer.close()
        self._ctx.__exit__(None, None, None)


def read_schema(url: str) -> pa.Schema:
    with io.open_file(url) as handle:
        return ipc.open_file(handle).schema


def num_rows(url: str) -> int:
    with io.open_file(url) as handle:
        reader = ipc.open_file(handle)
        return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))


def iter_batches(url: str, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Stream the record batches of one IPC file, optionally projected to ``columns``."""
    with io.open_file(url) as handle:
        reader = ipc.open_file(handle)
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i)
            yield batch.select(columns) if columns else batch


def read_table(url: str, columns: list[str] | None = None) -> pa.Table:
    batches = list(iter_batches(url, columns))
    if batches:
        return pa.Table.from_batches(batches)
    schema = read_schema(url)
    return schema.empty_table().select(columns) if columns else schema.empty_table()


def vectors(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A fixed-size-list<float32> column as a contiguous (n, d) float32 matrix."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    dim = column.type.list_size
    flat = column.flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(flat.reshape(-1, dim), dtype=np.float32)


def vector_array(matrix: np.ndarray) -> pa.FixedSizeListArray:
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])


def code_array(codes: np.ndarray) -> pa.FixedSizeBinaryArray:
    """(n, code_size) uint8 codes as a fixed-size binary column, without a Python loop."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    n, width = codes.shape
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(codes.tobytes())])


def code_view(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A fixed-size binary column as an (n, code_size) uint8 matrix over the column's own buffer (no copy
    when the column is one chunk, e.g. of a memory-mapped file)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    width = column.type.byte_width
    data = np.frombuffer(column.buffers()[1], dtype=np.uint8)
    start = column.offset * width
    return data[start : start + len(column) * width].reshape(len(column), width)


def code_matrix(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A fixed-size binary column back to an (n, code_size) uint8 matrix."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    width = column.type.byte_width
    data = np.frombuffer(column.buffers()[1], dtype=np.uint8)
    start = column.offset * width
    return data[start : start + len(column) * width].reshape(len(column), width).copy()


class Columnar:
    """One column of an Arrow file as (rows, width) matrices, one per record batch, each a view of the
    file's own buffer (memory-mapped: page cache, never a copy into the process's memory), addressed by
    row. Fixed-size binary (codes) or fixed-size lists of float32 (vectors; a rejected row of an inline
    chunk holds zeros under its null)."""

    def __init__(self, column: pa.ChunkedArray):
        binary = pa.types.is_fixed_size_binary(column.type)
        width = column.type.byte_width if binary else column.type.list_size
        self.parts = [_matrix(c) for c in column.chunks if len(c)]
        self.starts = np.cumsum([0] + [len(p) for p in self.parts])
        self.shape, self.dtype = (int(self.starts[-1]), width), np.dtype(np.uint8 if binary else np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The given rows, in order (a copy of those rows alone)."""
        out = np.empty((len(rows), self.shape[1]), self.dtype)
        part = np.searchsorted(self.starts, rows, side="right") - 1
        for p in np.unique(part):
            mask = part == p
            out[mask] = self.parts[p][rows[mask] - self.starts[p]]
        return out


def _matrix(chunk: pa.Array) -> np.ndarray:
    if pa.types.is_fixed_size_binary(chunk.type):
        return code_view(chunk)
    dim = chunk.type.list_size
    flat = chunk.values.to_numpy(zero_copy_only=False)
    return flat[chunk.offset * dim : (chunk.offset + len(chunk)) * dim].reshape(-1, dim)
