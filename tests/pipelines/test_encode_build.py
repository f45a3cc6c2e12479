import apache_beam as beam
import faiss
import numpy as np
from apache_beam.testing.util import assert_that, equal_to

from pipelines import build, encode
from tests.conftest import write_embedding_shards
from transforms import codec, integrity
from transforms.layout import RunLayout


def _setup(tmp_path, shards=3):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1200, 16)).astype("float32")
    layout = RunLayout(str(tmp_path), "r")
    trained = codec.train(x, "IVF8,PQ4x4")
    info = codec.CodecInfo(
        "fake:16",
        16,
        True,
        None,
        "IVF8,PQ4x4",
        "L2",
        len(x),
        0,
        8,
        int(trained.sa_code_size()),
        codec.fingerprint(trained),
    )
    codec.save(layout.codec, trained, info)
    write_embedding_shards(layout.shards("embeddings", shards), x)
    return layout, trained, x


def test_encode_then_build_pipelines(tmp_path, test_pipeline):
    layout, trained, x = _setup(tmp_path)
    # each job carries the record (size, sha256) of the shard it reads, checked before reading
    pairs = [  # one tier: no refine shard is written
        (src, dst, layout.shard("refine", i, 3), integrity.of_file(src).to_json())
        for i, (src, dst) in enumerate(
            zip(layout.shards("embeddings", 3), layout.shards("codes", 3), strict=True)
        )
    ]
    with test_pipeline() as p:
        out = (
            p
            | "Pairs" >> beam.Create(pairs)
            | beam.ParDo(encode.EncodeShard(layout.codec))
            | beam.Map(lambda kv: kv[1])
        )
        assert_that(out, equal_to([400, 400, 400]))
    jobs = [
        (codes, index, idmap, integrity.of_file(codes).to_json())
        for codes, index, idmap in zip(
            layout.shards("codes", 3), layout.shards("index", 3), layout.shards("idmap", 3), strict=True
        )
    ]
    with test_pipeline() as p:
        out = p | beam.Create(jobs) | beam.ParDo(build.BuildShard(layout.codec)) | beam.Map(lambda kv: kv[1])
        assert_that(out, equal_to([400, 400, 400]))
    # The shards together hold exactly what one index built from the floats holds.
    direct = faiss.clone_index(trained)
    direct.add_with_ids(x, np.arange(len(x), dtype=np.int64))
    shards = [faiss.read_index(u) for u in layout.shards("index", 3)]
    for index in (direct, *shards):
        faiss.extract_index_ivf(index).nprobe = 8
    from transforms.search import search_shards

    merged = search_shards(shards, x[:30], 5)
    _, i_direct = direct.search(x[:30], 5)
    assert np.array_equal(merged.ids, i_direct)
