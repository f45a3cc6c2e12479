"""Prefect tasks: each adapts one stage of ``transforms``/``pipelines`` and passes paths, not data."""

from __future__ import annotations

import errno
import logging
from typing import Any

import numpy as np
from prefect import task

from flows.cache import STAGE_FILES, by_key
from flows.config import ReindexConfig
from transforms import (
    arrow_files,
    choice,
    codec,
    evaluation,
    fingerprint,
    integrity,
    io,
    publish,
    reading,
    report,
    sampling,
    search,
)
from transforms.errors import VecpressError
from transforms.layout import RunLayout
from transforms.planner import report as planner_report

logger = logging.getLogger(__name__)


NEEDS_A_PERSON = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def _stopped(err: BaseException) -> bool:
    """Whether ``err`` comes from the process being stopped (a SIGTERM that Prefect turned into an
    exception, Ctrl-C) that some library caught and re-raised as an ordinary error."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        if not isinstance(cause, Exception):  # TerminationSignal, KeyboardInterrupt, SystemExit
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _transient(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry storage or network trouble; never an expected error (bad input, an
    untrainable codec, a damaged file: the same again cannot succeed), nor work stopped by a termination
    signal (a cancelled flow run: retrying would start the stage again from the beginning)."""
    try:
        state.result()
    except VecpressError:
        return False
    except OSError as err:  # a full disk or a read-only place waits for a person, not for 10 seconds
        return err.errno not in NEEDS_A_PERSON and not _stopped(err)
    except Exception as err:
        return not _stopped(err)
    return True


RETRY = {"retry_condition_fn": _transient, "retry_delay_seconds": 10}


def _beam_options(config: ReindexConfig):
    from pipelines import runner

    return runner.pipeline_options(config.runner, config.pipeline_args)


@task(retries=2, **RETRY)
def check_inputs(
    config: ReindexConfig,
) -> tuple[list[reading.InputFile], list[dict[str, Any]], list[dict[str, str]]]:
    """Expand the input and check every file's schema before any work starts; also each file's version, and
    the files left out as unreadable (with --on-bad-file skip)."""
    skipped: list[dict[str, str]] = []
    files = reading.check_inputs(
        config.input, config.columns(), skipped if config.on_bad_file == "skip" else None
    )
    logger.info("%d input files, %d rows", len(files), sum(f.rows for f in files))
    return files, [fingerprint.file_version(f.url) for f in files], skipped


@task
def check_model_and_codec(config: ReindexConfig) -> int:
    """Load the model and check the codec string up front, before a long embedding job; return the dim."""
    from transforms.embedder import load_embedder

    dim = int(load_embedder(config.embedder()).dim)
    if config.codec != "auto":
        codec.validate(config.codec, dim, unit_decode=config.unit_decode, refine=config.refine)
    return dim


CACHED = {"cache_key_fn": by_key, "persist_result": True}


@task(retries=1, **RETRY, **CACHED)
def embed(
    config: ReindexConfig,
    layout: RunLayout,
    files: list[reading.InputFile],
    versions: list[dict[str, Any]],
    dim: int,
    key: str,
) -> dict[str, Any]:
    """Run the embed pipeline; return rows read (from Parquet footers), embedded and rejected, and the
    records (size, sha256) of the files it wrote."""
    from pipelines import embed as embed_pipeline
    from pipelines import runner

    read = sum(f.rows for f in files)
    job = embed_pipeline.EmbedJob(
        tuple(files),
        config.columns(),
        config.embedder(),
        layout,
        config.shards,
        dim,
        read,
        config.on_bad_file,
    )
    runner.run(lambda p: embed_pipeline.build(p, job), _beam_options(config), "embed")
    for before in versions:  # a file replaced mid-run would mix two versions of the corpus
        after = fingerprint.file_version(before["url"])
        if after != before:
            raise reading.InputError(
                f"{before['url']}: changed while the run was reading it (size {before['size']} -> "
                f"{after['size']}); run again once it no longer changes"
            )
    embedded = sum(arrow_files.num_rows(u) for u in layout.shards("embeddings", config.shards))
    rejected = arrow_files.num_rows(layout.rejects)
    if embedded == 0:
        raise reading.InputError(
            f"no documents to index: all {read} rows were rejected (see {layout.rejects})"
        )
    written = integrity.describe(layout.root, STAGE_FILES["embed"])
    return {"read": read, "embedded": embedded, "rejected": rejected, "root": layout.root, "files": written}


Records = dict[str, dict[str, Any]]  # a run's files by relative path: {"bytes", "sha256"} when written


def _checked(layout: RunLayout, kind: str, shards: int, written: Records) -> list[str]:
    """The shard URLs of ``kind``, each checked against the record of the stage that wrote it."""
    urls = []
    for i in range(shards):
        rel = layout.shard_path(kind, i, shards)
        integrity.verify_file(layout.dir(rel), written.get(rel))
        urls.append(layout.dir(rel))
    return urls


def _codec_records(written: Records) -> dict[str, Any]:
    return {rel.removeprefix("codec/"): r for rel, r in written.items() if rel.startswith("codec/")}


