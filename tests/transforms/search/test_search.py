import faiss
import numpy as np
import pytest

from transforms.codec import codec
from transforms.embed import ids
from transforms.index import building, encoding
from transforms.search import search


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


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("float32")


@pytest.mark.parametrize("factory", ["RQ4x6", "PCAR32,PQ8x5", "SQ4"])
def test_unit_decoded_search_ranks_unit_length_reconstructions(factory, tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    x = _unit(rng.standard_normal((2500, 32)))
    trained = codec.train(x, factory)
    row_ids = np.arange(7, 7 + len(x), dtype=np.int64) * 3
    index = building.build_from_codes(trained, encoding.encode_vectors(trained, x), row_ids)
    (tmp_path / "shard.faiss").write_bytes(faiss.serialize_index(index).tobytes())
    monkeypatch.setattr(search.UnitDecoded, "BLOCK", 700)  # several blocks, the last one short
    unit = search.load_index(str(tmp_path / "shard.faiss"), 1, unit_decode=True)
    queries = _unit(rng.standard_normal((30, 32)))
    dist, ids = unit.search(queries, 10)
    # the same ranking, computed the long way: decode all, scale to unit length, exact search
    rec = _unit(trained.sa_decode(encoding.encode_vectors(trained, x)))
    want_d, want_pos = faiss.knn(queries, rec, 10)
    assert np.array_equal(ids, row_ids[want_pos])
    assert np.allclose(dist, want_d, atol=1e-5)
    assert unit.ntotal == len(x)
    # more neighbours asked for than the shard holds: padded like faiss
    d_all, i_all = unit.search(queries[:2], len(x) + 5)
    assert (i_all[:, -5:] == -1).all() and np.isinf(d_all[:, -5:]).all()
    assert sorted(i_all[0, : len(x)].tolist()) == sorted(row_ids.tolist())


def test_unit_decoded_refuses_codes_without_vectors():
    rng = np.random.default_rng(6)
    x = _unit(rng.standard_normal((500, 16)))
    for factory in ("IVF4,PQ4x3", "LSH"):
        trained = codec.train(x, factory)
        index = building.build_from_codes(trained, encoding.encode_vectors(trained, x), np.arange(len(x)))
        with pytest.raises(ValueError, match="unit-length"):
            search.UnitDecoded(index)
