"""The codec: a trained, empty faiss index (from an index_factory string) plus the JSON that describes it.

Over 300 lines on purpose: checking what a factory string can train on, training it, and saving, loading and
fingerprinting it all walk the same faiss wrappers (unwrap, _inner), which would otherwise be shared across
modules. The default choice lives in transforms.codec.auto, the stored tier in transforms.codec.refine."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
from typing import Any, NamedTuple

import numpy as np

from transforms.codec import kmeans_warnings
from transforms.codec import refine as stored_tier
from transforms.codec.kmeans_warnings import MIN_POINTS_PER_CENTROID
from transforms.storage.errors import VecpressError

logger = logging.getLogger(__name__)

# faiss's k-means warns below this many training points per centroid; vecpress treats that as an error.
EIGHT_BIT_POINTS = 256 * MIN_POINTS_PER_CENTROID  # what a codebook of 256 centroids trains on


class CodecError(VecpressError, ValueError):
    """The codec cannot be trained as asked; the message carries the numbers."""


class Requirement(NamedTuple):
    component: str
    min_points: int


def requirements(index: Any) -> list[Requirement]:
    """Minimum training points for each trained component of a (not yet trained) faiss index."""
    import faiss

    reqs: list[Requirement] = []
    inner = index
    if isinstance(index, faiss.IndexPreTransform):
        for i in range(index.chain.size()):
            vt = faiss.downcast_VectorTransform(index.chain.at(i))
            if isinstance(vt, faiss.OPQMatrix):
                reqs.append(
                    Requirement(f"OPQ{vt.M} (256 centroids per sub-quantizer)", MIN_POINTS_PER_CENTROID * 256)
                )
            elif isinstance(vt, faiss.PCAMatrix | faiss.ITQTransform):
                # a full-rank covariance: fewer vectors than dimensions leave faiss short of eigenvectors
                name = "PCA" if isinstance(vt, faiss.PCAMatrix) else "ITQ"
                reqs.append(Requirement(f"{name} from {vt.d_in} to {vt.d_out} dims", max(vt.d_in, vt.d_out)))
        inner = faiss.downcast_index(index.index)
    try:
        ivf = faiss.extract_index_ivf(inner)
    except RuntimeError:
        ivf = None
    if ivf is not None:
        reqs.append(Requirement(f"IVF{ivf.nlist} coarse quantizer", MIN_POINTS_PER_CENTROID * ivf.nlist))
        inner = ivf
    inner = faiss.downcast_index(inner)
    pq = getattr(inner, "pq", None)
    if pq is not None:
        reqs.append(Requirement(f"PQ{pq.M}x{pq.nbits} codebooks", MIN_POINTS_PER_CENTROID * pq.ksub))
    aq = _additive_quantizer(inner)
    if aq is not None:
        biggest = max(int(aq.nbits.at(i)) for i in range(aq.nbits.size()))
        name = type(aq).__name__.replace("Quantizer", "")
        reqs.append(
            Requirement(
                f"{name} {aq.M} codebooks (largest {biggest} bits)", MIN_POINTS_PER_CENTROID << biggest
            )
        )
    return reqs


def _additive_quantizer(index: Any) -> Any:
    """The additive quantizer (RQ, LSQ, or a product of them) inside an index, if it has one."""
    import faiss

    aq = getattr(index, "aq", None)
    return None if aq is None else faiss.downcast_AdditiveQuantizer(aq)


def unwrap(index: Any) -> Any:
    """The index behind an optional pre-transform (PCA, OPQ, ITQ), as its own faiss type."""
    import faiss

    return faiss.downcast_index(index.index if isinstance(index, faiss.IndexPreTransform) else index)


def _inner(index: Any) -> Any:
    import faiss

    index = unwrap(index)
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return index


def apply_params(index: Any, params: dict[str, int]) -> None:
    """Settings kept beside the factory string: ``max_beam_size`` (residual quantizers, also inside a
    product or IVF), ``encode_ils_iters`` (LSQ). Applied before training and again after loading."""
    import faiss

    aq = _additive_quantizer(_inner(index))
    quantizers = []
    if aq is not None:
        if isinstance(aq, faiss.ProductAdditiveQuantizer):
            quantizers = [faiss.downcast_AdditiveQuantizer(aq.subquantizer(i)) for i in range(aq.nsplits)]
        else:
            quantizers = [aq]
    for key, value in params.items():
        targets = [q for q in quantizers if hasattr(q, key)]
        if not targets:
            raise CodecError(f"codec parameter {key}={value} does not apply to this codec")
        for q in targets:
            setattr(q, key, int(value))


def _build(factory: str, dim: int) -> Any:
    """An untrained index from ``factory`` (L2 metric: PCA centring keeps L2 ranks, not inner products)."""
    import faiss

    try:
        return faiss.index_factory(dim, factory, faiss.METRIC_L2)
    except RuntimeError as err:
        reason = str(err).splitlines()[-1].split("Error: ")[-1]
        raise CodecError(
            f"codec {factory!r} is not a valid faiss index_factory string for {dim}-d vectors: {reason}"
        ) from err


def searchable_kind(index: Any) -> str:
    """How index shards are built from this codec's codes: "ivf" (codes go to inverted lists), "flat" (a
    flat code index under an id map) or "fastscan" (flat 4-bit PQ, packed for SIMD after adding)."""
    import faiss

    inner = unwrap(index)
    try:
        ivf = faiss.extract_index_ivf(inner)
    except RuntimeError:
        ivf = None
    if ivf is not None:
        # IVF fast-scan lists are packed in SIMD blocks that add_sa_codes does not write
        return "" if isinstance(faiss.downcast_index(ivf), faiss.IndexIVFFastScan) else "ivf"
    if isinstance(inner, faiss.IndexPQFastScan):
        return "fastscan"
    if isinstance(inner, faiss.IndexFlatCodes):
        return "flat"
    return ""


def positional(index: Any) -> bool:
    """Whether a built index shard's ids are its positions: a flat code index without an ``IndexIDMap``."""
    import faiss

    return not isinstance(index, faiss.IndexIDMap) and searchable_kind(index) in ("flat", "fastscan")


