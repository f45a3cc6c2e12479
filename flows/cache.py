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

from transforms.storage import integrity, io
from transforms.storage.layout import STAGE_FILES, RunLayout

logger = logging.getLogger(__name__)


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
    written = result.get("files")
    if not written:  # recorded by an older vecpress: its files cannot be checked
        return task.with_options(result_storage=storage, refresh_cache=True)(key=key, **kwargs), None
    for name in STAGE_FILES[stage]:
        if io.exists(io.join(source, name)):  # e.g. refine/ only for two-tier codecs
            io.copy_tree(io.join(source, name), layout.dir(name))
    damaged = integrity.problems(layout.root, written)
    if damaged:  # gone, or changed since they were written: never use them
        logger.warning("cache hit for %s, but %s: recomputing", stage, "; ".join(damaged))
        for name in STAGE_FILES[stage]:
            io.remove(layout.dir(name))
        return task.with_options(result_storage=storage, refresh_cache=True)(key=key, **kwargs), None
    logger.info("%s: reused the output of %s (same inputs, key %s)", stage, source, key)
    return {**result, "root": layout.root, "files": written}, source
