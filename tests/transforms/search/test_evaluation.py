import numpy as np

from tests.conftest import batches_of, shard_urls, write_embedding_shards
from transforms.search import evaluation


def test_exact_searches_over_shards_match_brute_force(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 16)).astype("float32")
    urls = write_embedding_shards(shard_urls(tmp_path, 3), x, ["a"] * 500)
    q = x[:20]
    odd = lambda ids: ids % 2 == 1  # noqa: E731 - a second ask, over the odd rows alone, in the same pass
    hits, among_odd = evaluation.exact_searches(batches_of(urls), [(q, 5, None), (q, 5, odd)])
    distances = ((q[:, None, :] - x[None]) ** 2).sum(-1)
    assert np.array_equal(hits.ids, np.argsort(distances, axis=1)[:, :5])
    odd_rows = np.arange(1, 500, 2)
    assert np.array_equal(among_odd.ids, odd_rows[np.argsort(distances[:, odd_rows], axis=1)[:, :5]])


def test_recall_and_self_removal():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    approx = np.array([[1, 3, 9], [7, 8, 9]])
    assert evaluation.recall_at_k(approx, exact, 3).tolist() == [2 / 3, 0.0]
    assert evaluation.drop_self(np.array([[7, 1, 2, 3]]), np.array([7]), 2).tolist() == [[1, 2]]


def test_knn_vote_breaks_ties_by_nearest():
    assert evaluation.knn_predict([["b", "a", "a", "b"], ["c", None], []]) == ["b", "c", None]
    label_of = {1: "x", 2: "x", 3: "y"}
    neighbours = np.array([[1, 2, 3], [3, 3, -1]])
    assert evaluation.knn_accuracy(neighbours, ["x", "x"], label_of) == 0.5


def test_lookup_labels_reads_only_what_is_asked(tmp_path):
    x = np.zeros((10, 4), np.float32)
    urls = write_embedding_shards(shard_urls(tmp_path, 2), x, [f"l{i}" for i in range(10)])
    assert evaluation.lookup_labels(batches_of(urls), np.array([3, 8, -1])) == {3: "l3", 8: "l8"}
