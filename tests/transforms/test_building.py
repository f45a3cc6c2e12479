import faiss
import numpy as np
import pytest

from tests.conftest import write_embedding_shards
from transforms import arrow_files, building, codec, encoding, search


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4000, 48)).astype("float32")
    return codec.train(x, "PCAR24,IVF16,PQ8x6"), rng.standard_normal((600, 48)).astype("float32")


def test_add_sa_codes_is_identical_to_add_with_ids(trained):
    index, x = trained
    ids = np.arange(1000, 1000 + len(x), dtype=np.int64)
    direct = faiss.clone_index(index)
    direct.add_with_ids(x, ids)
    from_codes = building.build_from_codes(index, encoding.encode_vectors(index, x), ids)
    assert from_codes.ntotal == direct.ntotal == len(x)
    a, b = faiss.extract_index_ivf(direct), faiss.extract_index_ivf(from_codes)
    for list_no in range(a.nlist):
        assert a.invlists.list_size(list_no) == b.invlists.list_size(list_no)
    for index_ in (direct, from_codes):
        codec.set_nprobe(index_, 16)
    d1, i1 = direct.search(x[:50], 10)
    d2, i2 = from_codes.search(x[:50], 10)
    assert np.array_equal(i1, i2)
    assert np.array_equal(d1, d2)
    # Both serialize to the same bytes: the same index, however it was built.
    assert np.array_equal(faiss.serialize_index(direct), faiss.serialize_index(from_codes))


def test_build_shard_from_files_and_reject_foreign_codes(trained, tmp_path):
    index, x = trained
    info = codec.CodecInfo(
        "fake:48",
        48,
        True,
        None,
        "PCAR24,IVF16,PQ8x6",
        "L2",
        4000,
        0,
        16,
        int(index.sa_code_size()),
        codec.fingerprint(index),
    )
    write_embedding_shards([str(tmp_path / "emb.arrow")], x)
    rows = encoding.encode_shard(index, info, str(tmp_path / "emb.arrow"), str(tmp_path / "codes.arrow"))
    assert rows == len(x)
    meta = arrow_files.read_schema(str(tmp_path / "codes.arrow")).metadata
    assert meta[b"vecpress.codec_fingerprint"].decode() == info.fingerprint
    n = building.build_shard(
        index, info, str(tmp_path / "codes.arrow"), str(tmp_path / "i.faiss"), str(tmp_path / "idmap.arrow")
    )
    assert n == len(x)
    plain = faiss.read_index(str(tmp_path / "i.faiss"))  # readable by plain faiss
    assert plain.ntotal == len(x)
    idmap = search.IdMap([str(tmp_path / "idmap.arrow")])
    assert idmap.lookup(np.array([5, 10**12])) == ["d5", None]
    other = info.__class__(**{**info.to_json(), "fingerprint": "f" * 64})
    with pytest.raises(building.BuildError, match="codes were made with codec"):
        building.build_shard(
            index, other, str(tmp_path / "codes.arrow"), str(tmp_path / "j.faiss"), str(tmp_path / "j.arrow")
        )


def test_non_ivf_codec_is_refused(trained):
    flat = faiss.index_factory(8, "PQ4x4")
    with pytest.raises(building.BuildError, match="needs an IVF codec"):
        building.empty_shard(flat)
