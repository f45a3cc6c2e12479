"""The exported runtimes of a model, built offline from the packaged model on first use and cached under
the model cache (keyed by model, backend, precision and the export version): ONNX (fp32, or int8 weights by
ONNX Runtime's dynamic quantization), OpenVINO IR (fp32, or int8 weights and activations by NNCF's static
quantization) and a static model distilled from it (model2vec). transforms.embedders.backends says which
runs where, and runs them."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from transforms.embedders import calibration, packaged
from transforms.embedders.backends import INPUTS

logger = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when an export changes, so cached exports are rebuilt
VERSIONS = {("openvino", "int8"): 2}  # exports changed since: 2, static quantization (was weights only)
CALIBRATION_TOKENS = 256  # calibration texts are cut here, whatever --max-seq-length the first user asked
STATIC_DIMS = 256  # model2vec's default PCA size


def export_version(backend: str, precision: str) -> int | None:
    """The version of the exported model a backend runs (None for torch, which runs the model itself)."""
    return None if backend == "torch" else VERSIONS.get((backend, precision), EXPORT_VERSION)


def export_dir(model_path: str, backend: str, precision: str) -> Path:
    tag = hashlib.sha256(str(Path(model_path).resolve()).encode()).hexdigest()[:10]
    version = export_version(backend, precision)
    return (
        packaged.cache_dir() / "exports" / f"{Path(model_path).name}-{tag}-{backend}-{precision}-v{version}"
    )


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
    ``transforms.embedders.calibration`` texts tokenized by the model's ``tokenizer``: int8 matrix products
    run on VNNI/AMX CPUs (weights alone in int8 run no faster than fp32: the bench's ``backends`` part)."""

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


def distilled(base: str) -> Path:
    """model2vec's distillation of ``base`` (its vocabulary through the model, PCA to 256 dims, Zipf
    weighting), made once and cached."""
    path = packaged.resolve(base)
    target = packaged.cache_dir() / "static" / f"{Path(path).name}-{STATIC_DIMS}-v{EXPORT_VERSION}"

    def build(folder: Path) -> None:
        from model2vec.distill import distill

        logger.info("distilling a static model from %s (once; about a minute on 2 cores)", base)
        model = distill(model_name=path, pca_dims=STATIC_DIMS, device="cpu")
        model.save_pretrained(str(folder))

    return _build_once(target, build)
