import numpy as np

from tests.conftest import write_chunk_files
from transforms.search import evaluation, neighbours

NEED = 6  # k = 5, and the query itself


def _sets(emb):
    """The evaluation's two query sets: all documents, and those an (odd-id) filter keeps."""
    odd = lambda ids: ids % 2 == 1  # noqa: E731
    return [("all", emb.sample(120, 1), None), ("unseen", emb.sample(80, 1, odd), odd)]


def _night(tmp_path, name, vectors: dict[int, np.ndarray]):
    ids = np.array(sorted(vectors))
    return write_chunk_files(
        str(tmp_path / name), np.stack([vectors[i] for i in ids]), per_chunk=700, ids=ids
    )


def test_carried_lists_are_the_exact_lists_night_after_night(tmp_path):
    """Lists carried over (deleted and changed rows left out, new and changed rows searched) are what a full
    search finds, over nights that delete, change and add documents."""
    rng = np.random.default_rng(0)
    corpus = {i: v for i, v in enumerate(rng.standard_normal((3000, 16)).astype(np.float32))}
    emb = _night(tmp_path, "n0", corpus)
    lists, carried = evaluation.exact_lists(emb, _sets(emb), NEED, None, "u")
    assert carried == 0
    for night in range(1, 4):
        ids = np.array(sorted(corpus))
        gone = rng.choice(ids, 30, replace=False)
        changed = rng.choice(np.setdiff1d(ids, gone), 60, replace=False)
        for i in gone:
            del corpus[i]
        for i in changed:
            corpus[i] = rng.standard_normal(16).astype(np.float32)
        for i in range(max(corpus) + 1, max(corpus) + 41):
            corpus[i] = rng.standard_normal(16).astype(np.float32)
        same = np.setdiff1d(ids, np.concatenate([gone, changed]))
        emb = _night(tmp_path, f"n{night}", corpus)
        before = neighbours.Before(neighbours.Kept(lists, "e", "u"), same)
        lists, carried = evaluation.exact_lists(emb, _sets(emb), NEED, before, "u")
        full, _ = evaluation.exact_lists(emb, _sets(emb), NEED, None, "u")
        assert carried > 150  # most queries searched the 100 new and changed documents alone
        for name in ("all", "unseen"):
            assert np.array_equal(lists[name].row_ids, full[name].row_ids)
            assert np.array_equal(lists[name].ids[:, :NEED], full[name].ids[:, :NEED]), (night, name)
            assert np.allclose(lists[name].dist[:, :NEED], full[name].dist[:, :NEED])


def test_lists_of_another_unseen_set_are_not_carried(tmp_path):
    rng = np.random.default_rng(1)
    emb = write_chunk_files(str(tmp_path), rng.standard_normal((500, 8)).astype(np.float32))
    lists, _ = evaluation.exact_lists(emb, _sets(emb), NEED, None, "u1")
    before = neighbours.Before(neighbours.Kept(lists, "e", "u1"), np.arange(500))
    _, carried = evaluation.exact_lists(emb, _sets(emb), NEED, before, "u2")  # the codec saw others
    assert carried == len(lists["all"].row_ids)  # the "all" set alone


def test_kept_lists_round_trip_through_their_file(tmp_path):
    from transforms.storage import integrity

    rng = np.random.default_rng(2)
    emb = write_chunk_files(str(tmp_path), rng.standard_normal((10, 8)).astype(np.float32))
    lists, _ = evaluation.exact_lists(emb, _sets(emb), NEED, None, "u")
    assert lists["all"].complete.all()  # 10 documents: each list holds every one the query may find
    url = str(tmp_path / "exact.arrow")
    neighbours.write(url, neighbours.Kept(lists, "e", "u"))
    back = neighbours.read(url, integrity.of_file(url).to_json())
    assert back.embedder == "e" and back.unseen == "u" and set(back.lists) == {"all", "unseen"}
    for name, lst in lists.items():
        for a, b in zip(lst, back.lists[name], strict=True):
            assert np.array_equal(a, b)


def test_a_list_worn_short_by_deletions_is_searched_in_full():
    kept = neighbours.Lists(
        np.array([7]),
        np.array([[7, 1, 2, 3, 4, 5, 6, 8]]),
        np.arange(8, dtype=np.float32)[None],
        np.array([False]),
    )
    same = np.array([1, 2, 7])  # most of its neighbours changed or were deleted
    carry = neighbours.carry(kept, np.array([7]), same, NEED)
    assert not carry.reuse[0]
    assert neighbours.carry(kept, np.array([7]), np.arange(10), NEED).reuse[0]
    # the query itself changed: searched in full
    assert not neighbours.carry(kept, np.array([7]), np.arange(7), NEED).reuse[0]
