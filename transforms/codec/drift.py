"""Whether a run can keep the last run's codec: the codec is checked on the documents that are new or
changed since it was trained, against how well it encoded documents it had not seen when it was trained."""

from __future__ import annotations

from typing import Any

import numpy as np

TOLERANCE = 1.25  # new documents may be reconstructed this much worse than unseen ones were at training
SAMPLE = 1000  # vectors the errors are measured on


def errors(index: Any, quantizer: Any, vectors: np.ndarray) -> dict[str, float]:
    """Mean squared reconstruction error of the codec (and of the stored tier, for two tiers)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    out = {"codec": float(((index.sa_decode(index.sa_encode(vectors)) - vectors) ** 2).sum(axis=1).mean())}
    if quantizer is not None:
        fine = quantizer.sa_decode(quantizer.sa_encode(vectors))
        out["refine"] = float(((fine - vectors) ** 2).sum(axis=1).mean())
    return out


def check(reference: dict[str, float] | None, measured: dict[str, float]) -> tuple[bool, str]:
    """Keep the codec when every error is within TOLERANCE of its reference; and a sentence saying why."""
    if not reference:
        return False, "the last run's codec recorded no reference error to compare with"
    worse = {k: measured[k] / max(reference[k], 1e-12) for k in reference if k in measured}
    over = {k: v for k, v in worse.items() if not v <= TOLERANCE}  # NaN counts as over
    detail = ", ".join(f"{k} {v:.2f}x" for k, v in worse.items())
    if over:
        return (
            False,
            f"new and changed documents reconstruct worse than at training ({detail}, over {TOLERANCE}x)",
        )
    return (
        True,
        f"new and changed documents reconstruct as well as at training ({detail}, within {TOLERANCE}x)",
    )
