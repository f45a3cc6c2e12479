import numpy as np

from transforms.embed import ids


def test_row_ids_are_stable_positive_int64():
    assert ids.row_id("doc-1") == ids.row_id("doc-1")
    assert ids.row_id("doc-1") != ids.row_id("doc-2")
    values = [ids.row_id(f"d{i}") for i in range(1000)]
    assert all(0 <= v < 2**63 for v in values)
    assert len(set(values)) == 1000


def test_shards_are_balanced_and_deterministic():
    counts = np.bincount([ids.shard_of(ids.row_id(f"d{i}"), 4) for i in range(4000)], minlength=4)
    assert counts.min() > 900


def test_mix64_depends_on_seed_not_order():
    x = np.arange(100, dtype=np.int64)
    assert np.array_equal(ids.mix64(x, 1)[::-1], ids.mix64(x[::-1], 1))
    assert not np.array_equal(ids.mix64(x, 1), ids.mix64(x, 2))


def test_row_ids_of_many_are_each_ones_row_id():
    docs = ["a", "é", "doc-123", "", "x" * 1000]
    assert ids.row_ids(docs).tolist() == [ids.row_id(d) for d in docs]
    assert ids.row_ids([]).dtype == np.int64 and len(ids.row_ids([])) == 0
