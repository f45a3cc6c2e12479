"""Content keys for stage caching: input file versions, a stage's parameters, the code version."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from transforms import io

# What identifies a version of a file, by filesystem: ETag/generation on object stores, mtime locally.
_VERSION_KEYS = ("ETag", "etag", "generation", "md5Hash", "mtime", "LastModified", "created")


def file_version(url: str) -> dict[str, Any]:
    """Size plus whatever the filesystem offers to tell one version of a file from another."""
    fs, path = io.filesystem(url)
    info = fs.info(path)
    version = {k: info[k] for k in _VERSION_KEYS if k in info}
    return {"url": url, "size": info.get("size"), **{k: str(v) for k, v in version.items()}}


@functools.cache
def code_version() -> str:
    """sha256 over the source of the numeric core and the pipelines: a code change invalidates caches."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for package in ("transforms", "pipelines"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def stage_key(stage: str, *parts: Any) -> str:
    """A stable key for one stage: its name, the code version and everything its output depends on."""
    blob = json.dumps([stage, code_version(), parts], sort_keys=True, default=str)
    return f"{stage}-{hashlib.sha256(blob.encode()).hexdigest()[:32]}"
