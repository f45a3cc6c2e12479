"""The ``reindex`` flow: sequences the stages, times them, publishes the run and its report artifact."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows import tasks
from flows.cache import result_storage, run_cached
from flows.config import ReindexConfig
from transforms.run import assemble, gc, last_run, publish, report, stage_keys
from transforms.storage import lock, run_scope
from transforms.storage.layout import RunLayout, new_run_id

logger = logging.getLogger(__name__)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    logger.info("stage %s: started", stage)
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 2)


def _stages(config: ReindexConfig, layout: RunLayout, lease: lock.Lease) -> dict[str, Any]:
    timings: dict[str, float] = {}
    reused: dict[str, str] = {}
    storage = result_storage(config.output)
    written: dict[str, dict[str, Any]] = {}  # every file the stages wrote, with its size and sha256
    previous = last_run.last_run(config.output)  # what a re-index may reuse

    def cached(task, stage: str, key: str, **kwargs: Any) -> dict[str, Any]:
        result, source = run_cached(task, stage, key, storage, written=dict(written), **kwargs)
        if source:
            reused[stage] = source
        written.update(result["files"])
        return result

    with _timed(timings, "read"):
        files, versions, skipped = tasks.check_inputs(config)
    keys = stage_keys.StageKeys.of(config, versions)
    with _timed(timings, "embed"):
        dim = tasks.check_model_and_codec(config)
        embedded = tasks.embed(config, layout, files, versions, dim, previous)
        written.update(embedded["files"])
    with _timed(timings, "fit"):
        fitted = cached(
            tasks.fit_codec, "fit", keys.fit, config=config, layout=layout, n_total=embedded["embedded"],
            dim=dim, previous=previous,
        )  # fmt: skip
        info = fitted["info"]
    with _timed(timings, "encode"):
        encoded = cached(tasks.encode, "encode", keys.encode, config=config, layout=layout, info=info)
    with _timed(timings, "build"):
        built = cached(tasks.build, "build", keys.build, config=config, layout=layout, previous=previous)
    with _timed(timings, "evaluate"):
        evaluated = cached(
            tasks.evaluate, "evaluate", keys.evaluate, config=config, layout=layout,
            n_total=embedded["embedded"], info=info, previous=previous,
        )  # fmt: skip
    stages = assemble.Stages(embedded, fitted, encoded, built, evaluated, timings, reused)
    inputs = assemble.Inputs(versions, skipped)
    manifest = assemble.manifest(layout, config.model_dump(mode="json"), stages, inputs, previous)
    over = report.over_budget(manifest)
    if over:
        logger.warning("run %s: %.1f bytes a vector written%s", layout.run_id,
                       manifest.sizes["index_bytes_per_vector"], over)  # fmt: skip
    text = tasks.write_report(layout, manifest, evaluated["per_query"])
    lease.check()  # a run that lost its lock publishes nothing
    logger.info("stage publish: started (run %s)", layout.run_id)
    published = tasks.publish_run(layout, manifest, written)
    gc.collect(config.output, config.keep_runs, config.gc_grace_s)  # under the lock: beyond retention
    create_markdown_artifact(
        markdown=text, key="vecpress-report", description=f"vecpress run {layout.run_id}"
    )
    return published.to_json()


@flow(name="reindex")
def reindex(
    config: ReindexConfig | None = None,
    config_file: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parquet -> embeddings -> codec -> code shards -> index shards -> evaluation -> atomic publish.
    Returns the published manifest (transforms.run.manifest.Manifest) as JSON.

    Args:
        config: the full run configuration; or, as deployments pass it,
        config_file: a YAML config (path relative to the flow's working directory), with
        overrides: keys that replace the file's.
    """
    if config is None:
        if config_file is None:
            raise ValueError("reindex needs a config or a config_file")
        config = ReindexConfig.from_yaml(config_file, **(overrides or {}))
    layout = RunLayout(config.output, config.run_id or new_run_id(), config.shards)
    publish.refuse_published(layout)
    with lock.output_lock(config.output, layout.run_id, config.lock_lease_s) as lease:
        publish.refuse_published(layout)  # again, now that no other run can publish it meanwhile
        with run_scope.scope():  # what a stage works out is not worked out again by a later one
            return _stages(config, layout, lease)
