"""Search a published run as `vecpress search` does: every shard, ids back to documents, their texts."""

import shutil

import pytest

from tests.conftest import make_corpus, small_config, write_parquet
from transforms.search.query import PublishedIndex


@pytest.fixture(scope="module")
def index(published):
    return PublishedIndex(str(published))


def test_a_query_finds_its_topic_with_texts_and_labels_from_the_input(index):
    (hits,) = index.search(["nasa orbit shuttle launch"], 5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert all(h.label == "space" for h in hits)
    assert all(h.text and "nasa" in h.text or "orbit" in h.text for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    bare = index.search(["nasa orbit shuttle launch"], 5, with_text=False)[0]
    assert [h.doc_id for h in bare] == [h.doc_id for h in hits] and all(h.text is None for h in bare)


def test_a_document_finds_itself_first_whatever_lists_are_probed(index, published):
    row = make_corpus(600).slice(7, 1).to_pylist()[0]
    for nprobe, rerank in ((None, None), (4, None), (1, 2)):
        (hits,) = index.search([row["body"]], 3, with_text=False, nprobe=nprobe, rerank=rerank)
        assert hits[0].doc_id == row["doc_id"], (nprobe, rerank)


def test_a_changed_input_shows_no_text_and_says_why(published, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(published, copy)
    index = PublishedIndex(str(copy))
    source = published.parent / "in" / "a.parquet"
    saved = source.read_bytes()
    try:
        write_parquet(make_corpus(601), str(source))  # the run's input, rewritten since the run read it
        (hits,) = index.search(["nasa orbit"], 2)
    finally:
        source.write_bytes(saved)
    assert all(h.text is None and h.doc_id for h in hits)
    assert all(h.note and "changed" in h.note for h in hits)


def _reindex(published, out, codec: str, refine: str | None = None):
    """The published fixture's input indexed again (fake embedder, 2 shards) with ``codec``."""
    from flows.reindex import reindex

    config = small_config(
        published.parent, output=str(out), model="fake:32", codec=codec, refine=refine, shards=2
    )
    reindex(config)
    return out


def test_flat_shards_map_positions_through_the_id_maps_the_lookup_holds(published, tmp_path):
    from transforms.storage import positions

    out = _reindex(published, tmp_path / "flat", "SQ8")
    index = PublishedIndex(str(out))
    # one memory-mapped copy of each id map serves both the positions and the doc ids
    assert [s.rows for s in index.indexes] == index.idmap.shards
    assert all(isinstance(s, positions.Located) for s in index.indexes)
    row = make_corpus(600).slice(11, 1).to_pylist()[0]
    (hits,) = index.search([row["body"]], 3, with_text=False)
    assert hits[0].doc_id == row["doc_id"]


def test_a_two_tier_run_in_an_object_store_searches_from_checked_local_copies_held_as_page_cache(
    published, tmp_path
):
    import fsspec

    from transforms.codec import refine

    out = _reindex(published, tmp_path / "two-tier", "RaBitQ", "SQ8")
    fs, remote = fsspec.filesystem("memory"), "memory://query-test/two-tier"
    fs.put(str(out), remote, recursive=True)
    try:
        index = PublishedIndex(remote)  # what a mapped copy holds: tests/transforms/test_positions.py
        stores = [s.store for s in index.indexes]
        assert all(isinstance(s, refine.Store) and s.copy is not None for s in stores)
        assert all(s.copy is not None for s in index.idmap.shards)
        row = make_corpus(600).slice(23, 1).to_pylist()[0]
        (hits,) = index.search([row["body"]], 3, with_text=False)
        (local,) = PublishedIndex(str(out)).search([row["body"]], 3, with_text=False)
        assert hits[0].doc_id == row["doc_id"] and [h.doc_id for h in hits] == [h.doc_id for h in local]
    finally:
        fs.rm("memory://query-test", recursive=True)
