"""How far the one-tier goals are from faiss's strongest quantizers, on the out-of-sample protocol.

vecpress's one-tier picks are held to real bytes (the codec counted). This part asks what faiss's strongest
quantizers reach at the same *code* bytes when their codebooks are not counted at all (at a million rows
they do not fit the budgets: a 48-byte residual quantizer of 384-d vectors keeps 18.9 MB of codebooks):
residual quantization with a wide beam and LSQ (additive quantizers, faiss's most accurate; LSQ at 16 bytes
only: at 48 it had not finished training after about 10 minutes on 2 cores), searched plainly and
unit-decoded, and OPQ trained on the learn split and the base together (in sample: the codec has seen every
vector it encodes, the case that flatters a codec most). They bound the planner's PQ and residual families
from above; they prove nothing about codecs faiss does not have.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from benchmarks import oos
from transforms.codec import CodecError

logger = logging.getLogger(__name__)

WIDE_BEAM = 32  # faiss's default is 5; 64 gained nothing more on 4-bit RQ at 16 B, at 2.6x the time

# (code bytes, factory, params, in sample: trained on the base too)
SPECS: tuple[tuple[int, str, tuple[tuple[str, int], ...], bool], ...] = (
    (48, "RQ48x8", (("max_beam_size", WIDE_BEAM),), False),
    (48, "OPQ48,PQ48", (), True),
    (16, "RQ16x8", (("max_beam_size", WIDE_BEAM),), False),
    (16, "LSQ16x8", (), False),
    (16, "OPQ16,PQ16", (), True),
)
QUICK_SPECS = ((4, "RQ8x4", (("max_beam_size", 8),), False), (16, "SQ4", (), True))  # 32-d, tiny base


def measure(proto: oos.Protocol, specs=SPECS) -> list[dict[str, Any]]:
    """Each spec measured the planner's way (plain and unit-decoded), its rows marked with the code size it
    answers and whether it trained on the base too (``in_sample``)."""
    rows: list[dict[str, Any]] = []
    for size, factory, params, in_sample in specs:
        split = None
        if in_sample:  # the base alone is too small for 8-bit codebooks: learn + base
            both = np.concatenate([proto.split.learn, proto.split.base])
            split = dataclasses.replace(proto.split, learn=both, out_of_sample=False)
        try:
            measured = oos.measure(proto, factory, params=params, split=split)
        except CodecError as err:  # a codec the sample cannot train: said, not measured
            logger.warning("%s: %s left out: %s", proto.corpus, factory, err)
            continue
        for r in measured:
            if in_sample:
                r["codec"] += " (in sample: trained on learn + base)"
            rows.append({**r, "size": size, "in_sample": in_sample})
    return rows
