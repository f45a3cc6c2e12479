"""Texts from concurrent callers embedded together: one model call for the queries that arrive while the
model is busy, each caller getting back exactly its own rows.

Nothing waits for company: a lone caller's texts go to the model at once. While the model embeds one batch,
the callers that arrive queue up, and the next call takes all of them (up to ``max_texts``), so under load
the model makes fewer, larger calls and no caller waits longer than one model call before its own starts.
Callers are merged only for an embedder with ``encode_alike``, which gives every text exactly the vector,
bit for bit, it gets alone (OpenVINO and ONNX batch only texts of one token count, never padding; tests/
transforms/test_backends.py checks it over random batches), so batching changes no answer. Torch (another
padding sums floats in another order) embeds each caller's texts alone.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from concurrent.futures import Future
from typing import Any, NamedTuple

import numpy as np

logger = logging.getLogger(__name__)

MAX_TEXTS = 64  # texts per model call; a caller with more is never split, it just goes alone


class _Ask(NamedTuple):
    embedder: Any  # anything with ``encode(list[str]) -> np.ndarray``
    texts: list[str]
    answer: Future


class MicroBatcher:
    """One thread that owns the model calls; ``encode`` may be called from any number of threads."""

    def __init__(self, max_texts: int = MAX_TEXTS):
        self.max_texts = max_texts
        self.calls = 0  # model calls made, and texts embedded: their ratio is the batching achieved
        self.texts = 0
        self._asks: queue.SimpleQueue[_Ask | None] = queue.SimpleQueue()
        self._held: deque[_Ask] = deque()  # asks of another embedder than the batch being gathered
        self._thread = threading.Thread(target=self._serve, name="vecpress-microbatch", daemon=True)
        self._thread.start()

    def encode(self, embedder: Any, texts: list[str]) -> np.ndarray:
        """``texts`` embedded by ``embedder``, possibly in one model call with other callers' texts."""
        ask = _Ask(embedder, list(texts), Future())
        self._asks.put(ask)
        return ask.answer.result()

    def close(self) -> None:
        self._asks.put(None)
        self._thread.join(timeout=10)

    def _next(self, block: bool) -> _Ask | None:
        if self._held:
            return self._held.popleft()
        return self._asks.get() if block else self._asks.get_nowait()

    def _gather(self, first: _Ask) -> tuple[list[_Ask], bool]:
        """``first`` and the asks already waiting for the same embedder, up to ``max_texts``; whether the
        batcher was asked to stop meanwhile."""
        batch, size, other = [first], len(first.texts), []
        stop = False
        while size < self.max_texts and hasattr(first.embedder, "encode_alike"):
            try:
                ask = self._asks.get_nowait()
            except queue.Empty:
                break
            if ask is None:
                stop = True
                break
            if ask.embedder is not first.embedder or size + len(ask.texts) > self.max_texts:
                other.append(ask)
                continue
            batch.append(ask)
            size += len(ask.texts)
        self._held.extend(other)
        return batch, stop

    def _serve(self) -> None:
        while True:
            first = self._next(block=True)
            if first is None:
                break
            batch, stop = self._gather(first)
            self._answer(batch)
            if stop:
                break
        while self._held:  # callers still waiting when asked to stop are answered, not left hanging
            self._answer([self._held.popleft()])

    def _answer(self, batch: list[_Ask]) -> None:
        texts = [t for ask in batch for t in ask.texts]
        embedder = batch[0].embedder
        try:
            vectors = (
                embedder.encode_alike(texts) if hasattr(embedder, "encode_alike") else embedder.encode(texts)
            )
        except BaseException as err:  # noqa: BLE001 - every caller of the batch gets the error
            for ask in batch:
                ask.answer.set_exception(err)
            return
        self.calls += 1
        self.texts += len(texts)
        at = 0
        for ask in batch:
            ask.answer.set_result(vectors[at : at + len(ask.texts)])
            at += len(ask.texts)
