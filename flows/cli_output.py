"""The ``vecpress`` commands on a published output: ``inspect``, ``verify``, ``gc`` and ``rollback`` (their
options: flows.cli_args; dispatched by flows.cli). Heavy imports stay inside commands."""

from __future__ import annotations

import argparse
import json
import sys


def _integrity_text(checked) -> str:
    if checked.ok:
        files, chunks = len(checked.manifest.files), len(checked.manifest.chunks)
        return (
            f"ok: the {files} files and {chunks} embed chunks ({checked.bytes / 1e6:.2f} MB) match the "
            "manifest's sizes and sha256"
        )
    return f"DAMAGED: {len(checked.problems)} of {checked.checked} files differ from the manifest"


def inspect(args: argparse.Namespace) -> int:
    from rich.table import Table

    from flows import terminal
    from transforms.run import publish, report, verify

    if args.no_verify:
        layout, manifest = publish.current(args.index)
        checked = None
    else:
        checked = verify.verify(args.index)
        layout, manifest = checked.layout, checked.manifest
    if args.json:
        print(json.dumps(manifest.to_json(), indent=2))
    else:
        table = Table(title=terminal.cell(f"{args.index}: current run {layout.run_id}"), show_header=False)
        for key, value in report.summary_rows(manifest):
            table.add_row(terminal.cell(key), terminal.cell(value))
        total = sum(f["bytes"] for f in manifest.files)
        table.add_row(
            "files",
            f"{len(manifest.files)} files, {total / 1e6:.2f} MB, and {len(manifest.chunks)} embed chunks "
            "shared with other runs (sha256 of each in manifest.json)",
        )
        table.add_row(
            "integrity", "not checked (--no-verify)" if checked is None else _integrity_text(checked)
        )
        terminal.console().print(table)
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


def verify(args: argparse.Namespace) -> int:
    from transforms.run import verify

    checked = verify.verify(args.index)
    if checked.ok:
        print(f"run {checked.layout.run_id} of {args.index}: {_integrity_text(checked)}")
    return _report_problems(checked)


def gc(args: argparse.Namespace) -> int:
    from transforms.run import gc
    from transforms.storage import lock

    with lock.output_lock(args.index, "gc", args.lock_lease):
        collected = gc.collect(args.index, args.keep_runs, args.gc_grace_s, args.dry_run)
    for run_id in collected.removed_runs:
        print(f"{'would remove' if args.dry_run else 'removed'} run {run_id}")
    print(f"{args.index}: {collected.summary(args.dry_run)}")
    return 0


def rollback(args: argparse.Namespace) -> int:
    from transforms.run import rollback
    from transforms.storage import lock

    with lock.output_lock(args.index, "rollback", args.lock_lease):
        manifest = rollback.rollback(args.index, args.run_id)
    print(f"{args.index}: current run is now {manifest.run_id} (published {manifest.published_at}), verified")
    return 0
