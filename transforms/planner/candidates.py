"""The codecs the planner measures: every family vecpress can build, sized to a byte budget or a ladder."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from transforms.codec import codec

# Bytes per vector tried when no budget is given (a quality target instead).
LADDER = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128)
NPROBES = (1, 2, 4, 8, 16, 32, 64, 128)
RABITQ_BITS = (1, 2, 4)
RABITQ_MIN_DIMS = 32
RQ4_BEAM = 32  # a wide beam for many small stages; the planner measures it against the default (5)
CODEC_HEADER_BYTES = 512  # what a serialized codec keeps besides its arrays (faiss headers, ~100 B each part)
# An IVF index keeps each vector's 64-bit id beside its code in its inverted list; a flat index keeps none
# (its ids are positions, mapped to row ids on disk), nor does a two-tier one (its refine shard maps them).
ID_BYTES = 8
# The plan trains codecs on its learn part, which may hold fewer points than the run trains on: a codec the
# run can train (faiss's 39 points per centroid) is measured when the learn part holds this share of that.
# Codebooks trained on fewer points are coarser, so the plan measures such a codec pessimistically, if at all.
PLAN_SHARE = 0.5


def real_bytes(code_bytes: int, codec_bytes: int, corpus_rows: int, ivf: bool = False) -> float:
    """What one vector costs in memory: its code, its id in an IVF list, and its share of the one codec."""
    return round(code_bytes + (ID_BYTES if ivf else 0) + codec_bytes / max(1, corpus_rows), 2)


@dataclass(frozen=True)
class Candidate:
    """One codec to measure. ``after`` names the family whose plain codec (no parameters) must be on the
    quality frontier before this costlier variant is tried: beam search only where plain RQ already
    competes. ``cost`` is its training time in units of that codec's: the planner skips it when that would
    overrun the time budget. ``code_bytes`` and ``codec_floats`` (what the trained codec keeps, in float32s)
    say what one vector will really cost before anything is trained."""

    factory: str
    family: str
    params: tuple[tuple[str, int], ...] = ()
    nprobes: tuple[int, ...] = ()
    after: str | None = None
    cost: float = field(default=1.0, compare=False)
    code_bytes: int = field(default=0, compare=False)
    codec_floats: int = field(default=0, compare=False)

    def real_bytes(self, corpus_rows: int) -> float:
        """Its code, its id (IVF), and its share of the one trained codec, estimated before training."""
        codec_bytes = 4 * self.codec_floats + CODEC_HEADER_BYTES
        return real_bytes(self.code_bytes, codec_bytes, corpus_rows, ivf=bool(self.nprobes))

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


def _pca(dim: int, k: int) -> int:
    """Float32s a trained PCAR{k} keeps: faiss stores the whole eigenvector matrix besides the projection,
    the mean, the eigenvalues and the bias."""
    return dim * dim + k * dim + 2 * dim + k


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
        code = _rabitq_code_size(d, bits)
        if d == dim:
            out.append(Candidate(name, "rabitq", code_bytes=code, codec_floats=dim))
            if bits == 1:
                out.append(
                    Candidate(f"RR{dim},{name}", "rabitq", code_bytes=code, codec_floats=dim * dim + dim)
                )
        elif d >= min(dim, RABITQ_MIN_DIMS):  # fewer dimensions leave little but the factors
            out.append(
                Candidate(f"PCAR{d},{name}", "pca+rabitq", code_bytes=code, codec_floats=_pca(dim, d) + d)
            )
    nlist = _ivf_nlist(n_train)
    full = _rabitq_code_size(dim, 1) + (1 if nlist <= 256 else 2)
    if nlist >= 4 and full <= size:
        floats = (nlist + 1) * dim  # the coarse centroids and RaBitQ's mean
        out.append(
            Candidate(
                f"IVF{nlist},RaBitQ", "ivf-rabitq", nprobes=NPROBES, code_bytes=full, codec_floats=floats
            )
        )
    return out


def for_size(dim: int, size: int, n_train: int, n_lists: int | None = None) -> list[Candidate]:
    """Every family at ``size`` code bytes per vector (where the family can make that size). Where ``size``
    does not divide the dimension, product quantizers work on a PCA rotation to the most dimensions it
    divides (ivf-pq: 4 per sub-quantizer). IVF lists are as many as ``n_lists`` points train (``n_train``
    when not given)."""
    eight_bit = n_train >= codec.EIGHT_BIT_POINTS
    out: list[Candidate] = rabitq(dim, size, n_lists or n_train)

    def add(factory: str, family: str, floats: int, **kw) -> None:
        out.append(Candidate(factory, family, code_bytes=size, codec_floats=floats, **kw))

    if size >= 8 and size < dim:
        add(f"PCAR{size},SQ8", "pca+sq", _pca(dim, size) + 2 * size)
    if 2 * size >= 8 and 2 * size < dim:
        add(f"PCAR{2 * size},SQ4", "pca+sq", _pca(dim, 2 * size) + 4 * size)
    if 8 * size <= dim:
        k = 8 * size
        add(f"ITQ{k},LSH", "itq", dim + k * k + k * dim + 2 * k)
    m4 = 2 * size  # 4-bit sub-quantizers
    if _divides(dim, m4):
        add(f"PQ{m4}x4fs", "pq4-fastscan", 16 * dim)
    elif 0 < m4 <= dim:
        d = m4 * (dim // m4)
        add(f"PCAR{d},PQ{m4}x4fs", "pq4-fastscan", _pca(dim, d) + 16 * d)
    if eight_bit and _divides(dim, size):
        add(f"PQ{size}", "pq", 256 * dim)
        add(f"OPQ{size},PQ{size}", "opq", dim * dim + 256 * dim)
    elif eight_bit and 0 < size <= dim:
        d = size * (dim // size)
        add(f"PCAR{d},PQ{size}", "pq", _pca(dim, d) + 256 * d)
        add(f"OPQ{size}_{d},PQ{size}", "opq", d * dim + 256 * d)
    if eight_bit and 4 * size < dim:
        add(f"OPQ{size}_{4 * size},PQ{size}", "opq+reduction", 4 * size * dim + 256 * 4 * size)
    # Residual quantization with 16-entry codebooks: twice the stages of 8-bit RQ for the same bytes, at a
    # sixteenth of the codebook bytes, so it fits a real budget where 8-bit RQ cannot, and trains on 624
    # points. Its beam-search variant widens faiss's default beam of 5. Up to 2 bits per dimension: its
    # stages train one after another, and beyond that finer codes are near-exact already.
    if 8 * size <= 2 * dim:
        books4 = 2 * size * 16 * dim
        add(f"RQ{2 * size}x4", "rq4", books4)
        add(f"RQ{2 * size}x4", "rq4", books4, params=(("max_beam_size", RQ4_BEAM),), after="rq4", cost=7.0)
    if eight_bit and size >= 2:
        nlist = _ivf_nlist(n_lists or n_train)
        coarse = 1 if nlist <= 256 else 2
        m = size - coarse
        if m >= 1 and _divides(dim, m):
            add(f"IVF{nlist},PQ{m}np", "ivf-pq", (nlist + 256) * dim, nprobes=NPROBES)
        elif m >= 1 and 4 * m <= dim:  # a PCA rotation to 4 dims per sub-quantizer makes any size fit
            d = 4 * m
            add(f"PCAR{d},IVF{nlist},PQ{m}np", "ivf-pq", _pca(dim, d) + (nlist + 256) * d, nprobes=NPROBES)
        rq, books = f"RQ{size}x8", size * 256 * dim
        add(rq, "rq", books)
        # Relative costs: beam search grows with the beam (faiss's default is 5); LSQ re-encodes the whole
        # sample with iterated local search at each of its training iterations.
        add(rq, "rq", books, params=(("max_beam_size", 16),), after="rq", cost=3.0)
        add(f"LSQ{size}x8", "lsq", books, after="rq", cost=10.0)
        if size % 2 == 0 and _divides(dim, 2):
            add(f"PRQ2x{size // 2}x8", "prq", books)  # the sub-quantizers' and the whole's copy
        # Beyond the presets: a PCA rotation learned on the sample drops the low-variance directions the
        # residual codebooks would otherwise spend bits on.
        if dim // 2 >= size:
            add(f"PCAR{dim // 2},RQ{size}x8", "pca+rq", _pca(dim, dim // 2) + books // 2, after="rq")
    return out


def _ivf_nlist(n_train: int) -> int:
    """As many lists as the sample trains well (39 points each), at most 4*sqrt(n), a power of two."""
    most = max(1, n_train // codec.MIN_POINTS_PER_CENTROID)
    want = int(4 * n_train**0.5)
    nlist = 1
    while nlist * 2 <= min(most, want):
        nlist *= 2
    return nlist


def trains_on(n_learn: int, run_train: int | None) -> int:
    """The training rows a codec is judged by: the run's, as far as the plan's ``n_learn`` points are
    ``PLAN_SHARE`` of them; ``n_learn`` when the run's are not known."""
    if run_train is None:
        return n_learn
    return max(n_learn, min(run_train, int(n_learn / PLAN_SHARE)))


