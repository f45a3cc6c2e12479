import numpy as np

from transforms import building, codec, encoding, ids, search


def test_sharded_search_equals_single_index_search():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3000, 32)).astype("float32")
    trained = codec.train(x, "IVF32,PQ8x5")
    row_ids = np.array([ids.row_id(f"doc-{i}") for i in range(len(x))], dtype=np.int64)
    codes = encoding.encode_vectors(trained, x)
    single = building.build_from_codes(trained, codes, row_ids)
    shard_of = row_ids % 4
    shards = [
        building.build_from_codes(trained, codes[shard_of == s], row_ids[shard_of == s]) for s in range(4)
    ]
    for index in (single, *shards):
        codec.set_nprobe(index, 8)
    queries = rng.standard_normal((40, 32)).astype("float32")
    d1, i1 = single.search(queries, 10)
    merged = search.search_shards(shards, queries, 10)
    assert np.array_equal(merged.ids, i1)
    assert np.allclose(merged.distances, d1)


def test_merge_topk_drops_missing_results():
    a = search.Hits(np.array([[0.1, 0.5]], np.float32), np.array([[1, -1]]))
    b = search.Hits(np.array([[0.2, 0.3]], np.float32), np.array([[2, 3]]))
    merged = search.merge_topk([a, b], 3)
    assert merged.ids.tolist() == [[1, 2, 3]]


def test_cosine_from_l2():
    assert np.allclose(search.cosine_from_l2(np.array([0.0, 2.0])), [1.0, 0.0])
