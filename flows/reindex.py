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
from transforms.embed import embeddings
from transforms.run import gc, publish, report, sizes, stage_keys
from transforms.run.manifest import Counts, Manifest
from transforms.storage import lock
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
    previous = embeddings.published(config.output)  # what a re-index may reuse

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
        counts = {k: embedded[k] for k in ("read", "embedded", "rejected")}
    with _timed(timings, "fit"):
        n_total = counts["embedded"]
        fitted = cached(
            tasks.fit_codec,
            "fit",
            keys.fit,
            config=config,
            layout=layout,
            n_total=n_total,
            dim=dim,
            previous=previous,
        )
        info = fitted["info"]
    with _timed(timings, "encode"):
        encoded = cached(tasks.encode, "encode", keys.encode, config=config, layout=layout, info=info)
    with _timed(timings, "build"):
        built = cached(tasks.build, "build", keys.build, config=config, layout=layout, previous=previous)
        counts["indexed"] = built["rows"]
    with _timed(timings, "evaluate"):
        evaluated = cached(
            tasks.evaluate, "evaluate", keys.evaluate, config=config, layout=layout,
            n_total=counts["embedded"], info=info, previous=previous,
        )  # fmt: skip
        quality, per_query = evaluated["figures"], evaluated["per_query"]
    emb = embeddings.Embeddings.load(layout)
    manifest = Manifest(
        run_id=layout.run_id,
        output=config.output,
        parameters=config.model_dump(mode="json"),
        counts=Counts(**counts, encoded=encoded["rows"]),
        reuse={
            **embedded["reuse"],
            "code_files_reused": encoded.get("files_reused", 0),
            "code_files_encoded": encoded.get("encoded_files", 0),
            "index_shards_reused": built.get("shards_reused", 0),
            "codec_kept": fitted.get("kept"),
            "codec_not_kept": fitted.get("not_kept"),
            "previous_run": None if previous is None else previous[1].run_id,
        },
        codec=info,
        evaluation=quality,
        sizes=sizes.run_sizes(layout, info, counts["indexed"]),
        timings_s=timings,
        shards={
            kind: layout.shard_names(kind)
            for kind in ("codes", "index", "idmap", *(["refine"] if info.refine else []))
        },
        chunks=list(emb.chunks),  # the embed chunks, from the output root, with their records
        inputs=versions,  # each input file's version as read: search shows texts only from these
        skipped_files=skipped,
        reused=reused,
    )
    over = report.over_budget(manifest)
    if over:
        logger.warning("run %s: %.1f bytes a vector written%s", layout.run_id,
                       manifest.sizes["index_bytes_per_vector"], over)  # fmt: skip
    text = tasks.write_report(layout, manifest, per_query)
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
        return _stages(config, layout, lease)
