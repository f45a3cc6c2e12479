import math

import faiss
import numpy as np

from transforms.codec import drift


def test_a_codec_is_kept_while_every_error_is_within_tolerance_of_its_reference():
    reference = {"codec": 0.10, "refine": 0.01}
    ok, why = drift.check(reference, {"codec": 0.12, "refine": 0.0125})
    assert ok and "within 1.25x" in why and "codec 1.20x" in why
    ok, why = drift.check(reference, {"codec": 0.13, "refine": 0.005})
    assert not ok and "codec 1.30x" in why and "over 1.25x" in why
    assert not drift.check(reference, {"codec": math.nan, "refine": 0.01})[0]  # NaN is never within
    ok, why = drift.check(None, {"codec": 0.1})
    assert not ok and "no reference" in why


def test_errors_are_each_tiers_mean_squared_reconstruction_error():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 8)).astype(np.float32)
    coarse = faiss.index_factory(8, "PQ2x4")
    coarse.train(x)
    fine = faiss.index_factory(8, "SQfp16")
    fine.train(x)
    measured = drift.errors(coarse, fine, x)
    recon = coarse.sa_decode(coarse.sa_encode(x))
    assert measured["codec"] == np.float32(((recon - x) ** 2).sum(axis=1).mean())
    assert measured["refine"] < 1e-4 < measured["codec"]  # fp16 is all but exact; 1-byte codes are not
    assert set(drift.errors(coarse, None, x)) == {"codec"}
