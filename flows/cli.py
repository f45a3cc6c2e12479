"""The ``vecpress`` command line: run, search, inspect, sample-data. Heavy imports stay inside commands."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"  # transforms.embedder.DEFAULT_MODEL, without importing it here
DEFAULT_RUN_SAMPLE_SIZE = 100_000  # ReindexConfig.sample_size's default, likewise


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    if not getattr(args, "verbose", False):
        from flows import logs

        logs.quiet_expected_errors()

    from flows.config import ReindexConfig
    from flows.reindex import reindex
    from transforms import report
    from transforms.errors import StorageError

    overrides = {
        "input": args.input,
        "output": args.output,
        "text_column": args.text_column,
        "id_column": args.id_column,
        "label_column": args.label_column,
        "codec": args.codec,
        "shards": args.shards,
        "model": args.model,
        "device": args.device,
        "batch_size": args.batch_size,
        "max_seq_length": args.max_seq_length,
        "precision": args.precision,
        "backend": args.backend,
        "sample_size": args.sample_size,
        "seed": args.seed,
        "nprobe": args.nprobe,
        "eval_queries": args.eval_queries,
        "runner": args.runner,
        "run_id": args.run_id,
        "budget_bytes": args.budget_bytes,
        "target_recall": args.target_recall,
        "max_loss_points": args.max_loss_points,
        "max_latency_ms": args.max_latency_ms,
        "plan_time_budget_s": args.time_budget,
        "stored_budget_bytes": args.stored_budget_bytes,
        "refine": args.refine,
        "rerank": args.rerank,
        "unit_decode": args.unit_decode or None,
        "on_bad_file": args.on_bad_file,
        "full": args.full or None,
        "lock_lease_s": args.lock_lease,
    }
    if args.pipeline_arg:
        overrides["pipeline_args"] = args.pipeline_arg
    if args.config:
        config = ReindexConfig.from_yaml(*args.config, **overrides)
    else:
        config = ReindexConfig.build(**{k: v for k, v in overrides.items() if v is not None})
    _refuse_ephemeral("--output", config.output)
    _check_storage(config.input, config.output)  # before seconds of starting Prefect
    _warm_model(config)  # while the Prefect server starts
    with _prefect_api():
        try:
            manifest = reindex(config)
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
            raise StorageError(
                f"{config.output}: no space left on device; nothing was published, the current run is intact"
            ) from err
    table = Table(title=f"vecpress run {manifest['run_id']}", show_header=False)
    for key, value in report.summary_rows(manifest):
        table.add_row(key, value)
    Console().print(table)
    return 0


def _plan(args: argparse.Namespace) -> int:
    from transforms import planner
    from transforms.embedder import EmbedderSpec
    from transforms.planner import report as plan_report
    from transforms.planner import sample as plan_sample
    from transforms.reading import Columns

    _refuse_ephemeral("--out", args.out)
    goal = planner.Goal(
        args.budget_bytes,
        args.target_recall,
        args.max_loss_points,
        args.max_latency_ms,
        args.stored_budget_bytes,
    )
    goal.check(has_labels=True)  # the goal's shape; labels are checked once the sample is read
    if bool(args.input) == bool(args.embeddings):
        raise planner.PlanError(
            "give --input (Parquet to embed a sample of) or --embeddings (a vecpress output)"
        )
    sizes = (("--run-sample-size", args.run_sample_size), ("--train-size", args.train_size))
    for flag, value in (*sizes, ("--corpus-rows", args.corpus_rows or 1)):
        if value < 1:  # before any embedding
            raise planner.PlanError(f"{flag} must be at least 1, got {value}")
    if args.embeddings:
        sample = plan_sample.from_run(args.embeddings, args.sample, args.seed)
    else:
        columns = Columns(id=args.id_column, text=args.text_column, label=args.label_column)
        spec = EmbedderSpec(
            args.model, args.device, args.batch_size, True, args.max_seq_length, args.precision, args.backend
        )
        sample = plan_sample.from_parquet(args.input, columns, spec, args.sample, args.seed)
    plan = planner.plan(
        sample.vectors,
        sample.labels,
        goal,
        objective=args.objective,
        n_queries=args.queries,
        train_size=args.train_size,
        time_budget_s=args.time_budget or 600.0,
        seed=args.seed,
        corpus_rows=args.corpus_rows or sample.corpus_rows,
        run_sample=args.run_sample_size,
    )
    plan["source"] = sample.source
    plan_report.write(plan, args.out)
    if args.json:
        print(json.dumps(plan, indent=2))
    else:
        p = plan["pick"]
        print(
            f"pick: {p['codec']} ({p['bytes_per_vector']} bytes/vector, {p['compression']}x), recall@10 "
            f"{p['recall_at_10']:.3f}"
            + ("" if p["knn_accuracy"] is None else f", kNN-10 loss {p['knn_loss_points']:+.2f} pt")
            + f", {p['search_ms_per_query']:.3f} ms/query\nwhy: {p['why']}\nplan: {args.out}/plan.md"
        )
    return 0


def _refuse_ephemeral(flag: str, url: str) -> None:
    from transforms import io
    from transforms.errors import StorageError

    if io.is_ephemeral(url):
        raise StorageError(
            f"{flag} {url}: a memory:// location lives only as long as this process, so nothing would be "
            "left once it exits; give a local path or an object-store URL (s3://, gs://)"
        )


def _check_storage(input_url: str, output: str) -> None:
    """Both URLs have a driver, and a local output can be written to."""
    from transforms import io

    io.filesystem(input_url)
    io.ensure_writable(output)


def _prefect_api():
    """The Prefect server the flow reports to: PREFECT_API_URL when set, else a temporary one that dies with
    this process (flows.server)."""
    from contextlib import nullcontext

    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return nullcontext()
    from flows.server import temporary_server

    return temporary_server(float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))


def _warm_model(config) -> None:
    """Load the model in a thread while the flow starts (seconds on 2 cores, mostly waiting on the Prefect
    server): the flow's first stage then finds it loaded. A failure here is left for that stage to report."""
    import threading

    from transforms.embedder import load_embedder

    def load() -> None:
        try:
            load_embedder(config.embedder())
        except Exception:  # noqa: BLE001 - the flow's check_model_and_codec loads it again and reports
            pass

    threading.Thread(target=load, name="warm-model", daemon=True).start()


