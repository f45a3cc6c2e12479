"""Prefect tasks: each adapts one stage of ``transforms``/``pipelines`` and passes paths, not data."""

from __future__ import annotations

import errno
import logging
from typing import Any

import numpy as np
from prefect import task

from flows.cache import by_key
from flows.config import ReindexConfig
from transforms.codec import codec, refine
from transforms.codec.info import CodecInfo
from transforms.embed import embed_stage, embeddings
from transforms.fit import fit_stage
from transforms.index import building, encode_stage, encoding
from transforms.read import reading
from transforms.run import last_run, publish, report
from transforms.run.manifest import Manifest
from transforms.search import evaluation, neighbours, search
from transforms.storage import arrow_files, fingerprint, integrity, io
from transforms.storage.errors import VecpressError
from transforms.storage.layout import CHUNK_LIST, CODEC, STAGE_FILES, RunLayout

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
    from transforms.embedders.embedder import load_embedder

    dim = int(load_embedder(config.embedder()).dim)
    if config.codec != "auto":
        codec.validate(config.codec, dim, unit_decode=config.unit_decode, refine=config.refine)
    return dim


CACHED = {"cache_key_fn": by_key, "persist_result": True}
Records = dict[str, dict[str, Any]]  # a run's files by relative path: {"bytes", "sha256"} when written
LastRun = last_run.LastRun | None  # the last published run, if any


@task(retries=1, **RETRY)
def embed(
    config: ReindexConfig,
    layout: RunLayout,
    files: list[reading.InputFile],
    versions: list[dict[str, Any]],
    dim: int,
    previous: LastRun,
) -> dict[str, Any]:
    """Embed every chunk not already done (the chunk store is this stage's cache: a killed run resumes at
    the chunks in flight), then resolve duplicates and write the rejects. Returns the counts, what was
    reused, and the records of the run's files."""
    from pipelines import embed as embed_pipeline
    from pipelines import runner

    earlier = None if previous is None else previous.embeddings
    settings = embed_stage.EmbedSettings(
        config.embedder(), config.columns(), config.on_bad_file, config.full, config.embed_cache
    )
    work = embed_stage.plan(config.output, files, versions, settings, earlier)
    if work.todo:
        job = embed_pipeline.EmbedJob.of(work, dim)
        runner.run(lambda p: embed_pipeline.build(p, job), _beam_options(config), "embed")
    embed_stage.check_unchanged(versions)
    _, counts = embed_stage.finish(work, layout, earlier)
    written = integrity.describe(layout.root, STAGE_FILES["embed"])
    return {**counts, "root": layout.root, "files": written}


def _embeddings(layout: RunLayout, written: Records) -> embeddings.Embeddings:
    """The run's embeddings, their index and every chunk file checked against its record."""
    integrity.verify_file(layout.dir(CHUNK_LIST), written.get(CHUNK_LIST))
    emb = embeddings.Embeddings.load(layout)
    emb.check()
    return emb


@task(**CACHED)
def fit_codec(
    config: ReindexConfig,
    layout: RunLayout,
    n_total: int,
    dim: int,
    written: Records,
    previous: LastRun,
    key: str,
) -> dict[str, Any]:
    """Keep the last run's codec if it still fits, else choose and train one (transforms.fit.fit_stage)."""
    emb = _embeddings(layout, written)
    index, quantizer, fitted = fit_stage.fit(
        emb, n_total, config.fit_settings(), dim, None if config.full else previous
    )
    fit_stage.save(layout, index, quantizer, fitted)
    files = integrity.describe(layout.root, STAGE_FILES["fit"])
    return {
        "info": fitted.info,
        "kept": fitted.kept,
        "not_kept": fitted.not_kept,
        "root": layout.root,
        "files": files,
    }


@task(retries=1, **RETRY, **CACHED)
def encode(
    config: ReindexConfig, layout: RunLayout, written: Records, info: CodecInfo, key: str
) -> dict[str, Any]:
    """Encode the vector files this codec (``info``: fit's record of it) has not encoded yet, then write
    every shard's codes; the pipelines' workers load the codec from the run's files, checked."""
    from pipelines import encode as encode_pipeline
    from pipelines import runner

    emb = embeddings.Embeddings.load(layout)
    records = integrity.under(written, CODEC)
    work = encode_stage.plan(emb, info)
    if work.todo:
        job = encode_pipeline.EncodeJob(
            layout.codec, records, config.output, work.embedder_key, tuple(work.todo)
        )
        runner.run(lambda p: encode_pipeline.build_files(p, job), _beam_options(config), "encode")
    code_files = encode_stage.code_files(work)
    fine = tuple(encode_stage.fine_files(work)) if info.refine else ()
    if fine:
        refine.write_listing(layout.code_files, fine)
    sources = encoding.ShardSources(tuple(code_files), emb.dropped, layout.shards, fine)
    shards = encode_pipeline.ShardJob(layout.codec, records, sources)
    items = [(i, layout.shard("codes", i), layout.shard("refine", i)) for i in range(layout.shards)]
    runner.run(lambda p: encode_pipeline.build_shards(p, shards, items), _beam_options(config), "shards")
    rows = sum(arrow_files.num_rows(url) for url in layout.shard_urls("codes"))
    files = integrity.describe(layout.root, STAGE_FILES["encode"])
    return {
        "rows": rows,
        "files_reused": len(work.sources) - len(work.todo),
        "encoded_files": len(work.todo),
        "root": layout.root,
        "files": files,
    }


