"""Micro-batching: concurrent callers share model calls and each gets exactly its own rows back."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from transforms.embedders.embedder import load_embedder
from transforms.embedders.microbatch import MicroBatcher
from transforms.embedders.spec import EmbedderSpec


class _Slow:
    """The fake embedder, slowed so callers pile up behind a model call; counts its calls."""

    def __init__(self):
        self.inner = load_embedder(EmbedderSpec(model="fake:16"))
        self.calls = 0
        self.gate = threading.Event()

    def encode(self, texts):
        self.calls += 1
        self.gate.wait(0.05)
        return self.inner.encode(texts)

    encode_alike = encode  # the fake's vectors do not depend on their company


def test_concurrent_callers_share_model_calls_and_get_their_own_rows():
    model = _Slow()
    batcher = MicroBatcher(max_texts=64)
    texts = [[f"query {c} word{c % 5} item{r}" for r in range(1 + c % 3)] for c in range(32)]
    got: dict[int, np.ndarray] = {}

    def client(c: int) -> None:
        got[c] = batcher.encode(model, texts[c])

    threads = [threading.Thread(target=client, args=(c,)) for c in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    for c in range(32):
        assert np.array_equal(got[c], model.inner.encode(texts[c])), c
    assert model.calls < 32 and batcher.texts == sum(map(len, texts))  # batched, nothing lost


def test_an_embedder_without_encode_alike_embeds_each_caller_alone():
    class Padded:  # like torch: no promise that a batch leaves each vector as it is alone
        calls = 0

        def encode(self, texts):
            Padded.calls += 1
            return load_embedder(EmbedderSpec(model="fake:8")).encode(texts)

    model = Padded()
    batcher = MicroBatcher()
    threads = [threading.Thread(target=batcher.encode, args=(model, [f"q{c}"])) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert model.calls == 8  # one model call per caller: torch's padded batches differ by 1e-7


def test_a_model_error_reaches_every_caller_of_its_batch_and_the_batcher_goes_on():
    class Failing:
        def encode(self, texts):
            raise RuntimeError("model down")

    batcher = MicroBatcher()
    with pytest.raises(RuntimeError, match="model down"):
        batcher.encode(Failing(), ["a"])
    fake = load_embedder(EmbedderSpec(model="fake:8"))
    assert np.array_equal(batcher.encode(fake, ["b"]), fake.encode(["b"]))
    batcher.close()
