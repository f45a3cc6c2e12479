import faiss
import numpy as np
import pyarrow as pa
import pytest

from transforms.codec import refine
from transforms.search import shared
from transforms.search.search import search_shards
from transforms.storage import arrow_files, integrity, schemas


def _two_tier(tmp_path, x, factor):
    """A real two-tier shard over ``x``: RaBitQ codes in memory, SQ8 codes in a code file re-ranking them."""
    quantizer = refine.train(x, "SQ8")
    fine = quantizer.sa_encode(x)
    url = str(tmp_path / "codes.arrow")
    schema = schemas.code_file(1, fine.shape[1], "fp")
    coarse = np.zeros((len(x), 1), np.uint8)
    arrow_files.write_table(
        url, pa.table([arrow_files.code_array(coarse), arrow_files.code_array(fine)], schema=schema), schema
    )
    listed = [{"url": url, "path": "codes.arrow", **integrity.of_file(url).to_json()}]
    where = refine.schema(fine.shape[1], "fp", "SQ8")
    rows = np.arange(len(x))
    table = pa.table(
        [
            pa.array(rows + 1000, pa.int64()),
            pa.array(np.zeros(len(x), np.int32)),
            pa.array(rows.astype(np.int32)),
        ],
        schema=where,
    )
    shard_url = str(tmp_path / "refine.arrow")
    arrow_files.write_table(shard_url, table, where)
    store = refine.Store(shard_url, None, refine.CodeFiles(str(tmp_path), listed))
    index = faiss.index_factory(x.shape[1], "RaBitQ")
    index.train(x)
    index.add(x)
    return refine.Reranked(index, store, quantizer, factor)


@pytest.fixture
def shards(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 16)).astype(np.float32)
    flat = faiss.IndexIDMap(faiss.IndexFlatL2(16))
    flat.add_with_ids(x[:200], np.arange(200, dtype=np.int64) + 5000)  # a plain shard: ids given
    return [_two_tier(tmp_path, x[200:], factor=4), flat], rng


def _ask(rng, rows, k, dim=16):
    rows = np.sort(rows)
    return shared.Ask(
        rows, np.random.default_rng(int(rows.sum())).standard_normal((len(rows), dim)).astype(np.float32), k
    )


def test_shared_queries_get_the_answers_a_search_of_their_own_gives(shards, monkeypatch):
    indexes, rng = shards
    monkeypatch.setattr(shared, "TIMED", 5)  # most shared queries answered from the deep scan
    deep = _ask(rng, np.arange(0, 300, 2), 25)
    picked = np.concatenate([deep.row_ids[:100], [1, 3, 5, 7]])  # 100 shared, 4 not
    order = np.argsort(picked)
    shallow = shared.Ask(
        picked[order],
        np.concatenate([deep.vectors[:100], _ask(rng, np.array([1, 3, 5, 7]), 1).vectors])[order],
        11,
    )
    found = shared.search_both(indexes, shallow, deep)
    alone_shallow = search_shards(indexes, shallow.vectors, 11)
    alone_deep = search_shards(indexes, deep.vectors, 25)
    assert np.array_equal(found.shallow.ids, alone_shallow.ids)
    assert np.allclose(found.shallow.distances, alone_shallow.distances)
    assert np.array_equal(found.deep.ids, alone_deep.ids)
    assert found.latency_ms > 0
    # results come from both shards: the two-tier's row ids (1000 + position) and the plain one's
    assert (found.shallow.ids >= 5000).any() and (
        (found.shallow.ids >= 1000) & (found.shallow.ids < 5000)
    ).any()


def test_a_query_whose_vector_differs_between_the_sets_is_searched_on_its_own(shards, monkeypatch):
    indexes, rng = shards
    monkeypatch.setattr(shared, "TIMED", 0)
    deep = _ask(rng, np.arange(40), 20)
    other = deep.vectors.copy()
    other[::2] += 1.0  # same row ids, other vectors for half of them
    shallow = shared.Ask(deep.row_ids, other, 11)
    found = shared.search_both(indexes, shallow, deep)
    assert np.array_equal(found.shallow.ids, search_shards(indexes, other, 11).ids)


def test_the_deep_set_must_ask_at_least_as_many(shards):
    indexes, rng = shards
    with pytest.raises(ValueError, match="fewer"):
        shared.search_both(indexes, _ask(rng, np.arange(5), 10), _ask(rng, np.arange(5), 3))
