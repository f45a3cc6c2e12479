"""Score-aware encoding: a codec faiss does not have, measured against the one-tier goals.

For unit-norm vectors searched by inner product, the part of a code's error that lies along the vector's own
direction moves its scores with the queries near it the most; the part orthogonal to it barely does.
ScaNN's anisotropic quantization (Guo et al., ICML 2020) weights the parallel error by ``eta`` > 1 when it
chooses each vector's code. Here the codebooks are faiss's own (PQ, optionally behind OPQ's rotation,
trained on the learn split as usual); only the codes of the base differ: faiss's nearest-centroid codes
refined by coordinate descent over the sub-quantizers under the weighted loss

    |r|^2 + (eta - 1) * (r . x / |x|)^2,    r = x - decode(code),

each sweep choosing every sub-quantizer's centroid anew with the others fixed (the loss never grows). The
codes are then built and searched like any other flat code, plainly and unit-decoded. ScaNN also re-trains
the codebooks under that loss; this measures the encoding alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from transforms.codec.codec import CodecError, unwrap

SWEEPS = 3
CHUNK = 4096  # rows scored at once: CHUNK x ksub distances per sub-quantizer


def product_parts(trained: Any) -> tuple[np.ndarray, Any]:
    """(rotation (d_out x d_in), product quantizer) of a flat PQ codec: OPQ's rotation, or the identity."""
    import faiss

    inner = unwrap(trained)
    if not isinstance(inner, faiss.IndexPQ):
        raise CodecError(f"score-aware encoding needs a flat PQ codec, not {type(inner).__name__}")
    rotation = np.eye(inner.d, dtype=np.float32)
    if isinstance(trained, faiss.IndexPreTransform):
        if trained.chain.size() != 1:
            raise CodecError("score-aware encoding takes one linear transform before the PQ")
        vt = faiss.downcast_VectorTransform(trained.chain.at(0))
        if not isinstance(vt, faiss.LinearTransform) or vt.have_bias or not vt.is_orthonormal:
            raise CodecError(f"score-aware encoding needs a rotation before the PQ, not {type(vt).__name__}")
        rotation = faiss.vector_to_array(vt.A).reshape(vt.d_out, vt.d_in)
    return rotation, inner.pq


def refine_codes(
    rotated: np.ndarray, centroids: np.ndarray, codes: np.ndarray, eta: float, sweeps: int = SWEEPS
) -> np.ndarray:
    """Sub-quantizer indices (n, M) refined from ``codes`` to lower the anisotropic loss of the rotated
    vectors (n, d) under ``centroids`` (M, ksub, dsub). Pure: returns a new array."""
    n_sub, _, dsub = centroids.shape
    out = codes.astype(np.int64, copy=True)
    for lo in range(0, len(rotated), CHUNK):
        y = rotated[lo : lo + CHUNK].astype(np.float64)
        u = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
        cod = out[lo : lo + CHUNK]
        decoded = np.concatenate([centroids[m][cod[:, m]] for m in range(n_sub)], axis=1).astype(np.float64)
        for _ in range(sweeps):
            changed = 0
            for m in range(n_sub):
                s = slice(m * dsub, (m + 1) * dsub)
                c = centroids[m].astype(np.float64)
                # parallel error of the other sub-vectors, then this one's for every centroid
                par_rest = np.einsum("ij,ij->i", y - decoded, u) - np.einsum(
                    "ij,ij->i", y[:, s] - decoded[:, s], u[:, s]
                )
                sq = (c**2).sum(1)[None, :] - 2 * y[:, s] @ c.T  # |y_m - c|^2 less a per-row constant
                par = par_rest[:, None] + (y[:, s] * u[:, s]).sum(1, keepdims=True) - u[:, s] @ c.T
                best = np.argmin(sq + (eta - 1) * par**2, axis=1)
                changed += int((best != cod[:, m]).sum())
                cod[:, m] = best
                decoded[:, s] = c[best]
            if not changed:
                break
        out[lo : lo + CHUNK] = cod
    return out


def encoder(eta: float, sweeps: int = SWEEPS) -> Callable[[Any, np.ndarray], np.ndarray]:
    """An ``encode(trained, vectors) -> codes`` for ``planner.measure``: faiss's codes, refined."""
    import faiss

    def encode(trained: Any, vectors: np.ndarray) -> np.ndarray:
        rotation, pq = product_parts(trained)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        centroids = faiss.vector_to_array(pq.centroids).reshape(pq.M, pq.ksub, pq.dsub)
        start = faiss.unpack_bitstrings(trained.sa_encode(vectors), pq.M, pq.nbits)
        refined = refine_codes(vectors @ rotation.T, centroids, start, eta, sweeps)
        return faiss.pack_bitstrings(refined.astype(np.int32), pq.nbits)

    return encode
