"""Sentence embedders: the real sentence-transformers model, and a small deterministic fake for unit tests."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import threading
from typing import Any

import numpy as np

from transforms.embedders import backends, exports, model_files
from transforms.embedders.failures import encode_with_backoff
from transforms.embedders.spec import FAKE_PREFIX, Embedder, EmbedderSpec, resolve_devices, resolve_model

logger = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """The real model, loaded once per process; ``encode`` embeds one batch of texts to float32 rows.

    On a machine with several GPUs it runs one model per GPU (a sentence-transformers multi-process pool);
    on CPU it lets torch use every core this process may run on.
    """

    def __init__(self, spec: EmbedderSpec):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        self.spec = spec
        self.devices = resolve_devices(spec.device)
        on_cuda = self.devices[0].startswith("cuda")
        self.model = SentenceTransformer(resolve_model(spec.model), device=self.devices[0])
        if spec.max_seq_length:
            self.model.max_seq_length = spec.max_seq_length
        if on_cuda and spec.precision == "fp16":
            self.model.half()
        if not on_cuda:
            torch.set_num_threads(len(os.sched_getaffinity(0)))
        self.pool = self.model.start_multi_process_pool(self.devices) if len(self.devices) > 1 else None
        self.batch_size = spec.batch_size
        self.dim = int(self.model.get_embedding_dimension())
        logger.info(
            "loaded %s on %s (dim %d, max_seq_length %d, %s)",
            spec.model,
            ",".join(self.devices),
            self.dim,
            self.model.max_seq_length,
            spec.precision if on_cuda else f"{torch.get_num_threads()} threads",
        )

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=self.spec.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
            pool=self.pool,
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        out, self.batch_size = encode_with_backoff(self._encode, texts, self.batch_size)
        return np.ascontiguousarray(out, dtype=np.float32)


class RuntimeEmbedder:
    """The same model through ONNX Runtime or OpenVINO (fp32 or int8), with its own tokenizer and
    pooling; exported from the packaged model on first use and cached (transforms.embedders.backends).
    Once exported, it loads from the model's files alone, without torch (transforms.embedders.model_files).
    Safe to call from many threads at once (each gets its own infer request; tokenizer settings are fixed
    at load)."""

    def __init__(self, spec: EmbedderSpec):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.spec = spec
        path = resolve_model(spec.model)
        if not backends.exportable(path):
            raise backends.BackendError(
                f"{spec.model}: the onnx and openvino backends run a transformer with mean or CLS pooling "
                "and an optional Normalize; use --backend torch for this model"
            )
        facts = model_files.facts(path, spec.max_seq_length)
        self.dim, self.mode, self.max_length = facts.dim, facts.pooling, facts.max_length
        model = exports.exported(path, spec.backend, spec.precision) or self._export(path)
        self.tokenize = (
            model_files.Tokenizer(path, self.max_length)
            if model_files.has_fast_tokenizer(path)
            else _LockedTokenizer(path, self.max_length)
        )
        self.session = backends.Session(spec.backend, model, len(os.sched_getaffinity(0)))
        # the model's own Normalize module normalizes whatever spec.normalize says, as torch's path does
        self.normalize = spec.normalize or facts.normalize
        # ONNX Runtime's int8 quantizes activations by each call's own range: only a text alone is alike
        self.alike_batch = 1 if (spec.backend == "onnx" and spec.precision == "int8") else spec.batch_size
        logger.info("loaded %s through %s %s (dim %d, max_seq_length %d)", spec.model, spec.backend,
                    spec.precision, self.dim, self.max_length)  # fmt: skip

    def _export(self, path: str) -> Any:
        """Export (and quantize or compile) the model once; this is the one step that needs torch."""
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(path, device="cpu")
        fp32 = exports.export_onnx(st, path)
        if self.spec.backend == "onnx":
            return exports.quantize_onnx(fp32, path) if self.spec.precision == "int8" else fp32
        return exports.openvino_model(fp32, path, self.spec.precision, st.tokenizer)

    def _pooled(self, tokens: dict[str, np.ndarray]) -> np.ndarray:
        """One model call on tokenized texts, pooled as the model's Pooling module does."""
        ids = tokens["input_ids"]
        feed = {k: tokens[k] if k in tokens else np.zeros_like(ids) for k in self.session.inputs}
        return backends.pooled(self.session(feed), tokens["attention_mask"], self.mode)

    def _normalized(self, out: np.ndarray) -> np.ndarray:
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths pad less
        for start in range(0, len(texts), self.spec.batch_size):
            rows = order[start : start + self.spec.batch_size]
            out[rows] = self._pooled(self.tokenize([texts[i] for i in rows]))
        return self._normalized(out)

    def encode_alike(self, texts: list[str]) -> np.ndarray:
        """Each text's vector exactly as ``encode([text])`` gives it: texts share a model call only with
        texts of the same token count, so nothing is padded (padding moved int8 vectors by up to 1.4e-3 in
        13 of 5,000 queries batched at random: enough to reorder near hits)."""
        tokens = self.tokenize(texts)
        lengths = tokens["attention_mask"].sum(axis=1)
        out = np.zeros((len(texts), self.dim), np.float32)
        for length in np.unique(lengths):
            same = np.nonzero(lengths == length)[0]
            for start in range(0, len(same), self.alike_batch):
                rows = same[start : start + self.alike_batch]
                out[rows] = self._pooled(
                    {k: np.ascontiguousarray(v[rows, :length]) for k, v in tokens.items()}
                )
        return self._normalized(out)


