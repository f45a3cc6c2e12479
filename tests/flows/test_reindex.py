import numpy as np
import pyarrow as pa
import pytest

from flows.config import ReindexConfig
from flows.reindex import reindex
from tests.conftest import make_corpus, small_config, write_parquet
from transforms.read import reading
from transforms.search.query import PublishedIndex
from transforms.storage import arrow_files, io


def _config(root: str, **kw) -> ReindexConfig:
    options = {"label_column": "topic", "model": "fake:32", "shards": 3, "eval_queries": 200, **kw}
    return small_config(root, input=f"{root}/in/*.parquet", **options)


def test_reindex_on_memory_urls_accounts_for_every_row(prefect_server, memory_root):
    corpus = make_corpus(1500)
    extra = pa.table(
        {
            "doc_id": ["doc-00007", "blank", None],
            "body": ["dup", "", "orphan"],
            "topic": ["cars", "cars", "cars"],
        }
    )
    write_parquet(corpus, f"{memory_root}/in/a.parquet")
    write_parquet(extra, f"{memory_root}/in/b.parquet")
    manifest = reindex(_config(memory_root, run_id="first"))

    assert manifest["counts"] == {
        "read": 1503,
        "embedded": 1500,
        "rejected": 3,
        "indexed": 1500,
        "encoded": 1500,
    }
    rejects = arrow_files.read_table(f"{memory_root}/index/runs/first/rejects.arrow").to_pylist()
    assert sorted(r["reason"] for r in rejects) == [
        f"duplicate id (first seen in {memory_root}/in/a.parquet row 7)",
        "empty text",
        "null id",
    ]
    assert manifest["codec"]["reductions"], "a 1500-vector sample must record its codec reductions"
    assert manifest["evaluation"]["recall_at_k"] > 0.3
    # The fake embedder separates the three synthetic topics; compression keeps most of that.
    assert manifest["evaluation"]["knn_accuracy_float"] > 0.9
    assert manifest["evaluation"]["knn_accuracy_index"] > 0.8
    paths = {f["path"] for f in manifest["files"]}
    for kind, suffix in (("codes", "arrow"), ("refine", "arrow"), ("index", "faiss"), ("idmap", "arrow")):
        assert {f"{kind}/part-0000{i}-of-00003.{suffix}" for i in range(3)} <= paths
    assert {"codec/codec.faiss", "codec/codec.json", "rejects.arrow", "report.md", "report.png"} <= paths
    assert {"embeddings/chunks.json", "embeddings/duplicates.arrow", "codec/refine.faiss"} <= paths
    for f in manifest["files"]:
        assert io.sha256(f"{memory_root}/index/runs/first/{f['path']}") == f["sha256"]
    # the embeddings themselves are chunks shared by every run of this output: one per row group
    assert len(manifest["chunks"]) == 2 and manifest["reuse"]["chunks_reused"] == 0
    for c in manifest["chunks"]:
        assert c["path"].startswith("chunks/")
        assert io.sha256(f"{memory_root}/index/{c['path']}") == c["sha256"]

    # The report is published as a Prefect Markdown artifact.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["vecpress-report"]))
        )
    assert any(a.type == "markdown" and "run first" in a.data and "1500 indexed" in a.data for a in artifacts)

    # Searching the published index finds a document by its own text.
    index = PublishedIndex(f"{memory_root}/index")
    text = corpus.column("body")[42].as_py()
    assert index.search([text], 5)[0][0].doc_id == "doc-00042"


def test_same_input_gives_the_same_files(prefect_server, memory_root):
    write_parquet(make_corpus(900, seed=4), f"{memory_root}/in/a.parquet")
    hashes = []
    for run_id in ("a", "b"):  # separate outputs: separate caches, so both runs compute everything
        config = _config(memory_root, run_id=run_id, codec="IVF4,PQ8x4")
        manifest = reindex(config.model_copy(update={"output": f"{memory_root}/index-{run_id}"}))
        assert manifest["reused"] == {}
        hashes.append(
            {f["path"]: f["sha256"] for f in manifest["files"] if not f["path"].startswith("report")}
        )
    assert hashes[0] == hashes[1]


