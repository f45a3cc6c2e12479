"""Publish: a manifest of every file of a run (size, sha256), then one atomic pointer write."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from transforms import io
from transforms.layout import POINTER, RunLayout

logger = logging.getLogger(__name__)


class PublishError(RuntimeError):
    pass


def describe_files(layout: RunLayout) -> list[dict[str, Any]]:
    """Every file under the run directory with its relative path, size and sha256."""
    prefix = layout.root.rstrip("/") + "/"
    out = []
    for url in io.list_files(layout.root):
        rel = url[url.index(prefix) + len(prefix) :] if prefix in url else url
        if rel == "manifest.json":
            continue
        out.append({"path": rel, "bytes": io.size(url), "sha256": io.sha256(url)})
    return out


def check_counts(counts: dict[str, int]) -> None:
    """Rows read must equal rows embedded plus rejected, and every embedded row must be indexed."""
    if counts["read"] != counts["embedded"] + counts["rejected"]:
        raise PublishError(
            f"row accounting broken: read {counts['read']} != embedded {counts['embedded']} "
            f"+ rejected {counts['rejected']}"
        )
    if counts["indexed"] != counts["embedded"]:
        raise PublishError(
            f"row accounting broken: embedded {counts['embedded']} != indexed {counts['indexed']}"
        )


def publish(layout: RunLayout, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write the manifest into the run, then make the run current with a single pointer write."""
    check_counts(manifest["counts"])
    manifest = {
        **manifest,
        "run_id": layout.run_id,
        "files": describe_files(layout),
        "published_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    io.write_json(layout.manifest, manifest)
    pointer = {"run_id": layout.run_id, "manifest": f"runs/{layout.run_id}/manifest.json"}
    io.atomic_write_bytes(layout.pointer, (json.dumps(pointer) + "\n").encode())
    logger.info("published run %s at %s", layout.run_id, layout.output)
    return manifest


def current(output: str) -> tuple[RunLayout, dict[str, Any]]:
    """The published run an output points at, and its manifest."""
    pointer_url = io.join(output, POINTER)
    if not io.exists(pointer_url):
        raise PublishError(f"{output}: no published run (no {POINTER} pointer); run 'vecpress run' first")
    pointer = io.read_json(pointer_url)
    layout = RunLayout(output, pointer["run_id"])
    return layout, io.read_json(layout.manifest)