def generate(
    dim: int,
    n_train: int,
    budget_bytes: int | None = None,
    corpus_rows: int | None = None,
    run_train: int | None = None,
) -> list[Candidate]:
    """Candidates for a byte budget, or at every ladder size when there is none.

    With a budget, each family comes at the largest code that fits it once its share of the trained codec
    is counted (``corpus_rows`` documents share one codec; none given: the codec is free), down to half the
    budget: a 48-byte budget over a million rows gets PQ32 or a PCA-rotated PQ46, not PQ48 at 48.39 bytes,
    and residual quantizers, whose codebooks grow with each byte, smaller still. Only codecs the sample can
    train (39 points per centroid) are returned; cheap families come first, then the costlier variants,
    cheapest first. ``n_train``: the points the plan trains on; ``run_train``: those the run will (see
    ``trains_on``). IVF codecs get as many lists as ``n_train`` trains.
    """
    n_lists, n_train = n_train, trains_on(n_train, run_train)
    scalar = [
        Candidate(f, "sq" if f.startswith("SQ") else "binary", code_bytes=b, codec_floats=floats)
        for f, b, floats in (
            ("SQfp16", 2 * dim, 0),
            ("SQ8", dim, 2 * dim),
            ("SQ4", dim // 2, 2 * dim),
            ("LSH", dim // 8, 0),
        )
    ]
    if budget_bytes is None:
        sizes = [size for size in LADDER if size < 4 * dim]
        ladder = scalar + [c for size in sizes for c in for_size(dim, size, n_train, n_lists)]
        out = [c for c in ladder if _trainable(c, dim, n_train)]
    else:
        rows = corpus_rows or 1 << 62

        def fits(c: Candidate) -> bool:
            return c.real_bytes(rows) <= budget_bytes and _trainable(c, dim, n_train)

        out = [c for c in scalar if fits(c)]
        sized: set[str] = set()
        for size in range(budget_bytes, max(1, budget_bytes // 2) - 1, -1):
            here = [c for c in for_size(dim, size, n_train, n_lists) if c.family not in sized and fits(c)]
            sized |= {c.family for c in here}
            out += here
    return sorted(dict.fromkeys(out), key=order_key)


def _trainable(c: Candidate, dim: int, n_train: int) -> bool:
    try:
        codec.check_trainable(c.factory, dim, n_train)
    except codec.CodecError:
        return False
    return True


def order_key(c: Candidate) -> tuple[bool, float, int]:
    """Plain codecs by family, then the variants, the cheapest first: a time budget spent on one 3x-costly
    beam search would leave no room for two cheaper variants."""
    return (c.after is not None, c.cost if c.after else 0.0, FAMILY_ORDER.index(c.family))


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
    "rq4",
    "opq",
    "opq+reduction",
    "prq",
    "rq",
    "itq",
    "pca+rq",
    "lsq",
)