def test_bad_schema_fails_before_any_work(prefect_server, memory_root):
    write_parquet(pa.table({"doc_id": ["a"], "text": ["no body column"]}), f"{memory_root}/in/a.parquet")
    with pytest.raises(reading.InputError, match="a.parquet: the text column 'body' is missing"):
        reindex(_config(memory_root))
    assert not io.exists(f"{memory_root}/index/runs")
    assert not io.exists(f"{memory_root}/index/LOCK")


def test_too_small_for_the_requested_codec_is_an_error(prefect_server, memory_root):
    write_parquet(make_corpus(300), f"{memory_root}/in/a.parquet")
    from transforms.codec.codec import CodecError

    with pytest.raises(CodecError, match="cannot be trained on 300 vectors"):
        reindex(_config(memory_root, codec="IVF64,PQ8"))
    assert not io.exists(f"{memory_root}/index/CURRENT")


def test_unusable_codec_fails_before_embedding(prefect_server, memory_root):
    write_parquet(make_corpus(50), f"{memory_root}/in/a.parquet")
    from transforms.codec.codec import CodecError

    with pytest.raises(CodecError, match="cannot be built from stored codes"):
        reindex(_config(memory_root, codec="HNSW16"))
    assert not io.exists(f"{memory_root}/index/runs")


def test_search_scores_are_cosine_for_normalised_embeddings(prefect_server, memory_root):
    write_parquet(make_corpus(1200), f"{memory_root}/in/a.parquet")
    reindex(_config(memory_root, codec="IVF8,SQ8", nprobe=8))
    hits = PublishedIndex(f"{memory_root}/index").search(["nasa orbit shuttle launch"], 3)[0]
    assert all(-1.0 <= h.score <= 1.0 for h in hits)
    assert np.all(np.diff([h.distance for h in hits]) >= 0)


def test_unit_decode_is_what_evaluation_and_search_use(prefect_server, memory_root):
    from transforms.codec import codec
    from transforms.search import search
    from transforms.storage import positions

    with pytest.raises(ValueError, match="--unit-decode needs normalized embeddings and an explicit"):
        _config(memory_root, unit_decode=True)
    write_parquet(make_corpus(50), f"{memory_root}/in/a.parquet")
    with pytest.raises(codec.CodecError, match="cannot be searched by unit-length reconstructions"):
        reindex(_config(memory_root, codec="IVF4,PQ4x4", unit_decode=True))
    write_parquet(make_corpus(1200), f"{memory_root}/in/a.parquet")
    manifest = reindex(_config(memory_root, codec="RQ4x4", unit_decode=True))
    assert manifest["codec"]["unit_decode"] is True
    assert 0.3 < manifest["evaluation"]["recall_at_k"] <= 1.0
    published = PublishedIndex(f"{memory_root}/index")
    # flat shards keep no ids: unit-decoded, their positions mapped to row ids by the id map
    assert all(
        isinstance(i, positions.Located) and isinstance(i.index, search.UnitDecoded) and not i.index.mapped
        for i in published.indexes
    )
    hits = published.search(["nasa orbit shuttle launch"], 3)[0]
    assert len(hits) == 3 and all(-1.0 <= h.score <= 1.0 for h in hits)


def test_a_second_run_on_a_locked_output_is_refused(prefect_server, tmp_path):
    write_parquet(make_corpus(400), str(tmp_path / "in" / "a.parquet"))
    from transforms.storage import lock

    with lock.output_lock(str(tmp_path / "index"), "someone-else"):
        with pytest.raises(lock.OutputLocked, match="someone-else"):
            reindex(_config(str(tmp_path), codec="IVF4,SQ8"))
    assert not io.exists(str(tmp_path / "index" / "CURRENT"))


