"""The ``vecpress`` commands (their options: flows.cli_args). Heavy imports stay inside commands."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
import traceback
from pathlib import Path

from flows import cli_args, cli_output, preflight

logger = logging.getLogger("flows.cli")


def _run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from flows import terminal
    from flows.config import ReindexConfig
    from transforms.run import report
    from transforms.run.manifest import Manifest
    from transforms.storage.errors import StorageError

    overrides = cli_args.config_values(args, ReindexConfig)
    if args.config:
        config = ReindexConfig.from_yaml(*args.config, **overrides)
    else:
        config = ReindexConfig.build(**{k: v for k, v in overrides.items() if v is not None})
    preflight.refuse_ephemeral("--output", config.output)
    with preflight.prefect_api() as connect:  # a temporary server starts now, while the checks run
        preflight.check_storage(config.input, config.output)
        preflight.check_run(config)  # the inputs' schemas, a published --run-id: in seconds, said once
        preflight.warm_model(config)  # while the Prefect server starts
        if not getattr(args, "verbose", False):
            from flows import logs

            logs.quiet_expected_errors()  # imports Prefect: after the checks that need none
        from flows.reindex import reindex

        preflight.load_stage_modules()
        with connect():
            try:
                manifest = Manifest.from_json(reindex(config))
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                raise StorageError(
                    f"{config.output}: no space left on device; nothing was published, the current run is "
                    "intact"
                ) from err
    table = Table(title=terminal.cell(f"vecpress run {manifest.run_id}"), show_header=False)
    for key, value in report.summary_rows(manifest):
        table.add_row(terminal.cell(key), terminal.cell(value))
    terminal.console().print(table)
    return 0


def _plan(args: argparse.Namespace) -> int:
    from flows.config import PlanConfig
    from transforms import planner
    from transforms.planner import report as plan_report
    from transforms.planner import sample as plan_sample

    config = PlanConfig.build(**cli_args.config_values(args, PlanConfig))
    preflight.refuse_ephemeral("--out", config.out)
    goal = config.goal() or planner.Goal()
    goal.check(has_labels=True)  # the goal's shape; labels are checked once the sample is read
    if config.embeddings:
        sample = plan_sample.from_run(config.embeddings, config.sample, config.seed)
    else:
        sample = plan_sample.from_parquet(
            config.input, config.columns(), config.embedder(), config.sample, config.seed
        )
    plan = planner.plan(
        sample.vectors,
        sample.labels,
        goal,
        planner.PlanOptions(
            objective=config.objective,
            n_queries=config.queries,
            train_size=config.train_size,
            time_budget_s=config.plan_time_budget_s,
            seed=config.seed,
            corpus_rows=config.corpus_rows or sample.corpus_rows,
            run_sample=config.run_sample_size,
            codec_copies=config.shards,
        ),
    )
    plan.source = sample.source
    plan_report.write(plan, config.out)
    if args.json:
        print(json.dumps(plan.to_json(), indent=2))
    else:
        p = plan.pick
        print(
            f"pick: {p.codec} ({p.bytes_per_vector} bytes/vector, {p.compression}x), recall@10 "
            f"{p.recall_at_10:.3f}"
            + ("" if p.knn_accuracy is None else f", kNN-10 loss {p.knn_loss_points:+.2f} pt")
            + f", {p.search_ms_per_query:.3f} ms/query\nwhy: {plan.why}\nplan: {config.out}/plan.md"
        )
    return 0


def _queries_file(path: str) -> list[str]:
    """The non-blank lines of a queries file, or one line saying which line is not text."""
    from transforms.storage.errors import VecpressError

    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise VecpressError(f"--queries-file {path}: {err.strerror}") from None
    lines = data.splitlines()
    for number, line in enumerate(lines, 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise VecpressError(
                f"--queries-file {path}: line {number} is not valid UTF-8 (byte {err.start + 1} of the line)"
            ) from None
    return [q for q in (line.decode("utf-8").strip() for line in lines) if q]


def _search(args: argparse.Namespace) -> int:
    from rich.table import Table

    from flows import terminal
    from transforms.search.query import PublishedIndex
    from transforms.storage.errors import VecpressError

    queries = [q for q in args.queries if q.strip()]
    if args.queries_file:
        queries += _queries_file(args.queries_file)
    if not queries:
        raise VecpressError("give queries as arguments or with --queries-file")
    index = PublishedIndex(args.index, nprobe=args.nprobe, device=args.device)
    if args.k > index.size:
        logger.info("-k %d: the index holds %d documents, so at most %d hits", args.k, index.size, index.size)
    results = index.search(queries, args.k, with_text=not args.no_text, rerank=args.rerank)
    if args.json:
        out = [
            {"query": q, "run_id": index.run_id, "hits": [_hit_json(h, not args.no_text) for h in hits]}
            for q, hits in zip(queries, results, strict=True)
        ]
        print(json.dumps(out, indent=2))
        return 0
    console = terminal.console()
    labels = index.columns.label is not None and not args.no_text
    for query, hits in zip(queries, results, strict=True):
        table = Table(title=terminal.cell(f"{query!r}  (run {index.run_id})"))
        columns = [
            "rank",
            "doc_id",
            "score",
            *(["label"] if labels else []),
            *([] if args.no_text else ["text"]),
        ]
        for col in columns:
            table.add_column(col, overflow="fold")
        for h in hits:
            row = [str(h.rank), str(h.doc_id), f"{h.score:.4f}"]
            if labels:
                row.append(h.label or "")
            if not args.no_text:
                shown = f"[{h.note}]" if h.note else h.text or ""
                row.append(" ".join(shown.split())[:200])
            table.add_row(*map(terminal.cell, row))
        console.print(table)
    return 0


def _hit_json(hit, text: bool) -> dict:
    out = {"rank": hit.rank, "doc_id": hit.doc_id, "score": hit.score, "distance": hit.distance}
    if text:
        out.update({"text": hit.text, "label": hit.label, **({"note": hit.note} if hit.note else {})})
    return out


def _serve(args: argparse.Namespace) -> int:
    from flows import serve
    from flows.limits import Limits

    limits = Limits(**{name: getattr(args, f"max_{name}") for name in cli_args.LIMITS})
    api_key = args.api_key or os.environ.get("VECPRESS_API_KEY") or None
    serve.run(args.index, serve.Address(args.host, args.port, api_key), args.device, args.poll, limits)
    return 0


def _sample_data(args: argparse.Namespace) -> int:
    from transforms.read import newsgroups

    for url in newsgroups.write_parquet(args.output, args.limit, args.seed):
        print(url)
    return 0


def _setup_logging(verbose: bool) -> None:
    """vecpress's own loggers go to stderr; library chatter stays at Prefect's root level (WARNING). Without
    --verbose, the tracebacks Prefect logs for an expected vecpress error are left out: the CLI prints the
    error on one line (flows.logs)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("flows", "transforms", "pipelines"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False
    if verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    # Beam's GCP I/O modules warn about optional BigQuery clients on import; vecpress does not use them.
    logging.getLogger().addFilter(lambda record: not record.getMessage().startswith("apitools not found"))


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


COMMANDS = {
    "run": _run,
    "plan": _plan,
    "search": _search,
    "serve": _serve,
    "inspect": cli_output.inspect,
    "verify": cli_output.verify,
    "rollback": cli_output.rollback,
    "gc": cli_output.gc,
    "sample-data": _sample_data,
}


def main(argv: list[str] | None = None) -> int:
    preflight.environment_defaults()
    args = cli_args.parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    if not verbose:  # transformers' "Loading weights" bar on every model load, and hub bars
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    _setup_logging(verbose)
    from transforms.storage.errors import VecpressError

    try:
        return COMMANDS[args.command](args)
    except VecpressError as err:  # expected: the message says what and where
        if verbose:
            traceback.print_exc()
        print(f"vecpress: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # storage trouble (disk full, permissions, network) met while working
        if verbose:
            traceback.print_exc()
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"vecpress: error: {err.strerror or _one_line(err)}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