def unit_decodable(index: Any) -> bool:
    """Whether index shards of this codec can be searched by unit-length reconstructions: a flat index of
    vector-quantizer codes (PQ, SQ, RQ, LSQ and their products, behind an optional transform) whose codes
    decode to points of the embedding space. Binary hashes (LSH, ITQ) do not, and fast-scan PQ packs its
    codes where they cannot be read back."""
    import faiss

    if searchable_kind(index) != "flat":
        return False
    quantizers = (faiss.IndexAdditiveQuantizer, faiss.IndexPQ, faiss.IndexScalarQuantizer)
    return isinstance(unwrap(index), quantizers)


def _require_buildable(index: Any, factory: str) -> None:
    if not searchable_kind(index):
        raise CodecError(
            f"codec {factory!r} cannot be built from stored codes: use an IVF codec (e.g. "
            f"'PCAR128,IVF1024,PQ32np') or a flat code index (PQ, OPQ, SQ, RQ, LSQ, LSH, ITQ, fast-scan PQ)"
        )


def validate(factory: str, dim: int, unit_decode: bool = False, refine: str | None = None) -> None:
    """Fail fast, before any embedding, on a factory string that cannot become vecpress index shards (or,
    with ``unit_decode``, be searched by unit-length reconstructions; or, with ``refine``, have a stored
    tier of that scalar code)."""
    if refine is not None:
        stored_tier.check_factory(refine)
        if unit_decode:
            raise CodecError(
                "a stored tier re-ranks by exact distances: it does not combine with --unit-decode"
            )
    index = _build(factory, dim)
    _require_buildable(index, factory)
    if unit_decode and not unit_decodable(index):
        raise CodecError(
            f"codec {factory!r} cannot be searched by unit-length reconstructions: that needs a flat "
            "vector-quantizer codec (PQ, OPQ, SQ, RQ, LSQ or their products; not IVF, LSH, ITQ or fast-scan)"
        )


def _check(
    index: Any, factory: str, n_train: int, share: float = 1.0, reqs: list[Requirement] | None = None
) -> None:
    _require_buildable(index, factory)
    reqs = requirements(index) if reqs is None else reqs
    short = [r for r in reqs if n_train < math.ceil(share * r.min_points)]
    if short:
        detail = "; ".join(f"{r.component} needs >= {math.ceil(share * r.min_points)}" for r in short)
        raise CodecError(
            f"codec {factory!r} cannot be trained on {n_train} vectors: {detail} "
            f"(faiss needs {MIN_POINTS_PER_CENTROID} points per centroid). Use a smaller codec, "
            f"'--codec auto', a larger --sample-size, or more documents."
        )


def check_trainable(factory: str, dim: int, n_train: int) -> None:
    """Raise a CodecError for an invalid factory string or for every component the sample is too small for."""
    _check(_build(factory, dim), factory, n_train)


def train(sample: np.ndarray, factory: str, params: dict[str, int] | None = None, share: float = 1.0) -> Any:
    """Train an empty index from ``factory`` (and ``params``, see ``apply_params``) on the sample, after
    checking it has enough points: ``share`` of faiss's points per centroid (less than 1 only where the
    planner measures a codec on part of what the run will train it on)."""
    index = _build(factory, sample.shape[1])
    reqs = requirements(index)
    _check(index, factory, len(sample), share, reqs)
    apply_params(index, params or {})
    short = any(len(sample) < r.min_points for r in reqs)
    with kmeans_warnings.gathered(factory) if short else contextlib.nullcontext():
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
    return index


def fingerprint(index: Any) -> str:
    """sha256 of the serialized trained index: names the codebooks that codes were made with."""
    import faiss

    return hashlib.sha256(faiss.serialize_index(index).tobytes()).hexdigest()


def serialized_size(index: Any) -> int:
    """Bytes of the trained (empty) index as stored: what every index shard carries besides its codes."""
    import faiss

    return int(faiss.serialize_index(index).size)


def copy(index: Any) -> Any:
    """A deep copy of a (trained) index; by serialization, since faiss cannot clone every transform (ITQ)."""
    import faiss

    return faiss.deserialize_index(faiss.serialize_index(index))


def set_nprobe(index: Any, nprobe: int) -> None:
    import faiss

    try:
        faiss.extract_index_ivf(index).nprobe = nprobe
    except RuntimeError:
        pass