def test_config_file_with_overrides(prefect_server, tmp_path):
    write_parquet(make_corpus(400), str(tmp_path / "in" / "a.parquet"))
    path = tmp_path / "nightly.yaml"
    path.write_text(
        f"input: {tmp_path}/in\noutput: {tmp_path}/index\nid_column: doc_id\ntext_column: body\n"
        f"model: 'fake:16'\nshards: 2\ncodec: IVF4,SQ8\n"
    )
    manifest = reindex(config_file=str(path), overrides={"shards": 1, "eval_queries": 50})
    assert manifest["parameters"]["shards"] == 1 and manifest["counts"]["indexed"] == 400
    assert manifest["evaluation"]["knn_accuracy_float"] is None


def test_rerun_after_a_failure_reuses_completed_stages(prefect_server, tmp_path, monkeypatch):
    write_parquet(make_corpus(1000), str(tmp_path / "in" / "a.parquet"))
    from transforms.index import building

    real_build = building.build_shard

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(building, "build_shard", broken)
    with pytest.raises(OSError, match="disk full"):
        reindex(_config(str(tmp_path), run_id="failed", codec="IVF8,PQ8x4"))
    assert not io.exists(str(tmp_path / "index" / "CURRENT"))
    monkeypatch.setattr(building, "build_shard", real_build)

    failed_root = str(tmp_path / "index" / "runs" / "failed")
    again = reindex(_config(str(tmp_path), run_id="again", codec="IVF8,PQ8x4"))
    assert again["reused"] == {"fit": failed_root, "encode": failed_root}  # copied into this run
    assert again["reuse"]["chunks_reused"] == 1 and again["reuse"]["documents_embedded"] == 0
    assert again["counts"]["indexed"] == 1000
    paths = {f["path"] for f in again["files"]}
    assert {
        "embeddings/chunks.json",
        "codec/codec.faiss",
        "codes/part-00002-of-00003.arrow",
        "index/part-00001-of-00003.faiss",
    } <= paths  # the new run is complete on its own
    # the same input again: every stage reused, the evaluation too (it says which run measured it)
    same = reindex(_config(str(tmp_path), run_id="same", codec="IVF8,PQ8x4"))
    again_root = str(tmp_path / "index" / "runs" / "again")
    stages = {"fit": failed_root, "encode": failed_root, "build": again_root, "evaluate": again_root}
    assert same["reused"] == stages  # each from the run that computed it
    assert same["evaluation"] == again["evaluation"] and same["evaluation"]["measured_in"] == "again"
    report = (tmp_path / "index" / "runs" / "same" / "report.md").read_text()
    assert "evaluation measured in run again (the same index and embeddings)" in report

    # A new codec re-fits but keeps the embeddings; a changed file embeds only what changed.
    other = reindex(_config(str(tmp_path), run_id="other-codec", codec="IVF4,SQ8"))
    assert other["reused"] == {} and other["reuse"]["chunks_reused"] == 1
    write_parquet(make_corpus(1001), str(tmp_path / "in" / "a.parquet"))
    fresh = reindex(_config(str(tmp_path), run_id="new-data", codec="IVF8,PQ8x4"))
    assert fresh["reused"] == {} and fresh["counts"]["indexed"] == 1001
    assert (fresh["reuse"]["documents_embedded"], fresh["reuse"]["documents_reused"]) == (1, 1000)
    assert (fresh["reuse"]["new"], fresh["reuse"]["changed"], fresh["reuse"]["deleted"]) == (1, 0, 0)


def test_nothing_left_to_index_is_an_input_error(prefect_server, memory_root):
    write_parquet(
        pa.table({"doc_id": ["a", "b"], "body": ["", None], "topic": ["x", "y"]}),
        f"{memory_root}/in/a.parquet",
    )
    with pytest.raises(reading.InputError, match="all 2 rows were rejected"):
        reindex(_config(memory_root))
    assert not io.exists(f"{memory_root}/index/CURRENT")
