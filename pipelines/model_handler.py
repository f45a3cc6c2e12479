"""Beam RunInference model handler for sentence-transformers embedders."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler

from transforms.embedder import Embedder, EmbedderSpec, encode_or_explain, load_embedder

logger = logging.getLogger(__name__)


class SentenceEmbeddingHandler(ModelHandler[str, np.ndarray, Embedder]):
    """Loads the model once per worker process (RunInference shares it); embeds a batch of texts per call.

    The embed pipeline hands it pre-formed batches (``with_no_batching``); ``spec.batch_size`` is the model's
    own batch size inside each call.

    Predictions are the float32 vectors themselves (Beam's PredictionResult is a NamedTuple, which its
    default coder flattens to a plain tuple between processes), or for a text the model cannot take, a
    string saying why (the row is rejected; see ``encode_or_explain``).

    Args:
        spec: model, device, batch size, normalisation and max sequence length.
        progress_total: when set, shows a progress bar of embedded documents against this total.
    """

    def __init__(self, spec: EmbedderSpec, progress_total: int | None = None):
        super().__init__()
        self.spec = spec
        self.progress_total = progress_total
        self._embedded = Metrics.counter("vecpress", "documents_embedded")
        self._bar: Any = None

    def load_model(self) -> Embedder:
        embedder = load_embedder(self.spec)
        if self.progress_total:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.progress_total, desc="embedding", unit="doc", mininterval=2.0)
        return embedder

    def run_inference(
        self, batch: Sequence[str], model: Embedder, inference_args: dict[str, Any] | None = None
    ) -> Iterable[np.ndarray | str]:
        vectors = encode_or_explain(model, list(batch))
        self._embedded.inc(len(batch))
        if self._bar is not None:
            self._bar.update(len(batch))
        return vectors

    def get_metrics_namespace(self) -> str:
        return "vecpress_embed"