class _LockedTokenizer:
    """transformers' tokenizer for a folder without ``tokenizer.json``; it sets its padding and truncation
    on each call, so calls are taken one at a time."""

    def __init__(self, path: str, max_length: int):
        from transformers import AutoTokenizer

        self.tokenizer, self.max_length = AutoTokenizer.from_pretrained(path), max_length
        self.lock = threading.Lock()

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        with self.lock:
            tokens = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                    return_tensors="np")  # fmt: skip
        return {k: np.asarray(v, np.int64) for k, v in tokens.items()}


class StaticEmbedder:
    """A static model distilled from a sentence-transformers model by model2vec (``static:<base>``): a
    vector per token, averaged. Hundreds of times faster than the model it comes from; what it costs in
    quality is measured in `make bench`."""

    def __init__(self, spec: EmbedderSpec):
        from model2vec import StaticModel

        self.spec = spec
        self.model = StaticModel.from_pretrained(
            str(exports.distilled(spec.model[len(backends.STATIC_PREFIX) :]))
        )
        self.dim = int(self.model.dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.asarray(
            self.model.encode(texts, max_length=self.spec.max_seq_length or 512), dtype=np.float32
        )
        if self.spec.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


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

    encode_alike = encode  # each text's vector is its own hashed words


_LOADING = threading.Lock()


@functools.lru_cache(maxsize=2)
def _load(spec: EmbedderSpec) -> Embedder:
    if spec.model.startswith(FAKE_PREFIX):
        return FakeEmbedder(spec)
    device = resolve_devices(spec.device)[0] if spec.backend == "torch" else spec.device
    backends.check(spec.backend, spec.precision, "cpu" if device == "auto" else device, spec.model)
    if spec.model.startswith(backends.STATIC_PREFIX):
        return StaticEmbedder(spec)
    if spec.backend != "torch":
        return RuntimeEmbedder(spec)
    return SentenceTransformerEmbedder(spec)


def load_embedder(spec: EmbedderSpec) -> Embedder:
    """Build the embedder a spec names (heavy imports happen here, not at module import).

    Loaded once per process: the flow loads the model to check it before embedding, and an in-process Beam
    runner's model handler then gets the same one. The lock makes a second caller (e.g. the CLI warming the
    model in a thread while Prefect's server starts) wait for that load instead of starting another.
    """
    with _LOADING:
        return _load(spec)
