import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.testing.util import assert_that, equal_to

from pipelines import embed
from pipelines.runner import pipeline_options, run
from tests.conftest import make_corpus, write_parquet
from transforms import arrow_files, ids, reading
from transforms.embedder import EmbedderSpec
from transforms.layout import RunLayout

COLUMNS = reading.Columns(id="doc_id", text="body", label="topic")


def test_read_splits_good_rows_from_rejects(tmp_path, test_pipeline):
    url = write_parquet(
        pa.table(
            {"doc_id": ["a", "b", None, "d"], "body": ["x y", "", "z", None], "topic": ["t", "t", "t", "t"]}
        ),
        str(tmp_path / "in.parquet"),
    )
    with test_pipeline() as p:
        groups = [tuple(g) for g in reading.row_groups(url)]
        docs, rejected = embed.split(
            p | beam.Create(groups) | beam.ParDo(embed.ReadDocuments(COLUMNS)), "Read"
        )
        assert_that(docs | beam.Map(lambda d: (d.doc_id, d.row)), equal_to([("a", 0)]), label="docs")
        assert_that(
            rejected,
            equal_to([(url, 1, "b", "empty text"), (url, 2, None, "null id"), (url, 3, "d", "null text")]),
            label="rejects",
        )


def test_duplicates_keep_the_first_row_and_reject_the_rest(test_pipeline):
    docs = [
        reading.Document("x", "t", None, "f2.parquet", 0),
        reading.Document("x", "t", None, "f1.parquet", 9),
        reading.Document("x", "t", None, "f1.parquet", 3),
        reading.Document("y", "t", None, "f1.parquet", 1),
    ]
    with test_pipeline() as p:
        kept, rejected = embed.split(
            p
            | beam.Create(docs)
            | beam.Map(lambda d: (d.doc_id, d))
            | beam.GroupByKey()
            | beam.FlatMap(embed.keep_first),
            "Dedupe",
        )
        assert_that(
            kept | beam.Map(lambda d: (d.doc_id, d.file, d.row)),
            equal_to([("x", "f1.parquet", 3), ("y", "f1.parquet", 1)]),
            label="kept",
        )
        why = "duplicate id (first seen in f1.parquet row 3)"
        assert_that(
            rejected,
            equal_to([("f1.parquet", 9, "x", why), ("f2.parquet", 0, "x", why)]),
            label="dups",
        )


def test_embed_pipeline_writes_every_shard_and_accounts_for_every_row(memory_root):
    table = make_corpus(60)
    bad = pa.table(
        {
            "doc_id": ["doc-00001", "extra-1", "extra-2"],
            "body": ["dup", "  ", "fine text"],
            "topic": ["space", "cars", "cars"],
        }
    )
    files = [
        write_parquet(table, f"{memory_root}/in/a.parquet"),
        write_parquet(bad, f"{memory_root}/in/b.parquet"),
    ]
    layout = RunLayout(f"{memory_root}/out", "r1")
    inputs = tuple(reading.InputFile(f, n) for f, n in zip(files, (60, 3), strict=True))
    job = embed.EmbedJob(
        inputs, COLUMNS, EmbedderSpec(model="fake:16", batch_size=8), layout, shards=4, dim=16
    )
    run(lambda p: embed.build(p, job), pipeline_options("DirectRunner"), "embed-test")

    shards = [arrow_files.read_table(u) for u in layout.shards("embeddings", 4)]
    assert sum(t.num_rows for t in shards) == 61  # 60 + "extra-2"
    for s, t in enumerate(shards):
        row_ids = t.column("row_id").to_pylist()
        assert row_ids == sorted(row_ids)
        assert all(ids.shard_of(r, 4) == s for r in row_ids)
        assert t.schema.field("embedding").type.list_size == 16
    rejects = arrow_files.read_table(layout.rejects).to_pylist()
    assert [(r["doc_id"], r["reason"]) for r in rejects] == [
        ("doc-00001", f"duplicate id (first seen in {files[0]} row 1)"),
        ("extra-1", "empty text"),
    ]
    got = {
        d: v
        for t in shards
        for d, v in zip(
            t.column("doc_id").to_pylist(), arrow_files.vectors(t.column("embedding")), strict=True
        )
    }
    from transforms.embedder import load_embedder

    expected = load_embedder(EmbedderSpec(model="fake:16")).encode([table.column("body")[5].as_py()])[0]
    assert np.allclose(got["doc-00005"], expected)