def _search(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from transforms.errors import VecpressError
    from transforms.query import PublishedIndex

    queries = list(args.queries)
    if args.queries_file:
        queries += [q.strip() for q in Path(args.queries_file).read_text().splitlines() if q.strip()]
    if not queries:
        raise VecpressError("give queries as arguments or with --queries-file")
    index = PublishedIndex(args.index, nprobe=args.nprobe, device=args.device)
    results = index.search(queries, args.k, with_text=not args.no_text)
    if args.json:
        out = [
            {"query": q, "run_id": index.run_id, "hits": [_hit_json(h, not args.no_text) for h in hits]}
            for q, hits in zip(queries, results, strict=True)
        ]
        print(json.dumps(out, indent=2))
        return 0
    console = Console()
    labels = index.columns.label is not None and not args.no_text
    for query, hits in zip(queries, results, strict=True):
        table = Table(title=f"{query!r}  (run {index.run_id})")
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
            table.add_row(*row)
        console.print(table)
    return 0


def _hit_json(hit, text: bool) -> dict:
    out = {"rank": hit.rank, "doc_id": hit.doc_id, "score": hit.score, "distance": hit.distance}
    if text:
        out.update({"text": hit.text, "label": hit.label, **({"note": hit.note} if hit.note else {})})
    return out


def _serve(args: argparse.Namespace) -> int:
    from flows import serve

    serve.run(args.index, args.host, args.port, args.device, args.poll)
    return 0


def _integrity_text(checked) -> str:
    if checked.ok:
        return (
            f"ok: {checked.checked} files, {checked.bytes / 1e6:.2f} MB match the manifest's sizes and sha256"
        )
    return f"DAMAGED: {len(checked.problems)} of {checked.checked} files differ from the manifest"


def _inspect(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from transforms import publish, report, verify

    if args.no_verify:
        layout, manifest = publish.current(args.index)
        checked = None
    else:
        checked = verify.verify(args.index)
        layout, manifest = checked.layout, checked.manifest
    if args.json:
        print(json.dumps(manifest, indent=2))
    else:
        table = Table(title=f"{args.index}: current run {layout.run_id}", show_header=False)
        for key, value in report.summary_rows(manifest):
            table.add_row(key, value)
        total = sum(f["bytes"] for f in manifest["files"])
        table.add_row(
            "files", f"{len(manifest['files'])} files, {total / 1e6:.2f} MB (sha256 in manifest.json)"
        )
        table.add_row(
            "integrity", "not checked (--no-verify)" if checked is None else _integrity_text(checked)
        )
        Console().print(table)
    return _report_problems(checked)


def _report_problems(checked) -> int:
    """Each damaged file on its own line, then the one error line; exit 2 when there is any."""
    if checked is None or checked.ok:
        return 0
    for problem in checked.problems:
        print(f"  {problem}", file=sys.stderr)
    print(
        f"vecpress: error: run {checked.layout.run_id} of {checked.layout.output} is damaged: "
        f"{len(checked.problems)} of {checked.checked} files differ from its manifest (listed above); "
        "search refuses it. Publish a new run with 'vecpress run'.",
        file=sys.stderr,
    )
    return 2


def _verify(args: argparse.Namespace) -> int:
    from transforms import verify

    checked = verify.verify(args.index)
    if checked.ok:
        print(f"run {checked.layout.run_id} of {args.index}: {_integrity_text(checked)}")
    return _report_problems(checked)


def _sample_data(args: argparse.Namespace) -> int:
    from transforms import newsgroups

    for url in newsgroups.write_parquet(args.output, args.limit, args.seed):
        print(url)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is the same one line as every other vecpress error (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"vecpress: error: {message} (see '{self.prog} --help')\n")


def _at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    # -v works before or after the command; SUPPRESS keeps a subcommand's unset flag from hiding the top one
    verbose = _Parser(add_help=False)
    verbose.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
        help="debug logging, and the full traceback (Prefect's too) behind any error",
    )  # fmt: skip
    top = _Parser(prog="vecpress", description=__doc__, parents=[verbose])
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run", help="embed, compress, index, evaluate and publish a corpus", parents=[verbose]
    )
    run.add_argument(
        "--config",
        action="append",
        help="YAML config; repeat to layer files (e.g. a runner profile from infra/runners/); flags override",
    )
    run.add_argument("--input", help="Parquet file, directory or glob (any fsspec URL)")
    run.add_argument("--output", help="output root (any fsspec URL)")
    run.add_argument("--text-column")
    run.add_argument("--id-column")
    run.add_argument("--label-column")
    run.add_argument("--codec", help="faiss index_factory string, or 'auto'")
    run.add_argument(
        "--unit-decode",
        action="store_true",
        help="search a flat codec by its reconstructions scaled to unit length (what a plan's "
        "'unit-decoded' rows measured); --codec auto with a goal decides this itself",
    )
    _goal_arguments(run)
    run.add_argument(
        "--refine",
        help="add a stored tier to an explicit codec: SQ8, SQ6, SQ4, SQfp16 or SQbf16 codes on disk that "
        "re-rank its candidates (--codec auto picks its own)",
    )
    run.add_argument("--rerank", type=int, help="two tiers: candidates per result to re-rank (default 10)")
    run.add_argument("--shards", type=int)
    run.add_argument("--model", help="sentence-transformers model name or path")
    run.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    run.add_argument("--batch-size", type=int)
    run.add_argument("--max-seq-length", type=int)
    _backend_arguments(run)
    run.add_argument("--sample-size", type=int, help="codec training sample size")
    run.add_argument("--seed", type=int)
    run.add_argument("--nprobe", type=int)
    run.add_argument("--eval-queries", type=int)
    run.add_argument(
        "--runner", help="Beam runner (DirectRunner, DaskRunner, FlinkRunner, DataflowRunner, ...)"
    )
    run.add_argument("--pipeline-arg", action="append", help="extra Beam option, e.g. --pipeline-arg=--foo=1")
    run.add_argument("--run-id")
    run.add_argument(
        "--full",
        action="store_true",
        help="re-index from scratch: embed every document and train the codec again (a nightly run reuses "
        "the embeddings of unchanged documents and keeps a codec that still fits)",
    )
    run.add_argument(
        "--on-bad-file",
        choices=["fail", "skip"],
        help="a Parquet file or row group that cannot be decoded: fail the run (default), or skip it, its "
        "rows going to rejects.arrow (files whose footer or schema is unreadable: listed in the manifest)",
    )
    run.add_argument(
        "--lock-lease",
        type=float,
        help="seconds after its holder's last heartbeat that the output lock frees itself (default 300; a "
        "holder on this host whose process is gone frees it at once)",
    )
    run.set_defaults(func=_run)

    plan = sub.add_parser(
        "plan", help="measure codecs on a sample of the corpus and pick one for a goal", parents=[verbose]
    )
    plan.add_argument("--input", help="Parquet file, directory or glob: embed a sample of it")
    plan.add_argument("--embeddings", help="a vecpress output: reuse its published run's embeddings")
    plan.add_argument("--text-column", default="text")
    plan.add_argument("--id-column", default="id")
    plan.add_argument("--label-column", help="labels for kNN-10 accuracy (and --max-loss-points)")
    plan.add_argument("--model", default=DEFAULT_MODEL_NAME)
    plan.add_argument("--device", default="auto")
    plan.add_argument("--batch-size", type=_at_least(1), default=64)
    plan.add_argument("--max-seq-length", type=_at_least(8))
    _backend_arguments(plan, default=True)
    plan.add_argument(
        "--sample", type=_at_least(2), default=20_000, help="vectors to plan on (default 20000)"
    )
    _goal_arguments(plan)
    plan.add_argument(
        "--objective", choices=["recall", "knn"], default="recall", help="what a budget maximises"
    )
    plan.add_argument("--queries", type=_at_least(1), default=1000, help="held-out queries")
    plan.add_argument(
        "--train-size",
        type=int,
        default=20_000,
        help="codec training sub-sample (database vectors left out of it count as unseen in recall@10)",
    )
    plan.add_argument(
        "--run-sample-size",
        type=int,
        default=DEFAULT_RUN_SAMPLE_SIZE,
        help="the training sample of the run the plan is for (run's --sample-size): when the corpus is "
        "bigger, the plan measures codecs on vectors they were not trained on (out of sample)",
    )
    plan.add_argument(
        "--corpus-rows",
        type=int,
        help="the documents the index will hold, over which the codec's own bytes are spread in each "
        "candidate's bytes per vector (default: the input's rows)",
    )
    plan.add_argument("--seed", type=int, default=0)
    plan.add_argument("--out", default="plan", help="folder for plan.json, plan.md, plan.png")
    plan.add_argument("--json", action="store_true", help="print the plan (JSON) on stdout")
    plan.set_defaults(func=_plan)

    search = sub.add_parser("search", help="query the current run of an index", parents=[verbose])
    search.add_argument("queries", nargs="*")
    search.add_argument("--index", required=True, help="output root given to 'vecpress run'")
    search.add_argument("-k", type=_at_least(1), default=10)
    search.add_argument("--queries-file")
    search.add_argument(
        "--no-text",
        action="store_true",
        help="show ids and scores only (texts are read from the run's input)",
    )
    search.add_argument("--nprobe", type=_at_least(1))
    search.add_argument("--device", default="auto")
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=_search)

    served = sub.add_parser(
        "serve",
        help="a search server over an output's current run that follows each newly published run",
        parents=[verbose],
    )
    served.add_argument("--index", required=True, help="output root given to 'vecpress run'")
    served.add_argument("--host", default="127.0.0.1", help="address to listen on")
    served.add_argument("--port", type=_at_least(1), default=8000, help="port to listen on")
    served.add_argument(
        "--device", default="auto", help="where queries are embedded: auto, cpu, cuda, cuda:N"
    )
    served.add_argument(
        "--poll", type=float, default=5.0, help="seconds between looks at CURRENT for a newly published run"
    )
    served.set_defaults(func=_serve)

    inspect = sub.add_parser(
        "inspect",
        help="the current run's manifest: counts, sizes, quality, and whether its files are intact",
        parents=[verbose],
    )
    inspect.add_argument("index")
    inspect.add_argument("--json", action="store_true")
    inspect.add_argument(
        "--no-verify", action="store_true", help="skip checking every file against the manifest's sha256"
    )
    inspect.set_defaults(func=_inspect)

    check = sub.add_parser(
        "verify",
        help="check every file of the current run against its manifest (size and sha256)",
        parents=[verbose],
    )
    check.add_argument("index", help="output root given to 'vecpress run'")
    check.set_defaults(func=_verify)

    sample = sub.add_parser(
        "sample-data", help="write the bundled 20 Newsgroups corpus as Parquet", parents=[verbose]
    )
    sample.add_argument("--output", required=True)
    sample.add_argument("--limit", type=_at_least(1), help="seeded random subset of this many posts")
    sample.add_argument("--seed", type=int, default=0)
    sample.set_defaults(func=_sample_data)
    return top


