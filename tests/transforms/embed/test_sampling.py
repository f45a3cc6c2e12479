import numpy as np

from tests.conftest import batches_of, shard_urls, write_chunk_files, write_embedding_shards
from transforms.embed import sampling
from transforms.embed.ids import mix64


def test_bottom_ids_are_independent_of_sharding_and_seeded(tmp_path):
    x = np.random.default_rng(0).standard_normal((1000, 8)).astype("float32")
    one = write_embedding_shards(shard_urls(tmp_path, 1, "one"), x)
    seven = write_embedding_shards(shard_urls(tmp_path, 7, "seven"), x)[::-1]
    a = sampling.bottom_ids(batches_of(one, ["row_id"]), 100, seed=5)
    assert np.array_equal(a, sampling.bottom_ids(batches_of(seven, ["row_id"]), 100, seed=5))
    assert np.array_equal(a, np.sort(np.argsort(mix64(np.arange(1000, dtype=np.int64), 5))[:100]))
    assert not np.array_equal(a, sampling.bottom_ids(batches_of(one, ["row_id"]), 100, seed=6))


def test_a_sample_larger_than_the_corpus_is_the_corpus(tmp_path):
    urls = write_embedding_shards(shard_urls(tmp_path, 2, "s"), np.ones((30, 4), np.float32))
    assert sampling.bottom_ids(batches_of(urls, ["row_id"]), 100, seed=0).tolist() == list(range(30))


def test_a_sample_reads_the_drawn_rows_vectors_and_labels(tmp_path):
    x = np.random.default_rng(1).standard_normal((1000, 4)).astype("float32")
    labels = [f"l{i % 7}" for i in range(1000)]
    emb = write_chunk_files(str(tmp_path / "out"), x, labels, per_chunk=128)
    sample = emb.sample(100, seed=3)
    assert np.array_equal(sample.row_ids, sampling.bottom_ids(emb.batches(["row_id"]), 100, seed=3))
    assert np.array_equal(sample.vectors, x[sample.row_ids])
    assert sample.labels == [labels[i] for i in sample.row_ids]


def test_the_cutoff_tells_the_rows_a_sample_did_not_draw(tmp_path):
    x = np.random.default_rng(0).standard_normal((1000, 4)).astype("float32")
    emb = write_chunk_files(str(tmp_path / "out"), x)
    sample = emb.sample(100, seed=3)
    unseen = sampling.unseen(3, sampling.cutoff(sample, 3))
    everything = np.arange(1000, dtype=np.int64)
    assert set(everything[~unseen(everything)]) == set(sample.row_ids.tolist())
    rest = emb.sample(1000, seed=3, keep=unseen)
    assert len(rest.row_ids) == 900 and not set(rest.row_ids) & set(sample.row_ids)
    assert np.array_equal(rest.vectors, x[rest.row_ids])


def test_outside_keeps_the_ids_not_in_a_sorted_set():
    keep = sampling.outside(np.array([2, 5, 9], np.int64))
    assert keep(np.array([9, 1, 2, 10, 5, 6], np.int64)).tolist() == [False, True, False, True, False, True]
    assert sampling.outside(np.zeros(0, np.int64))(np.array([3], np.int64)).tolist() == [True]
