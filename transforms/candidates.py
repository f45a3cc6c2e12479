"""The codecs the planner measures: every family vecpress can build, sized to a byte budget or a ladder."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from transforms import codec

# Bytes per vector tried when no budget is given (a quality target instead).
LADDER = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128)
NPROBES = (1, 2, 4, 8, 16, 32, 64, 128)
# A wide first codebook keeps each centroid the mean of at least this many training vectors: below 2, k-means
# stops summarising the sample and copies it.
WIDE_POINTS_PER_CENTROID = 2
WIDE_MAX_BITS = 16


@dataclass(frozen=True)
class Candidate:
    """One codec to measure. ``after`` names a weaker variant (same family and size) that must be on the
    quality frontier before this costlier one is tried: beam search only where plain RQ already competes.
    ``cost`` is its training time in units of that variant's: the planner skips it when that would overrun
    the time budget."""

    factory: str
    family: str
    params: tuple[tuple[str, int], ...] = ()
    nprobes: tuple[int, ...] = ()
    after: str | None = None
    cost: float = field(default=1.0, compare=False)

    @property
    def name(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.params)
        return f"{self.factory}{extra}"


def _divides(dim: int, m: int) -> bool:
    return m > 0 and dim % m == 0


def for_size(dim: int, size: int, n_train: int, wide: bool = False) -> list[Candidate]:
    """Every family at ``size`` code bytes per vector (where the family can make that size); with ``wide``,
    also residual quantization with a wide first codebook (see wide_rq)."""
    eight_bit = n_train >= codec.EIGHT_BIT_POINTS
    out: list[Candidate] = []
    if size >= 8 and size < dim:
        out.append(Candidate(f"PCAR{size},SQ8", "pca+sq"))
    if 2 * size >= 8 and 2 * size < dim:
        out.append(Candidate(f"PCAR{2 * size},SQ4", "pca+sq"))
    if 8 * size <= dim:
        out.append(Candidate(f"ITQ{8 * size},LSH", "binary"))
    if _divides(dim, 2 * size):
        out.append(Candidate(f"PQ{2 * size}x4fs", "pq4-fastscan"))
    if eight_bit and _divides(dim, size):
        out.append(Candidate(f"PQ{size}", "pq"))
        out.append(Candidate(f"OPQ{size},PQ{size}", "opq"))
    if eight_bit and 4 * size < dim:
        out.append(Candidate(f"OPQ{size}_{4 * size},PQ{size}", "opq+reduction"))
    if eight_bit and size >= 2:
        nlist = _ivf_nlist(n_train)
        coarse = 1 if nlist <= 256 else 2
        m = size - coarse
        if m >= 1 and _divides(dim, m):
            out.append(Candidate(f"IVF{nlist},PQ{m}np", "ivf-pq", nprobes=NPROBES))
        elif m >= 1 and 4 * m <= dim:  # a PCA rotation to 4 dims per sub-quantizer makes any size fit
            out.append(Candidate(f"PCAR{4 * m},IVF{nlist},PQ{m}np", "ivf-pq", nprobes=NPROBES))
        rq = f"RQ{size}x8"
        out.append(Candidate(rq, "rq"))
        # Relative costs: beam search grows with the beam (faiss's default is 5); LSQ re-encodes the whole
        # sample with iterated local search at each of its training iterations.
        out.append(Candidate(rq, "rq", params=(("max_beam_size", 16),), after=rq, cost=3.0))
        out.append(Candidate(f"LSQ{size}x8", "lsq", after=rq, cost=10.0))
        if size % 2 == 0 and _divides(dim, 2):
            out.append(Candidate(f"PRQ2x{size // 2}x8", "prq"))
        # Beyond the presets: a PCA rotation learned on the sample drops the low-variance directions the
        # residual codebooks would otherwise spend bits on.
        if dim // 2 >= size:
            out.append(Candidate(f"PCAR{dim // 2},RQ{size}x8", "pca+rq", after=rq))
        widened = wide_rq(size, n_train) if wide else None
        if widened is not None:
            out.append(widened)
    return out


def wide_rq(size: int, n_train: int) -> Candidate | None:
    """Residual quantization at ``size`` bytes whose first codebook is as wide as the sample allows at
    WIDE_POINTS_PER_CENTROID (over 8 bits), then 8-bit codebooks and one narrower last codebook for the bits
    left: ``RQ1x12_22x8_1x4`` for 24 bytes and a 10k sample.

    Below faiss's 39 points per centroid, the first codebook partly memorises the sample: the codec encodes
    the vectors it was trained on better and others worse (24 bytes, trained on 9,000 20 Newsgroups posts:
    recall@10 0.90 against RQ24x8's 0.86 searching those posts, 0.68 against 0.73 searching others). The
    planner measures it the way the run will use it, so it is only offered when the plan's sample is the whole
    corpus and the run trains on all of it: how much a codebook memorises depends on how many vectors it is
    trained on, and a plan on a smaller sample would overrate it.
    """
    bits = min(int(math.log2(max(n_train, 1) / WIDE_POINTS_PER_CENTROID)), WIDE_MAX_BITS, 8 * size)
    if bits <= 8:
        return None
    full, rest = divmod(8 * size - bits, 8)
    factory = f"RQ1x{bits}" + (f"_{full}x8" if full else "") + (f"_1x{rest}" if rest else "")
    params = ((codec.SPARSE_PARAM, WIDE_POINTS_PER_CENTROID),)
    # an over-estimate on purpose: on 20 Newsgroups (24 B, 10k vectors) it trained in 81 s, RQ24x8 in 78 s
    return Candidate(factory, "rq-wide", params=params, after=f"RQ{size}x8", cost=1.5)


def _ivf_nlist(n_train: int) -> int:
    """As many lists as the sample trains well (39 points each), at most 4*sqrt(n), a power of two."""
    most = max(1, n_train // codec.MIN_POINTS_PER_CENTROID)
    want = int(4 * n_train**0.5)
    nlist = 1
    while nlist * 2 <= min(most, want):
        nlist *= 2
    return nlist


def generate(dim: int, n_train: int, budget_bytes: int | None = None, wide: bool = False) -> list[Candidate]:
    """Candidates at the budget (and the scalar codecs that fit under it), or at every ladder size; ``wide``
    adds wide-first-codebook residual quantizers (see wide_rq).

    Only codecs the sample can train (39 points per centroid, or their own min_points_per_centroid) are
    returned; cheap families come first, then the costlier variants, cheapest first.
    """
    sizes = [budget_bytes] if budget_bytes else [s for s in LADDER if s < 4 * dim]
    scalar = [("SQfp16", 2 * dim), ("SQ8", dim), ("SQ4", dim // 2), ("LSH", dim // 8)]
    fits = [f for f, b in scalar if budget_bytes is None or b <= budget_bytes]
    out = [Candidate(f, "sq" if f.startswith("SQ") else "binary") for f in fits]
    for size in sizes:
        out += for_size(dim, size, n_train, wide)
    unique: dict[Candidate, None] = {}
    for c in out:
        try:
            codec.check_trainable(c.factory, dim, n_train, dict(c.params))
        except codec.CodecError:
            continue
        unique.setdefault(c, None)
    order = list(FAMILY_ORDER)
    # variants after every plain codec, the cheapest first: a time budget spent on one 3x-costly beam
    # search would leave no room for two cheaper variants
    return sorted(
        unique, key=lambda c: (c.after is not None, c.cost if c.after else 0.0, order.index(c.family))
    )


# Cheap families first, then the ones that usually win per byte (residual and product-residual
# quantizers), then the rest: a time budget spends itself on the least promising last.
FAMILY_ORDER = (
    "sq",
    "binary",
    "pca+sq",
    "pq4-fastscan",
    "ivf-pq",
    "rq",
    "rq-wide",
    "prq",
    "opq",
    "pq",
    "opq+reduction",
    "pca+rq",
    "lsq",
)
