import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from transforms.storage import arrow_files


def _batch(schema, x, codes):
    if not len(x):
        return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)
    arrays = [arrow_files.vector_array(x), arrow_files.code_array(codes)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def test_a_column_of_many_batches_is_taken_by_row_without_a_copy_of_the_file(tmp_path):
    x = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    codes = np.arange(10 * 2, dtype=np.uint8).reshape(10, 2)
    schema = pa.schema([("embedding", pa.list_(pa.float32(), 3)), ("code", pa.binary(2))])
    writer = arrow_files.BatchWriter(str(tmp_path / "f.arrow"), schema)
    for lo, hi in ((0, 4), (4, 4), (4, 9), (9, 10)):  # an empty batch too
        writer.write(_batch(schema, x[lo:hi], codes[lo:hi]))
    writer.close()
    table = ipc.open_file(pa.memory_map(str(tmp_path / "f.arrow"))).read_all()
    vectors, code = (
        arrow_files.Columnar(table.column("embedding")),
        arrow_files.Columnar(table.column("code")),
    )
    assert vectors.shape == (10, 3) and code.shape == (10, 2) and len(vectors.parts) == 3
    rows = np.array([9, 0, 4, 3, 8, 4])
    assert np.array_equal(vectors.take(rows), x[rows]) and np.array_equal(code.take(rows), codes[rows])
    assert not any(p.flags.owndata for p in vectors.parts + code.parts)  # views of the mapped file
