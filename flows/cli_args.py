"""The ``vecpress`` command line's options and help. ``run`` and ``plan`` take theirs from the typed configs
(flows.config), so an option's default and description live in one place and ``--help`` shows both."""

from __future__ import annotations

import argparse
import math
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import annotated_types
from pydantic import BaseModel

from flows.cli_help import DESCRIPTION, EXAMPLES
from flows.config import FLAGS, PlanConfig, ReindexConfig, flag
from flows.limits import Limits

_LIMITS = Limits()
LIMITS = {
    "queries": "queries per request",
    "query_chars": "characters per query",
    "body_bytes": "bytes of a request body",
    "k": "hits per query",
    "candidates": "k x rerank: candidates per query and shard (two tiers)",
}


RUN_OPTIONS = (
    "input", "output", "text_column", "id_column", "label_column", "codec", "unit_decode", "refine",
    "rerank", "shards", "model", "device", "batch_size", "max_seq_length", "backend", "precision",
    "sample_size", "seed", "nprobe", "eval_queries", "runner", "pipeline_args", "run_id", "full",
    "on_bad_file", "lock_lease_s", "embed_cache", "keep_runs", "gc_grace_s",
)  # fmt: skip
PLAN_OPTIONS = (
    "input", "embeddings", "text_column", "id_column", "label_column", "model", "device", "batch_size",
    "max_seq_length", "backend", "precision", "sample", "objective", "queries", "train_size",
    "run_sample_size", "corpus_rows", "shards", "seed", "out",
)  # fmt: skip
GOAL_OPTIONS = (
    "budget_bytes", "target_recall", "max_loss_points", "max_latency_ms", "stored_budget_bytes",
    "plan_time_budget_s",
)  # fmt: skip


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; every option's default shown after its help (options taken from a config
    carry the config's default in their help already)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS) and action.option_strings
        if shown and "(default" not in text:
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is the same one line as every other vecpress error (exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"vecpress: error: {message} (see '{self.prog} --help')\n")


def between(low: int, high: int) -> Callable[[str], int]:
    """argparse type: an integer from ``low`` to ``high``."""
    floor = at_least(low)

    def parse(text: str) -> int:
        value = floor(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high}, got {value}")
        return value

    return parse


