"""The model through ONNX Runtime and OpenVINO, and its distilled static model, on real posts."""

import numpy as np
import pytest

from transforms.embedders import backends, exports
from transforms.embedders.embedder import RuntimeEmbedder, StaticEmbedder, load_embedder
from transforms.embedders.spec import EmbedderSpec
from transforms.read import newsgroups


@pytest.fixture(scope="module")
def posts() -> list[str]:
    return newsgroups.load_split("train").column("body").to_pylist()[:64]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "precision", "close"),
    [("onnx", "fp32", 0.9999), ("onnx", "int8", 0.98), ("openvino", "fp32", 0.9999)]
    + [("openvino", "int8", 0.99)],
)
def test_backends_embed_like_the_model(posts, backend, precision, close):
    spec = EmbedderSpec(device="cpu", max_seq_length=128)
    reference = load_embedder(spec).encode(posts)
    runtime = load_embedder(
        EmbedderSpec(device="cpu", max_seq_length=128, backend=backend, precision=precision)
    )
    assert isinstance(runtime, RuntimeEmbedder) and runtime.dim == 384
    out = runtime.encode(posts)
    assert out.shape == (64, 384) and np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert float((out * reference).sum(axis=1).min()) > close  # the same vectors, give or take quantization
    # nearest neighbours mostly agree with the model's own
    same = (
        np.argsort(-(out @ out.T), axis=1)[:, 1] == np.argsort(-(reference @ reference.T), axis=1)[:, 1]
    ).mean()
    assert same > 0.85
    assert exports.export_dir(
        load_embedder.__globals__["resolve_model"](spec.model), backend, precision
    ).exists()


def _model_folder(folder, modules, pooling):
    import json

    folder.mkdir()
    (folder / "modules.json").write_text(json.dumps(
        [{"idx": i, "name": str(i), "path": p, "type": f"sentence_transformers.models.{t}"}
         for i, (t, p) in enumerate(modules)]
    ))  # fmt: skip
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return str(folder)


def test_auto_is_openvino_on_the_cpu_and_torch_where_the_exported_path_cannot_follow(tmp_path):
    mean = {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}
    plain = [("Transformer", ""), ("Pooling", "1_Pooling"), ("Normalize", "2_Normalize")]
    assert backends.choose("auto", "fp32", "cpu", "all-MiniLM-L6-v2") == "openvino"
    assert backends.choose("auto", "int8", "cpu", "all-MiniLM-L6-v2") == "openvino"
    assert backends.choose("auto", "fp32", "cpu", _model_folder(tmp_path / "a", plain, mean)) == "openvino"
    # what the export does not reproduce stays with torch: a dense layer, max pooling, no model at all
    dense = _model_folder(tmp_path / "b", [*plain[:2], ("Dense", "2_Dense")], mean)
    maxed = _model_folder(tmp_path / "c", plain, {"pooling_mode_max_tokens": True})
    for model in (dense, maxed, str(tmp_path / "missing")):
        assert not backends.exportable(model)
        assert backends.choose("auto", "fp32", "cpu", model) == "torch"
    assert backends.choose("auto", "fp32", "cpu", "fake:16") == "torch"
    assert backends.choose("auto", "fp32", "cpu", "static:all-MiniLM-L6-v2") == "torch"
    assert backends.choose("auto", "fp16", "cuda", "all-MiniLM-L6-v2") == "torch"
    assert backends.choose("auto", "fp32", "cuda:0", "all-MiniLM-L6-v2") == "torch"
    assert backends.choose("onnx", "fp32", "cpu", "all-MiniLM-L6-v2") == "onnx"  # a choice is kept
    assert backends.choose_precision("auto", "openvino") == "int8"
    assert [backends.choose_precision("auto", b) for b in ("torch", "onnx")] == ["fp32", "fp32"]
    assert backends.choose_precision("fp32", "openvino") == "fp32"


@pytest.mark.slow
def test_a_static_model_is_distilled_once_and_embeds_fast(posts):
    static = load_embedder(EmbedderSpec(model="static:all-MiniLM-L6-v2"))
    assert isinstance(static, StaticEmbedder) and static.dim == exports.STATIC_DIMS
    out = static.encode(posts)
    assert out.shape == (64, 256) and np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    ("backend", "precision", "device", "model", "message"),
    [
        ("tensorrt", "fp32", "cpu", "m", "--backend 'tensorrt': choose one of auto, torch, onnx, openvino"),
        ("torch", "fp16", "cpu", "m", "fp16 runs on CUDA with the torch backend only"),
        ("torch", "int8", "cpu", "m", "int8 needs --backend onnx or openvino"),
        ("onnx", "fp32", "cuda:0", "m", "--backend onnx runs on the CPU here"),
        ("onnx", "int8", "cpu", "static:m", "a static model is a lookup table"),
    ],
)
def test_unknown_or_impossible_backends_are_refused_before_any_work(
    backend, precision, device, model, message
):
    with pytest.raises(backends.BackendError, match=message):
        backends.check(backend, precision, device, model)


TOPICS = ["space shuttle", "graphics card", "ice hockey"]
QUERIES = [f"question {i}: " + " ".join([TOPICS[i % 3]] * (1 + i % 4)) for i in range(24)]


@pytest.mark.slow
@pytest.mark.parametrize("backend,precision", [("openvino", "int8"), ("onnx", "int8"), ("torch", "fp32")])
def test_every_backend_answers_concurrent_callers_as_it_answers_one(backend, precision):
    """8 threads at once on one loaded embedder (as serve's request threads and Beam's multi-threaded workers
    share it): no error, and every vector the one the same text gets alone."""
    import threading

    emb = load_embedder(EmbedderSpec(device="cpu", backend=backend, precision=precision))
    alone = [emb.encode([q])[0] for q in QUERIES]
    errors, wrong = [], []

    def caller(c: int) -> None:
        for r in range(15):
            i = (5 * c + r) % len(QUERIES)
            try:
                if not np.array_equal(emb.encode([QUERIES[i]])[0], alone[i]):
                    wrong.append(i)
            except Exception as err:  # noqa: BLE001 - counted, then asserted
                errors.append(repr(err))

    threads = [threading.Thread(target=caller, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and wrong == []
    assert hasattr(emb, "encode_alike") == (backend != "torch")


@pytest.mark.slow
@pytest.mark.parametrize("backend,precision", [("openvino", "int8"), ("onnx", "int8"), ("onnx", "fp32")])
def test_encode_alike_gives_each_text_its_vector_alone_in_any_batch(posts, backend, precision):
    """What the micro-batcher relies on, over random batches of real queries of many lengths: padded
    batches moved OpenVINO int8 vectors by up to 1.4e-3 (13 of 5,000), encode_alike never moves one."""
    emb = load_embedder(EmbedderSpec(device="cpu", backend=backend, precision=precision, max_seq_length=128))
    texts = [" ".join(p.split()[: 3 + 7 * (i % 5)]) for i, p in enumerate(posts)]  # 3 to 31 words
    alone = np.stack([emb.encode([t])[0] for t in texts])
    rng = np.random.default_rng(0)
    for _ in range(40):
        rows = rng.choice(len(texts), int(rng.integers(2, 40)), replace=False)
        assert np.array_equal(emb.encode_alike([texts[i] for i in rows]), alone[rows])
