import numpy as np
import pyarrow as pa

from pipelines import embed
from pipelines.runner import pipeline_options, run
from tests.conftest import make_corpus, write_parquet
from transforms.embed import chunks, embed_stage, vectors
from transforms.embed.embeddings import Embeddings
from transforms.embedders.embedder import load_embedder
from transforms.embedders.spec import EmbedderSpec
from transforms.read import reading
from transforms.storage import arrow_files, fingerprint
from transforms.storage.layout import RunLayout

COLUMNS = reading.Columns(id="doc_id", text="body", label="topic")
SPEC = EmbedderSpec(model="fake:16", batch_size=8)


def _inputs(root: str) -> tuple[list[reading.InputFile], list[str]]:
    table = make_corpus(60)
    bad = pa.table(
        {
            "doc_id": ["doc-00001", "extra-1", "extra-2"],
            "body": ["dup", "  ", "fine text"],
            "topic": ["space", "cars", "cars"],
        }
    )
    urls = [write_parquet(table, f"{root}/in/a.parquet"), write_parquet(bad, f"{root}/in/b.parquet")]
    files = reading.check_inputs(f"{root}/in", COLUMNS)
    return files, urls


def _embed(root: str, files, previous=None):
    versions = [fingerprint.file_version(f.url) for f in files]
    work = embed_stage.plan(
        f"{root}/out", files, versions, embed_stage.EmbedSettings(SPEC, COLUMNS), previous
    )
    if work.todo:
        job = embed.EmbedJob.of(work, 16)
        run(lambda p: embed.build(p, job), pipeline_options("DirectRunner"), "embed-test")
    return work


def _vectors(emb: Embeddings) -> dict[str, np.ndarray]:
    out = {}
    for batch in emb.batches(["doc_id", "embedding"]):
        ids, vecs = batch.column("doc_id").to_pylist(), arrow_files.vectors(batch.column("embedding"))
        out.update(zip(ids, vecs, strict=True))
    return out


def _rows(emb: Embeddings) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    table = pa.Table.from_batches(list(emb.batches(["row_id", "doc_id"])))
    return table.column("row_id"), table.column("doc_id")


def test_embed_pipeline_commits_every_chunk_and_accounts_for_every_row(memory_root):
    files, urls = _inputs(memory_root)
    work = _embed(memory_root, files)
    assert len(work.chunks) == len(work.todo) == 2  # one row group per file
    layout = RunLayout(f"{memory_root}/out", "r1")
    emb, counts = embed_stage.finish(work, layout, None)
    assert (counts["read"], counts["embedded"], counts["rejected"]) == (63, 61, 2)  # 60 + "extra-2"
    assert counts["reuse"] == {
        "chunks": 2,
        "chunks_reused": 0,
        "documents_embedded": 62,
        "documents_reused": 0,
    }
    rejects = arrow_files.read_table(layout.rejects).to_pylist()
    assert [(r["doc_id"], r["reason"]) for r in rejects] == [
        ("doc-00001", f"duplicate id (first seen in {urls[0]} row 1)"),
        ("extra-1", "empty text"),
    ]
    got = _vectors(Embeddings.load(layout))
    assert len(got) == 61 and "extra-1" not in got
    expected = load_embedder(SPEC).encode([make_corpus(60).column("body")[5].as_py()])[0]
    assert np.allclose(got["doc-00005"], expected)


def test_done_chunks_are_not_embedded_again_and_changed_files_reuse_texts(memory_root):
    files, _ = _inputs(memory_root)
    first = _embed(memory_root, files)
    emb, _ = embed_stage.finish(first, RunLayout(f"{memory_root}/out", "r1"), None)
    assert _embed(memory_root, files).todo == []  # every chunk is done: nothing to embed
    # one document changes, one is added: the file's chunk is new, but only two texts need the model
    table = make_corpus(60)
    table = table.set_column(1, "body", [[*table.column("body").to_pylist()[:59], "a changed text"]])
    write_parquet(pa.concat_tables([table, make_corpus(61).slice(60)]), f"{memory_root}/in/a.parquet")
    files = reading.check_inputs(f"{memory_root}/in", COLUMNS)
    second = _embed(memory_root, files, previous=emb)
    assert [c.url for c in second.todo] == [files[0].url]
    _, counts = embed_stage.finish(second, RunLayout(f"{memory_root}/out", "r2"), emb)
    reuse = counts["reuse"]
    assert (reuse["chunks_reused"], reuse["documents_embedded"]) == (1, 2)
    assert reuse["documents_reused"] == 59 + 2  # by text in the changed file, whole in the other
    assert (reuse["new"], reuse["changed"], reuse["deleted"]) == (1, 1, 0)
    # the changed file's chunk wrote only the two new vectors; its other 59 refer to the first run's file
    emb2 = Embeddings.load(RunLayout(f"{memory_root}/out", "r2"))
    changed = emb2.chunks[0]
    own = [
        v for v in changed["vectors"] if v["name"] == chunks.split_path(changed["path"])[1] + vectors.SUFFIX
    ]
    assert [v["rows"] for v in own] == [2] and len(changed["vectors"]) == 2
    assert changed["vectors"][0] == {k: v for k, v in emb.chunks[0]["vectors"][0].items()}
    again, before = _vectors(emb2), _vectors(emb)
    assert all(np.array_equal(again[d], before[d]) for d in before if d != "doc-00059")
    emb2.check()  # every chunk and vector file it reads matches its record
    drawn = emb2.sample(20, seed=4)  # vectors fetched by reference, as the streamed batches give them
    by_row = dict(zip(*(b.to_pylist() for b in _rows(emb2)), strict=True))
    assert all(np.array_equal(v, again[by_row[r]]) for r, v in zip(drawn.row_ids, drawn.vectors, strict=True))


