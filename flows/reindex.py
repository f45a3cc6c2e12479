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
from transforms import lock, sizes
from transforms.fingerprint import stage_key
from transforms.layout import RunLayout, new_run_id

logger = logging.getLogger(__name__)

# The modules whose code makes each stage's output (their repository imports are followed): a change
# elsewhere, e.g. to the codec, leaves the embeddings cached. Keys chain, so a stage is redone when an
# earlier one is.
STAGE_CODE = {
    "embed": ("pipelines.embed",),
    "fit": ("transforms.choice", "transforms.sampling", "transforms.planner.report"),
    "encode": ("pipelines.encode",),
    "build": ("pipelines.build",),
}


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

    def cached(task, stage: str, key: str, **kwargs: Any) -> dict[str, Any]:
        inputs = {} if stage == "embed" else {"written": dict(written)}  # what the stage reads is checked
        result, source = run_cached(task, stage, key, storage, **inputs, **kwargs)
        if source:
            reused[stage] = source
        written.update(result["files"])
        return result

    with _timed(timings, "read"):
        files, versions, skipped = tasks.check_inputs(config)
    with _timed(timings, "embed"):
        dim = tasks.check_model_and_codec(config)
        # The output is part of the key: reused files are copied within one output, never across outputs.
        embed_key = stage_key(
            "embed",
            STAGE_CODE["embed"],
            config.output,
            versions,
            config.columns(),
            config.embedder(),
            config.shards,
            config.on_bad_file,
        )
        embedded = cached(
            tasks.embed,
            "embed",
            embed_key,
            config=config,
            layout=layout,
            files=files,
            versions=versions,
            dim=dim,
        )
        counts = {k: embedded[k] for k in ("read", "embedded", "rejected")}
    with _timed(timings, "fit"):
        goal = config.plan_goal()
        fit_params = (config.codec, config.unit_decode, config.sample_size, config.seed, config.nprobe, goal)
        fit_params += (config.refine, config.rerank)
        if goal is not None:
            fit_params += (config.label_column, config.plan_time_budget_s, config.stored_budget_bytes)
        fit_key = stage_key("fit", STAGE_CODE["fit"], embed_key, *fit_params)
        info = cached(
            tasks.fit_codec, "fit", fit_key, config=config, layout=layout, n_total=counts["embedded"], dim=dim
        )["info"]
    with _timed(timings, "encode"):
        encode_key = stage_key("encode", STAGE_CODE["encode"], fit_key)
        encoded = cached(tasks.encode, "encode", encode_key, config=config, layout=layout)["rows"]
    with _timed(timings, "build"):
        build_key = stage_key("build", STAGE_CODE["build"], encode_key)
        counts["indexed"] = cached(tasks.build, "build", build_key, config=config, layout=layout)["rows"]
    with _timed(timings, "evaluate"):
        quality, per_query = tasks.evaluate(config, layout, counts["embedded"], info, written)
    manifest = {
        "run_id": layout.run_id,
        "output": config.output,
        "parameters": config.model_dump(mode="json"),
        "counts": {**counts, "encoded": encoded},
        "codec": info.to_json(),
        "evaluation": quality,
        "sizes": sizes.run_sizes(layout, config.shards, info, counts["indexed"]),
        "timings_s": timings,
        "shards": {
            kind: [u.rsplit("/", 1)[1] for u in layout.shards(kind, config.shards)]
            for kind in ("embeddings", "codes", "index", "idmap", *(["refine"] if info.refine else []))
        },
        "rejects_file": "rejects.arrow",
        "skipped_files": skipped,
        "reused": reused,
    }
    text = tasks.write_report(layout, manifest, per_query)
    lease.check()  # a run that lost its lock publishes nothing
    logger.info("stage publish: started (run %s)", layout.run_id)
    manifest = tasks.publish_run(layout, manifest, written)
    create_markdown_artifact(
        markdown=text, key="vecpress-report", description=f"vecpress run {layout.run_id}"
    )
    return manifest


@flow(name="reindex")
def reindex(
    config: ReindexConfig | None = None,
    config_file: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parquet -> embeddings -> codec -> code shards -> index shards -> evaluation -> atomic publish.

    Args:
        config: the full run configuration; or, as deployments pass it,
        config_file: a YAML config (path relative to the flow's working directory), with
        overrides: keys that replace the file's.
    """
    if config is None:
        if config_file is None:
            raise ValueError("reindex needs a config or a config_file")
        config = ReindexConfig.from_yaml(config_file, **(overrides or {}))
    layout = RunLayout(config.output, config.run_id or new_run_id())
    with lock.output_lock(config.output, layout.run_id, config.lock_lease_s) as lease:
        return _stages(config, layout, lease)
