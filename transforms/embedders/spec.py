"""What to embed with, apart from any runtime: the embedder's spec, the default model, and how a model name
and a device name resolve (a packaged model's folder; 'auto' devices). The runtimes
(transforms.embedders.embedder, transforms.embedders.backends) read these; nothing here loads a model."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from transforms.embedders import packaged

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # transforms.embedders.packaged.MINILM
FAKE_PREFIX = "fake:"


@dataclass(frozen=True)
class EmbedderSpec:
    """How to embed: model name or local path, device ('auto', 'cpu', 'cuda', 'cuda:1'), batching."""

    model: str = DEFAULT_MODEL
    device: str = "auto"
    batch_size: int = 64
    normalize: bool = True
    max_seq_length: int | None = None
    precision: str = "fp32"  # "fp16": half-precision weights (torch on CUDA); "int8": onnx or openvino
    backend: str = "torch"  # "onnx" (ONNX Runtime) or "openvino", on the CPU (transforms.embedders.backends)

    def recorded(self) -> dict[str, Any]:
        """How the vectors were made, as a codec's record keeps it (transforms.codec.info.CodecInfo): not the
        device or the batch size, which change nothing they compute."""
        return {
            "model": self.model,
            "normalize": self.normalize,
            "max_seq_length": self.max_seq_length,
            "backend": self.backend,
            "precision": self.precision,
        }


def resolve_model(model: str) -> str:
    """A packaged model's local folder (transforms.embedders.packaged); any other name or path as given."""
    return packaged.resolve(model)


def resolve_devices(device: str) -> list[str]:
    """'auto' is every CUDA device when there are any (one model per GPU), else the CPU. Without the NVIDIA
    driver's device node there is no CUDA device to find, and torch (seconds to import) is not asked."""
    if device != "auto":
        return [device]
    if not os.path.exists("/dev/nvidiactl"):
        return ["cpu"]
    import torch

    if torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return ["cpu"]


class Embedder(Protocol):
    """Embeds a batch of texts. One that also has ``encode_alike(texts)`` gives each text there exactly the
    vector (bit for bit) it gets alone: what lets concurrent queries share a model call (transforms.
    microbatch) without changing any answer."""

    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...