def positive(text: str) -> float:
    """argparse type: a finite number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be above zero, got {text}")
    return value


def at_least(minimum: int) -> Callable[[str], int]:
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


def _config_options(parser: Any, model: type[BaseModel], names: Iterable[str]) -> None:
    """One option per config field: its type, choices and help from the field, its default shown from the
    config. The option's own default is None (not given), so a YAML config's key is not overridden."""
    for name in names:
        info = model.model_fields[name]
        kind = info.annotation
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None: an optional X
            kind = args[0]
        options: dict[str, Any] = {"dest": name, "default": None}
        if kind is bool:
            options["action"] = "store_true"
        elif typing.get_origin(kind) is list:
            options["action"] = "append"
        elif typing.get_origin(kind) is typing.Literal:
            options["choices"] = list(typing.get_args(kind))
        elif kind is int:
            floor = [m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)]
            options["type"] = at_least(floor[0]) if floor else int
        elif kind is float:
            options["type"] = float
        if info.is_required():
            shown = " (required)"
        else:
            default = info.get_default(call_default_factory=True)
            shown = "" if default is None or default is False or default == [] else f" (default: {default})"
        if "choices" not in options and options.get("action") in (None, "append"):
            options["metavar"] = flag(name).removeprefix("--").upper().replace("-", "_")
        options["help"] = f"{info.description}{shown}".replace("%", "%%")
        parser.add_argument(flag(name), **options)


def parser() -> argparse.ArgumentParser:
    # -v works before or after the command; SUPPRESS keeps a subcommand's unset flag from hiding the top one
    verbose = _Parser(add_help=False)
    verbose.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
        help="debug logging, and the full traceback (Prefect's too) behind any error",
    )  # fmt: skip
    top = _Parser(prog="vecpress", description=DESCRIPTION, epilog=EXAMPLES["vecpress"], parents=[verbose])
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="<command>")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=summary, description=summary, epilog=EXAMPLES[name], parents=[verbose]
        )

    run = command("run", "embed, compress, index, evaluate and publish a corpus")
    run.add_argument(
        "--config",
        action="append",
        help="YAML config; repeat to layer files (e.g. a runner profile from infra/runners/); flags override",
    )
    _config_options(run, ReindexConfig, RUN_OPTIONS)
    _config_options(_goal_group(run, "with --codec auto"), ReindexConfig, GOAL_OPTIONS)

    plan = command("plan", "measure codecs on a sample of the corpus and pick one for a goal")
    _config_options(plan, PlanConfig, PLAN_OPTIONS)
    _config_options(_goal_group(plan, "required"), PlanConfig, GOAL_OPTIONS)
    plan.add_argument("--json", action="store_true", help="also print the plan (JSON) on stdout")

    search = command("search", "query the current run of an index: hits with their texts and labels")
    search.add_argument("queries", nargs="*", help="query texts (or use --queries-file)")
    search.add_argument("--index", required=True, help="output root given to 'vecpress run' (required)")
    search.add_argument("-k", type=at_least(1), default=10, help="hits per query")
    search.add_argument("--queries-file", help="a text file of queries, one per line")
    search.add_argument(
        "--no-text", action="store_true", help="ids and scores only (texts are read from the run's input)"
    )
    search.add_argument(
        "--nprobe", type=at_least(1), help="IVF lists searched per query (default: the run's --nprobe)"
    )
    search.add_argument(
        "--rerank",
        type=at_least(1),
        help="two-tier runs: candidates re-ranked by the stored codes per hit (default: the run's --rerank)",
    )
    search.add_argument(
        "--device", default="auto", help="where queries are embedded: auto, cpu, cuda, cuda:N"
    )
    search.add_argument("--json", action="store_true", help="print the hits as JSON")

    served = command("serve", "a search server over an output's current run that follows each new publish")
    served.add_argument("--index", required=True, help="output root given to 'vecpress run' (required)")
    served.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (beyond loopback, set a token)"
    )
    served.add_argument("--port", type=between(1, 65535), default=8000, help="port to listen on")
    served.add_argument(
        "--device", default="auto", help="where queries are embedded: auto, cpu, cuda, cuda:N"
    )
    served.add_argument(
        "--poll",
        type=positive,
        default=5.0,
        help="seconds between looks at CURRENT for a newly published run",
    )
    served.add_argument(
        "--api-key",
        default=None,
        help="bearer token every route but /health requires (better: the VECPRESS_API_KEY environment "
        "variable, which other users cannot see in the process list)",
    )
    limits = served.add_argument_group("request limits (beyond them: HTTP 413 or 422)")
    for name, what in LIMITS.items():
        limits.add_argument(
            f"--max-{name.replace('_', '-')}", dest=f"max_{name}", type=at_least(1),
            default=getattr(_LIMITS, name), help=what,
        )  # fmt: skip

    inspect = command(
        "inspect", "the current run's manifest: counts, sizes, quality, and whether its files are intact"
    )
    inspect.add_argument("index", help="output root given to 'vecpress run'")
    inspect.add_argument("--json", action="store_true", help="print the manifest as JSON")
    inspect.add_argument(
        "--no-verify", action="store_true", help="skip checking every file against the manifest's sha256"
    )

    check = command("verify", "check every file of the current run against its manifest (size and sha256)")
    check.add_argument("index", help="output root given to 'vecpress run'")

    clean = command("gc", "remove runs beyond the kept ones, and the chunks no kept run uses")
    clean.add_argument("index", help="output root given to 'vecpress run'")
    _config_options(clean, ReindexConfig, ("keep_runs", "gc_grace_s"))
    for action in clean._actions:  # gc's own defaults are the run's
        if action.dest in ("keep_runs", "gc_grace_s"):
            action.default = ReindexConfig.model_fields[action.dest].default
    clean.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    _lock_lease(clean)

    back = command("rollback", "make an earlier kept run current again, once it passes its check")
    back.add_argument("index", help="output root given to 'vecpress run'")
    back.add_argument("run_id", nargs="?", help="the run to go back to (default: the one published before)")
    _lock_lease(back)

    sample = command("sample-data", "write the bundled 20 Newsgroups corpus as Parquet")
    sample.add_argument("--output", required=True, help="folder to write the Parquet files to (required)")
    sample.add_argument("--limit", type=at_least(1), help="a seeded random subset of this many posts")
    sample.add_argument("--seed", type=int, default=0, help="seed of --limit's subset")
    return top


def _lock_lease(parser: argparse.ArgumentParser) -> None:
    """--lock-lease of a command that changes an output under its lock (as `vecpress run`'s)."""
    info = ReindexConfig.model_fields["lock_lease_s"]
    parser.add_argument("--lock-lease", type=positive, default=info.default, help=info.description)


def _goal_group(parser: argparse.ArgumentParser, when: str) -> Any:
    return parser.add_argument_group(f"planner goal (one of the first three; {when})")


def config_values(args: argparse.Namespace, model: type[BaseModel]) -> dict[str, Any]:
    """The options given on the command line, by config key."""
    return {k: v for k, v in vars(args).items() if k in model.model_fields and v is not None}


__all__ = ["FLAGS", "at_least", "config_values", "parser"]
