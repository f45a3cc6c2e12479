"""Content keys for stage caching: input file versions, a stage's parameters, its output's format version."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from transforms.storage import formats, io

# What identifies a version of a file, by filesystem: ETag/generation on object stores, mtime locally.
_VERSION_KEYS = ("ETag", "etag", "generation", "md5Hash", "mtime", "LastModified", "created")


def file_version(url: str) -> dict[str, Any]:
    """Size plus whatever the filesystem offers to tell one version of a file from another."""
    fs, path = io.filesystem(url)
    info = fs.info(path)
    version = {k: info[k] for k in _VERSION_KEYS if k in info}
    return {"url": url, "size": info.get("size"), **{k: str(v) for k, v in version.items()}}


def stage_key(stage: str, *parts: Any) -> str:
    """A stable key for one stage: its name, the version of what it writes (transforms.storage.formats) and
    everything else its output depends on."""
    blob = json.dumps([stage, formats.STAGES[stage], parts], sort_keys=True, default=str)
    return f"{stage}-{hashlib.sha256(blob.encode()).hexdigest()[:32]}"
