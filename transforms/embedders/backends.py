"""Faster ways to run the same model: ONNX Runtime and OpenVINO, in fp32 or with int8 weights, and a static
model distilled from it (model2vec): which may run where (``choose``, ``check``), and running an export (its
session and pooling). Each is built offline from the packaged model on first use, cached and reused
(transforms.embedders.exports).

sentence-transformers' own ``backend="onnx"`` / ``"openvino"`` go through optimum-onnx and optimum-intel,
which (as published) require transformers < 5, while sentence-transformers 6 requires transformers >= 5: the
two cannot be installed together. So the model's transformer is exported with ``torch.onnx.export``,
quantized with ONNX Runtime's dynamic quantization (int8 weights, per channel) or compiled by OpenVINO (int8
weights and activations through NNCF's static quantization), and the model's own tokenizer and pooling run
around it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from transforms.embedders.spec import FAKE_PREFIX, resolve_devices, resolve_model
from transforms.storage.errors import VecpressError

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "openvino")
AUTO = "auto"
PRECISIONS = ("fp32", "fp16", "int8")
STATIC_PREFIX = "static:"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what an export may take, in this order


class BackendError(VecpressError, ValueError):
    """A backend, precision or device combination that cannot run, said before any work."""


def choose(backend: str, precision: str, device: str, model: str) -> str:
    """The backend ``auto`` stands for. On the CPU that is OpenVINO (with ``precision`` auto, in int8:
    ``choose_precision``), the CPU path that `make bench` (part ``backends``, README "Benchmarks") measures
    fastest within 0.5 pt of torch fp32's kNN-10 accuracy. torch stays for CUDA, fp16, fake and static
    models, models whose modules the exported path does not reproduce, and where openvino is not installed.
    Any other value is returned as given (``check`` judges it)."""
    import importlib.util

    if backend != AUTO:
        return backend
    if model.startswith((FAKE_PREFIX, STATIC_PREFIX)) or precision == "fp16":
        return "torch"
    if resolve_devices(device)[0] != "cpu":
        return "torch"
    if importlib.util.find_spec("openvino") is None:
        logger.info("--backend auto: openvino is not installed ('vecpress[fast]'), so torch embeds")
        return "torch"
    if not exportable(resolve_model(model)):
        logger.info("--backend auto: %s has modules the exported path does not run, so torch embeds", model)
        return "torch"
    return "openvino"


def choose_precision(precision: str, backend: str) -> str:
    """The precision ``auto`` stands for: int8 on OpenVINO (static quantization; measured faster than its
    fp32 and within 0.5 pt of kNN-10, see README "Faster embedding"), fp32 on every other backend."""
    if precision != AUTO:
        return precision
    return "int8" if backend == "openvino" else "fp32"


def exportable(path: str) -> bool:
    """A local sentence-transformers folder made of a transformer, mean or CLS pooling and an optional
    normalization: what the onnx and openvino backends reproduce."""
    import json

    folder = Path(path)
    try:
        modules = json.loads((folder / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds[:2] != ["Transformer", "Pooling"] or not set(kinds[2:]) <= {"Normalize"}:
            return False
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError, IndexError):
        return False
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    return modes in ({"pooling_mode_mean_tokens"}, {"pooling_mode_cls_token"})


def check(backend: str, precision: str, device: str, model: str) -> None:
    """Refuse an unknown or unavailable combination up front."""
    if backend not in BACKENDS:
        raise BackendError(f"--backend {backend!r}: choose one of {', '.join((AUTO, *BACKENDS))}")
    if precision not in PRECISIONS:
        raise BackendError(f"--precision {precision!r}: choose one of {', '.join((AUTO, *PRECISIONS))}")
    if model.startswith(STATIC_PREFIX):
        if backend != "torch" or precision != "fp32":
            raise BackendError(
                f"{model}: a static model is a lookup table; it takes no --backend or --precision"
            )
        _need("model2vec", "model2vec and skeletoken")
        return
    if precision == "fp16" and (backend != "torch" or not device.startswith("cuda")):
        raise BackendError(
            "--precision fp16 runs on CUDA with the torch backend only (use int8 to go faster on CPU)"
        )
    if precision == "int8" and backend == "torch":
        raise BackendError("--precision int8 needs --backend onnx or openvino")
    if backend != "torch" and device.startswith("cuda"):
        raise BackendError(f"--backend {backend} runs on the CPU here; use --backend torch on CUDA")
    if backend == "onnx":
        _need("onnxruntime", "onnxruntime and onnx")
    if backend == "openvino":
        _need("openvino", "openvino and nncf")


def _need(module: str, what: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise BackendError(f"this backend needs {what}: pip install 'vecpress[fast]'")


class Session:
    """One compiled model, callable from any number of threads at once: token ids, mask and types in, token
    states out.

    ONNX Runtime's ``InferenceSession.run`` is safe to call concurrently. An OpenVINO compiled model is too,
    but its one implicit infer request is not ("Infer Request is busy", or worse, another caller's output),
    so each calling thread gets an infer request of its own. OpenVINO keeps the compiled blob in
    ``<export>/compiled/`` (its model cache), so only the first process to load an export compiles it.
    """

    def __init__(self, backend: str, path: Path, threads: int):
        self.backend = backend
        self._local = threading.local()
        if backend == "onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self.inputs = [i.name for i in self.session.get_inputs()]
        else:
            import openvino as ov

            config = {"INFERENCE_NUM_THREADS": threads, "CACHE_DIR": str(Path(path).parent / "compiled")}
            self.compiled = ov.Core().compile_model(str(path), "CPU", config)
            self.inputs = [i.any_name for i in self.compiled.inputs]

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if self.backend == "onnx":
            return self.session.run(None, inputs)[0]
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        request.infer(inputs)
        return request.get_output_tensor(0).data.copy()  # the request's buffer is reused by its next call


def pooled(states: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Sentence vectors from token states the way the model's Pooling module makes them."""
    if mode == "cls":
        return states[:, 0]
    weights = mask[..., None].astype(np.float32)
    return (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
