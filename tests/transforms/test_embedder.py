import numpy as np
import pytest

from transforms.embedder import EmbedderSpec, FakeEmbedder, load_embedder


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

    from transforms.embedder import encode_with_backoff

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

    from transforms.embedder import resolve_devices

    if torch.cuda.is_available():
        assert resolve_devices("auto") == [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    else:
        assert resolve_devices("auto") == ["cpu"]
    assert resolve_devices("cuda:1") == ["cuda:1"]