def _night(root: str, texts: list[str], previous: Embeddings | None, run_id: str) -> Embeddings:
    table = make_corpus(60).set_column(1, "body", [texts])
    write_parquet(table, f"{root}/in/a.parquet")
    files = reading.check_inputs(f"{root}/in/a.parquet", COLUMNS)
    layout = RunLayout(f"{root}/out", run_id)
    embed_stage.finish(_embed(root, files, previous), layout, previous)
    return Embeddings.load(layout)


def _own_rows(emb: Embeddings) -> list[tuple[str, int]]:
    return [(v["name"], v["rows"]) for v in emb.chunks[0]["vectors"]]


def test_small_and_mostly_dead_vector_files_are_copied_not_referred_to(memory_root):
    texts = make_corpus(60).column("body").to_pylist()
    first = _night(memory_root, texts, None, "r1")
    texts[0] = "night two"
    second = _night(memory_root, texts, first, "r2")
    assert [rows for _, rows in _own_rows(second)] == [60, 1]  # the first file referred to, one new vector
    texts[1] = "night three"
    third = _night(memory_root, texts, second, "r3")
    # night two's file is small: its vector is copied, so the chunk still reads two files, not three
    assert [rows for _, rows in _own_rows(third)] == [60, 2]
    assert _own_rows(third)[0] == _own_rows(first)[0]
    for i in range(2, 40):  # most of the first file's texts change
        texts[i] = f"night four {i}"
    fourth = _night(memory_root, texts, third, "r4")
    assert [rows for _, rows in _own_rows(fourth)] == [60, 40]  # 38 made, night three's 2 copied
    # the next night finds the first file mostly dead (20 of 60 rows in use): its 20 are copied out of it
    fifth = _night(memory_root, texts, fourth, "r5")
    assert _own_rows(fifth) == [_own_rows(fourth)[1], (_own_rows(fifth)[1][0], 20)]
    got, texts_of = (
        _vectors(fifth),
        dict(zip(make_corpus(60).column("doc_id").to_pylist(), texts, strict=True)),
    )
    model = load_embedder(SPEC)
    assert all(np.allclose(got[d], model.encode([t])[0]) for d, t in texts_of.items())


def test_a_damaged_vector_file_is_embedded_again_not_reused(memory_root, caplog):
    import fsspec

    texts = make_corpus(60).column("body").to_pylist()
    first = _night(memory_root, texts, None, "r1")
    embedder_key, key = chunks.split_path(first.chunks[0]["path"])
    store = chunks.Store(f"{memory_root}/out", embedder_key)
    url = vectors.urls(first.url(0), first.chunks[0])[0]
    fs = fsspec.filesystem("memory")
    data = bytearray(fs.cat_file(url))
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    fs.pipe_file(url, bytes(data))
    assert store.done(key) is None and "reads a vector file it cannot use" in caplog.text
    texts[0] = "night two"
    second = _night(memory_root, texts, first, "r2")  # nothing reused from the damaged file: all 60 made
    assert [rows for _, rows in _own_rows(second)] == [60] and "cannot be used" in caplog.text
    second.check()
    model = load_embedder(SPEC)
    assert np.allclose(_vectors(second)["doc-00000"], model.encode(["night two"])[0])


def test_a_chunk_is_committed_whole_or_not_at_all(memory_root):
    store = chunks.Store(memory_root, "k")
    schema = pa.schema([("x", pa.int64())])

    def failing():
        yield pa.record_batch([pa.array([1, 2])], schema=schema)
        raise RuntimeError("killed mid-chunk")

    try:
        store.commit("c1", failing(), schema)
    except RuntimeError:
        pass
    assert store.done("c1") is None and not list(
        __import__("fsspec").filesystem("memory").glob(f"{store.root}/*")
    )
    record = store.commit("c1", [pa.record_batch([pa.array([1, 2])], schema=schema)], schema, {"read": 2})
    assert store.done("c1")["sha256"] == record["sha256"] and record["read"] == 2
