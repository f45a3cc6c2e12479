"""The codecs the planner measures: every family vecpress can build, sized to a byte budget or a ladder."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from transforms import codec

# Bytes per vector tried when no budget is given (a quality target instead).
LADDER = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128)
NPROBES = (1, 2, 4, 8, 16, 32, 64, 128)
RABITQ_BITS = (1, 2, 4)
RABITQ_MIN_DIMS = 32
# families whose trained codec is small (scalar ranges, a few rotations, 4-bit codebooks): worth measuring
# below the budget's size when the codec's own bytes might not leave room at it
SMALL_CODECS = (
    "sq",
    "binary",
    "itq",
    "rabitq",
    "pca+rabitq",
    "pca+sq",
    "pq4-fastscan",
    "ivf-rabitq",
    "ivf-pq",
)


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
    below_budget: bool = field(default=False, compare=False)  # sized under the budget, in case codec bytes
    # push the full-size one over it: measured after its family's full-size candidates

    @property
    def name(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.params)
        return f"{self.factory}{extra}"


def _divides(dim: int, m: int) -> bool:
    return m > 0 and dim % m == 0


@functools.cache
def _rabitq_code_size(dim: int, bits: int) -> int:
    import faiss

    return int(faiss.index_factory(dim, "RaBitQ" if bits == 1 else f"RaBitQ{bits}").sa_code_size())


def rabitq(dim: int, size: int, n_train: int) -> list[Candidate]:
    """RaBitQ at ``size`` code bytes: for 1, 2 and 4 bits per dimension, on as many PCA dimensions (a
    multiple of 8) as fit, the whole dimension when it does (then also behind a random rotation, and under an
    IVF coarse quantizer when the sample trains one). RaBitQ keeps a few bytes of per-vector factors besides
    its bits, and needs no codebook: it trains on the mean alone."""
    out: list[Candidate] = []
    for bits in RABITQ_BITS:
        name = "RaBitQ" if bits == 1 else f"RaBitQ{bits}"
        fit = [d for d in range(dim, 7, -8) if _rabitq_code_size(d, bits) <= size]
        if not fit:
            continue
        d = fit[0]
        if d == dim:
            out.append(Candidate(name, "rabitq"))
            if bits == 1:
                out.append(Candidate(f"RR{dim},{name}", "rabitq"))
        elif d >= min(dim, RABITQ_MIN_DIMS):  # fewer dimensions leave little but the factors
            out.append(Candidate(f"PCAR{d},{name}", "pca+rabitq"))
    nlist = _ivf_nlist(n_train)
    full = _rabitq_code_size(dim, 1)
    if nlist >= 4 and full + (1 if nlist <= 256 else 2) <= size:
        out.append(Candidate(f"IVF{nlist},RaBitQ", "ivf-rabitq", nprobes=NPROBES))
    return out


def for_size(dim: int, size: int, n_train: int) -> list[Candidate]:
    """Every family at ``size`` code bytes per vector (where the family can make that size)."""
    eight_bit = n_train >= codec.EIGHT_BIT_POINTS
    out: list[Candidate] = rabitq(dim, size, n_train)
    if size >= 8 and size < dim:
        out.append(Candidate(f"PCAR{size},SQ8", "pca+sq"))
    if 2 * size >= 8 and 2 * size < dim:
        out.append(Candidate(f"PCAR{2 * size},SQ4", "pca+sq"))
    if 8 * size <= dim:
        out.append(Candidate(f"ITQ{8 * size},LSH", "itq"))
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
    return out


def _ivf_nlist(n_train: int) -> int:
    """As many lists as the sample trains well (39 points each), at most 4*sqrt(n), a power of two."""
    most = max(1, n_train // codec.MIN_POINTS_PER_CENTROID)
    want = int(4 * n_train**0.5)
    nlist = 1
    while nlist * 2 <= min(most, want):
        nlist *= 2
    return nlist


def generate(dim: int, n_train: int, budget_bytes: int | None = None) -> list[Candidate]:
    """Candidates at the budget (and the scalar codecs that fit under it), or at every ladder size.

    Only codecs the sample can train (39 points per centroid) are returned; cheap families come first, then
    the costlier variants, cheapest first.
    """
    sizes = [budget_bytes] if budget_bytes else [s for s in LADDER if s < 4 * dim]
    scalar = [("SQfp16", 2 * dim), ("SQ8", dim), ("SQ4", dim // 2), ("LSH", dim // 8)]
    fits = [f for f, b in scalar if budget_bytes is None or b <= budget_bytes]
    out = [Candidate(f, "sq" if f.startswith("SQ") else "binary") for f in fits]
    for size in sizes:
        out += for_size(dim, size, n_train)
    unique: dict[Candidate, None] = {}
    for c in out:
        try:
            codec.check_trainable(c.factory, dim, n_train)
        except codec.CodecError:
            continue
        unique.setdefault(c, None)
    return sorted(unique, key=order_key)


def order_key(c: Candidate) -> tuple[bool, float, int, bool]:
    """Plain codecs by family, each family's full-size codecs before its ones below the budget, then the
    variants, the cheapest first: a time budget spent on one 3x-costly beam search would leave no room for
    two cheaper variants."""
    return (c.after is not None, c.cost if c.after else 0.0, FAMILY_ORDER.index(c.family), c.below_budget)


# Families in the order of their training time (measured at 48 B on 10k 384-d vectors on 2 cores: scalar,
# RaBitQ, PCA and IVF-PQ codecs train in seconds, PQ in tens, OPQ in minutes, residual quantizers and
# full-width ITQ longer still), so that a time budget measures every cheap family and the plain PQ presets
# before it spends itself on the slow ones; what a slow family may gain is tried while time is left.
FAMILY_ORDER = (
    "sq",
    "binary",
    "rabitq",
    "pca+rabitq",
    "pca+sq",
    "pq4-fastscan",
    "ivf-rabitq",
    "ivf-pq",
    "pq",
    "opq",
    "opq+reduction",
    "prq",
    "rq",
    "itq",
    "pca+rq",
    "lsq",
)
