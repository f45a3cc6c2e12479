"""Publish: a manifest of every file of a run (size, sha256), then one atomic pointer write."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Any

from transforms.run.manifest import Counts, Manifest
from transforms.storage import integrity, io
from transforms.storage.errors import VecpressError
from transforms.storage.layout import CHUNK_LIST, MANIFEST, POINTER, RUNS, RunLayout, valid_run_id

logger = logging.getLogger(__name__)


class PublishError(VecpressError, RuntimeError):
    """The run cannot be published (its counts do not add up) or the published run cannot be read."""


Records = dict[str, dict[str, Any]]  # relative path -> {"bytes", "sha256"} (integrity.describe)


def describe_files(layout: RunLayout, written: Records | None = None) -> list[dict[str, Any]]:
    """Every file under the run directory with its relative path, size and sha256. Files the stages
    recorded when they wrote them (``written``) must still be what was written, or nothing is published."""
    found = integrity.describe(layout.root, [""])
    found.pop(MANIFEST, None)
    for rel, record in (written or {}).items():
        if rel not in found:
            raise integrity.IntegrityError(f"{layout.dir(rel)}: missing, although a stage wrote it")
        digest = integrity.FileDigest.of
        integrity.compare(layout.dir(rel), digest(found[rel]), digest(record))
    return [{"path": rel, **record} for rel, record in found.items()]


def check_counts(counts: Counts) -> None:
    """Rows read must equal rows embedded plus rejected, and every embedded row must be indexed."""
    if counts.read != counts.embedded + counts.rejected:
        raise PublishError(
            f"row accounting broken: read {counts.read} != embedded {counts.embedded} "
            f"+ rejected {counts.rejected}"
        )
    if counts.indexed != counts.embedded:
        raise PublishError(f"row accounting broken: embedded {counts.embedded} != indexed {counts.indexed}")


def refuse_published(layout: RunLayout) -> None:
    """A published run is never written again: a run id that names one is refused before any work."""
    if io.exists(layout.manifest):
        raise PublishError(
            f"run id {layout.run_id} is already published in {layout.output}; a published run is never "
            "rewritten (search and serve may be reading it): leave --run-id unset or pick a new one"
        )


def point_at(layout: RunLayout) -> None:
    """Make the run at ``layout`` the current one: one atomic write of ``CURRENT``."""
    pointer = {"run_id": layout.run_id, "manifest": f"runs/{layout.run_id}/manifest.json"}
    io.atomic_write_bytes(layout.pointer, (json.dumps(pointer) + "\n").encode())


def publish(layout: RunLayout, manifest: Manifest, written: Records | None = None) -> Manifest:
    """Write the manifest into the run, then make the run current with a single pointer write. ``written``:
    the records the stages made of their files (see describe_files)."""
    if manifest.run_id != layout.run_id:
        raise PublishError(f"the manifest of run {manifest.run_id} cannot publish run {layout.run_id}")
    check_counts(manifest.counts)
    manifest = manifest.published(describe_files(layout, written), dt.datetime.now(dt.UTC).isoformat())
    io.write_json(layout.manifest, _stored(layout, manifest))
    point_at(layout)
    logger.info("published run %s at %s", layout.run_id, layout.output)
    return manifest


def _stored(layout: RunLayout, manifest: Manifest) -> dict[str, Any]:
    """The manifest as written into the run: when the run's own chunk list (``CHUNK_LIST``, one of the files
    the manifest records) holds the manifest's embed chunks, they are not written again: the manifest names
    that file (``chunks_file``) instead, and reading it back takes them from there, checked."""
    data = manifest.to_json()
    try:
        listed = io.read_json(layout.dir(CHUNK_LIST)).get("chunks")
    except (OSError, ValueError, AttributeError):
        return data
    if listed == data["chunks"] and CHUNK_LIST in manifest.records():
        del data["chunks"]
        data["chunks_file"] = CHUNK_LIST
    return data


def _chunks(layout: RunLayout, manifest: Manifest, rel: str) -> list[dict[str, Any]]:
    """The embed chunks of a manifest that names its run's chunk list instead of repeating it."""
    record = manifest.records().get(rel)
    if record is None:
        raise PublishError(f"{layout.manifest}: names {rel} for its embed chunks but records no such file")
    try:
        return list(json.loads(integrity.read_verified(layout.dir(rel), record))["chunks"])
    except integrity.IntegrityError as err:
        raise PublishError(f"its embed chunk list is damaged: {err}") from err


def current(output: str) -> tuple[RunLayout, Manifest]:
    """The published run an output points at (its layout knows its shard count), and its manifest; a
    missing, damaged or dangling pointer or manifest is a PublishError that says so."""
    pointer_url = io.join(output, POINTER)
    if not io.exists(pointer_url):
        raise PublishError(f"{output}: no published run (no {POINTER} pointer); run 'vecpress run' first")
    repair = f"run 'vecpress run' to publish again, or restore {pointer_url} from a backup"
    try:
        run_id = json.loads(io.read_bytes(pointer_url))["run_id"]
        if not isinstance(run_id, str) or not valid_run_id(run_id):
            raise ValueError(f"run id {run_id!r} is not one vecpress writes")
    except (ValueError, KeyError, TypeError) as err:
        raise PublishError(f"{pointer_url}: damaged, it does not name a run ({err}); {repair}") from err
    try:
        return published(output, run_id)
    except PublishError as err:
        raise PublishError(f"{pointer_url} points at run {run_id}, but {err}; {repair}") from err


def published(output: str, run_id: str) -> tuple[RunLayout, Manifest]:
    """A published run of ``output`` by its id (its layout knows its shard count), and its manifest."""
    if not valid_run_id(run_id):
        raise PublishError(f"{run_id!r} is not a run id vecpress writes")
    layout = RunLayout(output, run_id)
    try:
        data = io.read_json(layout.manifest)
        manifest = Manifest.from_json(data)
        if "chunks" not in data and data.get("chunks_file"):
            manifest = dataclasses.replace(manifest, chunks=_chunks(layout, manifest, data["chunks_file"]))
    except FileNotFoundError as err:
        raise PublishError(f"its manifest {layout.manifest} is missing") from err
    except (ValueError, KeyError, TypeError) as err:
        raise PublishError(f"{layout.manifest}: damaged, not a vecpress manifest ({err})") from err
    return RunLayout(output, run_id, manifest.shard_count), manifest


def published_runs(output: str) -> list[tuple[str, str]]:
    """(published_at, run id) of every published run of ``output`` still there, oldest first."""
    fs, root = io.filesystem(io.join(output, RUNS))
    found = []
    for path in fs.glob(f"{root}/*/{MANIFEST}"):
        run_id = path.rstrip("/").split("/")[-2]
        try:
            found.append((str(io.read_json(RunLayout(output, run_id).manifest)["published_at"]), run_id))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an unreadable manifest is no run to go back to
    return sorted(found)
