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
