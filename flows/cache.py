"""Content-keyed stage cache on top of Prefect's persisted task results.

A cached task returns where its files were written (the run directory of the run that computed them) and
their records (size, sha256). On a cache hit in a later run, those files are copied into the new run's
directory, so every run stays complete on its own, and the copies are checked against the records; if the
files are gone or differ from what was written, the stage is recomputed.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from prefect import Task
from prefect.filesystems import LocalFileSystem, RemoteFileSystem

from transforms import integrity, io
from transforms.layout import RunLayout

logger = logging.getLogger(__name__)

# The files (relative to a run directory) that each cached stage produces.
STAGE_FILES = {
    "embed": ("embeddings", "rejects.arrow"),
    "fit": ("codec",),
    "encode": ("codes",),
    "build": ("index", "idmap"),
}


def by_key(_context: Any, parameters: dict[str, Any]) -> str:
    """Prefect cache_key_fn: the explicit content key the flow computed for the stage."""
    return parameters["key"]


def result_storage(output: str) -> LocalFileSystem | RemoteFileSystem:
    """Cache records live beside the output, so every worker that can write the output can reuse them.

    Prefect wants result storage saved server-side; the block is named after the output it serves.
    """
    url = io.join(output, "_cache")
    if "://" not in url or url.startswith("file://"):
        block = LocalFileSystem(basepath=io.filesystem(url)[1])
    else:
        # Prefect wants a location after the scheme; fsspec reads memory:///x and memory://x alike.
        block = RemoteFileSystem(basepath=url.replace(":///", "://", 1))
    block.save(f"vecpress-cache-{hashlib.sha256(url.encode()).hexdigest()[:16]}", overwrite=True)
    return block


def run_cached(task: Task, stage: str, key: str, storage: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """Run ``task`` (which takes ``layout`` and ``key``) through the cache kept in ``storage``.

    Returns the task's result and the run directory whose files were reused, if any.
    """
    layout: RunLayout = kwargs["layout"]
    result = task.with_options(result_storage=storage)(key=key, **kwargs)
    source = result["root"]
    if source == layout.root:
        return result, None
    sources = [io.join(source, name) for name in STAGE_FILES[stage]]
    if not all(io.exists(url) for url in sources):
        logger.warning("cache hit for %s but %s is gone: recomputing", stage, source)
        return task.with_options(result_storage=storage, refresh_cache=True)(key=key, **kwargs), None
    for url, name in zip(sources, STAGE_FILES[stage], strict=True):
        io.copy_tree(url, layout.dir(name))
    written = result.get("files") or integrity.describe(layout.root, STAGE_FILES[stage])
    damaged = integrity.problems(layout.root, written)
    if damaged:  # the earlier run's files changed since they were written: never reuse them
        logger.warning("cache hit for %s, but %s: recomputing", stage, "; ".join(damaged))
        for name in STAGE_FILES[stage]:
            io.remove(layout.dir(name))
        return task.with_options(result_storage=storage, refresh_cache=True)(key=key, **kwargs), None
    logger.info("%s: reused the output of %s (same inputs, key %s)", stage, source, key)
    return {**result, "root": layout.root, "files": written}, source
