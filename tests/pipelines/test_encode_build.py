import apache_beam as beam
import faiss
import numpy as np
from apache_beam.testing.util import assert_that, equal_to

from pipelines import build, encode
from tests.conftest import write_chunk_files
from transforms.codec import codec, codec_files, refine
from transforms.codec.info import CodecInfo
from transforms.index import encode_stage, encoding
from transforms.storage import arrow_files, integrity
from transforms.storage.layout import RunLayout


def _setup(tmp_path, factory="IVF8,PQ4x4", fine=None):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1200, 16)).astype("float32")
    layout = RunLayout(str(tmp_path), "r", shards=3)
    trained = codec.train(x, factory)
    quantizer = refine.train(x, fine) if fine else None
    info = CodecInfo(
        "fake:16", 16, True, None, factory, "L2", len(x), 0, 8, int(trained.sa_code_size()),
        codec.fingerprint(trained), refine=fine, rerank=4 if fine else 1,
        refine_code_size=0 if quantizer is None else int(quantizer.sa_code_size()),
        refine_fingerprint="" if quantizer is None else codec.fingerprint(quantizer),
    )  # fmt: skip
    codec_files.save(layout.codec, trained, info, quantizer)
    emb = write_chunk_files(str(tmp_path), x, per_chunk=500)
    return layout, trained, info, x, emb


def _encode(tmp_path, test_pipeline, layout, info, emb):
    """The encode stage's two pipelines: code files, then the shards' code (and refine) files."""
    records = {
        name: integrity.of_file(f"{layout.codec}/{name}").to_json() for name in ("codec.faiss", "codec.json")
    }
    work = encode_stage.plan(emb, info)
    keys = work.todo  # every vector file (here: the inline chunks themselves)
    assert len(keys) == len(emb.chunks)
    job = encode.EncodeJob(layout.codec, {}, str(tmp_path), "test", tuple(keys))
    with test_pipeline() as p:
        done = (
            p
            | "Chunks" >> beam.Create(keys)
            | beam.ParDo(encode.EncodeFile(job))
            | beam.Map(lambda r: r["rows"])
        )
        assert_that(done, equal_to([500, 500, 200]))
    assert all(work.store.done(k) for k, _ in keys)  # each committed with its record
    code_files = tuple(encode_stage.code_files(work))
    fine = tuple(encode_stage.fine_files(work)) if info.refine else ()
    if fine:
        refine.write_listing(layout.code_files, fine)
    sources = encoding.ShardSources(code_files, {}, layout.shards, fine)
    shard_job = encode.ShardJob(layout.codec, records, sources)
    items = [(i, layout.shard("codes", i), layout.shard("refine", i)) for i in range(layout.shards)]
    with test_pipeline() as p:
        out = p | beam.Create(items) | beam.ParDo(encode.WriteShard(shard_job)) | beam.Values()
        assert_that(out | beam.CombineGlobally(sum), equal_to([1200]))


def test_encode_then_build_pipelines(tmp_path, test_pipeline):
    layout, trained, info, x, emb = _setup(tmp_path)
    _encode(tmp_path, test_pipeline, layout, info, emb)
    jobs = [
        (codes, index, idmap, integrity.of_file(codes).to_json())
        for codes, index, idmap in zip(
            layout.shard_urls("codes"), layout.shard_urls("index"), layout.shard_urls("idmap"), strict=True
        )
    ]
    with test_pipeline() as p:
        out = p | beam.Create(jobs) | beam.ParDo(build.BuildShard(layout.codec)) | beam.Map(lambda kv: kv[1])
        assert_that(out | beam.CombineGlobally(sum), equal_to([1200]))
    # The shards together hold exactly what one index built from the floats holds.
    direct = faiss.clone_index(trained)
    direct.add_with_ids(x, np.arange(len(x), dtype=np.int64))
    shards = [faiss.read_index(u) for u in layout.shard_urls("index")]
    for index in (direct, *shards):
        faiss.extract_index_ivf(index).nprobe = 8
    from transforms.search.search import search_shards

    merged = search_shards(shards, x[:30], 5)
    _, i_direct = direct.search(x[:30], 5)
    assert np.array_equal(merged.ids, i_direct)


def test_two_tier_shards_search_by_position_and_answer_row_ids(tmp_path, test_pipeline):
    from transforms.search import search

    layout, trained, info, x, emb = _setup(tmp_path, "PQ4x4", fine="SQ8")
    _encode(tmp_path, test_pipeline, layout, info, emb)
    jobs = [
        (layout.shard("codes", i), layout.shard("index", i), layout.shard("idmap", i), None)
        for i in range(layout.shards)
    ]
    with test_pipeline() as p:
        p | beam.Create(jobs) | beam.ParDo(build.BuildShard(layout.codec))
    # the run's shards as search opens them: every file checked against its record
    records = integrity.describe(layout.root, ["codec", "index", "refine"])
    shards = search.open_run(layout, info, records)
    hits = search.search_shards(shards, x[:50], 10)
    assert (hits.ids[:, 0] == np.arange(50)).all()  # each vector's nearest is itself, by global row id
    # the refine shards say where each fine code is; the codes stay in the code files, which they name
    work = encode_stage.plan(emb, info)
    assert "code" not in arrow_files.read_schema(layout.shard("refine", 0)).names
    assert {f["path"] for f in refine.read_listing(layout, records)} == {
        work.store.relative(key) for key, _ in work.sources
    }
    exact = np.argsort(((x[:50, None, :] - x[None]) ** 2).sum(-1), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(hits.ids, exact, strict=True)])
    assert recall > 0.9  # 4x candidates from 2-byte codes, re-ranked from SQ8