def _backend_arguments(sub: argparse.ArgumentParser, default: bool = False) -> None:
    sub.add_argument(
        "--backend",
        choices=["torch", "onnx", "openvino"],
        default="torch" if default else None,
        help="run the model with torch, ONNX Runtime or OpenVINO (CPU); exported once and cached",
    )
    sub.add_argument(
        "--precision",
        choices=["fp32", "fp16", "int8"],
        default="fp32" if default else None,
        help="fp16: halved weights (torch on CUDA); int8: 8-bit weights (onnx, openvino)",
    )


def _goal_arguments(sub: argparse.ArgumentParser) -> None:
    goal = sub.add_argument_group("planner goal (one of the first three; with --codec auto for run)")
    goal.add_argument("--budget-bytes", type=int, help="best quality within this many bytes per vector")
    goal.add_argument("--target-recall", type=float, help="fewest bytes reaching this recall@10")
    goal.add_argument("--max-loss-points", type=float, help="fewest bytes within this kNN-10 loss (labels)")
    goal.add_argument("--max-latency-ms", type=float, help="only codecs searching within this per query")
    goal.add_argument(
        "--stored-budget-bytes",
        type=float,
        help="also consider two tiers: finer codes of up to this many bytes per vector stored on disk, read "
        "only to re-rank the in-memory codes' candidates (without it, plans are one tier)",
    )
    goal.add_argument("--time-budget", type=float, help="seconds of measuring (default 600)")


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


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # The temporary Prefect server's telemetry write raced its first migration ("database is locked").
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A fresh PREFECT_HOME migrates its database on first start: well over Prefect's 20 s default on 2 cores.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    args = parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    _setup_logging(verbose)
    from transforms.errors import VecpressError

    try:
        return args.func(args)
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
