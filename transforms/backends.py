"""Faster ways to run the same model: ONNX Runtime and OpenVINO, in fp32 or with int8 weights, and a static
model distilled from it (model2vec). Each is built offline from the packaged model on first use, cached
under the model cache (keyed by model, backend, precision and this module's export version) and reused.

sentence-transformers' own ``backend="onnx"`` / ``"openvino"`` go through optimum-onnx and optimum-intel,
which (as published) require transformers < 5, while sentence-transformers 6 requires transformers >= 5: the
two cannot be installed together. So the model's transformer is exported with ``torch.onnx.export``,
quantized with ONNX Runtime's dynamic quantization (int8 weights, per channel) or compiled by OpenVINO (int8
weights and activations through NNCF's static quantization), and the model's own tokenizer and pooling run
around it.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import logging
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from transforms import calibration, models
from transforms.embedder_spec import FAKE_PREFIX, resolve_devices, resolve_model
from transforms.errors import VecpressError

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "openvino")
AUTO = "auto"
PRECISIONS = ("fp32", "fp16", "int8")
STATIC_PREFIX = "static:"
EXPORT_VERSION = 1  # bump when an export changes, so cached exports are rebuilt
VERSIONS = {("openvino", "int8"): 2}  # exports changed since: 2, static quantization (was weights only)
CALIBRATION_TOKENS = 256  # calibration texts are cut here, whatever --max-seq-length the first user asked
STATIC_DIMS = 256  # model2vec's default PCA size
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what an export may take, in this order


class BackendError(VecpressError, ValueError):
    """A backend, precision or device combination that cannot run, said before any work."""


def choose(backend: str, precision: str, device: str, model: str) -> str:
    """The backend ``auto`` stands for. On the CPU that is OpenVINO (with ``precision`` auto, in int8:
    ``choose_precision``), the one CPU path `make bench` measured at 2.5x torch fp32's documents per second
    or more within 0.5 pt of its kNN-10 accuracy. torch stays for CUDA, fp16, fake and static models, models
    whose modules the exported path does not reproduce, and where openvino is not installed. Any other value
    is returned as given (``check`` judges it)."""
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


def export_version(backend: str, precision: str) -> int | None:
    """The version of the exported model a backend runs (None for torch, which runs the model itself)."""
    return None if backend == "torch" else VERSIONS.get((backend, precision), EXPORT_VERSION)


def export_dir(model_path: str, backend: str, precision: str) -> Path:
    tag = hashlib.sha256(str(Path(model_path).resolve()).encode()).hexdigest()[:10]
    version = export_version(backend, precision)
    return models.cache_dir() / "exports" / f"{Path(model_path).name}-{tag}-{backend}-{precision}-v{version}"


def exported(model_path: str, backend: str, precision: str) -> Path | None:
    """The model file of an export already built for ``backend`` and ``precision``, or None."""
    name = "model.xml" if backend == "openvino" else "model.onnx"
    found = export_dir(model_path, backend, precision) / name
    return found if found.exists() else None


def _build_once(target: Path, build: Any) -> Path:
    """Build ``target`` (a folder) in a temporary folder beside it and move it into place: a concurrent
    builder either wins or finds it done, and a killed one leaves nothing half-built."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
    try:
        build(tmp)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not target.exists():
            raise
    return target


@contextlib.contextmanager
def _quietly() -> Iterator[None]:
    """The exporters' chatter (torch's TracerWarnings, NNCF's warnings and progress bars) kept off the
    terminal unless vecpress logs at debug level (``-v``): an export happens once, and says so in one line."""
    if logger.isEnabledFor(logging.DEBUG):
        yield
        return
    nncf_logger = logging.getLogger("nncf")
    level = nncf_logger.level
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        nncf_logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            nncf_logger.setLevel(level)


def export_onnx(st: Any, model_path: str) -> Path:
    """The model's transformer as ONNX (fp32): inputs ids, mask and token types; output the token states."""
    import torch

    def build(folder: Path) -> None:
        transformer = st[0].auto_model.eval()
        sample = st.tokenizer(
            ["an example", "another, longer example sentence"], padding=True, return_tensors="pt"
        )
        takes = inspect.signature(transformer.forward).parameters
        names = [n for n in INPUTS if n in sample and n in takes]  # MPNet, e.g., has no token types

        class States(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = transformer

            def forward(self, *inputs):  # noqa: ANN002
                return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

        logger.info("exporting %s to ONNX (once)", model_path)
        with _quietly():
            torch.onnx.export(
                States(), tuple(sample[n] for n in names), str(folder / "model.onnx"),
                input_names=names, output_names=["states"], dynamo=False, opset_version=17,
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "states"]},
            )  # fmt: skip

    return _build_once(export_dir(model_path, "onnx", "fp32"), build) / "model.onnx"


def quantize_onnx(fp32: Path, model_path: str) -> Path:
    """int8 weights, per output channel, for the matrix products; activations quantized at run time."""

    def build(folder: Path) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        logger.info("quantizing %s to int8", fp32)
        quantize_dynamic(
            str(fp32), str(folder / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul"],
        )  # fmt: skip

    return _build_once(export_dir(model_path, "onnx", "int8"), build) / "model.onnx"


def openvino_model(fp32: Path, model_path: str, precision: str, tokenizer: Any = None) -> Path:
    """The ONNX export converted to OpenVINO IR. int8: static quantization by NNCF (int8 weights and
    activations, SmoothQuant, the transformer preset), its activation ranges calibrated on
    ``transforms.calibration`` texts tokenized by the model's ``tokenizer``: int8 matrix products run on
    VNNI/AMX CPUs. Weights alone in int8 ran no faster than fp32 here (both 2.0-2.2x torch fp32)."""

    def build(folder: Path) -> None:
        import openvino as ov

        model = ov.convert_model(str(fp32))
        if precision == "int8":
            import nncf

            logger.info("quantizing %s to int8 (once; calibration: %d texts)", fp32, calibration.TEXTS)
            with _quietly():
                model = nncf.quantize(
                    model, nncf.Dataset(_calibration_batches(tokenizer, [i.any_name for i in model.inputs])),
                    model_type=nncf.ModelType.TRANSFORMER, subset_size=calibration.TEXTS,
                )  # fmt: skip
        ov.save_model(model, str(folder / "model.xml"))

    return _build_once(export_dir(model_path, "openvino", precision), build) / "model.xml"


def _calibration_batches(tokenizer: Any, inputs: list[str]) -> list[dict[str, np.ndarray]]:
    texts = calibration.texts()
    batches = []
    for start in range(0, len(texts), 16):
        tokens = tokenizer(texts[start : start + 16], padding=True, truncation=True,
                           max_length=CALIBRATION_TOKENS, return_tensors="np")  # fmt: skip
        ids = tokens["input_ids"].astype(np.int64)
        batches.append({k: tokens[k].astype(np.int64) if k in tokens else np.zeros_like(ids) for k in inputs})
    return batches


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


def distilled(base: str) -> Path:
    """model2vec's distillation of ``base`` (its vocabulary through the model, PCA to 256 dims, Zipf
    weighting), made once and cached."""
    path = models.resolve(base)
    target = models.cache_dir() / "static" / f"{Path(path).name}-{STATIC_DIMS}-v{EXPORT_VERSION}"

    def build(folder: Path) -> None:
        from model2vec.distill import distill

        logger.info("distilling a static model from %s (once; about a minute on 2 cores)", base)
        model = distill(model_name=path, pca_dims=STATIC_DIMS, device="cpu")
        model.save_pretrained(str(folder))

    return _build_once(target, build)