@task(retries=1, **RETRY, **CACHED)
def build(
    config: ReindexConfig, layout: RunLayout, written: Records, previous: LastRun, key: str
) -> dict[str, Any]:
    """Build every index shard from its code shard; a shard whose codes are byte for byte the last run's,
    with the same codec, is copied from it instead."""
    from pipelines import build as build_pipeline
    from pipelines import runner

    reused = building.copy_unchanged_shards(layout, written, previous)
    jobs = [
        (layout.shard("codes", i), layout.shard("index", i), layout.shard("idmap", i),
         written.get(layout.shard_path("codes", i)))
        for i in range(layout.shards)
        if i not in reused
    ]  # fmt: skip
    if jobs:
        codec_records = integrity.under(written, CODEC)
        runner.run(
            lambda p: build_pipeline.build(p, layout.codec, jobs, codec_records),
            _beam_options(config),
            "build",
        )
    rows = sum(arrow_files.num_rows(url) for url in layout.shard_urls("idmap"))
    files = integrity.describe(layout.root, STAGE_FILES["build"])
    return {"rows": rows, "shards_reused": len(reused), "root": layout.root, "files": files}


@task(**CACHED)
def evaluate(
    config: ReindexConfig,
    layout: RunLayout,
    n_total: int,
    info: CodecInfo,
    written: Records,
    previous: LastRun,
    key: str,
) -> dict[str, Any]:
    """Recall@k against exact float search and kNN label accuracy (transforms.search.evaluation.
    evaluate_run), searching the shards as search will; every file is checked against its record first. The
    queries' exact neighbours are kept in the run (``evaluation/``) and carried over from the last run's for
    the queries that did not change (transforms.search.neighbours). Cached by ``key`` (the index's and the
    embeddings' inputs and the evaluation's settings): a run whose index and embeddings are those of an
    earlier run has its figures, which say the run they were measured in."""
    emb = _embeddings(layout, written)
    indexes = search.open_run(layout, info, written)
    embedder = emb.embedder_key
    before = None if config.full else _neighbours_before(emb, embedder, previous)  # --full: all afresh
    settings = evaluation.Settings(config.eval_queries, config.k, config.seed, bool(config.label_column))
    out, per_query, lists = evaluation.evaluate_run(emb, indexes, info, n_total, settings, before)
    unseen = neighbours.unseen_key(info.seed, info.sample_cutoff)
    neighbours.write(layout.exact_neighbours, neighbours.Kept(lists, embedder, unseen))
    return {
        "figures": {**out, "measured_in": layout.run_id},
        "per_query": per_query.tolist(),
        "root": layout.root,
        "files": integrity.describe(layout.root, STAGE_FILES["evaluate"]),
    }


def _neighbours_before(emb: embeddings.Embeddings, embedder: str, previous: LastRun) -> Any:
    """The last run's exact neighbours, when it kept them for the same embedder, and the documents unchanged
    since; None otherwise (or when they cannot be used: every query is then searched in full)."""
    if previous is None:
        return None
    prev_layout, manifest, before = previous
    rel = prev_layout.relative(prev_layout.exact_neighbours)
    if rel not in manifest.records():
        return None
    try:
        kept = neighbours.read(prev_layout.exact_neighbours, manifest.records()[rel])
    except (integrity.IntegrityError, OSError, ValueError, KeyError) as err:
        logger.warning("evaluate: not carrying over the exact neighbours of run %s: %s", manifest.run_id, err)
        return None
    if kept.embedder != embedder:
        return None
    return neighbours.Before(kept, embeddings.unchanged(emb, before))


@task
def write_report(layout: RunLayout, manifest: Manifest, per_query: list[float]) -> str:
    """report.md and report.png inside the run, before publishing, so the manifest lists them."""
    text = report.markdown(manifest)
    io.write_bytes(layout.report(".md"), text.encode())
    report.plot(np.asarray(per_query), manifest, layout.report(".png"))
    return text


@task(retries=2, **RETRY)
def publish_run(layout: RunLayout, manifest: Manifest, written: Records) -> Manifest:
    return publish.publish(layout, manifest, written)
