"""Score-aware encoding: faiss's codes are its start, the weighted loss only falls, and it leaves the
plain loss's optimum alone."""

import faiss
import numpy as np
import pytest

from benchmarks import scoreaware
from transforms.codec import codec
from transforms.codec.codec import CodecError


def unit_vectors(n: int, d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def loss(x: np.ndarray, decoded: np.ndarray, eta: float) -> float:
    r = x - decoded
    parallel = np.einsum("ij,ij->i", r, x)  # x is unit-norm
    return float(((r**2).sum(1) + (eta - 1) * parallel**2).sum())


@pytest.mark.parametrize("factory", ["OPQ2,PQ2x4", "PQ4x4"])
def test_codes_lower_the_weighted_loss_and_decode_with_the_codec(factory):
    x = unit_vectors(10_000, 16)  # OPQ trains its rotation with 8-bit codebooks: 39 points a centroid
    trained = codec.train(x, factory)
    base = x[:400]
    plain = trained.sa_encode(base)
    # with no extra weight the loss is the nearest-centroid one: faiss's codes are already its optimum
    assert np.array_equal(scoreaware.encoder(1.0)(trained, base), plain)
    aware = scoreaware.encoder(4.0)(trained, base)
    assert aware.shape == plain.shape and aware.dtype == np.uint8
    assert (aware != plain).any()
    assert loss(base, trained.sa_decode(aware), 4.0) < loss(base, trained.sa_decode(plain), 4.0)
    # what it trades: more error overall, less of it along each vector
    assert loss(base, trained.sa_decode(aware), 1.0) > loss(base, trained.sa_decode(plain), 1.0)


def test_refine_never_raises_the_loss_and_is_pure():
    y = unit_vectors(300, 16, seed=3)
    centroids = np.random.default_rng(4).standard_normal((4, 16, 4)).astype(np.float32) * 0.3
    start = np.random.default_rng(5).integers(0, 16, (300, 4))
    kept = start.copy()

    def weighted(codes: np.ndarray) -> float:
        decoded = np.concatenate([centroids[m][codes[:, m]] for m in range(4)], axis=1)
        return loss(y, decoded, 8.0)

    before = weighted(start)
    one = weighted(scoreaware.refine_codes(y, centroids, start, 8.0, sweeps=1))
    three = weighted(scoreaware.refine_codes(y, centroids, start, 8.0, sweeps=3))
    assert three <= one < before
    assert np.array_equal(start, kept)


def test_codecs_it_cannot_refine_are_refused():
    x = unit_vectors(1200, 32)
    with pytest.raises(CodecError, match="flat PQ"):
        scoreaware.product_parts(codec.train(x, "SQ4"))
    with pytest.raises(CodecError, match="rotation"):
        scoreaware.product_parts(codec.train(x, "PCA16,PQ4x4"))
    assert isinstance(scoreaware.product_parts(codec.train(x, "PQ4x4"))[1], faiss.ProductQuantizer)
