import dataclasses
import os

import faiss
import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import write_chunk_files
from transforms.codec import codec
from transforms.codec.info import CodecInfo
from transforms.index import building, encode_stage, encoding
from transforms.search import id_maps, search
from transforms.storage import arrow_files


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


def _info(index, factory: str) -> CodecInfo:
    return CodecInfo(
        "fake:48", 48, True, None, factory, "L2", 4000, 0, 16, int(index.sa_code_size()),
        codec.fingerprint(index),
    )  # fmt: skip


def _codes_file(tmp_path, index, info, x) -> str:
    """One code shard of ``x`` written the encode stage's way (row i: document d{i}, row id i)."""
    emb = write_chunk_files(str(tmp_path / "out"), x)
    work = encode_stage.plan(emb, info)
    encode_stage.encode_here(work, index, info)
    rows = encoding.write_shard(
        encoding.ShardSources(encode_stage.code_files(work), {}, 1), 0, info, str(tmp_path / "codes.arrow")
    )
    assert rows == len(x)
    return str(tmp_path / "codes.arrow")


def test_build_shard_from_files_and_reject_foreign_codes(trained, tmp_path):
    index, x = trained
    info = _info(index, "PCAR24,IVF16,PQ8x6")
    _codes_file(tmp_path, index, info, x)
    meta = arrow_files.read_schema(str(tmp_path / "codes.arrow")).metadata
    assert meta[b"vecpress.codec_fingerprint"].decode() == info.fingerprint
    n = building.build_shard(
        index, info, str(tmp_path / "codes.arrow"), str(tmp_path / "i.faiss"), str(tmp_path / "idmap.arrow")
    )
    assert n == len(x)
    plain = faiss.read_index(str(tmp_path / "i.faiss"))  # readable by plain faiss
    assert plain.ntotal == len(x)
    idmap = id_maps.IdMap([str(tmp_path / "idmap.arrow")])
    assert idmap.lookup(np.array([5, 10**12])) == ["d5", None]
    other = info.__class__(**{**info.to_json(), "fingerprint": "f" * 64})
    with pytest.raises(building.BuildError, match="codes were made with codec"):
        building.build_shard(
            index, other, str(tmp_path / "codes.arrow"), str(tmp_path / "j.faiss"), str(tmp_path / "j.arrow")
        )


@pytest.mark.parametrize("factory, unit", [("PQ8x6", False), ("PQ8x6", True), ("PQ16x4fs", False)])
def test_a_flat_shard_keeps_no_ids_and_answers_with_its_id_maps_row_ids(factory, unit, tmp_path):
    rng = np.random.default_rng(2)
    learn = rng.standard_normal((4600, 48)).astype("float32")
    learn /= np.linalg.norm(learn, axis=1, keepdims=True)
    index, x = codec.train(learn[:4000], factory), learn[4000:]
    info = dataclasses.replace(_info(index, factory), unit_decode=unit)
    codes_url = _codes_file(tmp_path, index, info, x)
    table = arrow_files.read_table(codes_url)  # global row ids that are not positions
    row_ids = 10**12 + 7919 * table.column("row_id").to_numpy()[::-1]
    table = table.set_column(table.schema.get_field_index("row_id"), "row_id", pa.array(row_ids))
    arrow_files.write_table(codes_url, table, arrow_files.read_schema(codes_url))
    index_url, idmap_url = str(tmp_path / "i.faiss"), str(tmp_path / "idmap.arrow")
    assert building.build_shard(index, info, codes_url, index_url, idmap_url) == len(x)
    plain = faiss.read_index(index_url)
    assert not isinstance(plain, faiss.IndexIDMap) and codec.positional(plain)
    # in memory: the codes and the codec, no 8 bytes of id a vector
    assert os.path.getsize(index_url) < len(x) * index.sa_code_size() + codec.serialized_size(index) + 200
    shard = search.open_shard(index_url, 1, info, idmap=(idmap_url, None))
    reference = faiss.IndexIDMap(codec.copy(index))
    reference.add_with_ids(x, row_ids)
    want = search.UnitDecoded(reference) if unit else reference
    d_got, i_got = shard.search(x[:20], 5)
    d_want, i_want = want.search(x[:20], 5)
    np.testing.assert_array_equal(i_got, i_want)
    np.testing.assert_allclose(d_got, d_want, rtol=1e-4, atol=1e-4)
    assert set(i_got.ravel()) <= set(row_ids)
    with pytest.raises(ValueError, match="no id map was given"):
        search.open_shard(index_url, 1, info)


def test_a_codec_without_standalone_codes_is_refused():
    for factory in ("HNSW8", "IVF4,PQ4x4fs"):
        with pytest.raises(building.BuildError, match="needs an IVF codec"):
            building.Shard(faiss.index_factory(8, factory))


@pytest.mark.parametrize(
    "factory, params",
    [
        ("PQ8x6", {}),
        ("PCAR24,PQ6x6", {}),
        ("PQ16x4fs", {}),
        ("PCAR24,PQ12x4fs", {}),
        ("SQ8", {}),
        ("RQ4x6", {"max_beam_size": 8}),
        ("LSQ4x6", {}),
        ("PRQ2x2x6", {"max_beam_size": 4}),
        ("ITQ32,LSH", {}),
        ("IVF8,PQ8x6", {}),
    ],
)
def test_every_codec_kind_builds_from_codes_like_adding_vectors(factory, params):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3000, 48)).astype("float32")
    trained = codec.train(x, factory, params)
    codes = encoding.encode_vectors(trained, x[:500])
    ids = (10**12 + 7919 * rng.permutation(500)).astype("int64")  # global ids, not positions
    built = building.build_from_codes(trained, codes, ids)
    reference = faiss.IndexIDMap(codec.copy(trained))
    reference.add_with_ids(x[:500], ids)
    codec.set_nprobe(built, 8)
    codec.set_nprobe(reference, 8)
    d_built, i_built = built.search(x[:20], 5)
    d_ref, i_ref = reference.search(x[:20], 5)
    assert built.ntotal == 500
    np.testing.assert_array_equal(i_built, i_ref)
    np.testing.assert_allclose(d_built, d_ref, rtol=1e-4, atol=1e-4)
    restored = faiss.deserialize_index(faiss.serialize_index(built))
    np.testing.assert_array_equal(restored.search(x[:20], 5)[1], i_ref)
