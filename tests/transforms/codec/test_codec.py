import faiss
import numpy as np
import pytest

from transforms.codec import codec, codec_files
from transforms.codec.info import CodecInfo


def test_too_few_training_points_is_an_error_with_the_numbers():
    with pytest.raises(codec.CodecError) as err:
        codec.check_trainable("PCAR64,IVF1024,PQ16", 128, 5000)
    message = str(err.value)
    assert "5000 vectors" in message
    assert "IVF1024 coarse quantizer needs >= 39936" in message
    assert "PQ16x8 codebooks needs >= 9984" in message


def test_invalid_factory_string_is_a_codec_error():
    with pytest.raises(codec.CodecError, match="not a valid faiss index_factory string for 100-d"):
        codec.check_trainable("IVF16,PQ32", 100, 10_000)
    with pytest.raises(codec.CodecError, match="cannot be built from stored codes"):
        codec.validate("HNSW32", 128)
    codec.validate("PCAR64,PQ16", 128)  # flat code indexes are built under an id map


def test_additive_quantizer_requirements_and_params_survive_save_and_load(tmp_path):
    index = codec._build("RQ4x8", 16)
    assert [r.min_points for r in codec.requirements(index)] == [39 * 256]
    assert [r.min_points for r in codec.requirements(codec._build("PRQ2x3x6", 16))] == [39 * 64]
    with pytest.raises(codec.CodecError, match="does not apply"):
        codec.apply_params(codec._build("PQ4", 16), {"max_beam_size": 8})
    x = np.random.default_rng(0).standard_normal((2600, 16)).astype("float32")
    trained = codec.train(x, "RQ2x6", {"max_beam_size": 7})
    info = CodecInfo(
        model="m", dim=16, normalize=True, max_seq_length=None, factory="RQ2x6", metric="L2",
        sample_size=len(x), seed=0, nprobe=1, code_size=2, fingerprint=codec.fingerprint(trained),
        params={"max_beam_size": 7},
    )  # fmt: skip
    codec_files.save(str(tmp_path / "codec"), trained, info)
    loaded, loaded_info = codec_files.load(str(tmp_path / "codec"))
    assert loaded.rq.max_beam_size == 7 and loaded_info.params == {"max_beam_size": 7}


def test_a_residual_codebook_needs_39_points_per_centroid_of_its_widest_codebook():
    wide = codec._build("RQ1x10_1x6", 16)
    assert [r.min_points for r in codec.requirements(wide)] == [39 << 10]
    x = np.random.default_rng(0).standard_normal((1100, 16)).astype("float32")
    with pytest.raises(codec.CodecError, match="needs >= 19968 .*faiss needs 39 points per centroid"):
        codec.train(x, "RQ1x9_1x7")


def test_a_two_tier_codec_saves_and_checks_its_stored_tier(tmp_path):
    from transforms.codec import refine

    x = np.random.default_rng(0).standard_normal((500, 16)).astype("float32")
    trained, quantizer = codec.train(x, "RaBitQ"), refine.train(x, "SQ8")
    info = CodecInfo(
        model="m", dim=16, normalize=True, max_seq_length=None, factory="RaBitQ", metric="L2",
        sample_size=len(x), seed=0, nprobe=1, code_size=int(trained.sa_code_size()),
        fingerprint=codec.fingerprint(trained), refine="SQ8", rerank=10, refine_code_size=16,
        refine_fingerprint=codec.fingerprint(quantizer),
    )  # fmt: skip
    codec_files.save(str(tmp_path / "codec"), trained, info, quantizer)
    loaded = codec_files.load_refine(str(tmp_path / "codec"), info)
    assert np.array_equal(loaded.sa_encode(x), quantizer.sa_encode(x))
    other = faiss.serialize_index(refine.train(x * 2, "SQ8")).tobytes()  # another sample's ranges
    (tmp_path / "codec" / refine.REFINE_INDEX).write_bytes(other)
    with pytest.raises(codec.CodecError, match="refine.faiss does not match the fingerprint"):
        codec_files.load_refine(str(tmp_path / "codec"), info)
    with pytest.raises(refine.RefineError, match="stored tier 'PQ8' is not one of"):
        codec.validate("RaBitQ", 16, refine="PQ8")
    with pytest.raises(codec.CodecError, match="does not combine with --unit-decode"):
        codec.validate("PQ4", 16, unit_decode=True, refine="SQ8")


def test_train_save_load_roundtrip_checks_fingerprint(tmp_path):
    x = np.random.default_rng(0).standard_normal((2000, 32)).astype("float32")
    index = codec.train(x, "PCAR16,IVF8,PQ4x4")
    info = CodecInfo(
        model="fake:32",
        dim=32,
        normalize=True,
        max_seq_length=None,
        factory="PCAR16,IVF8,PQ4x4",
        metric="L2",
        sample_size=2000,
        seed=0,
        nprobe=4,
        code_size=int(index.sa_code_size()),
        fingerprint=codec.fingerprint(index),
    )
    codec_files.save(str(tmp_path), index, info)
    loaded, loaded_info = codec_files.load(str(tmp_path))
    assert loaded_info == info
    assert np.array_equal(loaded.sa_encode(x[:10]), index.sa_encode(x[:10]))
    # Training is deterministic for a given sample: the same codebooks, the same fingerprint.
    assert codec.fingerprint(codec.train(x, "PCAR16,IVF8,PQ4x4")) == info.fingerprint
    (tmp_path / "codec.json").write_text(
        (tmp_path / "codec.json").read_text().replace(info.fingerprint, "0" * 64)
    )
    with pytest.raises(codec.CodecError, match="does not match the fingerprint"):
        codec_files.load(str(tmp_path))
