"""Beam RunInference model handler for sentence-transformers embedders."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from transforms.embedder import Embedder, EmbedderSpec, load_embedder

logger = logging.getLogger(__name__)


class SentenceEmbeddingHandler(ModelHandler[str, PredictionResult, Embedder]):
    """Loads the model once per worker process (RunInference shares it); embeds a batch of texts per call.

    Args:
        spec: model, device, batch size, normalisation and max sequence length.
        progress_total: when set, shows a progress bar of embedded documents against this total.
    """

    def __init__(self, spec: EmbedderSpec, progress_total: int | None = None):
        # RunInference hands over up to 4 model batches at once: sentence-transformers sorts a call's texts by
        # length before splitting them into model batches, so larger calls pad less.
        super().__init__(min_batch_size=spec.batch_size, max_batch_size=4 * spec.batch_size)
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
    ) -> Iterable[PredictionResult]:
        vectors = model.encode(list(batch))
        self._embedded.inc(len(batch))
        if self._bar is not None:
            self._bar.update(len(batch))
        return [PredictionResult(text, vec) for text, vec in zip(batch, vectors, strict=True)]

    def get_metrics_namespace(self) -> str:
        return "vecpress_embed"
