"""How far the one-tier goals are from faiss's strongest quantizers, on the out-of-sample protocol.

vecpress's one-tier picks are held to real bytes (the codec counted). This part asks what faiss's strongest
quantizers reach at the same *code* bytes when their codebooks are not counted at all (at a million rows
they do not fit the budgets: a 48-byte residual quantizer of 384-d vectors keeps 18.9 MB of codebooks):
residual quantization with a wide beam and LSQ (additive quantizers, faiss's most accurate; LSQ at 16 bytes
only: at 48 it had not finished training after about 10 minutes on 2 cores), searched plainly and
unit-decoded, and OPQ trained on the learn split and the base together (in sample: the codec has seen every
vector it encodes, the case that flatters a codec most). They bound the planner's PQ and residual families
from above. One codec faiss does not have is measured too: ScaNN's score-aware (anisotropic) encoding over
OPQ's codebooks (benchmarks.scoreaware), at several weights of the parallel error, the best of them chosen on
these very queries (in its favour). Larger OPQ codes, out of sample, show how many code bytes the 48-byte
goal's recall takes.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from benchmarks import oos, scoreaware
from transforms.codec.codec import CodecError

logger = logging.getLogger(__name__)

WIDE_BEAM = 32  # faiss's default is 5; 64 gained nothing more on 4-bit RQ at 16 B, at 2.6x the time

# (code bytes, factory, params, in sample: trained on the base too)
SPECS: tuple[tuple[int, str, tuple[tuple[str, int], ...], bool], ...] = (
    (48, "RQ48x8", (("max_beam_size", WIDE_BEAM),), False),
    (48, "OPQ48,PQ48", (), True),
    (16, "RQ16x8", (("max_beam_size", WIDE_BEAM),), False),
    (16, "LSQ16x8", (), False),
    (16, "OPQ16,PQ16", (), True),
    (64, "OPQ64,PQ64", (), False),
    (96, "OPQ96,PQ96", (), False),
)
QUICK_SPECS = ((4, "RQ8x4", (("max_beam_size", 8),), False), (16, "SQ4", (), True))  # 32-d, tiny base

# (code bytes, PQ factory, weights of the parallel error); ScaNN's rule, eta = (d - 1) T^2 / (1 - T^2), gives
# 3.9 to 16 for 384-d at thresholds T of 0.1 to 0.2. eta 1 is faiss's own codes: the reference, out of sample.
SCORE_AWARE: tuple[tuple[int, str, tuple[float, ...]], ...] = (
    (48, "OPQ48,PQ48", (1.0, 2.0, 4.0, 8.0, 16.0)),
    (16, "OPQ16,PQ16", (1.0, 2.0, 4.0, 8.0)),
)
QUICK_SCORE_AWARE = ((4, "PQ8x4", (1.0, 4.0)),)


def measure(proto: oos.Protocol, specs=SPECS, score_aware=SCORE_AWARE) -> list[dict[str, Any]]:
    """Each spec measured the planner's way (plain and unit-decoded), its rows marked with the code size it
    answers and whether it trained on the base too (``in_sample``); then each score-aware encoding."""
    rows = _faiss(proto, specs)
    for size, factory, etas in score_aware:
        for eta in etas:
            try:
                measured = oos.measure(proto, factory, encode=scoreaware.encoder(eta))
            except CodecError as err:
                logger.warning("%s: score-aware %s left out: %s", proto.corpus, factory, err)
                break
            for r in measured:
                if eta != 1.0:  # eta 1 keeps faiss's nearest-centroid codes: named as faiss's codec
                    r["codec"] = f"{factory} score-aware eta={eta:g}" + r["codec"][len(factory) :]
                rows.append({**r, "size": size, "in_sample": False, "score_aware_eta": eta})
    return rows


def _faiss(proto: oos.Protocol, specs) -> list[dict[str, Any]]:
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
