import numpy as np
import pytest

from transforms.embedders.embedder import FakeEmbedder, load_embedder
from transforms.embedders.spec import EmbedderSpec


def test_fake_embedder_is_deterministic_and_normalised():
    emb = load_embedder(EmbedderSpec(model="fake:16"))
    assert isinstance(emb, FakeEmbedder) and emb.dim == 16
    a = emb.encode(["nasa orbit launch", "puck goal ice"])
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    assert np.array_equal(a, emb.encode(["nasa orbit launch", "puck goal ice"]))
    near = emb.encode(["nasa orbit launch rocket"])[0]
    assert near @ a[0] > near @ a[1]


@pytest.mark.slow
def test_packaged_minilm_loads_offline_and_embeds():
    emb = load_embedder(EmbedderSpec(max_seq_length=64))
    out = emb.encode(
        ["the space shuttle launch", "rocket lift-off from the launch pad", "ice hockey playoffs"]
    )
    assert out.shape == (3, 384) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert out[0] @ out[1] > out[0] @ out[2]


def test_cuda_out_of_memory_halves_the_batch_instead_of_failing():
    import torch

    from transforms.embedders.failures import encode_with_backoff

    calls = []

    def encode(texts, batch_size):
        calls.append(batch_size)
        if batch_size > 16:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return np.zeros((len(texts), 4), np.float32)

    out, size = encode_with_backoff(encode, ["a"] * 10, 64)
    assert out.shape == (10, 4) and size == 16 and calls == [64, 32, 16]

    def always_oom(texts, batch_size):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(torch.cuda.OutOfMemoryError):
        encode_with_backoff(always_oom, ["a"], 4)


def test_device_auto_is_the_cpu_without_cuda():
    import torch

    from transforms.embedders.spec import resolve_devices

    if torch.cuda.is_available():
        assert resolve_devices("auto") == [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    else:
        assert resolve_devices("auto") == ["cpu"]
    assert resolve_devices("cuda:1") == ["cuda:1"]


class _Flaky:
    """An embedder whose runtime fails as told: on texts containing ``bad`` (a fault of the text), or on
    every call while ``down`` (a fault of the runtime)."""

    dim = 4

    def __init__(self, bad: str | None = None, down: bool = False):
        self.bad, self.down = bad, down

    def encode(self, texts):
        if self.down:
            raise RuntimeError("Infer Request is busy")
        if self.bad is not None and any(self.bad in t for t in texts):
            raise ValueError("cannot tokenize")
        return np.ones((len(texts), self.dim), np.float32)


def test_a_text_the_model_cannot_take_is_rejected_and_the_others_embedded():
    from transforms.embedders.failures import encode_or_explain

    out = encode_or_explain(_Flaky(bad="\x00"), ["fine", "bad \x00 text", "also fine"])
    assert isinstance(out[0], np.ndarray) and isinstance(out[2], np.ndarray)
    assert out[1] == "the model cannot embed this text: ValueError: cannot tokenize"


def test_a_runtime_failure_is_never_a_rejection():
    from transforms.embedders.failures import ModelRuntimeError, encode_or_explain

    with pytest.raises(ModelRuntimeError, match="plain text too: RuntimeError: Infer Request is busy"):
        encode_or_explain(_Flaky(down=True), ["one", "two", "three"])

    class Broken(_Flaky):  # every text fails alike, though the canary passes: no text is to blame
        def encode(self, texts):
            if texts != [CANARY]:
                raise RuntimeError("device lost")
            return np.ones((1, 4), np.float32)

    from transforms.embedders.failures import CANARY

    with pytest.raises(ModelRuntimeError, match="all 2 texts of a batch alike"):
        encode_or_explain(Broken(), ["one", "two"])