@task(**CACHED)
def fit_codec(
    config: ReindexConfig, layout: RunLayout, n_total: int, dim: int, written: Records, key: str
) -> dict[str, Any]:
    """Draw the seeded training sample from the stored embeddings (checked against their records) and train
    the codec."""
    shards = _checked(layout, "embeddings", config.shards, written)
    sample = sampling.bottom_k(shards, config.sample_size, config.seed)
    labels = sample.labels if config.label_column else None
    chosen = choice.choose(sample.vectors, labels, n_total, config.codec_settings())
    plan_summary = None
    if chosen.plan is not None:
        planner_report.write(
            chosen.plan, io.join(layout.codec, "plan")
        )  # copied with the codec on a cache hit
        plan_summary = {k: chosen.plan[k] for k in ("goal", "objective", "sample", "frontier", "elapsed_s")}
        plan_summary["pick"] = chosen.plan["pick"]
    for reason in chosen.reasons:
        logger.info("codec: %s", reason)
    index, quantizer = choice.train(sample.vectors, chosen)
    info = codec.CodecInfo(
        model=config.model,
        dim=dim,
        normalize=config.normalize,
        max_seq_length=config.max_seq_length,
        factory=chosen.factory,
        metric="L2",
        sample_size=len(sample.row_ids),
        sample_cutoff=sampling.cutoff(sample, config.seed),
        seed=config.seed,
        nprobe=chosen.nprobe,
        code_size=int(index.sa_code_size()),
        fingerprint=codec.fingerprint(index),
        reductions=chosen.reasons,
        params=chosen.params,
        plan=plan_summary,
        unit_decode=chosen.unit_decode,
        refine=chosen.refine,
        rerank=chosen.rerank,
        refine_code_size=0 if quantizer is None else int(quantizer.sa_code_size()),
        refine_fingerprint="" if quantizer is None else codec.fingerprint(quantizer),
    )
    codec.save(layout.codec, index, info, quantizer)
    written = integrity.describe(layout.root, STAGE_FILES["fit"])
    return {"info": info, "root": layout.root, "files": written}


@task(retries=1, **RETRY, **CACHED)
def encode(config: ReindexConfig, layout: RunLayout, written: Records, key: str) -> dict[str, Any]:
    """Encode every embedding shard; each worker checks its shard and the codec against their records."""
    from pipelines import encode as encode_pipeline
    from pipelines import runner

    n = config.shards
    jobs = [
        (
            layout.shard("embeddings", i, n),
            layout.shard("codes", i, n),
            layout.shard("refine", i, n),  # written only for a two-tier codec
            written.get(layout.shard_path("embeddings", i, n)),
        )
        for i in range(n)
    ]
    codec_records = _codec_records(written)
    runner.run(
        lambda p: encode_pipeline.build(p, layout.codec, jobs, codec_records), _beam_options(config), "encode"
    )
    rows = sum(arrow_files.num_rows(dst) for _, dst, _, _ in jobs)
    return {
        "rows": rows,
        "root": layout.root,
        "files": integrity.describe(layout.root, STAGE_FILES["encode"]),
    }


@task(retries=1, **RETRY, **CACHED)
def build(config: ReindexConfig, layout: RunLayout, written: Records, key: str) -> dict[str, Any]:
    """Build every index shard from its code shard; each worker checks the codes and the codec first."""
    from pipelines import build as build_pipeline
    from pipelines import runner

    n = config.shards
    jobs = [
        (
            layout.shard("codes", i, n),
            layout.shard("index", i, n),
            layout.shard("idmap", i, n),
            written.get(layout.shard_path("codes", i, n)),
        )
        for i in range(n)
    ]
    codec_records = _codec_records(written)
    runner.run(
        lambda p: build_pipeline.build(p, layout.codec, jobs, codec_records), _beam_options(config), "build"
    )
    rows = sum(arrow_files.num_rows(idmap) for _, _, idmap, _ in jobs)
    return {"rows": rows, "root": layout.root, "files": integrity.describe(layout.root, STAGE_FILES["build"])}


@task
def evaluate(
    config: ReindexConfig, layout: RunLayout, n_total: int, info: codec.CodecInfo, written: Records
) -> tuple[dict[str, Any], list[float]]:
    """Recall@k against exact float search and kNN label accuracy, on queries drawn from the corpus, searching
    the shards as search will (two tiers re-ranked); every file is checked against its record first."""
    shards = _checked(layout, "embeddings", config.shards, written)
    queries = sampling.bottom_k(shards, min(config.eval_queries, n_total), config.seed + 1)
    n = config.shards
    quantizer = codec.load_refine(layout.codec, info, _codec_records(written))
    indexes = [
        search.open_shard(
            layout.shard("index", i, n),
            info.nprobe,
            info,
            written.get(layout.shard_path("index", i, n)),
            quantizer,
            layout.shard("refine", i, n),
            written.get(layout.shard_path("refine", i, n)),
        )
        for i in range(n)
    ]
    out, per_query = evaluation.evaluate_index(shards, indexes, queries, config.k, bool(config.label_column))
    if info.sample_size < n_total and info.sample_cutoff is not None:  # some documents were never trained on
        keep = sampling.unseen(info.seed, info.sample_cutoff)
        unseen = sampling.bottom_k(
            shards, min(config.eval_queries, n_total - info.sample_size), config.seed + 1, keep
        )
        share = 1 - info.sample_size / n_total
        out["unseen"] = evaluation.unseen_recall(shards, indexes, unseen, config.k, keep, share)
    return out, per_query.tolist()


@task
def write_report(layout: RunLayout, manifest: dict[str, Any], per_query: list[float]) -> str:
    """report.md and report.png inside the run, before publishing, so the manifest lists them."""
    text = report.markdown(manifest)
    io.write_bytes(layout.dir("report.md"), text.encode())
    report.plot(np.asarray(per_query), manifest, layout.dir("report.png"))
    return text


@task(retries=2, **RETRY)
def publish_run(layout: RunLayout, manifest: dict[str, Any], written: Records) -> dict[str, Any]:
    return publish.publish(layout, manifest, written)
