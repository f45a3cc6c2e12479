import numpy as np

from tests.conftest import batches_of, shard_urls, write_embedding_shards
from transforms import sampling


def test_bottom_k_is_independent_of_sharding_and_seeded(tmp_path):
    x = np.random.default_rng(0).standard_normal((1000, 8)).astype("float32")
    a = sampling.bottom_k(batches_of(write_embedding_shards(shard_urls(tmp_path, 1, "one"), x)), 100, seed=5)
    b = sampling.bottom_k(
        batches_of(write_embedding_shards(shard_urls(tmp_path, 7, "seven"), x)[::-1]), 100, seed=5
    )
    assert np.array_equal(a.row_ids, b.row_ids)
    assert np.array_equal(a.vectors, x[a.row_ids])
    c = sampling.bottom_k(
        batches_of(write_embedding_shards(shard_urls(tmp_path, 1, "again"), x)), 100, seed=6
    )
    assert not np.array_equal(a.row_ids, c.row_ids)


def test_bottom_k_larger_than_corpus_returns_everything(tmp_path):
    x = np.ones((30, 4), np.float32)
    assert (
        len(
            sampling.bottom_k(
                batches_of(write_embedding_shards(shard_urls(tmp_path, 2, "s"), x)), 100, seed=0
            ).row_ids
        )
        == 30
    )


def test_the_cutoff_tells_the_rows_a_sample_did_not_draw(tmp_path):
    x = np.random.default_rng(0).standard_normal((1000, 4)).astype("float32")
    urls = write_embedding_shards(shard_urls(tmp_path, 2), x)
    sample = sampling.bottom_k(batches_of(urls), 100, seed=3)
    unseen = sampling.unseen(3, sampling.cutoff(sample, 3))
    everything = np.arange(1000, dtype=np.int64)
    assert set(everything[~unseen(everything)]) == set(sample.row_ids.tolist())
    rest = sampling.bottom_k(batches_of(urls), 1000, seed=3, keep=unseen)
    assert len(rest.row_ids) == 900 and not set(rest.row_ids) & set(sample.row_ids)
