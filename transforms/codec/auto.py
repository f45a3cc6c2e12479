"""The default codec (``--codec auto``): which factory, stored tier and IVF size a corpus gets, and why."""

from __future__ import annotations

import math
from typing import NamedTuple

from transforms.codec.codec import MIN_POINTS_PER_CENTROID


def _pow2_floor(x: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(1.0, x)))))


class AutoChoice(NamedTuple):
    factory: str
    refine: str | None
    rerank: int
    nprobe: int | None
    reasons: list[str]


# The default codec: two tiers whose quality does not depend on how much the codec could learn. In memory,
# 1-bit RaBitQ codes (d/8 bytes plus 8 bytes of per-vector factors), which need no codebook: trained on the
# mean alone, they encode unseen vectors as well as seen ones, on 100 documents or 100 million. On disk, SQ8
# codes re-rank 10 candidates per result. Above FLAT_MAX_ROWS, an IVF coarse quantizer keeps search
# sub-linear.
DEFAULT_REFINE = "SQ8"
DEFAULT_RERANK = 10
FLAT_MAX_ROWS = 2_000_000
RABITQ_CODE_BITS = 256


def auto_choice(n_train: int, n_total: int, dim: int) -> AutoChoice:
    """The default codec for a corpus of ``n_total`` vectors and a training sample of ``n_train``, and why."""
    reasons = [
        f"two tiers: RaBitQ codes in memory, {DEFAULT_REFINE} codes on disk re-rank {DEFAULT_RERANK}x "
        "candidates (RaBitQ needs no codebook, so unseen documents encode as well as seen ones)"
    ]
    bits = rabitq_bits(dim)
    memory = "RaBitQ" if bits == 1 else f"RaBitQ{bits}"
    if bits > 1:
        reasons.append(f"{bits} bits per dimension in memory: {dim} dimensions need {bits} to reach 256 bits")
    if n_total <= FLAT_MAX_ROWS:
        return AutoChoice(memory, DEFAULT_REFINE, DEFAULT_RERANK, None, reasons)
    nlist_wanted = _pow2_floor(4 * math.sqrt(n_total))
    nlist = min(nlist_wanted, _pow2_floor(n_train / MIN_POINTS_PER_CENTROID))
    if nlist < nlist_wanted:
        reasons.append(
            f"nlist reduced from {nlist_wanted} (4*sqrt(N) for N={n_total}) to {nlist}: "
            f"{n_train} training vectors allow at most {n_train // MIN_POINTS_PER_CENTROID} centroids"
        )
    nprobe = max(1, nlist // 8)
    reasons.append(f"IVF{nlist} above {FLAT_MAX_ROWS:,} vectors, searching {nprobe} lists (1/8 of them)")
    return AutoChoice(f"IVF{nlist},{memory}", DEFAULT_REFINE, DEFAULT_RERANK, nprobe, reasons)


def rabitq_bits(dim: int) -> int:
    """Bits per dimension for the default's RaBitQ codes: RaBitQ's distance estimate errs less the more bits
    a code has in all; 1 bit per dimension from 256 dimensions up, more below (at most 8)."""
    return max(1, min(8, math.ceil(RABITQ_CODE_BITS / max(1, dim))))
