import numpy as np

from transforms.codec import auto, choice


def test_an_explicit_codec_is_taken_as_given_and_reranks_only_with_a_stored_tier():
    x = np.random.default_rng(0).standard_normal((700, 16)).astype(np.float32)
    one = choice.choose(x, None, 700, choice.CodecSettings(codec="PQ4x4", nprobe=8, rerank=20))
    assert (one.factory, one.nprobe, one.refine, one.rerank) == ("PQ4x4", 8, None, 1)
    two = choice.choose(x, None, 700, choice.CodecSettings(codec="PQ4x4", refine="SQ8", rerank=20))
    assert (two.refine, two.rerank) == ("SQ8", 20)
    index, quantizer = choice.train(x, two)
    assert index.is_trained and quantizer.sa_code_size() == 16
    assert choice.train(x, one)[1] is None


def test_auto_is_the_default_choice_for_the_corpus_size():
    x = np.random.default_rng(1).standard_normal((300, 16)).astype(np.float32)
    picked = choice.choose(x, None, 5_000_000, choice.CodecSettings())
    default = auto.auto_choice(300, 5_000_000, 16)
    assert (picked.factory, picked.refine, picked.rerank) == (default.factory, default.refine, default.rerank)
    assert picked.reasons == default.reasons and picked.plan is None
