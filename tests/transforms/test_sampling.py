import numpy as np
import pyarrow as pa

from transforms import arrow_files, sampling, schemas


def _shards(tmp_path, x, n, tag):
    urls = []
    for s in range(n):
        rows = np.arange(s, len(x), n)
        table = pa.table(
            {
                "doc_id": [str(i) for i in rows],
                "row_id": rows.astype(np.int64),
                "label": [None] * len(rows),
                "embedding": arrow_files.vector_array(x[rows]),
            }
        )
        url = str(tmp_path / f"{tag}-{s}.arrow")
        arrow_files.write_table(url, table, schemas.embeddings(x.shape[1], "fake"))
        urls.append(url)
    return urls


def test_bottom_k_is_independent_of_sharding_and_seeded(tmp_path):
    x = np.random.default_rng(0).standard_normal((1000, 8)).astype("float32")
    a = sampling.bottom_k(_shards(tmp_path, x, 1, "one"), 100, seed=5)
    b = sampling.bottom_k(_shards(tmp_path, x, 7, "seven")[::-1], 100, seed=5)
    assert np.array_equal(a.row_ids, b.row_ids)
    assert np.array_equal(a.vectors, x[a.row_ids])
    c = sampling.bottom_k(_shards(tmp_path, x, 1, "again"), 100, seed=6)
    assert not np.array_equal(a.row_ids, c.row_ids)


def test_bottom_k_larger_than_corpus_returns_everything(tmp_path):
    x = np.ones((30, 4), np.float32)
    assert len(sampling.bottom_k(_shards(tmp_path, x, 2, "s"), 100, seed=0).row_ids) == 30
