"""When the model fails: a batch it cannot take is embedded text by text to find the texts at fault (which
are rejected, with why), told apart from a runtime that fails whatever it is given (which fails the chunk,
retried and never committed); CUDA out-of-memory halves the batch instead of failing."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from transforms.embedders.spec import Embedder

logger = logging.getLogger(__name__)


def encode_with_backoff(
    encode: Callable[[list[str], int], np.ndarray], texts: list[str], batch_size: int
) -> tuple[np.ndarray, int]:
    """Encode, halving the batch size on CUDA out-of-memory instead of failing; returns the size that fit."""
    import torch

    while True:
        try:
            return encode(texts, batch_size), batch_size
        except torch.cuda.OutOfMemoryError:
            if batch_size == 1:
                raise
            batch_size //= 2
            torch.cuda.empty_cache()
            logger.warning("CUDA out of memory: retrying with batch size %d", batch_size)


class ModelRuntimeError(RuntimeError):
    """The model's runtime failed, not a text: the chunk being embedded fails, is retried as a transient
    failure and is never committed. Its texts are not rejected."""


CANARY = "a plain short sentence"  # what any working model embeds: a failure on it is the runtime's


def encode_or_explain(embedder: Embedder, texts: list[str]) -> list[np.ndarray | str]:
    """One embedding per text, or for a text the model cannot take, why: the batch is embedded at once, and
    only if the model fails on it are its texts embedded one by one to find the ones it fails on. A text is
    rejected only when it fails twice with the runtime shown working in between (on ``CANARY``); a runtime
    that fails on the canary too, or texts that all fail for one same reason, raise ``ModelRuntimeError``.
    A vector with NaN or inf (e.g. an fp16 overflow) is refused too: it would poison the codec's training."""
    try:
        vectors: list[np.ndarray | str] = list(embedder.encode(texts))
    except Exception as err:  # noqa: BLE001 - narrowed below, text by text
        logger.warning(
            "the model failed on a batch of %d texts (%s): embedding them one by one", len(texts), err
        )
        vectors = [_one_or_why(embedder, text) for text in texts]
    out = [
        v
        if isinstance(v, str) or np.isfinite(v).all()
        else "the model returned a non-finite vector (NaN or inf)"
        for v in vectors
    ]
    if len(out) > 1 and all(isinstance(v, str) for v in out) and len(set(out)) == 1:
        raise ModelRuntimeError(f"the model failed on all {len(out)} texts of a batch alike: {out[0]}")
    return out


def _one_or_why(embedder: Embedder, text: str) -> np.ndarray | str:
    try:
        return embedder.encode([text])[0]
    except Exception as first:  # noqa: BLE001 - the text's fault or the runtime's, told apart below
        try:
            embedder.encode([CANARY])
        except Exception as err:
            raise ModelRuntimeError(
                f"the model runtime fails on a plain text too: {type(err).__name__}: {err}"
            ) from first
        try:
            return embedder.encode([text])[0]
        except Exception as again:  # noqa: BLE001 - the reason goes to the rejects file
            return f"the model cannot embed this text: {type(again).__name__}: {again}"[:500]
